"""From a viewer's path and the load at their join to their experience (vectorised).

The laws' shapes follow a WebRTC browser receiver (libwebrtc as in Chromium) and their
coefficients (`QoeLaws`) are fitted to Chromium viewers on the reference stack, profile by
profile, by `livelab calibrate` (docs/calibration.md; the shipped fit is
`scenarios/data/calibration.toml`):

- join (ms): `join_round_trips` round trips (signalling, ICE, DTLS) + a fixed set-up time (key
  generation, the target's answer) + the edge's join handling inflated by its utilisation + any
  wait for a slot at a full edge;
- startup / first frame (ms): join + the first frame's set-up and one-way transit + the jitter
  buffer; plus, only when the target does *not* send a keyframe on join, the wait for the next
  periodic keyframe (uniform over the keyframe interval). The reference stack sends every new
  viewer a keyframe, so its viewers do not wait for one;
- resolution: the highest ladder rung that fits the usable bandwidth (path bandwidth × the
  edge's egress share × (1 − loss) × `BANDWIDTH_HEADROOM`);
- jitter buffer (ms): libwebrtc's target delay = jitter estimate + decode + render delay
  (VCMTiming::TargetDelay). The jitter estimate is `buffer_jitter_sds` noise standard
  deviations less a 30-ms offset (JitterEstimator: 2.33 σ − 30 ms, floored at 0), the path
  jitter standing in for the frame-delay noise; decode + render delay is `buffer_base_ms`
  (render delay 10 ms by default, decode time measured). `buffer_nack_rtt` × RTT is added once
  NACKs are frequent: 0 in Chromium, because the jitter estimator only counts NACKed frames
  (FrameNacked) under the WebRTC-RttMult field trial, off by default;
- glass-to-glass (ms): `stream.host_delay_ms` + the downstream one-way delay (RTT/2) + the jitter
  buffer + a frame-to-frame spread (`g2g_spread_ms` + `g2g_spread_jitter` × jitter, a logistic
  quantile of the viewer's own uniform): a viewer's g2g is their latency at a random moment, so
  percentiles over viewers are percentiles over frames, as the panel pools them;
- freeze ratio (= rebuffer ratio): starvation when even the lowest rung does not fit, plus the
  loss-to-freeze law: each loss burst freezes the picture for `freeze_per_burst_ms` +
  `freeze_rtt_share` × max(0, RTT − `freeze_rtt_floor_ms`) (a repair a NACK round trip away is
  rendered late once the round trip outgrows the buffer), freeze ratio = 1 − exp(−bursts/s ×
  frozen s per burst), bursts counted per frame (fps × loss / burst length: one NACK round
  repairs a frame's lost packets); freezes/min count the bursts whose frozen time reaches
  WebRTC's 150-ms freeze threshold (a share below it);
- chat round trip (ms): path RTT + the interaction service's response time (queueing included);
- answer (ms): host think time + the question's way up + the answer on video (glass-to-glass);
- host-behind-chat lag (ms): glass-to-glass + half a chat round trip — how late a viewer sees
  the host react to the chat, which drives the interactivity penalty.

`markets[].qoe` values replace the modelled ones (`with_fixed`): a number for every viewer, or a
list of samples drawn per viewer; `markets[].qoe.profiles` the same per network profile.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
from numpy.typing import NDArray

from scenarios import QoE, Scenario
from sim.paths import Paths

__all__ = [
    "BANDWIDTH_HEADROOM",
    "FIXABLE",
    "FREEZE_MIN_MS",
    "LAW_BOUNDS",
    "Conditions",
    "Experience",
    "QoeLaws",
    "experience",
    "laws_of",
    "with_fixed",
]

FloatArray = NDArray[np.float64]

# Player and protocol characteristics (not behaviour): congestion control uses ~85 % of the
# estimated bandwidth; RTP packets carry ~1200 bytes; WebRTC counts a gap > 150 ms as a freeze;
# libwebrtc's jitter estimate is 2.33 noise σ less 30 ms (JitterEstimator's kNoiseStdDevs and
# kNoiseStdDevOffset), and it counts NACKs towards adding the RTT only from 3 on (kNackLimit).
BANDWIDTH_HEADROOM = 0.85
PACKET_BYTES = 1200.0
FREEZE_MIN_MS = 150.0
JITTER_OFFSET_MS = 30.0
NACK_LIMIT = 3.0
NACK_WINDOW_S = 10.0
# A logistic with unit standard deviation: quantile(u) = ln(u / (1 − u)) × √3 / π.
_LOGISTIC_SD = float(np.sqrt(3.0) / np.pi)


# What a law's coefficient may be (inclusive): the fit's bounds and the reader's check.
LAW_BOUNDS: dict[str, tuple[float, float]] = {
    "join_round_trips": (0.0, 50.0),
    "join_setup_ms": (0.0, 10_000.0),
    "first_frame_ms": (0.0, 10_000.0),
    "keyframe_on_join": (0.0, 1.0),
    "buffer_base_ms": (0.0, 1_000.0),
    "buffer_jitter_sds": (0.0, 10.0),
    "buffer_nack_rtt": (0.0, 1.0),
    "g2g_spread_ms": (0.0, 500.0),
    "g2g_spread_jitter": (0.0, 10.0),
    "freeze_per_burst_ms": (0.0, 5_000.0),
    "freeze_rtt_share": (0.0, 10.0),
    "freeze_rtt_floor_ms": (0.0, 2_000.0),
}


@dataclass(frozen=True)
class QoeLaws:
    """The coefficients of the experience laws (module docstring), as fitted by `livelab
    calibrate`; the defaults are libwebrtc's constants where it has one, else neutral values.

    ms unless named otherwise: `join_round_trips` (round trips), `buffer_jitter_sds` and
    `g2g_spread_jitter` (× the path's jitter sd), `buffer_nack_rtt` and `freeze_rtt_share`
    (× RTT), `keyframe_on_join` (1 = the target sends a keyframe to a new viewer, 0 = it waits
    for the next periodic one).
    """

    join_round_trips: float = 6.0
    join_setup_ms: float = 0.0
    first_frame_ms: float = 0.0
    keyframe_on_join: float = 1.0
    buffer_base_ms: float = 15.0
    buffer_jitter_sds: float = 2.33
    buffer_nack_rtt: float = 0.0
    g2g_spread_ms: float = 5.0
    g2g_spread_jitter: float = 0.5
    freeze_per_burst_ms: float = 0.0
    freeze_rtt_share: float = 0.5
    freeze_rtt_floor_ms: float = 100.0

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The coefficient names, in declaration order."""
        return tuple(f.name for f in fields(cls))


def laws_of(scenario: Scenario) -> QoeLaws:
    """The laws the scenario's loader attached (`[model] calibration` or the shipped default);
    `scenario.infra.join_round_trips`, when the scenario sets it, wins over the calibration."""
    laws = QoeLaws(**scenario.qoe_laws)
    if scenario.infra.join_round_trips is not None:
        laws = replace(laws, join_round_trips=float(scenario.infra.join_round_trips))
    return laws


@dataclass(frozen=True)
class Conditions:
    """Load-dependent conditions at a batch of viewers' join.

    `edge_wait_ms`: per-viewer wait for a slot at a full edge; `join_service_ms`: the edge's
    join handling at its current utilisation; `bandwidth_share`: the edge's egress capacity
    over demand (≤ 1); `interaction_ms`: the interaction service's response time.
    """

    edge_wait_ms: FloatArray
    join_service_ms: float
    bandwidth_share: float
    interaction_ms: float


@dataclass(frozen=True)
class Experience:
    """Per-viewer experience (arrays of one length). Units in the names; resolution in px."""

    join_ms: FloatArray
    startup_ms: FloatArray
    g2g_latency_ms: FloatArray
    chat_rtt_ms: FloatArray
    answer_ms: FloatArray
    order_ms: FloatArray
    rebuffer_ratio: FloatArray
    freeze_per_min: FloatArray
    resolution: FloatArray
    kbps: FloatArray
    fps: FloatArray

    @property
    def behind_ms(self) -> FloatArray:
        """How far the host's reaction trails the viewer's chat, ms."""
        result: FloatArray = self.g2g_latency_ms + 0.5 * self.chat_rtt_ms
        return result


def experience(
    scenario: Scenario,
    paths: Paths,
    keyframe_u: FloatArray,
    cond: Conditions,
    spread_u: FloatArray,
    laws: QoeLaws | None = None,
) -> Experience:
    """The modelled experience of viewers on `paths` joining under `cond`.

    `keyframe_u` and `spread_u` are each viewer's uniforms for the keyframe wait and the g2g
    spread; `laws` default to `laws_of(scenario)`.
    """
    law = laws_of(scenario) if laws is None else laws
    stream = scenario.stream
    rtt, jitter = paths.rtt_ms, paths.jitter_ms
    join = law.join_round_trips * rtt + law.join_setup_ms + cond.join_service_ms + cond.edge_wait_ms

    ladder = sorted(stream.ladder, key=lambda r: r.kbps)
    rung_kbps = np.array([r.kbps for r in ladder])
    usable = paths.down_kbit * cond.bandwidth_share * (1.0 - paths.loss) * BANDWIDTH_HEADROOM
    rung = np.clip(np.searchsorted(rung_kbps, usable, side="right") - 1, 0, len(ladder) - 1)
    kbps = rung_kbps[rung]
    starve = np.clip(1.0 - usable / rung_kbps[0], 0.0, 1.0)

    pkt_per_s = kbps * 1000.0 / (PACKET_BYTES * 8.0)
    fps = np.array([r.fps for r in ladder])[rung]
    burst = np.maximum(paths.burst_len, 1.0)
    # Loss is counted per frame, not per packet: the lost packets of one frame are repaired by
    # one NACK round, so what freezes the picture is how often a frame is hit. The law takes one
    # packet per frame, the regime it was fitted in (the reference stack's ~250 kbit/s at 30 fps);
    # it does not extrapolate to more packets per frame (docs/model.md, known limits).
    bursts_per_s = fps * paths.loss / burst
    nacking = pkt_per_s * paths.loss * NACK_WINDOW_S >= NACK_LIMIT
    estimate = np.maximum(0.0, law.buffer_jitter_sds * jitter - JITTER_OFFSET_MS)
    buffer_ms = law.buffer_base_ms + estimate + np.where(nacking, law.buffer_nack_rtt * rtt, 0.0)

    frozen_ms = law.freeze_per_burst_ms + law.freeze_rtt_share * np.maximum(
        0.0, rtt - law.freeze_rtt_floor_ms
    )
    loss_freeze = 1.0 - np.exp(-bursts_per_s * frozen_ms / 1000.0)
    rebuffer = 1.0 - (1.0 - starve) * (1.0 - loss_freeze)
    freezes = bursts_per_s * 60.0 * np.minimum(1.0, frozen_ms / FREEZE_MIN_MS)
    freezes = freezes + np.where(starve > 0, 60.0 / stream.keyframe_interval_s, 0.0)

    wait_keyframe = (1.0 - law.keyframe_on_join) * keyframe_u * stream.keyframe_interval_s * 1e3
    startup = join + law.first_frame_ms + 0.5 * rtt + buffer_ms + wait_keyframe

    u = np.clip(spread_u, 1e-6, 1.0 - 1e-6)
    z = np.log(u / (1.0 - u)) * _LOGISTIC_SD
    spread = z * (law.g2g_spread_ms + law.g2g_spread_jitter * jitter)
    g2g = np.maximum(0.0, stream.host_delay_ms + 0.5 * rtt + buffer_ms + spread)
    chat = rtt + cond.interaction_ms
    answer = scenario.host.answer_s * 1000.0 + 0.5 * chat + g2g
    order = 2.0 * rtt + cond.interaction_ms
    return Experience(
        join_ms=join,
        startup_ms=startup,
        g2g_latency_ms=g2g,
        chat_rtt_ms=chat,
        answer_ms=answer,
        order_ms=order,
        rebuffer_ratio=rebuffer,
        freeze_per_min=freezes,
        resolution=np.array([r.height for r in ladder], dtype=np.float64)[rung],
        kbps=kbps,
        fps=fps * (1.0 - rebuffer),
    )


FIXABLE = ("startup_ms", "rebuffer_ratio", "g2g_latency_ms", "chat_rtt_ms", "answer_ms")
IntArray = NDArray[np.int32]


def with_fixed(
    exp: Experience,
    qoe: QoE | None,
    rng: np.random.Generator,
    profile: NDArray[np.int16] | None = None,
    names: tuple[str, ...] = (),
    picks: dict[str, IntArray] | None = None,
) -> Experience:
    """`exp` with the market's fixed `qoe` values laid over it.

    A number replaces the value for every viewer; a list is an empirical distribution sampled
    per viewer (with replacement, from `rng`, fields in a fixed order). `qoe.profiles` does the
    same per network profile: a viewer whose `profile` (an index into `names`, the market's
    profile names) is listed takes the profile's values over the market's; profiles are drawn
    after the market's fields, in name order, so a scenario without them draws as before. A
    fixed startup delay is the whole startup, so `join_ms` is scaled with it.

    `picks`, when given, receives per field the index each viewer drew from the list that
    applied to it (−1: not drawn from a list) — the closed loop's bootstrap reweights them.
    """
    if qoe is None:
        return exp
    n = exp.startup_ms.shape[0]
    changes: dict[str, FloatArray] = {}
    _lay(changes, qoe, np.arange(n), n, rng, picks)
    if qoe.profiles and profile is not None:
        for name in sorted(qoe.profiles):
            if name in names:
                idx = np.flatnonzero(profile == names.index(name))
                _lay(changes, qoe.profiles[name], idx, n, rng, picks)
    if not changes:
        return exp
    for name in list(changes):  # viewers outside every fixed set keep their modelled value
        changes[name] = np.where(np.isnan(changes[name]), getattr(exp, name), changes[name])
    if "startup_ms" in changes:
        ratio = np.divide(exp.join_ms, exp.startup_ms, out=np.ones(n), where=exp.startup_ms > 0)
        changes["join_ms"] = changes["startup_ms"] * ratio
    if "rebuffer_ratio" in changes:
        base = exp.fps / np.maximum(1e-9, 1.0 - exp.rebuffer_ratio)
        changes["fps"] = base * (1.0 - changes["rebuffer_ratio"])
    return replace(exp, **changes)


def _lay(
    changes: dict[str, FloatArray],
    qoe: QoE,
    idx: NDArray[np.intp],
    n: int,
    rng: np.random.Generator,
    picks: dict[str, IntArray] | None,
) -> None:
    """Write `qoe`'s values for the viewers `idx` into `changes` (NaN: not fixed)."""
    if idx.size == 0:
        return
    for name in FIXABLE:
        value = getattr(qoe, name)
        if value is None:
            continue
        column = changes.setdefault(name, np.full(n, np.nan))
        if isinstance(value, list):
            samples = np.asarray(value, dtype=np.float64)
            drawn = rng.integers(0, samples.size, idx.size)
            column[idx] = samples[drawn]
            if picks is not None:
                picks.setdefault(name, np.full(n, -1, dtype=np.int32))[idx] = drawn
        else:
            column[idx] = float(value)
    if qoe.resolution is not None:
        changes.setdefault("resolution", np.full(n, np.nan))[idx] = float(qoe.resolution)


def concat(parts: list[Experience]) -> Experience:
    """One `Experience` from several batches, in order."""
    if not parts:
        empty = np.empty(0)
        return Experience(**{f.name: empty for f in fields(Experience)})
    return Experience(
        **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Experience)}
    )
