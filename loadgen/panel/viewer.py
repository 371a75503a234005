"""One aiortc viewer: WHEP or Janus join behind a profile, then watch and measure until stopped.

The media target URL picks the negotiation (`loadgen.panel.signalling`): a WHEP endpoint, or a
Janus Streaming mountpoint (``janus+http://H:P/janus?mountpoint=ID``). Join phases are ms from
the start of the join (`Viewer.run` called): ``signalling_ms`` is the signalling exchange itself
(the WHEP POST round trip — a viewer behind an impairing profile posts through its own
`WhepRelay`, as its ICE datagrams cross the profile; for Janus, create, attach, watch, offer
and start); ``ice_connected_ms``, ``first_packet_ms`` and ``first_frame_ms`` (first decodable
frame: decoded picture for probes, complete frame from a keyframe on for lite viewers) are
times since the join started. All clocks are wall-clock ms (the barcode's clock), injected as
``clock_ms``.

Kinds: ``probe`` decodes and reads the barcode (g2g = decode time − capture time); ``lite`` stops
at frame assembly. Both also record when a browser would have shown each frame
(`loadgen.panel.playout`: released from a libwebrtc-like jitter buffer, then decoded, then
`RENDER_WAIT_MS`) as ``playout_frame_ms``, and the probe its g2g at that time as
``g2g_playout``: a model beside the measurement, not in place of it. The stock receiver is not
scheduled.
Receivers: ``fixed`` (`loadgen.panel.receiver`) or ``stock`` (aiortc's own,
probe only; kept to show the difference the fix makes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loadgen.panel.decode import BarcodeDecoder, DecodedFrame
from loadgen.panel.freezes import detect_freezes
from loadgen.panel.hook import PanelVideoReceiver
from loadgen.panel.impair import impair_ice_connection
from loadgen.panel.janus import JanusTarget
from loadgen.panel.playout import RENDER_WAIT_MS, PlayoutSchedule
from loadgen.panel.receiver import FrameOut, ReceiverPolicy
from loadgen.panel.rtpstats import StreamCounter
from loadgen.panel.signalling import Signaller, signaller_for
from loadgen.panel.whep_relay import WhepRelay

__all__ = ["Viewer", "ViewerRaw", "ViewerSpec", "sdp_candidate_hosts", "wall_ms"]

log = logging.getLogger(__name__)


# A viewer that joined but saw no frame for this long counts as failed (error_rate).
NO_VIDEO_AFTER_S = 5.0
# Release times kept for frames still being decoded (about 8 s at 15 fps).
MAX_PENDING_RELEASES = 128


# The wall clock read once, then advanced by the monotonic clock: a wall-clock step (NTP) cannot
# make frame times go backwards mid-run (the freeze detector refuses that), and over a run the
# two clocks drift apart by parts per million only.
_EPOCH_MINUS_MONOTONIC_MS = time.time() * 1000.0 - time.monotonic() * 1000.0


def wall_ms() -> float:
    """Wall-clock ms since the epoch (the clock the host's barcode uses), never going back."""
    return _EPOCH_MINUS_MONOTONIC_MS + time.monotonic() * 1000.0


@dataclass(frozen=True)
class ViewerSpec:
    """Who a viewer is: its index in the panel, profile key, kind, receiver and RNG seed."""

    index: int
    profile: str
    kind: str = "lite"  # "probe" | "lite" | "browser" | "cohost" (loadgen.panel.cohost)
    receiver: str = "fixed"  # "fixed" | "stock"
    seed: int = 0


@dataclass
class ViewerRaw:
    """What a viewer measured, as plain data (picklable across processes)."""

    spec: ViewerSpec
    process: int = 0
    join_start_ms: float = 0.0
    end_ms: float = 0.0
    phases: dict[str, float | None] = field(default_factory=dict)
    frame_ms: list[float] = field(default_factory=list)
    g2g: list[tuple[float, float]] = field(default_factory=list)  # (wall ms, g2g ms)
    # aiortc viewers (fixed receiver): when a browser would have shown each frame, and the
    # probe's g2g at that time, (wall ms, g2g ms), from the playout model (loadgen.panel.playout)
    playout_frame_ms: list[float] = field(default_factory=list)
    g2g_playout: list[tuple[float, float]] = field(default_factory=list)
    # Browser viewers: g2g split at the frame's receive time, (wall ms, path ms, hold ms):
    # path = last packet received − barcode, hold = shown − received (Chromium's own delay).
    g2g_parts: list[tuple[float, float, float]] = field(default_factory=list)
    # Browser viewers: Chromium's cumulative counters once a second, (wall ms, jitterBufferDelay
    # ms, jitterBufferEmittedCount, totalDecodeTime ms, framesDecoded), to take the steady part.
    stat_samples: list[tuple[float, float, float, float, float]] = field(default_factory=list)
    bytes_by_second: dict[int, int] = field(default_factory=dict)
    streams: list[dict[str, Any]] = field(default_factory=list)
    counters: dict[str, float] = field(default_factory=dict)
    candidates: list[str] = field(default_factory=list)  # hosts in our offer's a=candidate
    remote_candidates: list[str] = field(default_factory=list)  # and in the answer's
    error: str | None = None
    # Browser viewers: their Chromium's samples, "cpu_pct" (% of one core) and "rss_mb".
    resources: dict[str, list[float]] = field(default_factory=dict)
    # Co-host viewers: metric name -> (wall ms, latency ms) samples (loadgen.panel.cohost).
    cohost: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Per-viewer figures for panel.json (no raw series)."""
        from reports import distribution

        first = self.frame_ms[0] if self.frame_ms else None
        fz = detect_freezes(self.frame_ms, end_ms=self.end_ms)
        watched_s = fz.watched_ms / 1000.0
        received = sum(s["packets_received"] for s in self.streams)
        lost = sum(s["packets_lost"] for s in self.streams)
        expected = sum(s["packets_expected"] for s in self.streams)
        total_bytes = sum(self.bytes_by_second.values())
        span_s = (self.end_ms - first) / 1000.0 if first is not None else 0.0
        return {
            "index": self.spec.index,
            "profile": self.spec.profile,
            "kind": self.spec.kind,
            "viewer_kind": self.spec.kind,
            "receiver": self.spec.receiver,
            "process": self.process,
            "error": self.error,
            "phases": dict(self.phases),
            "first_frame_ms": self.phases.get("first_frame_ms"),
            "stats": {
                "frames": len(self.frame_ms),
                "fps": len(self.frame_ms) / span_s if span_s > 0 else 0.0,
                "watched_s": watched_s,
                "freeze_count": fz.count,
                "freeze_count_per_min": fz.per_min,
                "freeze_ratio": fz.ratio,
                "frozen_ms": fz.frozen_ms,
                "g2g_latency_ms": distribution([g for _, g in self.g2g]),
                "packets_received": received,
                "packets_lost": lost,
                "packet_loss": lost / expected if expected else 0.0,
                "jitter_ms": max((s["jitter_ms"] for s in self.streams), default=0.0),
                "bitrate_kbps": total_bytes * 8 / 1000.0 / span_s if span_s > 0 else 0.0,
                "streams": self.streams,
                **self.counters,
            },
            "candidates": self.candidates,
            "remote_candidates": self.remote_candidates,
        }


class Viewer:
    """Joins ``whep_url`` with ``session`` (aiohttp) and watches until `stop_at_ms`."""

    def __init__(
        self,
        spec: ViewerSpec,
        whep_url: str,
        session: Any,
        stop_at_ms: float,
        *,
        process: int = 0,
        policy: ReceiverPolicy | None = None,
        clock_ms: Callable[[], float] = wall_ms,
        stop_event: asyncio.Event | None = None,
    ) -> None:
        self.spec = spec
        self.whep_url = whep_url
        self.session = session
        self.stop_at_ms = stop_at_ms
        self.clock_ms = clock_ms
        self.policy = policy
        self.stop_event = stop_event or asyncio.Event()
        self.raw = ViewerRaw(spec=spec, process=process)
        self._t0 = 0.0
        self._decoder: BarcodeDecoder | None = None
        self._hook: PanelVideoReceiver | None = None
        self._stock_counters: dict[int, StreamCounter] = {}
        self._stock_counts = {"nacks_sent": 0, "plis_sent": 0}
        self._impaired: list[Any] = []
        self._playout = PlayoutSchedule()
        self._releases: dict[int, tuple[float, float]] = {}  # rtp ts → (release, complete) ms

    # --- events -----------------------------------------------------------------------------

    def _phase(self, name: str) -> None:
        if self.raw.phases.get(name) is None:
            self.raw.phases[name] = self.clock_ms() - self._t0

    def _rendered(self, now_ms: float) -> None:
        if not self.raw.frame_ms:
            self._phase("first_frame_ms")
        self.raw.frame_ms.append(now_ms)

    def _shown(self, shown_ms: float) -> float:
        """Record when a browser would have shown the frame (`loadgen.panel.playout`); a frame
        released before the one ahead of it (the jitter estimate fell) is shown right after it,
        as a player shows frames in order. Returns the time recorded."""
        times = self.raw.playout_frame_ms
        times.append(max(shown_ms, times[-1]) if times else shown_ms)
        return times[-1]

    def _on_frame(self, frame: FrameOut) -> None:
        release = self._playout.release_ms(frame.timestamp, frame.done_ms, frame.size)
        if self._decoder is not None:
            self._releases[frame.timestamp] = (release, frame.done_ms)
            while len(self._releases) > MAX_PENDING_RELEASES:  # frames the decoder rejected
                del self._releases[next(iter(self._releases))]
            self._decoder.put(frame)
        else:
            self._rendered(frame.done_ms)
            self._shown(release + RENDER_WAIT_MS)

    def _on_decoded(self, item: DecodedFrame) -> None:
        ts, now, barcode = item
        self._rendered(now)
        # As a browser would show it: decoded after its release, then the render wait. Frames
        # the schedule did not see (stock receiver) have no such time.
        entry = self._releases.pop(ts, None)
        shown = None
        if entry is not None:
            shown = self._shown(entry[0] + (now - entry[1]) + RENDER_WAIT_MS)
        if barcode is not None:
            self.raw.g2g.append((now, now - barcode))
            if shown is not None:
                self.raw.g2g_playout.append((shown, shown - barcode))
        else:
            self.raw.counters["unreadable_frames"] = (
                self.raw.counters.get("unreadable_frames", 0) + 1
            )

    def _on_decode_error(self) -> None:
        self.raw.counters["decode_errors"] = self.raw.counters.get("decode_errors", 0) + 1
        if self._hook is not None:
            self._hook.request_keyframe()

    # --- run --------------------------------------------------------------------------------

    async def run(self) -> ViewerRaw:
        """Join, watch until ``stop_at_ms``, leave; never raises for a failed viewer (the error
        is in ``raw.error``), only for cancellation."""
        from aiortc import RTCPeerConnection

        from netem_profiles import load_profile
        from stack import rtc_configuration

        self._t0 = self.raw.join_start_ms = self.clock_ms()
        profile = load_profile(self.spec.profile)
        rng = random.Random(self.spec.seed)
        pc = RTCPeerConnection(rtc_configuration())
        relay = None
        impaired = not (profile.down.is_clean and profile.up.is_clean)
        if impaired and not JanusTarget.is_janus(self.whep_url):  # signalling crosses it too
            relay = WhepRelay(profile, self.whep_url, random.Random(rng.getrandbits(64)))
        signaller = signaller_for(self.whep_url, self.session, relay)
        stock_task: asyncio.Task[None] | None = None
        try:
            transceiver = pc.addTransceiver("video", direction="recvonly")
            receiver = transceiver.receiver
            if self.spec.receiver == "stock":
                self._instrument_stock(receiver)
            else:
                policy = self.policy or ReceiverPolicy(
                    initial_rtt_ms=max(1.0, profile.rtt_ms), keep_data=self.spec.kind == "probe"
                )
                self._hook = PanelVideoReceiver(policy, self.clock_ms, self._on_frame)
                self._hook.install(receiver)
                if self.spec.kind == "probe":
                    self._decoder = BarcodeDecoder(
                        self.clock_ms, self._on_decoded, self._on_decode_error
                    )

            @pc.on("iceconnectionstatechange")
            def _ice_state() -> None:
                if pc.iceConnectionState in ("connected", "completed"):
                    self._phase("ice_connected_ms")

            def gathered(local_sdp: str) -> None:
                connection = receiver.transport.transport.iceGatherer._connection
                self._impaired = impair_ice_connection(connection, profile, rng)
                self.raw.candidates = sdp_candidate_hosts(local_sdp)

            sent = self.clock_ms()
            remote = await signaller.negotiate(pc, gathered)
            self.raw.phases["signalling_ms"] = self.clock_ms() - sent
            self.raw.remote_candidates = sdp_candidate_hosts(remote)
            if self.spec.receiver == "stock":
                stock_task = asyncio.ensure_future(self._consume_stock(receiver.track))
            remaining_s = max(0.0, (self.stop_at_ms - self.clock_ms()) / 1000.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), remaining_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a viewer that fails is a measurement, not a crash
            self.raw.error = f"{type(exc).__name__}: {exc}"
            log.warning("viewer %d failed: %s", self.spec.index, self.raw.error)
        finally:
            self.raw.end_ms = self.clock_ms()
            await self._leave(pc, signaller, stock_task)
        watched_s = (self.raw.end_ms - self._t0) / 1000.0
        if self.raw.error is None and not self.raw.frame_ms and watched_s >= NO_VIDEO_AFTER_S:
            self.raw.error = f"no video frame in {watched_s:.0f} s of watching"
        return self.raw

    async def _leave(
        self, pc: Any, signaller: Signaller, stock_task: asyncio.Task[None] | None
    ) -> None:
        self._collect()
        if self._hook is not None:
            self._hook.close()
        if stock_task is not None:
            stock_task.cancel()
        await signaller.close()
        try:
            async with asyncio.timeout(5.0):
                await pc.close()
        except TimeoutError:
            log.warning("viewer %d: peer connection did not close in 5 s", self.spec.index)
        if self._decoder is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._decoder.close)

    def _collect(self) -> None:
        counters: dict[int, StreamCounter]
        if self._hook is not None:
            counters = self._hook.streams
            c = self._hook.buffer.counters
            self.raw.bytes_by_second = dict(self._hook.bytes_by_second)
            self.raw.counters.update(
                nacks_sent=c.nacks_sent,
                nacked_packets=c.nacked_seqs,
                plis_sent=c.plis_sent,
                rtx_packets=self._hook.rtx_packets,
                recovered_packets=c.recovered,
                skips=c.skips,
                frames_dropped=c.frames_dropped,
                rtt_ms=self._hook.buffer.rtt_ms,
            )
            if self._hook.first_packet_ms is not None:
                self.raw.phases["first_packet_ms"] = self._hook.first_packet_ms - self._t0
        else:
            counters = self._stock_counters
            self.raw.counters.update(self._stock_counts)
        self.raw.streams = [
            {k: v for k, v in vars(s.snapshot()).items()} for s in counters.values()
        ]

    # --- stock aiortc receiver (comparison only) ------------------------------------------

    def _instrument_stock(self, receiver: Any) -> None:
        original = receiver._handle_rtp_packet
        nack, pli = receiver._send_rtcp_nack, receiver._send_rtcp_pli
        counts = self._stock_counts

        async def handle(packet: Any, arrival_time_ms: int) -> None:
            now = self.clock_ms()
            self._phase("first_packet_ms")
            codecs = getattr(receiver, "_RTCRtpReceiver__codecs", {})
            codec = codecs.get(packet.payload_type)
            size = len(packet.payload) + 12
            sec = int(now // 1000)
            self.raw.bytes_by_second[sec] = self.raw.bytes_by_second.get(sec, 0) + size
            if codec is not None and codec.mimeType.lower() != "video/rtx":
                ctr = self._stock_counters.setdefault(packet.ssrc, StreamCounter(packet.ssrc))
                ctr.add(packet.sequence_number, packet.timestamp, now, size)
            await original(packet, arrival_time_ms)

        async def count_nack(ssrc: int, lost: list[int]) -> None:
            counts["nacks_sent"] += 1
            await nack(ssrc, lost)

        async def count_pli(ssrc: int) -> None:
            counts["plis_sent"] += 1
            await pli(ssrc)

        receiver._handle_rtp_packet = handle
        receiver._send_rtcp_nack = count_nack
        receiver._send_rtcp_pli = count_pli

    async def _consume_stock(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        from stack import barcode

        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self._on_decoded((0, self.clock_ms(), barcode.decode(frame)))


def sdp_candidate_hosts(sdp: str) -> list[str]:
    """Connection addresses of every ``a=candidate`` line of ``sdp`` (RFC 8839 §5.1)."""
    hosts = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            fields = line.split()
            if len(fields) > 4:
                hosts.append(fields[4])
    return hosts
