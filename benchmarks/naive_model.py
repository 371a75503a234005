"""The naive baseline of the model-speed benchmark: the same model, one viewer at a time.

Plain Python per viewer: one SimPy process per viewer, one event per chat or like message,
`random.Random` draws and scalar arithmetic (no numpy in the per-viewer path, no length-1
arrays). Each law is the vectorised one written for one viewer, with the same constants
(imported from `sim.qoe`, `sim.journey`'s `Behavior` fields): `path_one` is
`netem_profiles.sampler.sample_paths` plus `MarketPaths.sample`'s evening rules, `experience_one`
is `sim.qoe.experience`, `journey_one` is `sim.journey.journeys` (stay clock and peak overlaps
included). tests/sim/test_naive_model.py checks that, fed the same draws, each gives the
vectorised law's values.

Remaining differences from `sim.simulate`, all of which make the naive run do *less* work, so
the ratio flatters it slightly:

- no edge queueing: every join sees an idle edge (no wait, no failed join, full bandwidth) and
  the interaction service's response time comes from one global message count per step;
- no viewer-level output: no per-viewer table, no counts of votes, questions or orders per
  viewer, no time series, no business outcomes;
- overload leaving (viewers quitting when the interaction service is slow) is not applied;
- draws come from one `random.Random` per market instead of the named numpy streams, so the two
  runs see different (equally distributed) viewers: only their speed is compared;
- market `[qoe]` overrides are refused (bench_1m has none).
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from netem_profiles.model import Profile
from scenarios import Behavior
from sim import qoe
from sim.journey import ROW, U_ROWS
from sim.paths import ACCESS, MarketPaths, market_paths
from sim.schedule import Grid, HostEvent, arrival_weights, host_events, local_hours, stay_clock

__all__ = ["OnePath", "experience_one", "journey_one", "naive_simulate", "path_one"]

_NORMAL = NormalDist()


@dataclass(frozen=True)
class OnePath:
    """One viewer's path: round trip, jitter sd, loss, burst length (ms, ms, 0–1, packets) and
    downstream bandwidth (kbit/s, inf when unlimited)."""

    rtt_ms: float
    jitter_ms: float
    loss: float
    burst_len: float
    down_kbit: float


def _lognormal_factor(z: float, cv: float) -> float:
    if cv <= 0:
        return 1.0
    sigma = math.sqrt(math.log1p(cv * cv))
    return math.exp(sigma * z - 0.5 * sigma * sigma)


def sample_one(profile: Profile, z: tuple[float, float, float, float]) -> OnePath:
    """`sample_paths` for one viewer, from its four standard normals ``z``."""
    spread, down = profile.spread, profile.down
    base = profile.rtt_ms
    if spread.rtt_sd_ms <= 0:
        rtt = base
    elif base <= 0:
        rtt = abs(z[0]) * spread.rtt_sd_ms
    else:
        rtt = base * _lognormal_factor(z[0], spread.rtt_sd_ms / base)
    jitter = down.delay_sd_ms * _lognormal_factor(z[1], spread.jitter_cv)
    loss = min(1.0, max(0.0, down.mean_loss * _lognormal_factor(z[2], spread.loss_cv)))
    if down.ge is not None:
        burst = down.ge.mean_burst_len
    else:
        burst = math.inf if loss >= 1.0 else 1.0 / (1.0 - loss)
    rate = math.inf if down.rate_kbit is None else down.rate_kbit
    return OnePath(rtt, jitter, loss, burst, rate * _lognormal_factor(z[3], spread.bw_cv))


def path_one(
    paths: MarketPaths, access: int, local_hour: float, z: tuple[float, float, float, float]
) -> tuple[OnePath, int]:
    """One viewer's path and profile index, with `MarketPaths.sample`'s evening rules."""
    evening = False
    if paths.evening_hours is not None:
        lo, hi = paths.evening_hours
        evening = lo <= local_hour < hi if lo <= hi else (local_hour >= lo or local_hour < hi)
    if ACCESS[access] == "wifi":
        if evening:
            return sample_one(paths.evening, z), len(ACCESS)
        return sample_one(paths.day[access], z), access
    p = sample_one(paths.day[access], z)
    if evening:
        p = OnePath(
            p.rtt_ms, p.jitter_ms, p.loss, p.burst_len, p.down_kbit * paths.mobile_evening_factor
        )
    return p, access


@dataclass(frozen=True)
class Ladder:
    """A stream's rungs sorted by bitrate: kbit/s, fps and height per rung."""

    kbps: tuple[float, ...]
    fps: tuple[float, ...]
    height: tuple[float, ...]


