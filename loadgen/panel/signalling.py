"""How a panel viewer negotiates its peer connection: WHEP, or a Janus Streaming mountpoint.

The media target URL chooses (`signaller_for`): ``http(s)://…`` is a WHEP endpoint (the viewer
offers, the server answers, RFC 9725-style POST/201/Location, DELETE to leave; behind an
impairing profile through the viewer's `WhepRelay`, so signalling crosses the profile too);
``janus+http(s)://H:P/janus?mountpoint=ID`` is Janus's HTTP API (Janus offers, the viewer
answers; see `loadgen.panel.janus`). Everything after negotiation — receiver, profiles,
metrics — is the same for both.

`negotiate(pc, on_gathered)` leaves ``pc`` with both descriptions set and calls
``on_gathered(local_sdp)`` once the viewer's candidates are gathered and before the far end
learns them (the viewer puts its ICE sockets behind its profile there, before any check is
sent). It returns the far end's SDP. `close()` ends the session at the server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from loadgen.panel.janus import JanusStreamingSession, JanusTarget
from loadgen.panel.whep_relay import WhepRelay

__all__ = ["JanusSignaller", "Signaller", "WhepSignaller", "signaller_for"]

log = logging.getLogger(__name__)


class Signaller(Protocol):
    async def negotiate(self, pc: Any, on_gathered: Callable[[str], None]) -> str: ...

    async def close(self) -> None: ...


def signaller_for(url: str, http: Any, relay: WhepRelay | None = None) -> Signaller:
    """The signaller for media target `url`, over aiohttp session `http`; a WHEP exchange goes
    through `relay` (the viewer's profile) when given. Janus's HTTP API calls do not cross it
    (its media does)."""
    if JanusTarget.is_janus(url):
        return JanusSignaller(JanusTarget.parse(url), http)
    return WhepSignaller(url, http, relay)


class WhepSignaller:
    """WHEP: POST our offer, 201 with the answer and a Location to DELETE on leaving, through
    the WHEP signalling core the stack's own client uses (`stack.whep_offer`, `whep_leave`)."""

    def __init__(self, url: str, http: Any, relay: WhepRelay | None = None) -> None:
        self.url = url
        self._http = http
        self._relay = relay
        self.location: str | None = None

    async def negotiate(self, pc: Any, on_gathered: Callable[[str], None]) -> str:
        from aiortc import RTCSessionDescription

        from stack import whep_offer

        await pc.setLocalDescription(await pc.createOffer())
        on_gathered(pc.localDescription.sdp)
        post_url = self.url if self._relay is None else await self._relay.start()
        answer, self.location = await whep_offer(self._http, post_url, pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        return answer

    async def close(self) -> None:
        from stack import whep_leave

        location = self.location
        if self._relay is not None and location:
            location = self._relay.url(location)  # the DELETE crosses the profile too
        await whep_leave(self._http, location)
        if self._relay is not None:
            await self._relay.close()


class JanusSignaller:
    """Janus Streaming: ``watch`` gives Janus's offer; we answer with ``start``."""

    def __init__(self, target: JanusTarget, http: Any) -> None:
        self.session = JanusStreamingSession(target, http)

    async def negotiate(self, pc: Any, on_gathered: Callable[[str], None]) -> str:
        from aiortc import RTCSessionDescription

        offer = await self.session.watch()
        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        # aiortc schedules its ICE checks when setLocalDescription returns; `on_gathered` runs
        # before this coroutine yields again, so no check leaves unimpaired.
        await pc.setLocalDescription(await pc.createAnswer())
        on_gathered(pc.localDescription.sdp)
        await self.session.start(pc.localDescription.sdp)
        return offer

    async def close(self) -> None:
        import aiohttp

        try:
            await self.session.close()
        except aiohttp.ClientError as exc:
            log.debug("Janus hangup failed: %s", exc)
