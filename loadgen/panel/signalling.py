"""How a panel viewer negotiates its peer connection: WHEP, or a Janus Streaming mountpoint.

The media target URL chooses (`signaller_for`): ``http(s)://…`` is a WHEP endpoint (the viewer
offers, the server answers, RFC 9725-style POST/201/Location, DELETE to leave);
``janus+http(s)://H:P/janus?mountpoint=ID`` is Janus's HTTP API (Janus offers, the viewer
answers; see `loadgen.panel.janus`). Everything after negotiation — receiver, profiles,
metrics — is the same for both.

`negotiate(pc, on_gathered)` leaves ``pc`` with both descriptions set and calls
``on_gathered(local_sdp)`` once the viewer's candidates are gathered and before the far end
learns them (the viewer puts its ICE sockets behind its profile there, before any check is
sent). It returns the far end's SDP. `close()` ends the session at the server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urljoin

from loadgen.panel.janus import JanusStreamingSession, JanusTarget

__all__ = ["JanusSignaller", "Signaller", "WhepSignaller", "signaller_for"]

log = logging.getLogger(__name__)


class Signaller(Protocol):
    async def negotiate(self, pc: Any, on_gathered: Callable[[str], None]) -> str: ...

    async def close(self) -> None: ...


def signaller_for(url: str, http: Any) -> Signaller:
    """The signaller for media target `url`, over aiohttp session `http`."""
    if JanusTarget.is_janus(url):
        return JanusSignaller(JanusTarget.parse(url), http)
    return WhepSignaller(url, http)


class WhepSignaller:
    """WHEP: POST our offer, 201 with the answer and a Location to DELETE on leaving."""

    def __init__(self, url: str, http: Any) -> None:
        self.url = url
        self._http = http
        self.location: str | None = None

    async def negotiate(self, pc: Any, on_gathered: Callable[[str], None]) -> str:
        from aiortc import RTCSessionDescription

        await pc.setLocalDescription(await pc.createOffer())
        on_gathered(pc.localDescription.sdp)
        async with self._http.post(
            self.url, data=pc.localDescription.sdp, headers={"Content-Type": "application/sdp"}
        ) as resp:
            answer = str(await resp.text())
            if resp.status != 201:
                raise RuntimeError(f"WHEP POST {self.url}: HTTP {resp.status} {answer[:200]}")
            location = resp.headers.get("Location")
        if location:
            self.location = location if location.startswith("http") else urljoin(self.url, location)
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        return answer

    async def close(self) -> None:
        if not self.location:
            return
        import aiohttp

        try:
            async with asyncio.timeout(2.0), self._http.delete(self.location):
                pass
        except (TimeoutError, OSError, RuntimeError, aiohttp.ClientError) as exc:
            # The session ends anyway when the peer connection closes.
            log.debug("WHEP DELETE failed: %s", exc)


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
