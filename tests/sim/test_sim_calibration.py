"""The model against docs/calibration.md's figures (its last section), on controlled inputs.

Tolerances: ±2 percentage points for shares measured on ~20,000 viewers (binomial sd ≈ 0.3 pp,
plus the linear law's rounding), ±0.04 for watch-time ratios. Each test names its source.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from simkit import make, market, overall

import sim

N = 20_000


def _organic(result: sim.SimResult) -> dict[str, Any]:
    """Organic viewers only: the same slots in two runs of one scenario (common random numbers)."""
    keep = result.viewers["generation"] == 0
    return {k: v[keep] for k, v in result.viewers.items()}


@pytest.mark.parametrize(("startup_s", "expected"), [(2, 0.0), (5, 0.174), (10, 0.464)])
def test_startup_abandonment_follows_krishnan_sitaraman(startup_s: int, expected: float) -> None:
    """K&S IMC 2012: none gone at 2 s, then +5.8 pp per second (≈17 % at 5 s, ≈46 % at 10 s)."""
    fixed_line = market("GB", "Europe/London", N, qoe={"startup_ms": startup_s * 1000})
    got = overall(make(markets=[fixed_line], stream={"duration_min": 60}))
    assert got["abandon_before_start"] == pytest.approx(expected, abs=0.02)


def test_mobile_viewers_are_more_patient() -> None:
    """K&S IMC 2012: mobile viewers abandon less at the same startup delay."""
    wifi = market("GB", "Europe/London", N, qoe={"startup_ms": 5000})
    mobile = {**wifi, "access": {"4g": 1.0}}
    fixed = overall(make(markets=[wifi]))["abandon_before_start"]
    patient = overall(make(markets=[mobile]))["abandon_before_start"]
    assert patient < fixed - 0.04


def test_one_percent_rebuffering_costs_five_percent_of_watching() -> None:
    """K&S IMC 2012: rebuffering equal to 1 % of the duration → 5 % less watching."""
    runs = [
        _organic(sim.simulate(make(
            markets=[market("ID", "Asia/Jakarta", N, qoe={"rebuffer_ratio": r})],
            stream={"duration_min": 60},
        )))
        for r in (0.0, 0.01)
    ]  # fmt: skip
    ratio = runs[1]["watch_s"].mean() / runs[0]["watch_s"].mean()
    assert ratio == pytest.approx(0.95, abs=0.01)


def test_live_event_rebuffering_costs_minutes_dobrian() -> None:
    """Dobrian et al. SIGCOMM 2011: +1 % buffering → > 3 min less of a 90-min live event.

    Measured on an engaged live audience (sessions long enough to watch the event) among viewers
    who arrived in the first 5 minutes and stayed past the 30-s decision window.
    """
    engaged = {"session_median_min": 600}
    runs = [
        _organic(sim.simulate(make(
            markets=[market("GB", "Europe/London", N, qoe={"rebuffer_ratio": r}, behavior=engaged)],
            stream={"duration_min": 90},
        )))
        for r in (0.0, 0.01)
    ]  # fmt: skip
    clean, buffered = runs
    watched = (clean["arrival_s"] < 300) & (clean["watch_s"] > 30)
    assert watched.sum() > 500
    loss_min = (clean["watch_s"][watched] - buffered["watch_s"][watched]).mean() / 60
    assert loss_min > 3.0


def test_host_behind_chat_by_2_5_s_loses_most_of_a_sea_audience() -> None:
    """Seed: a host 2–3 s behind chat lost over 70 % of a Southeast-Asian audience."""
    audience = [("markets.ID.audience", N), ("markets.ID.localized", False)]
    late = overall(make([*audience, ("stream.host_delay_ms", 2500)]))
    on_time = overall(make([*audience, ("stream.host_delay_ms", 300)]))
    assert 1 - late["retention_30s"] > 0.70
    assert 1 - on_time["retention_30s"] < 0.60


def test_hd_raises_average_watch_time_by_about_ten_percent() -> None:
    """Seed: HD and better → average watch time +10 % (or more), on a 90-min stream."""
    runs = [
        _organic(sim.simulate(make(markets=[market("ID", "Asia/Jakarta", N, qoe={"resolution": h})],
                                   stream={"duration_min": 90})))
        for h in (360, 720)
    ]  # fmt: skip
    ratio = runs[1]["watch_s"].mean() / runs[0]["watch_s"].mean()
    assert ratio == pytest.approx(1.10, abs=0.04)


def test_chat_and_hearts_per_view_in_the_periscope_range() -> None:
    """Periscope IMC 2016: ≈ 0.5–0.8 comments and ≈ 11 hearts per view (demo-sized rooms)."""
    from scenarios import SCENARIO_DIR, load_scenario

    result = sim.simulate(load_scenario(SCENARIO_DIR / "demo.toml"))
    v = result.viewers
    per_view = v["chats"].sum() / result.n_viewers
    hearts = v["likes"].sum() / result.n_viewers
    assert 0.5 <= per_view <= 0.8
    assert 8 <= hearts <= 14


def test_per_viewer_chat_falls_as_rooms_grow() -> None:
    """Twitch chat study 2019: per-viewer chat falls as rooms grow (cacophony)."""
    rates = []
    for audience in (2_000, 40_000):
        out = overall(make([("markets.ID.audience", audience)]))
        rates.append(out["chat_per_viewer_min"])
    assert rates[1] < 0.7 * rates[0]


def test_failed_start_lowers_return_by_2_3_points() -> None:
    """K&S IMC 2012: a failed start costs 2.3 pp of the chance to return (one later stream)."""
    base = market("GB", "Europe/London", N, qoe={"startup_ms": 60_000})
    series = [("scenario.series_streams", 2)]
    failed = overall(make(series, markets=[base]))["return_rate"]
    b = make(series, markets=[base]).markets[0].resolved_behavior()
    untrusted = b.return_prob * b.untrusted_return_factor
    assert failed == pytest.approx(untrusted - b.failed_start_return_pp, abs=0.01)
    assert np.isfinite(failed)
