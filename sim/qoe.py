"""From a viewer's path and the load at their join to their experience (vectorised).

- join (ms): `infra.join_round_trips` round trips (signalling, ICE, DTLS) + the edge's join
  handling inflated by its utilisation + any wait for a slot at a full edge;
- startup / first frame (ms): join + the wait for the next keyframe (uniform over the keyframe
  interval) + filling the jitter buffer;
- resolution: the highest ladder rung that fits the usable bandwidth (path bandwidth × the
  edge's egress share × (1 − loss) × `BANDWIDTH_HEADROOM`);
- jitter buffer (ms): a base plus two jitter standard deviations, plus one round trip once
  NACKs are frequent (libwebrtc's jitter estimator adds RTT × 1.0 after 3 NACKs), so that a
  retransmission normally arrives in time;
- rebuffer ratio: starvation when even the lowest rung does not fit, plus stalls from loss
  bursts: a burst longer than the buffer's spare time stalls for the excess, and a repair that
  is itself lost (≈ burst × loss) costs a keyframe request (a round trip and a frame);
- glass-to-glass (ms): `stream.host_delay_ms` + the downstream one-way delay + the jitter buffer;
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
    "JITTER_BUFFER_MS",
    "Conditions",
    "Experience",
    "experience",
    "with_fixed",
]

FloatArray = NDArray[np.float64]

# Player and protocol characteristics (not behaviour): a WebRTC receiver's jitter buffer holds
# about a base plus two jitter standard deviations; congestion control uses ~85 % of the
# estimated bandwidth; RTP packets carry ~1200 bytes; WebRTC counts a gap > 150 ms as a freeze.
JITTER_BUFFER_MS = 40.0
JITTER_BUFFER_SDS = 2.0
BANDWIDTH_HEADROOM = 0.85
PACKET_BYTES = 1200.0
FREEZE_MIN_MS = 150.0
# libwebrtc adds the RTT to the jitter-buffer target once ≥ 3 NACKs were sent recently.
NACK_LIMIT = 3.0
NACK_WINDOW_S = 10.0


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
    scenario: Scenario, paths: Paths, keyframe_u: FloatArray, cond: Conditions
) -> Experience:
    """The modelled experience of viewers on `paths` joining under `cond`."""
    stream, infra = scenario.stream, scenario.infra
    rtt = paths.rtt_ms
    spare_ms = JITTER_BUFFER_MS + JITTER_BUFFER_SDS * paths.jitter_ms
    join = infra.join_round_trips * rtt + cond.join_service_ms + cond.edge_wait_ms

    ladder = sorted(stream.ladder, key=lambda r: r.kbps)
    rung_kbps = np.array([r.kbps for r in ladder])
    usable = paths.down_kbit * cond.bandwidth_share * (1.0 - paths.loss) * BANDWIDTH_HEADROOM
    rung = np.clip(np.searchsorted(rung_kbps, usable, side="right") - 1, 0, len(ladder) - 1)
    kbps = rung_kbps[rung]
    starve = np.clip(1.0 - usable / rung_kbps[0], 0.0, 1.0)

    pkt_per_s = kbps * 1000.0 / (PACKET_BYTES * 8.0)
    burst = np.maximum(paths.burst_len, 1.0)
    bursts_per_s = pkt_per_s * paths.loss / burst
    nacking = pkt_per_s * paths.loss * NACK_WINDOW_S >= NACK_LIMIT
    buffer_ms = spare_ms + np.where(nacking, rtt, 0.0)
    frame_ms = 1000.0 / np.array([r.fps for r in ladder])[rung]
    overflow_ms = np.maximum(0.0, burst * 1000.0 / pkt_per_s - spare_ms)
    repair_lost = np.minimum(1.0, burst * paths.loss)
    unrepaired_ms = np.where(nacking, 0.0, np.maximum(0.0, rtt - spare_ms))
    stall_ms = overflow_ms + unrepaired_ms + repair_lost * (rtt + frame_ms)
    loss_stall = np.clip(bursts_per_s * stall_ms / 1000.0, 0.0, 1.0)
    rebuffer = 1.0 - (1.0 - starve) * (1.0 - loss_stall)
    freezes = bursts_per_s * 60.0 * np.where(stall_ms > FREEZE_MIN_MS, 1.0, repair_lost)
    freezes = freezes + np.where(starve > 0, 60.0 / stream.keyframe_interval_s, 0.0)
    startup = join + keyframe_u * stream.keyframe_interval_s * 1000.0 + buffer_ms

    g2g = stream.host_delay_ms + 0.5 * rtt + buffer_ms
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
        fps=np.array([r.fps for r in ladder])[rung] * (1.0 - rebuffer),
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
