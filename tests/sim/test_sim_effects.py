"""The model's must-hold directions (issue 2), each with common random numbers."""

from __future__ import annotations

import pytest
from simkit import make, market, overall

from scenarios import SCENARIO_DIR, load_scenario

DEMO = SCENARIO_DIR / "demo.toml"


def test_host_delay_500_to_2500_lowers_retention_30s() -> None:
    fast = overall(load_scenario(DEMO, ["stream.host_delay_ms=500"]))
    slow = overall(load_scenario(DEMO, ["stream.host_delay_ms=2500"]))
    assert slow["retention_30s"] < fast["retention_30s"] - 0.15


def test_removing_mini_peaks_lowers_watch_time() -> None:
    with_peaks = overall(load_scenario(DEMO))
    without = overall(load_scenario(DEMO, variant="no-peaks"))
    assert without["watch_time_mean_s"] < with_peaks["watch_time_mean_s"]
    assert without["arrivals"] <= with_peaks["arrivals"]  # fewer sharers at lotteries, too


@pytest.mark.xfail(
    strict=True,
    reason="finding (issue 10): under the calibrated loss-to-freeze law (bursts counted per frame, "
    "1.73 x (RTT - 54 ms) frozen per burst) 2 % loss in bursts of 10 on a 66-ms path freezes "
    "~21 ms per burst: retention_5m falls 0.4 points (31.4 to 31.0 %), not 1; see "
    "docs/calibration.md",
)
def test_bursty_loss_last_mile_lowers_retention_against_a_clean_one() -> None:
    def run(lastmile: str) -> dict[str, float]:
        m = market("ID", "Asia/Jakarta", 10_000, lastmile={"wifi": lastmile})
        return overall(make(markets=[m], stream={"duration_min": 60}))

    clean = run("delay 5ms rate 20mbit")
    bursty = run("delay 5ms rate 20mbit loss gemodel 0.2% 10%")  # ≈ 2 % loss in bursts of 10
    assert bursty["retention_5m"] < clean["retention_5m"] - 0.01
    assert bursty["retention_30s"] <= clean["retention_30s"]
    assert bursty["watch_time_mean_s"] < 0.95 * clean["watch_time_mean_s"]


def test_interest_incentives_raise_referral_k_more_in_sea_than_in_europe() -> None:
    def k(incentive: str) -> dict[str, float]:
        markets = [
            market("ID", "Asia/Jakarta", 8000, incentive=incentive),
            market("GB", "Europe/London", 8000, incentive=incentive),
        ]
        result = overall_markets(make(markets=markets, stream={"duration_min": 60}))
        return {code: result[code]["referral_k"] for code in ("ID", "GB")}

    interest, honour = k("interest"), k("honour")
    gain_sea = interest["ID"] - honour["ID"]
    gain_eu = interest["GB"] - honour["GB"]
    assert gain_sea > 0.05
    assert gain_sea > 3 * max(gain_eu, 0.0) + 0.02


def overall_markets(scenario: object) -> dict[str, dict[str, float]]:
    import sim

    result: dict[str, dict[str, float]] = sim.simulate(scenario).outcomes["markets"]  # type: ignore[arg-type]
    return result


def test_localisation_raises_retention_and_conversion() -> None:
    plain = overall(make([("markets.ID.audience", 10_000), ("markets.ID.localized", False)]))
    local = overall(make([("markets.ID.audience", 10_000), ("markets.ID.localized", True)]))
    assert local["retention_30s"] > plain["retention_30s"]
    assert local["conversion_rate"] > plain["conversion_rate"]


def test_referred_viewers_cost_a_fifth_and_lower_blended_cac() -> None:
    none = overall(make([("markets.ID.behavior.invite_conversion", 0.0)]))
    some = overall(make())
    assert none["referred_share"] == 0.0
    assert some["referred_share"] > 0.02
    assert some["cac_blended"] < none["cac_blended"]
