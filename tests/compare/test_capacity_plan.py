"""Capacity planning arithmetic and the stepped knee search, exact, with a fake target curve."""

from __future__ import annotations

import pytest

from loadgen.capacity.search import Limit, StepResult, parse_steps, search_knee
from reports.capacity import (
    UNASSIGNED,
    Knee,
    MarketSeries,
    RegionForecast,
    forecast_regions,
    mean_ladder_kbps,
    plan_capacity,
)

LADDER = {360: 800.0, 720: 2500.0, 1080: 4500.0}


def test_mean_ladder_kbps_maps_heights_to_rungs() -> None:
    assert mean_ladder_kbps([360, 720, 1080, 1080], LADDER) == (800 + 2500 + 4500 * 2) / 4
    assert mean_ladder_kbps([480], LADDER) == 800.0  # between rungs: the rung below
    assert mean_ladder_kbps([144], LADDER) == 800.0  # below every rung: the lowest
    assert mean_ladder_kbps([], LADDER) == 4500.0  # no data: top rung, conservative


def test_forecast_uses_coincident_peaks_per_region() -> None:
    series = {
        # ID peaks at t=10, TH at t=20: the region's peak is 150 at t=10, not 100 + 80.
        "ID": MarketSeries((0, 10, 20), (10, 100, 40), (1, 50, 5)),
        "TH": MarketSeries((0, 10, 20), (0, 50, 80), (0, 10, 40)),
        "GB": MarketSeries((0, 10, 20), (5, 5, 5), (1, 1, 1)),
    }
    kbps = {"ID": 1000.0, "TH": 2000.0, "GB": 4000.0}
    out = forecast_regions(series, {"sg": ["ID", "TH"]}, kbps, mini_peaks=[(15, 25)])
    sg, rest = out
    assert sg == RegionForecast(
        region="sg",
        markets=("ID", "TH"),
        peak_concurrent=150.0,
        peak_t_s=10.0,
        peak_msgs_per_s=60.0,
        mini_peak_msgs_per_s=45.0,  # only t=20 lies in the mini-peak window
        peak_egress_gbps=(40 * 1000 + 80 * 2000) / 1e6,  # 0.2 Gbit/s at t=20 beats 0.2 at t=10
    )
    assert rest.region == UNASSIGNED and rest.markets == ("GB",)
    assert rest.peak_concurrent == 5.0 and rest.mini_peak_msgs_per_s == 1.0
    no_peaks = forecast_regions(series, {"sg": ["ID", "TH"], "fra": ["GB"]}, kbps)
    assert [f.region for f in no_peaks] == ["sg", "fra"]
    assert no_peaks[0].mini_peak_msgs_per_s is None


def test_plan_capacity_arithmetic_is_exact() -> None:
    f = RegionForecast("sg", ("ID",), 1000.0, 0.0, 900.0, 900.0, 2.5)
    (plan,) = plan_capacity([f], Knee(viewers=100), headroom=0.3)
    # 1000 × 1.3 / 100 = 13 exactly (binary floating point gives 13.000000000000002)
    assert plan.instances_for_viewers == 13 and plan.instances == 13
    assert plan.instances_for_messages is None and plan.bound_by == "viewers"
    assert plan.utilisation_at_peak == pytest.approx(1000 / 1300)
    assert plan.egress_gbps == pytest.approx(2.5 * 1.3)
    assert plan.peak_egress_gbps == 2.5
    (by_msgs,) = plan_capacity([f], Knee(viewers=100, msgs_per_s=50.0), headroom=0.3)
    # 900 × 1.3 / 50 = 23.4 → 24 instances, bound by messages
    assert (by_msgs.instances_for_messages, by_msgs.instances) == (24, 24)
    assert by_msgs.bound_by == "messages"
    (tight,) = plan_capacity([f], Knee(viewers=99), headroom=0.0)
    assert tight.instances == 11  # 1000 / 99 = 10.1 → 11
    empty = RegionForecast("x", (), 0.0, 0.0, 0.0, None, 0.0)
    (none,) = plan_capacity([empty], Knee(viewers=100), headroom=0.3)
    assert (none.instances, none.bound_by, none.utilisation_at_peak) == (0, "none", 0.0)
    assert plan.fits_edge is None and plan.edge_max_viewers is None
    edges = {"sg": (1300, 3.25)}  # exactly peak × 1.3 and egress × 1.3: fits
    (fits,) = plan_capacity([f], Knee(viewers=100), headroom=0.3, edges=edges)
    assert (fits.edge_max_viewers, fits.edge_egress_gbps, fits.fits_edge) == (1300, 3.25, True)
    (short,) = plan_capacity([f], Knee(viewers=100), headroom=0.3, edges={"sg": (1299, 40.0)})
    assert short.fits_edge is False
    (thin,) = plan_capacity([f], Knee(viewers=100), headroom=0.3, edges={"sg": (5000, 3.2)})
    assert thin.fits_edge is False
    with pytest.raises(ValueError):
        plan_capacity([f], Knee(viewers=100), headroom=-0.1)
    with pytest.raises(ValueError):
        Knee(viewers=0)