def ladder_of(scenario: Any) -> Ladder:
    rungs = sorted(scenario.stream.ladder, key=lambda r: r.kbps)
    return Ladder(
        tuple(float(r.kbps) for r in rungs),
        tuple(float(r.fps) for r in rungs),
        tuple(float(r.height) for r in rungs),
    )


def experience_one(
    scenario: Any,
    ladder: Ladder,
    p: OnePath,
    keyframe_u: float,
    join_service_ms: float,
    bandwidth_share: float,
    interaction_ms: float,
    spread_u: float,
    edge_wait_ms: float = 0.0,
) -> dict[str, float]:
    """`sim.qoe.experience` for one viewer (same keys as `Experience`'s fields, plus
    ``behind_ms``), with the scenario's calibrated laws (`sim.qoe.laws_of`)."""
    law = qoe.laws_of(scenario)
    stream = scenario.stream
    rtt, jitter = p.rtt_ms, p.jitter_ms
    join = law.join_round_trips * rtt + law.join_setup_ms + join_service_ms + edge_wait_ms
    usable = p.down_kbit * bandwidth_share * (1.0 - p.loss) * qoe.BANDWIDTH_HEADROOM
    rung = min(max(bisect.bisect_right(ladder.kbps, usable) - 1, 0), len(ladder.kbps) - 1)
    kbps = ladder.kbps[rung]
    starve = min(1.0, max(0.0, 1.0 - usable / ladder.kbps[0]))
    pkt_per_s = kbps * 1000.0 / (qoe.PACKET_BYTES * 8.0)
    fps = ladder.fps[rung]
    burst = max(p.burst_len, 1.0)
    bursts_per_s = fps * p.loss / burst
    nacking = pkt_per_s * p.loss * qoe.NACK_WINDOW_S >= qoe.NACK_LIMIT
    estimate = max(0.0, law.buffer_jitter_sds * jitter - qoe.JITTER_OFFSET_MS)
    buffer_ms = law.buffer_base_ms + estimate + (law.buffer_nack_rtt * rtt if nacking else 0.0)
    frozen_ms = law.freeze_per_burst_ms + law.freeze_rtt_share * max(
        0.0, rtt - law.freeze_rtt_floor_ms
    )
    loss_freeze = 1.0 - math.exp(-bursts_per_s * frozen_ms / 1000.0)
    rebuffer = 1.0 - (1.0 - starve) * (1.0 - loss_freeze)
    freezes = bursts_per_s * 60.0 * min(1.0, frozen_ms / qoe.FREEZE_MIN_MS)
    if starve > 0:
        freezes += 60.0 / stream.keyframe_interval_s
    wait_keyframe = (1.0 - law.keyframe_on_join) * keyframe_u * stream.keyframe_interval_s * 1e3
    startup = join + law.first_frame_ms + 0.5 * rtt + buffer_ms + wait_keyframe
    u = min(max(spread_u, 1e-6), 1.0 - 1e-6)
    spread = (
        math.log(u / (1.0 - u))
        * qoe._LOGISTIC_SD
        * (law.g2g_spread_ms + law.g2g_spread_jitter * jitter)
    )
    g2g = max(0.0, stream.host_delay_ms + 0.5 * rtt + buffer_ms + spread)
    chat = rtt + interaction_ms
    return {
        "join_ms": join,
        "startup_ms": startup,
        "g2g_latency_ms": g2g,
        "chat_rtt_ms": chat,
        "answer_ms": scenario.host.answer_s * 1000.0 + 0.5 * chat + g2g,
        "order_ms": 2.0 * rtt + interaction_ms,
        "rebuffer_ratio": rebuffer,
        "freeze_per_min": freezes,
        "resolution": ladder.height[rung],
        "kbps": kbps,
        "fps": fps * (1.0 - rebuffer),
        "behind_ms": g2g + 0.5 * chat,
    }


