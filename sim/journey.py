"""A batch of viewers' journeys: pass-by → information → trust → purchase (vectorised).

Each viewer has a row of uniforms (`U_ROWS`, drawn per viewer slot) and an experience; the
market's resolved `Behavior` turns them into outcomes. Every behavioural number comes from the
`Behavior` (scenario or preset); the laws are:

- startup patience (Krishnan & Sitaraman 2012): nobody quits before `startup_onset_s`, then
  `startup_abandon_per_s` more per second, i.e. patience = onset + u / slope; mobile viewers'
  patience is × `mobile_patience`. A join waiting longer than `infra.join_timeout_s` at a full
  edge fails. Either way the viewer leaves before the first frame.
- pass-by: `passby_leave` (÷ `localized_boost` when localised) swipe away within `passby_s`.
- decision window: of the rest, `decision_leave` (÷ localised boost), the interactivity penalty
  (`latency_leave_per_s` per second of host-behind-chat lag over `interactive_ms`) and the
  cliff (`cliff_leave`, ramping in from `cliff_start_ms` to `cliff_full_ms`) combine as
  independent reasons to leave before `decision_window_s`.
- stayers: a Lomax (exponential head, power-law tail; Sripanidkulchai 2004, Veloso 2006)
  session with median `session_median_min` and tail `session_tail_alpha`, × (1 +
  `hd_watch_bonus`) at HD, run on the stay clock (mini-peaks slow leaving) and capped at the
  stream end; then the time past the window shrinks by `rebuffer_watch_loss` per 1 % rebuffering
  and by the interactivity penalty (leaving early is always possible, watching past the end not).
- trust after `trust_min` of watching (÷ `referred_trust_boost` if referred, ÷ localised
  boost); trusting viewers order with `purchase_prob` (× localised boost, × `flash_deal_buy_boost`
  when a flash deal is live while they trust) × `payment_success`. An order falls uniformly
  (`buy_t`) over the trusted stay, except the deal's own orders — the boost's share, the draws
  `buy` that order only because of the boost — which fall uniformly (the same `buy_t`) in the
  flash-deal time inside the trusted stay: a deal sells while it is on.
- stayers share with `share_prob[incentive]` (× `lottery_share_boost` when present at a lottery).
- co-host segments (`sim.cohost`): own-market viewers present trust `cohost_trust_boost` ×
  faster and buy × `cohost_buy_boost`; a guest round trip over `interactive_ms` makes more of
  those starting in the segment leave in the decision window and shortens stayers' watching
  after it starts (`cohost_lag_leave_per_s`). Without co-host segments nothing here changes.
- return to a later stream of the series with `return_prob` (× `untrusted_return_factor`
  without trust; referred churn × (1 − `referred_churn_cut`); a failed start costs
  `failed_start_return_pp`); buyers repurchase with `repurchase_prob` when they return.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from scenarios import Behavior
from sim.cohost import lag_share, segments
from sim.qoe import Experience
from sim.schedule import Grid, HostEvent, overlaps, stay_end

__all__ = [
    "ROW",
    "U_ROWS",
    "Journey",
    "StreamContext",
    "deal_moment",
    "deal_seconds",
    "interactivity",
    "journeys",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

# One uniform per viewer per purpose, in this fixed order (common random numbers).
U_ROWS: tuple[str, ...] = (
    "keyframe", "patience", "stage", "stage_t", "session", "share", "share_t", "buy", "buy_t",
    "value", "return", "repurchase", "g2g",
)  # fmt: skip
ROW = {name: i for i, name in enumerate(U_ROWS)}


@dataclass(frozen=True)
class StreamContext:
    """What every journey of one market needs besides the viewer's own draws."""

    behavior: Behavior
    localized: bool
    incentive: str  # interest | social | honour
    grid: Grid
    events: tuple[HostEvent, ...]
    clock: FloatArray  # stay clock at grid edges (schedule.stay_clock)
    join_timeout_s: float
    series_streams: int
    market: str = ""  # the market's code: a co-host guest lifts their own market


@dataclass(frozen=True)
class Journey:
    """Outcomes of a batch (arrays of one length). Times in s from the stream start; NaN = never."""

    start_s: FloatArray  # first frame
    leave_s: FloatArray
    watch_s: FloatArray  # from first frame to leaving; 0 without a first frame
    abandoned: BoolArray  # left before the first frame (includes failed)
    failed: BoolArray  # join failed at a full edge
    trusted: BoolArray
    trust_s: FloatArray  # watching needed to trust, s
    ordered: BoolArray
    order_s: FloatArray
    order_usd: FloatArray
    shared: BoolArray
    share_s: FloatArray
    returned: BoolArray
    repurchased: BoolArray


