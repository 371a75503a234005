"""A browser-like video receive buffer: the panel's fix for aiortc's `JitterBuffer`.

aiortc's stock video receiver (`aiortc.jitterbuffer.JitterBuffer(capacity=512)` driven by
`RTCRtpReceiver._handle_rtp_packet`) has two habits no browser has:

* a lost packet blocks every later frame until 512 packets have passed (about 12 s at
  360p15/300 kbit/s), so 2 % loss turns into seconds of stall and a glass-to-glass figure that
  describes the client library rather than the network;
* its `NackGenerator` NACKs every missing sequence number the instant a later one arrives, so a
  packet merely reordered by a few ms is NACKed (and retransmitted) anyway, and the full missing
  list is re-sent with every new gap.

`FrameBuffer` replaces both. It is pure: every method takes ``now_ms`` and returns what to do
(frames to hand on, sequence numbers to NACK, whether to send a PLI); `loadgen.panel.hook` wires
it into aiortc and arms a timer at `next_deadline()`. Rules:

1. **Frames in order.** A frame is every packet of one RTP timestamp, from the packet that starts
   it (VP8 descriptor S=1, partition 0) to the one with the marker bit, with no sequence gap.
   Frames leave strictly in sequence order.
2. **Time-bounded wait.** A missing packet at the head of the buffer is waited for at most
   ``wait_ms = max(rtt_factor × RTT, min_wait_ms)`` (default max(2 × RTT, 150 ms)) from the moment
   it was noticed missing. Then the buffer gives up: it skips to the next keyframe present
   (or waits for one), drops the delta frames in between (they reference a picture the decoder
   never got) and asks for a PLI, at most once per ``pli_interval_ms``.
3. **NACK only real gaps.** A sequence number is NACKed once it has been missing for
   ``reorder_ms`` (a reorder allowance, default 10 ms); the NACK is repeated every
   ``max(RTT × 1.5, nack_min_interval_ms)`` up to ``nack_retries`` times and never for a packet the
   buffer has already given up on.
4. **RTT from retransmissions.** A receive-only endpoint has no RTCP RTT; the buffer measures it as
   the time from a NACK to the retransmission of that packet (EWMA, 1/8), starting from
   ``initial_rtt_ms`` (the profile's nominal round trip).
5. **Bounded memory.** More than ``max_packets`` buffered forces the skip of rule 2.
6. **Restarts.** A sequence number more than ``MAX_JUMP`` away from the highest seen means the
   sender started over: the buffer forgets its state, waits for a keyframe and asks for one.

Sequence numbers are unwrapped to a 64-bit count, so wrap-around at 65536 is invisible here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BufferCounters", "BufferOutput", "FrameBuffer", "FrameOut", "ReceiverPolicy"]

# A sequence number this far from the highest seen is a sender restart, not loss or reordering
# (aiortc's stock buffer uses 100 for misorder; 1000 packets is ~20 s at 360p15).
MAX_JUMP = 1000


@dataclass(frozen=True)
class ReceiverPolicy:
    """Tuning of `FrameBuffer`; times in ms."""

    min_wait_ms: float = 150.0
    rtt_factor: float = 2.0
    reorder_ms: float = 10.0
    nack_retries: int = 3
    nack_min_interval_ms: float = 30.0
    pli_interval_ms: float = 300.0
    initial_rtt_ms: float = 50.0
    max_packets: int = 1024
    keep_data: bool = False


@dataclass(frozen=True)
class FrameOut:
    """One complete, decodable frame: RTP timestamp, first/last unwrapped sequence numbers,
    keyframe flag, payload bytes (VP8 data only, descriptors removed; ``b""`` unless the policy
    keeps data), total payload size in bytes and the time it completed (ms)."""

    timestamp: int
    first_seq: int
    last_seq: int
    keyframe: bool
    data: bytes
    size: int
    done_ms: float


@dataclass
class BufferOutput:
    """What the caller must do after a `push` or `poll`."""

    frames: list[FrameOut] = field(default_factory=list)
    nack: list[int] = field(default_factory=list)  # 16-bit sequence numbers
    pli: bool = False


@dataclass
class BufferCounters:
    """Running counts (read freely; reading changes nothing)."""

    frames_out: int = 0
    keyframes_out: int = 0
    frames_dropped: int = 0  # complete but undecodable (reference lost) or partial
    skips: int = 0  # times the wait ran out (rule 2) or memory forced a skip
    nacks_sent: int = 0  # NACK feedback messages
    nacked_seqs: int = 0  # sequence numbers carried by those NACKs
    plis_sent: int = 0
    late_packets: int = 0  # arrived after the buffer had moved past them
    duplicates: int = 0
    recovered: int = 0  # NACKed packets that arrived later (retransmission or late original)
    restarts: int = 0  # sequence jumps beyond MAX_JUMP: the buffer started over


@dataclass
class _Pkt:
    ts: int
    marker: bool
    start: bool
    keyframe: bool
    size: int
    data: bytes


@dataclass
class _Missing:
    since_ms: float
    last_nack_ms: float | None = None
    nacks: int = 0


class FrameBuffer:
    """Frame assembly with a time-bounded wait, reorder-tolerant NACK and PLI on skip."""

    def __init__(self, policy: ReceiverPolicy | None = None) -> None:
        self.policy = policy or ReceiverPolicy()
        self.counters = BufferCounters()
        self.rtt_ms = self.policy.initial_rtt_ms
        self._pkts: dict[int, _Pkt] = {}
        self._missing: dict[int, _Missing] = {}
        self._next: int | None = None  # first unwrapped seq not yet emitted or dropped
        self._highest: int | None = None
        self._need_key = True
        self._last_pli_ms: float | None = None
        self._pli_pending = False

    # --- public -----------------------------------------------------------------------------

    @property
    def wait_ms(self) -> float:
        """How long a missing packet is waited for before skipping (ms)."""
        return max(self.policy.rtt_factor * self.rtt_ms, self.policy.min_wait_ms)

    def push(
        self,
        seq16: int,
        timestamp: int,
        marker: bool,
        start: bool,
        keyframe: bool,
        payload: bytes,
        now_ms: float,
        *,
        retransmission: bool = False,
        size: int | None = None,
    ) -> BufferOutput:
        """Add one media packet (already unwrapped from RTX if ``retransmission``) at ``now_ms``.

        ``payload`` is the VP8 data after the descriptor (only kept when the policy says so);
        ``size`` its length when ``payload`` is not passed.
        """
        out = BufferOutput()
        seq = self._unwrap(seq16)
        if self._next is None or self._highest is None:
            self._next = self._highest = seq
        elif abs(seq - self._highest) > MAX_JUMP:
            self._restart(seq)
        miss = self._missing.pop(seq, None)
        if miss is not None:
            self.counters.recovered += 1
            if retransmission and miss.last_nack_ms is not None:
                sample = now_ms - miss.last_nack_ms
                self.rtt_ms += (sample - self.rtt_ms) / 8.0
        if seq < self._next:
            self.counters.late_packets += 1
            return self._finish(out, now_ms)
        if seq in self._pkts:
            self.counters.duplicates += 1
            return self._finish(out, now_ms)
        assert self._highest is not None
        if seq > self._highest:
            for s in range(self._highest + 1, seq):
                self._missing[s] = _Missing(now_ms)
            self._highest = seq
        data = payload if self.policy.keep_data else b""
        self._pkts[seq] = _Pkt(
            timestamp, marker, start, keyframe, len(payload) if size is None else size, data
        )
        self._drain(out, now_ms)
        return self._finish(out, now_ms)

    def poll(self, now_ms: float) -> BufferOutput:
        """Run the timers (waits that ran out, NACKs due) at ``now_ms``."""
        out = BufferOutput()
        self._drain(out, now_ms)
        return self._finish(out, now_ms)

    def next_deadline(self) -> float | None:
        """The earliest time (ms) `poll` has something to do, or None."""
        times: list[float] = []
        if self._pli_pending and self._last_pli_ms is not None:
            times.append(self._last_pli_ms + self.policy.pli_interval_ms)
        head = self._head_gap()
        if head is not None:
            times.append(self._missing[head].since_ms + self.wait_ms)
        interval = self._nack_interval()
        for m in self._missing.values():
            if m.nacks >= self.policy.nack_retries:
                continue
            if m.last_nack_ms is None:
                times.append(m.since_ms + self.policy.reorder_ms)
            else:
                times.append(m.last_nack_ms + interval)
        return min(times) if times else None

    @property
    def buffered_packets(self) -> int:
        """Packets held, waiting for their frame to complete."""
        return len(self._pkts)

    # --- internals --------------------------------------------------------------------------

    def _unwrap(self, seq16: int) -> int:
        ref = self._highest
        if ref is None:
            return seq16
        # signed 16-bit distance from the highest seq seen: wrap-around is invisible
        diff = (seq16 - ref) & 0xFFFF
        return ref + diff - 0x10000 if diff >= 0x8000 else ref + diff

    def _restart(self, seq: int) -> None:
        """The sender jumped (restart, new encoder): forget everything, wait for a keyframe."""
        self.counters.restarts += 1
        self._pkts.clear()
        self._missing.clear()
        self._next = self._highest = seq
        self._need_key = True
        self._pli_pending = True

    def _nack_interval(self) -> float:
        return max(1.5 * self.rtt_ms, self.policy.nack_min_interval_ms)

    def _head_gap(self) -> int | None:
        """The lowest missing seq, if packets wait behind it (it blocks the head frame)."""
        if not self._missing or not self._pkts or self._highest is None:
            return None
        gap = min(self._missing)
        return gap if gap < self._highest else None

    def _drain(self, out: BufferOutput, now_ms: float) -> None:
        while True:
            if self._emit_ready(out, now_ms):
                continue
            head = self._head_gap()
            if head is None:
                if self._next is not None and self._pkts and self._next not in self._pkts:
                    # A hole not known as missing (should not happen): jump to the lowest
                    # buffered packet; what follows may reference what was skipped.
                    self._next = min(self._pkts)
                    self._need_key = True
                    continue
                break
            too_long = now_ms - self._missing[head].since_ms >= self.wait_ms
            too_big = len(self._pkts) > self.policy.max_packets
            jump_to_key = self._need_key and self._first_keyframe_start(head) is not None
            if not (too_long or too_big or jump_to_key):
                break
            self._skip(head, count_skip=too_long or too_big)

    def _emit_ready(self, out: BufferOutput, now_ms: float) -> bool:
        """Emit or drop the frame at the head if it is complete; True if the head moved."""
        assert self._next is not None
        first = self._pkts.get(self._next)
        if first is None:
            return False
        if not first.start:
            # The head packet continues a frame whose start we never had: useless.
            self._drop_through(self._next)
            self._need_key = True
            self.counters.frames_dropped += 1
            return True
        seq = self._next
        parts: list[_Pkt] = []
        while True:
            p = self._pkts.get(seq)
            if p is None or p.ts != first.ts:
                if p is not None:
                    # Next frame began without a marker on this one: it lost its tail.
                    self._drop_through(seq - 1)
                    self._need_key = True
                    self.counters.frames_dropped += 1
                    return True
                return False
            parts.append(p)
            if p.marker:
                break
            seq += 1
        self._drop_through(seq)
        if first.keyframe:
            self._need_key = False
            self._pli_pending = False
        if self._need_key:
            self.counters.frames_dropped += 1
            return True
        size = sum(p.size for p in parts)
        data = b"".join(p.data for p in parts) if self.policy.keep_data else b""
        out.frames.append(
            FrameOut(first.ts, seq - len(parts) + 1, seq, first.keyframe, data, size, now_ms)
        )
        self.counters.frames_out += 1
        self.counters.keyframes_out += int(first.keyframe)
        return True

    def _drop_through(self, last: int) -> None:
        """Forget every packet and missing seq up to and including ``last``; move the head."""
        assert self._next is not None
        for s in range(self._next, last + 1):
            self._pkts.pop(s, None)
            self._missing.pop(s, None)
        self._next = last + 1

    def _first_keyframe_start(self, after: int) -> int | None:
        keys = [s for s, p in self._pkts.items() if p.keyframe and s > after]
        return min(keys) if keys else None

    def _skip(self, gap: int, count_skip: bool) -> None:
        """Give up on ``gap``: move to the next keyframe (or past the gap) and want a PLI."""
        if count_skip:
            self.counters.skips += 1
        key = self._first_keyframe_start(gap)
        target = key if key is not None else gap + 1
        dropped_ts = {p.ts for s, p in self._pkts.items() if s < target}
        self.counters.frames_dropped += len(dropped_ts)
        self._drop_through(target - 1)
        if key is None:
            self._need_key = True
            self._pli_pending = True

    def _finish(self, out: BufferOutput, now_ms: float) -> BufferOutput:
        self._nacks_due(out, now_ms)
        if self._pli_pending and self._need_key:
            if (
                self._last_pli_ms is None
                or now_ms - self._last_pli_ms >= self.policy.pli_interval_ms
            ):
                out.pli = True
                self._last_pli_ms = now_ms
                self.counters.plis_sent += 1
        elif not self._need_key:
            self._pli_pending = False
        return out

    def _nacks_due(self, out: BufferOutput, now_ms: float) -> None:
        interval = self._nack_interval()
        # Give up NACKing what the wait would skip before a retransmission could arrive.
        for s in sorted(self._missing):
            m = self._missing[s]
            if m.nacks >= self.policy.nack_retries:
                continue
            due = (
                m.since_ms + self.policy.reorder_ms
                if m.last_nack_ms is None
                else m.last_nack_ms + interval
            )
            if now_ms >= due:
                m.nacks += 1
                m.last_nack_ms = now_ms
                out.nack.append(s & 0xFFFF)
        if out.nack:
            self.counters.nacks_sent += 1
            self.counters.nacked_seqs += len(out.nack)