def test_parse_steps() -> None:
    assert parse_steps("50,100, 200,100") == [50, 100, 200]
    assert parse_steps("50:800:x2") == [50, 100, 200, 400, 800]
    assert parse_steps("100:500:+100") == [100, 200, 300, 400, 500]
    assert parse_steps("10:40:x1.5") == [10, 15, 22, 34]
    for bad in ("", "a,b", "50:10:x2", "10:100:x1", "0,5"):
        with pytest.raises(ValueError):
            parse_steps(bad)


def fake_target(knee: int, saturate_at: int | None = None) -> tuple[list[int], object]:
    """A deterministic target: p95 chat latency 50 ms + a hockey stick past `knee` viewers."""
    calls: list[int] = []

    def measure(audience: int) -> StepResult:
        calls.append(audience)
        p95 = 50.0 + max(0, audience - knee) * 10.0
        valid = saturate_at is None or audience < saturate_at
        notes = () if valid else ("generator CPU 98 %",)
        return StepResult(
            audience,
            {"chat_rtt_ms.p95": p95, "error_rate": 0.0},
            valid=valid,
            notes=notes,
        )

    return calls, measure


LIMITS = [Limit("chat_rtt_ms.p95", "<", 600.0), Limit("error_rate", "<", 0.01)]


def test_search_finds_the_knee_and_refines_by_bisection() -> None:
    # p95 < 600 holds up to knee + 54 viewers: 120 + 54 = 174 passes, 175 fails.
    calls, measure = fake_target(knee=120)
    curve = search_knee(measure, [50, 100, 200, 400], LIMITS)
    assert calls == [50, 100, 200]
    assert (curve.knee, curve.first_failure, curve.bound) == (100, 200, "target")
    assert curve.broken == ("chat_rtt_ms.p95 < 600",)
    assert curve.reason == "chat_rtt_ms.p95 < 600 broken at 200 viewers"
    calls, measure = fake_target(knee=120)
    refined = search_knee(measure, [50, 100, 200, 400], LIMITS, refine=10)
    assert calls == [50, 100, 200, 150, 175, 162, 168, 171, 173, 174]
    assert (refined.knee, refined.first_failure) == (174, 175)
    assert [s.audience for s in refined.steps] == sorted(calls)
    assert refined.reason == "chat_rtt_ms.p95 < 600 broken at 175 viewers"


def test_search_stops_honestly_when_the_generator_saturates() -> None:
    calls, measure = fake_target(knee=1000, saturate_at=300)
    curve = search_knee(measure, [100, 200, 400, 800], LIMITS, refine=5)
    assert calls == [100, 200, 400]
    assert (curve.knee, curve.first_failure, curve.bound) == (200, None, "generator")
    assert "saturated at 400" in curve.reason and "CPU 98 %" in curve.reason


def test_search_all_pass_and_first_step_fails() -> None:
    _, measure = fake_target(knee=10_000)
    curve = search_knee(measure, [10, 20], LIMITS)
    assert (curve.knee, curve.bound, curve.first_failure) == (20, "steps", None)
    calls, measure = fake_target(knee=0)
    curve = search_knee(measure, [100, 200], LIMITS, refine=3)
    assert calls == [100, 50, 75, 62]  # bisects below the first step: 50 passes, 75, 62 fail
    assert (curve.knee, curve.first_failure) == (50, 62)
    _, measure = fake_target(knee=0)
    assert search_knee(measure, [100], LIMITS).knee is None


def test_missing_figure_fails_the_limit() -> None:
    step = StepResult(10, {"chat_rtt_ms.p95": None})
    assert not Limit("chat_rtt_ms.p95", "<", 600).holds(step)
    with pytest.raises(ValueError):
        Limit("x", "==", 1.0)


def test_limits_come_from_the_gates_a_step_can_measure() -> None:
    from livelab.errors import GateError
    from loadgen.capacity.limits import DEFAULT_LIMITS, MEDIA_DEFAULT, limits_from_gates

    gates = {
        "chat_rtt_ms.p95": "< 500",
        "ID:join_ms.p95": "< 1000",
        "retention_30s": ">= 0.3",
        "error_rate": "< 0.1%",
        "g2g_latency_ms.p95": "<= 400",
    }
    limits, skipped, defaulted = limits_from_gates(gates, media=False)
    assert limits == (Limit("chat_rtt_ms.p95", "<", 500.0), Limit("error_rate", "<", 0.001))
    assert not defaulted and len(skipped) == 3
    assert skipped[0].startswith("ID:join_ms.p95 (scoped")
    with_media, _, _ = limits_from_gates(gates, media=True)
    assert Limit("g2g_latency_ms.p95", "<=", 400.0) in with_media
    assert limits_from_gates({}, media=False) == (DEFAULT_LIMITS, (), True)
    assert limits_from_gates({}, media=True)[0] == (*DEFAULT_LIMITS, MEDIA_DEFAULT)
    with pytest.raises(GateError):
        limits_from_gates({"chat_rtt_ms.p95": "about 5"}, media=False)