def interactivity(b: Behavior, behind_ms: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(latency penalty, cliff): extra shares leaving the decision window for a host-behind lag."""
    over_s = np.maximum(0.0, behind_ms - b.interactive_ms) / 1000.0
    q_lat = np.minimum(1.0, b.latency_leave_per_s * over_s)
    span = max(1e-9, b.cliff_full_ms - b.cliff_start_ms)
    q_cliff = b.cliff_leave * np.clip((behind_ms - b.cliff_start_ms) / span, 0.0, 1.0)
    return q_lat, q_cliff


def _deal_spans(
    t0: FloatArray, t1: FloatArray, events: tuple[HostEvent, ...]
) -> list[tuple[FloatArray, FloatArray]]:
    """(from, length s) of each flash deal's live window inside [t0, t1), deals in time order."""
    deals = sorted((e for e in events if e.kind == "flash_deal"), key=lambda e: e.start_s)
    spans = []
    for ev in deals:
        lo = np.maximum(t0, ev.start_s)
        spans.append((lo, np.maximum(0.0, np.minimum(t1, ev.end_s) - lo)))
    return spans


def deal_seconds(t0: FloatArray, t1: FloatArray, events: tuple[HostEvent, ...]) -> FloatArray:
    """Seconds of flash deal (live window) inside [t0, t1)."""
    total = np.zeros(np.shape(t0))
    for _, span in _deal_spans(t0, t1, events):
        total = total + span
    return total


def deal_moment(
    t0: FloatArray, t1: FloatArray, events: tuple[HostEvent, ...], offset_s: FloatArray
) -> FloatArray:
    """The moment `offset_s` seconds into the flash-deal time inside [t0, t1) (the deals'
    windows laid end to end in time order), s; NaN where that time is `offset_s` or shorter."""
    total = np.zeros(np.shape(t0))
    at = np.full(np.shape(t0), np.nan)
    for lo, span in _deal_spans(t0, t1, events):
        hit = np.isnan(at) & (offset_s >= total) & (offset_s < total + span)
        at = np.where(hit, lo + (offset_s - total), at)
        total = total + span
    return at


def journeys(
    ctx: StreamContext,
    arrival_s: FloatArray,
    mobile: BoolArray,
    referred: BoolArray,
    exp: Experience,
    edge_wait_s: FloatArray,
    u: FloatArray,
) -> Journey:
    """Outcomes of viewers arriving at `arrival_s` with experience `exp` and uniforms `u`.

    `u` has shape (len(U_ROWS), n). See the module docstring for the laws.
    """
    b = ctx.behavior
    end = ctx.grid.duration_s
    loc = b.localized_boost if ctx.localized else 1.0

    # Startup: patience (K&S line) and failed joins at a full edge.
    startup_s = exp.startup_ms / 1000.0
    slope = b.startup_abandon_per_s
    beyond = u[ROW["patience"]] / slope if slope > 0 else np.full(arrival_s.shape, np.inf)
    patience = (b.startup_onset_s + beyond) * np.where(mobile, b.mobile_patience, 1.0)
    failed = edge_wait_s > ctx.join_timeout_s
    start_s = arrival_s + startup_s
    abandoned = failed | (startup_s > patience) | (start_s >= end)
    started = ~abandoned
    give_up_s = np.minimum(patience, np.where(failed, ctx.join_timeout_s, startup_s))

    # Pass-by and the decision window.
    p_pass = min(1.0, b.passby_leave / loc)
    q_lat, q_cliff = interactivity(b, exp.behind_ms)
    p_dec = 1.0 - (1.0 - min(1.0, b.decision_leave / loc)) * (1.0 - q_lat) * (1.0 - q_cliff)
    cohost = [(ev, lag_share(b, ev.guest.rtt_ms)) for ev in segments(ctx.events) if ev.guest]
    if cohost:  # only then: keeps the bytes of scenarios without co-host segments
        q_co = np.zeros(arrival_s.shape)
        for ev, q in cohost:
            q_co = np.where((start_s >= ev.start_s) & (start_s < ev.end_s), q, q_co)
        p_dec = 1.0 - (1.0 - p_dec) * (1.0 - q_co)
    stage_u, stage_t = u[ROW["stage"]], u[ROW["stage_t"]]
    passby = stage_u < p_pass
    decide = ~passby & (stage_u < p_pass + (1.0 - p_pass) * p_dec)
    stay = ~passby & ~decide
    window = b.decision_window_s
    watch = np.where(passby, stage_t * b.passby_s, b.passby_s + stage_t * (window - b.passby_s))

    # Stayers: heavy-tailed session on the stay clock, HD bonus, then the penalties.
    alpha = b.session_tail_alpha
    scale_s = b.session_median_min * 60.0 / (2.0 ** (1.0 / alpha) - 1.0)
    session = scale_s * ((1.0 - u[ROW["session"]]) ** (-1.0 / alpha) - 1.0)
    hd = exp.resolution >= b.hd_min_height
    session = session * np.where(hd, 1.0 + b.hd_watch_bonus, 1.0)
    stay_from = start_s + window
    stay_until = stay_end(ctx.clock, ctx.grid, stay_from, session)
    extra = np.maximum(0.0, stay_until - stay_from)
    penalty = (1.0 - b.rebuffer_watch_loss) ** (exp.rebuffer_ratio * 100.0) * (1.0 - q_lat)
    watch = np.where(stay, window + extra * penalty, watch)
    for ev, q in cohost:  # a laggy call: stayers' watching after the segment starts shrinks by q
        if q > 0:
            seg_w = np.maximum(ev.start_s, stay_from) - start_s  # watch time when it bites
            bites = stay & (stay_from < ev.end_s) & (watch > seg_w)
            watch = np.where(bites, seg_w + (watch - seg_w) * (1.0 - q), watch)
    watch = np.where(started, np.clip(watch, 0.0, np.maximum(0.0, end - start_s)), 0.0)
    leave_s = np.where(started, start_s + watch, arrival_s + give_up_s)
    leave_s = np.minimum(leave_s, end)

    # Trust and purchase.
    trust_s = b.trust_min * 60.0 / loc / np.where(referred, b.referred_trust_boost, 1.0)
    if cohost:  # a guest of the viewer's own market on air while they watch
        own = [ev for ev, _ in cohost if ev.guest and ev.guest.market == ctx.market]
        lift = started & overlaps(start_s, leave_s, own, ("cohost",))
        trust_s = trust_s / np.where(lift, b.cohost_trust_boost, 1.0)
    trusted = started & (watch >= trust_s)
    trusted_from = start_s + trust_s
    deal_s = deal_seconds(trusted_from, leave_s, ctx.events)
    flash = deal_s > 0.0  # trusting while a flash deal is on
    p_plain: FloatArray | float = b.purchase_prob * loc
    if cohost:
        p_plain = p_plain * np.where(lift, b.cohost_buy_boost, 1.0)
    p_base = np.minimum(1.0, p_plain) * b.payment_success
    p_buy = np.minimum(1.0, p_plain * np.where(flash, b.flash_deal_buy_boost, 1.0))
    buy_u, buy_t = u[ROW["buy"]], u[ROW["buy_t"]]
    ordered = trusted & (buy_u < p_buy * b.payment_success)
    # The deal's own orders (the boost's share: they would not have bought without it) are
    # placed inside the deal while trusting; the others anywhere in the trusted stay.
    by_deal = ordered & flash & (buy_u >= p_base)
    anytime = trusted_from + buy_t * (watch - trust_s)
    in_deal = deal_moment(trusted_from, leave_s, ctx.events, buy_t * deal_s)
    order_s = np.where(ordered, np.where(by_deal, in_deal, anytime), np.nan)
    sigma = b.aov_sigma
    value_u = np.clip(u[ROW["value"]], 1e-12, 1.0 - 1e-12)
    value = b.aov_usd * np.exp(sigma * ndtri(value_u) - 0.5 * sigma * sigma)
    value = value * np.where(referred, b.referred_value_boost, 1.0)
    order_usd = np.where(ordered, value, 0.0)

    # Sharing (stayers only).
    lottery = overlaps(start_s, leave_s, list(ctx.events), ("lottery",))
    share_prob = dict(b.share_prob).get(ctx.incentive, 0.0)  # type: ignore[call-overload]
    p_share = share_prob * np.where(lottery, b.lottery_share_boost, 1.0)
    shared = started & stay & (watch > window) & (u[ROW["share"]] < np.minimum(1.0, p_share))
    share_s = np.where(shared, start_s + window + u[ROW["share_t"]] * (watch - window), np.nan)

    # Returns and repurchases over the rest of the series.
    later = ctx.series_streams - 1
    p_ret = b.return_prob * np.where(trusted, 1.0, b.untrusted_return_factor)
    p_ret = np.where(referred, 1.0 - (1.0 - p_ret) * (1.0 - b.referred_churn_cut), p_ret)
    p_ret = np.clip(p_ret - np.where(abandoned, b.failed_start_return_pp, 0.0), 0.0, 1.0)
    returned = u[ROW["return"]] < 1.0 - (1.0 - p_ret) ** later
    p_rep = np.clip(p_ret * b.repurchase_prob, 0.0, 1.0)
    repurchased = ordered & (u[ROW["repurchase"]] < 1.0 - (1.0 - p_rep) ** later)
    return Journey(
        start_s=np.where(started, start_s, np.nan),
        leave_s=leave_s,
        watch_s=watch,
        abandoned=abandoned,
        failed=failed,
        trusted=trusted,
        trust_s=np.broadcast_to(trust_s, arrival_s.shape).astype(np.float64),
        ordered=ordered,
        order_s=order_s,
        order_usd=order_usd,
        shared=shared,
        share_s=share_s,
        returned=returned,
        repurchased=repurchased,
    )