def _interp(x: float, xs: list[float], ys: list[float]) -> float:
    """numpy.interp for one point (xs increasing; clamped at both ends)."""
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = bisect.bisect_right(xs, x) - 1
    x0, x1 = xs[i], xs[i + 1]
    if x1 == x0:
        return ys[i + 1]
    return ys[i] + (ys[i + 1] - ys[i]) * (x - x0) / (x1 - x0)


@dataclass(frozen=True)
class Context:
    """One market's per-journey constants, as plain Python values."""

    behavior: Behavior
    localized: bool
    incentive: str
    duration_s: float
    edges: list[float]
    clock: list[float]
    events: tuple[HostEvent, ...]
    join_timeout_s: float
    series_streams: int


def journey_one(
    ctx: Context,
    arrival_s: float,
    mobile: bool,
    referred: bool,
    exp: dict[str, float],
    edge_wait_s: float,
    u: list[float],
) -> dict[str, Any]:
    """`sim.journey.journeys` for one viewer; ``u`` is its `U_ROWS` uniforms."""
    b = ctx.behavior
    end = ctx.duration_s
    loc = b.localized_boost if ctx.localized else 1.0
    startup_s = exp["startup_ms"] / 1000.0
    slope = b.startup_abandon_per_s
    beyond = u[ROW["patience"]] / slope if slope > 0 else math.inf
    patience = (b.startup_onset_s + beyond) * (b.mobile_patience if mobile else 1.0)
    failed = edge_wait_s > ctx.join_timeout_s
    start_s = arrival_s + startup_s
    abandoned = failed or startup_s > patience or start_s >= end
    started = not abandoned
    give_up_s = min(patience, ctx.join_timeout_s if failed else startup_s)

    p_pass = min(1.0, b.passby_leave / loc)
    behind = exp["behind_ms"]
    q_lat = min(1.0, b.latency_leave_per_s * max(0.0, behind - b.interactive_ms) / 1000.0)
    span = max(1e-9, b.cliff_full_ms - b.cliff_start_ms)
    q_cliff = b.cliff_leave * min(1.0, max(0.0, (behind - b.cliff_start_ms) / span))
    p_dec = 1.0 - (1.0 - min(1.0, b.decision_leave / loc)) * (1.0 - q_lat) * (1.0 - q_cliff)
    stage_u, stage_t = u[ROW["stage"]], u[ROW["stage_t"]]
    passby = stage_u < p_pass
    decide = not passby and stage_u < p_pass + (1.0 - p_pass) * p_dec
    stay = not passby and not decide
    window = b.decision_window_s
    watch = stage_t * b.passby_s if passby else b.passby_s + stage_t * (window - b.passby_s)
    if stay:
        alpha = b.session_tail_alpha
        scale_s = b.session_median_min * 60.0 / (2.0 ** (1.0 / alpha) - 1.0)
        session = scale_s * ((1.0 - u[ROW["session"]]) ** (-1.0 / alpha) - 1.0)
        if exp["resolution"] >= b.hd_min_height:
            session *= 1.0 + b.hd_watch_bonus
        stay_from = start_s + window
        target = _interp(min(stay_from, ctx.edges[-1]), ctx.edges, ctx.clock) + session
        stay_until = (
            ctx.edges[-1] if target > ctx.clock[-1] else _interp(target, ctx.clock, ctx.edges)
        )
        extra = max(0.0, stay_until - stay_from)
        penalty = (1.0 - b.rebuffer_watch_loss) ** (exp["rebuffer_ratio"] * 100.0) * (1.0 - q_lat)
        watch = window + extra * penalty
    watch = min(max(watch, 0.0), max(0.0, end - start_s)) if started else 0.0
    leave_s = min(start_s + watch if started else arrival_s + give_up_s, end)

    trust_s = b.trust_min * 60.0 / loc / (b.referred_trust_boost if referred else 1.0)
    trusted = started and watch >= trust_s
    trusted_from = start_s + trust_s
    # The flash deals' live windows inside the trusted stay, in time order (from, length s).
    deals = sorted((e for e in ctx.events if e.kind == "flash_deal"), key=lambda e: e.start_s)
    spans = []
    for e in deals:
        lo = max(trusted_from, e.start_s)
        spans.append((lo, max(0.0, min(leave_s, e.end_s) - lo)))
    deal_s = sum(span for _, span in spans)
    flash = deal_s > 0.0
    lottery = any(
        e.kind == "lottery" and start_s < e.end_s and leave_s > e.start_s for e in ctx.events
    )
    p_plain = b.purchase_prob * loc
    p_base = min(1.0, p_plain) * b.payment_success
    p_buy = min(1.0, p_plain * (b.flash_deal_buy_boost if flash else 1.0))
    buy_u, buy_t = u[ROW["buy"]], u[ROW["buy_t"]]
    ordered = trusted and buy_u < p_buy * b.payment_success
    order_s = math.nan
    if ordered and flash and buy_u >= p_base:  # the deal's own order, inside the deal
        offset, total = buy_t * deal_s, 0.0
        for lo, span in spans:
            if math.isnan(order_s) and total <= offset < total + span:
                order_s = lo + (offset - total)
            total += span
    elif ordered:
        order_s = trusted_from + buy_t * (watch - trust_s)
    sigma = b.aov_sigma
    value_u = min(max(u[ROW["value"]], 1e-12), 1.0 - 1e-12)
    value = b.aov_usd * math.exp(sigma * _NORMAL.inv_cdf(value_u) - 0.5 * sigma * sigma)
    value *= b.referred_value_boost if referred else 1.0
    share_prob = dict(b.share_prob).get(ctx.incentive, 0.0)  # type: ignore[call-overload]
    p_share = share_prob * (b.lottery_share_boost if lottery else 1.0)
    shared = started and stay and watch > window and u[ROW["share"]] < min(1.0, p_share)
    share_s = start_s + window + u[ROW["share_t"]] * (watch - window) if shared else math.nan
    later = ctx.series_streams - 1
    p_ret = b.return_prob * (1.0 if trusted else b.untrusted_return_factor)
    if referred:
        p_ret = 1.0 - (1.0 - p_ret) * (1.0 - b.referred_churn_cut)
    p_ret = min(1.0, max(0.0, p_ret - (b.failed_start_return_pp if abandoned else 0.0)))
    returned = u[ROW["return"]] < 1.0 - (1.0 - p_ret) ** later
    p_rep = min(1.0, max(0.0, p_ret * b.repurchase_prob))
    repurchased = ordered and u[ROW["repurchase"]] < 1.0 - (1.0 - p_rep) ** later
    return {
        "start_s": start_s if started else math.nan,
        "leave_s": leave_s,
        "watch_s": watch,
        "abandoned": abandoned,
        "failed": failed,
        "trusted": trusted,
        "ordered": ordered,
        "order_s": order_s,
        "order_usd": value if ordered else 0.0,
        "shared": shared,
        "share_s": share_s,
        "returned": returned,
        "repurchased": repurchased,
    }


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method (means here are a few invites)."""
    limit, k, prod = math.exp(-mean), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def naive_simulate(scenario: Any) -> int:
    """The model, one SimPy process per viewer and one event per message; returns the viewers
    that ran. See the module docstring for what it leaves out."""
    import simpy

    if any(m.qoe is not None for m in scenario.markets):
        raise ValueError("the naive baseline does not apply market [qoe] overrides")
    grid = Grid(scenario.stream.duration_min * 60.0)
    events = host_events(scenario)
    ladder = ladder_of(scenario)
    env = simpy.Environment()
    infra = scenario.infra
    state = {"messages": 0.0, "interaction_ms": infra.interaction_base_ms, "viewers": 0}
    capacity = infra.interaction_msgs_per_s
    edges = [float(x) for x in grid.edges]

    def clock() -> Any:
        while True:
            rho = min(state["messages"] / grid.step_s / capacity, 0.95)
            state["interaction_ms"] = infra.interaction_base_ms / (1 - rho)
            state["messages"] = 0.0
            yield env.timeout(grid.step_s)

    def viewer(m: Any, ctx: Context, paths: MarketPaths, rng: random.Random, gen: int) -> Any:
        state["viewers"] += 1
        beh = ctx.behavior
        r = rng.random()
        access = min(bisect.bisect_right(m.access_cdf, r), len(ACCESS) - 1)
        hour = (m.local0_h + env.now / 3600.0) % 24.0
        z = (rng.gauss(0, 1), rng.gauss(0, 1), rng.gauss(0, 1), rng.gauss(0, 1))
        p, _profile = path_one(paths, access, hour, z)
        u = [rng.random() for _ in U_ROWS]
        exp = experience_one(scenario, ladder, p, u[ROW["keyframe"]], 20.0, 1.0,
                             state["interaction_ms"], u[ROW["g2g"]])  # fmt: skip
        j = journey_one(ctx, env.now, access > 0, gen > 0, exp, 0.0, u)
        if j["abandoned"]:
            yield env.timeout(max(0.0, j["leave_s"] - env.now))
            return
        yield env.timeout(j["start_s"] - env.now)
        rate_per_s = (beh.chat_per_min + beh.like_per_min) / 60.0
        leave = j["leave_s"]
        while rate_per_s > 0:
            gap = rng.expovariate(rate_per_s)
            if env.now + gap >= leave:
                break
            yield env.timeout(gap)
            state["messages"] += 1
        if j["shared"]:
            n = _poisson(rng, beh.invites_per_share)
            invites = sum(rng.random() < beh.invite_conversion for _ in range(n))
            for _ in range(invites):
                env.process(invitee(m, ctx, paths, rng, gen + 1, j["share_s"]))
        yield env.timeout(max(0.0, leave - env.now))

    def invitee(m: Any, ctx: Context, paths: MarketPaths, rng: random.Random, gen: int,
                at: float) -> Any:  # fmt: skip
        delay = rng.expovariate(1.0 / (ctx.behavior.invitee_delay_min * 60.0))
        if at + delay >= grid.duration_s:
            return
        yield env.timeout(max(0.0, at + delay - env.now))
        yield env.process(viewer(m, ctx, paths, rng, gen))

    def arrivals(m: Any, ctx: Context, paths: MarketPaths, rng: random.Random) -> Any:
        # Non-homogeneous Poisson arrivals by thinning at the peak rate of the same intensity.
        weights = arrival_weights(scenario, m.market, ctx.behavior, grid, events)
        steps = [b - a for a, b in itertools.pairwise(edges)]
        rate = [float(w) / s * m.market.audience for w, s in zip(weights, steps, strict=True)]
        peak = max(rate)
        while True:
            yield env.timeout(rng.expovariate(peak))
            if env.now >= grid.duration_s:
                return
            b = min(int(env.now // grid.step_s), grid.n - 1)
            if rng.random() < rate[b] / peak:
                env.process(viewer(m, ctx, paths, rng, 0))

    env.process(clock())
    for i, market in enumerate(scenario.markets):
        beh = market.resolved_behavior()
        ctx = Context(
            behavior=beh, localized=market.localized, incentive=market.incentive,
            duration_s=grid.duration_s, edges=edges,
            clock=[float(x) for x in stay_clock(grid, events, beh.mini_peak_stay_boost)],
            events=tuple(events), join_timeout_s=infra.join_timeout_s,
            series_streams=scenario.scenario.series_streams,
        )  # fmt: skip
        m = _MarketInfo(scenario, market)
        rng = random.Random(scenario.scenario.seed * 1000 + i)
        env.process(arrivals(m, ctx, market_paths(scenario, market), rng))
    env.run(until=grid.duration_s + 3600.0)
    return int(state["viewers"])


class _MarketInfo:
    """A market plus its access CDF and its local hour at the stream start, as plain floats."""

    def __init__(self, scenario: Any, market: Any) -> None:
        import numpy as np  # once per market, not per viewer

        self.market = market
        shares = list(market.access.shares().values())
        self.access_cdf = [sum(shares[: k + 1]) for k in range(len(shares))]
        # The model's own clock helper, evaluated once; like it, the offset is the one at the
        # stream start, so the local hour then advances with the stream clock.
        self.local0_h = float(local_hours(scenario, market, np.zeros(1))[0])
