"""The panel's ``cohost`` viewer: a viewer who goes on air with the host, behind its profile.

It joins the room of the WHEP target (``http://H:P/whep/ROOM``), raises a hand, accepts the
built-in host's invitation and runs a `cohost_client.CohostGuest`: its own WHEP session to
the host and its WHIP publication, both with their ICE sockets behind the viewer's profile
(`loadgen.panel.impair`, up and down), and every HTTP and WebSocket exchange through its own
`WhepRelay` (the same per-viewer relay the other kinds use). A clean `GuestAudience` in the same
process watches the guest's slot as any viewer would. What it measures, per sample
(wall ms, latency ms), into ``ViewerRaw.cohost``:

* ``cohost_host_to_guest_ms``: host capture → shown to the guest (the guest's decode);
* ``cohost_guest_to_host_ms`` and ``cohost_rtt_ms``: what the host (the stack) saw, returned by
  ``DELETE /api/rooms/{room}/cohost`` (`stack.guest_watch`);
* ``cohost_guest_to_viewer_ms``: guest capture → shown to a clean viewer (the guest's uplink
  plus the stack's forwarding; the viewer's own downlink is the other kinds' business);
* ``cohost_audio_ms``: a host beep → its onset heard by the guest (a stack with ``--audio``;
  none otherwise).

Frames of the host view count as the viewer's frames (fps, freezes). Only WHEP targets of the
reference stack have co-hosting; a Janus target is an error for this kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from loadgen.panel.impair import impair_ice_connection
from loadgen.panel.viewer import ViewerRaw, ViewerSpec, wall_ms
from loadgen.panel.whep_relay import WhepRelay

__all__ = ["COHOST_METRICS", "CohostViewer"]

log = logging.getLogger(__name__)

COHOST_METRICS = (
    "cohost_rtt_ms",
    "cohost_host_to_guest_ms",
    "cohost_guest_to_host_ms",
    "cohost_guest_to_viewer_ms",
    "cohost_audio_ms",
)


def _room_of(whep_url: str) -> tuple[str, str]:
    """(base URL, room) of a reference-stack WHEP URL ``http://H:P/whep/ROOM``."""
    parts = urlsplit(whep_url)
    segments = parts.path.strip("/").split("/")
    if len(segments) != 2 or segments[0] != "whep":
        raise ValueError(f"{whep_url!r} is not a reference-stack WHEP URL (…/whep/ROOM)")
    return f"{parts.scheme}://{parts.netloc}", segments[1]


class CohostViewer:
    """Same contract as `loadgen.panel.viewer.Viewer`: `run()` → `ViewerRaw`, never raising for
    a failed guest (``raw.error``)."""

    def __init__(
        self,
        spec: ViewerSpec,
        whep_url: str,
        session: Any,
        stop_at_ms: float,
        *,
        process: int = 0,
        clock_ms: Callable[[], float] = wall_ms,
        stop_event: asyncio.Event | None = None,
    ) -> None:
        self.spec = spec
        self.whep_url = whep_url
        self.session = session
        self.stop_at_ms = stop_at_ms
        self.clock_ms = clock_ms
        self.stop_event = stop_event or asyncio.Event()
        self.raw = ViewerRaw(spec=spec, process=process)

    async def run(self) -> ViewerRaw:
        from loadgen.panel.cohost_client import CohostGuest, GuestAudience
        from netem_profiles import load_profile

        t0 = self.raw.join_start_ms = self.clock_ms()
        profile = load_profile(self.spec.profile)
        rng = random.Random(self.spec.seed)
        relay: WhepRelay | None = None
        guest: CohostGuest | None = None
        audience: GuestAudience | None = None
        try:
            base, room = _room_of(self.whep_url)
            if not (profile.down.is_clean and profile.up.is_clean):
                relay = WhepRelay(profile, self.whep_url, random.Random(rng.getrandbits(64)))
                await relay.start()
            url_for = relay.url if relay is not None else (lambda u: u)

            def gathered(pc: Any) -> None:
                transport = pc.getTransceivers()[0].receiver.transport
                connection = transport.transport.iceGatherer._connection
                self.raw.counters["impaired_sockets"] = self.raw.counters.get(
                    "impaired_sockets", 0
                ) + len(impair_ice_connection(connection, profile, rng))

            viewer_id = f"cohost-{self.spec.index}-{self.spec.seed % 10_000}"
            guest = CohostGuest(
                base, room, viewer_id, self.session, url_for=url_for, on_gathered=gathered
            )
            await guest.join()
            await guest.go_on_air()
            for name, value in guest.phases.items():
                self.raw.phases[f"cohost_{name}"] = value
            assert guest.slot is not None
            audience = GuestAudience(
                self.whep_url, self.session, guest.slot + 1, guest.slot, self.clock_ms
            )
            await audience.start()
            remaining_s = max(0.0, (self.stop_at_ms - self.clock_ms()) / 1000.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), remaining_s)
            report = await guest.leave()
            self._collect(guest, audience, report)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a guest that fails is a measurement, not a crash
            self.raw.error = f"{type(exc).__name__}: {exc}"
            log.warning("cohost viewer %d failed: %s", self.spec.index, self.raw.error)
        finally:
            self.raw.end_ms = self.clock_ms()
            for part in (audience, guest, relay):
                if part is not None:
                    with contextlib.suppress(Exception):
                        await part.close()
        if guest is not None and guest.host_frames_ms:
            self.raw.phases.setdefault("first_frame_ms", guest.host_frames_ms[0] - t0)
        return self.raw

    def _collect(self, guest: Any, audience: Any, report: dict[str, Any]) -> None:
        self.raw.frame_ms = list(guest.host_frames_ms)
        host_saw = report.get("host_saw") or {}
        self.raw.cohost = {
            "cohost_host_to_guest_ms": list(guest.host_to_guest),
            "cohost_guest_to_viewer_ms": list(audience.guest_to_viewer),
            "cohost_guest_to_host_ms": [(t, v) for t, v in host_saw.get("guest_to_host_ms", [])],
            "cohost_rtt_ms": [(t, v) for t, v in host_saw.get("rtt_ms", [])],
            "cohost_audio_ms": list(guest.host_audio),
        }
        self.raw.counters["cohost_host_frames_decoded"] = float(host_saw.get("frames_decoded", 0))
        if report.get("ended") not in (None, "left"):
            self.raw.error = f"dropped by the stack: {report.get('ended')}"
