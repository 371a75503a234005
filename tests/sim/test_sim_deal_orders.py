"""Orders the flash deal causes fall inside the deal, while the viewer trusts (sim/journey.py)."""

from __future__ import annotations

import numpy as np

from scenarios import Behavior, preset
from sim.journey import ROW, U_ROWS, StreamContext, deal_moment, deal_seconds, journeys
from sim.qoe import Experience
from sim.schedule import Grid, HostEvent, stay_clock

DEAL = HostEvent("flash_deal", announce_s=480.0, start_s=600.0, end_s=780.0)
LOTTERY = HostEvent("lottery", announce_s=1080.0, start_s=1200.0, end_s=1380.0)
N = 20_000


def _run(behavior: Behavior, events: tuple[HostEvent, ...] = (DEAL, LOTTERY)):
    grid = Grid(1800.0)
    ctx = StreamContext(
        behavior=behavior, localized=True, incentive="interest", grid=grid, events=events,
        clock=stay_clock(grid, list(events), behavior.mini_peak_stay_boost),
        join_timeout_s=10.0, series_streams=1,
    )  # fmt: skip
    rng = np.random.default_rng(7)
    u = rng.random((len(U_ROWS), N))
    arrival = np.sort(rng.random(N) * 1500.0)
    ones = np.ones(N)
    exp = Experience(
        join_ms=300 * ones, startup_ms=800 * ones, g2g_latency_ms=500 * ones,
        chat_rtt_ms=80 * ones, answer_ms=4000 * ones, order_ms=100 * ones,
        rebuffer_ratio=0 * ones, freeze_per_min=0 * ones, resolution=720 * ones,
        kbps=2500 * ones, fps=30 * ones,
    )  # fmt: skip
    no = np.zeros(N, dtype=bool)
    return u, journeys(ctx, arrival, no, no, exp, np.zeros(N), u)


def _behavior(**update: float) -> Behavior:
    return Behavior(**{**preset("sea"), "purchase_prob": 0.2, **update})


def test_deal_time_sums_and_places_inside_the_deals() -> None:
    second = HostEvent("flash_deal", 1000.0, 1100.0, 1200.0)
    t0, t1 = np.array([0.0, 650.0, 700.0, 790.0]), np.array([1800.0, 700.0, 1150.0, 1000.0])
    total = deal_seconds(t0, t1, (DEAL, LOTTERY, second))
    assert total.tolist() == [280.0, 50.0, 130.0, 0.0]
    at = deal_moment(t0, t1, (DEAL, second), np.array([190.0, 10.0, 100.0, 0.0]))
    assert at[:3].tolist() == [1110.0, 660.0, 1120.0] and np.isnan(at[3])


def test_the_deals_own_orders_fall_in_the_deal_while_trusting() -> None:
    b = _behavior()
    u, j = _run(b)
    trusted_from = j.start_s + j.trust_s
    p_base = b.purchase_prob * b.localized_boost * b.payment_success
    by_deal = j.ordered & (u[ROW["buy"]] >= p_base)
    assert by_deal.sum() > 100
    t = j.order_s[by_deal]
    assert np.all((t >= np.maximum(trusted_from[by_deal], DEAL.start_s)) & (t < DEAL.end_s))
    assert np.all(t < j.leave_s[by_deal])
    # The deal's buyers trusted while it was on; the others order anywhere in the trusted stay.
    assert np.all(trusted_from[by_deal] < DEAL.end_s) and np.all(j.leave_s[by_deal] > DEAL.start_s)
    rest = j.ordered & ~by_deal
    anytime = trusted_from + u[ROW["buy_t"]] * (j.watch_s - j.trust_s)
    np.testing.assert_allclose(j.order_s[rest], anytime[rest])


def test_without_a_boost_no_order_moves_and_the_same_viewers_buy() -> None:
    b = _behavior()
    _, boosted = _run(b)
    _, flat = _run(b.model_copy(update={"flash_deal_buy_boost": 1.0}))
    assert np.all(boosted.ordered[flat.ordered])  # the boost only adds buyers (same draws)
    added = boosted.ordered & ~flat.ordered
    assert np.all((boosted.order_s[added] >= DEAL.start_s) & (boosted.order_s[added] < DEAL.end_s))
    same = flat.ordered
    np.testing.assert_array_equal(boosted.order_s[same], flat.order_s[same])
    in_deal = (flat.order_s >= DEAL.start_s) & (flat.order_s < DEAL.end_s)
    in_deal_boosted = (boosted.order_s >= DEAL.start_s) & (boosted.order_s < DEAL.end_s)
    assert in_deal_boosted.sum() >= in_deal.sum() + added.sum()


def test_a_viewer_who_trusts_only_after_the_deal_gets_no_boost() -> None:
    b = _behavior(flash_deal_buy_boost=3.0)
    u, j = _run(b)
    late = j.trusted & (j.start_s + j.trust_s >= DEAL.end_s)
    p_base = b.purchase_prob * b.localized_boost * b.payment_success
    assert late.sum() > 100
    np.testing.assert_array_equal(j.ordered[late], u[ROW["buy"]][late] < p_base)
