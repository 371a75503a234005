"""The WHEP signalling core every viewer of the project uses, and a minimal WHIP publisher.

`whep_offer` (POST the offer, 201, `Location`) and `whep_leave` (DELETE) are shared by the media
panel's viewers (`loadgen.panel.viewer.Viewer`, and its test client
`loadgen.panel.whep_viewer.WhepViewer`) and by `WhipPublisher` here, an aiortc publisher for
`livelab host`, tests and benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from yarl import URL

from stack.ice import loopback_if_local, rtc_configuration

__all__ = ["WhipPublisher", "whep_leave", "whep_offer"]

log = logging.getLogger(__name__)


async def whep_offer(session: aiohttp.ClientSession, url: str, sdp: str) -> tuple[str, str | None]:
    """POST the SDP offer `sdp` to a WHEP (or WHIP) endpoint: (answer SDP, the session's URL
    from `Location`, resolved against `url`; None without one). RuntimeError unless HTTP 201."""
    async with session.post(url, data=sdp, headers={"Content-Type": "application/sdp"}) as resp:
        body = await resp.text()
        if resp.status != 201:
            raise RuntimeError(f"WHEP POST {url}: HTTP {resp.status} {body[:200]}")
        location = resp.headers.get("Location")
        return body, str(resp.url.join(URL(location))) if location else None


async def whep_leave(
    session: aiohttp.ClientSession, location: str | None, timeout_s: float = 2.0
) -> None:
    """DELETE the WHEP session at `location` (if any), within `timeout_s` seconds. A failure is
    logged, not raised: the session ends anyway when the peer connection closes."""
    if not location:
        return
    try:
        async with asyncio.timeout(timeout_s), session.delete(location):
            pass
    except (TimeoutError, OSError, RuntimeError, aiohttp.ClientError) as exc:
        log.debug("WHEP DELETE %s failed: %s", location, exc)


class WhipPublisher:
    """Publishes `track` (an aiortc video track), and `audio_track` if given, to `whip_url`."""

    def __init__(
        self, whip_url: str, track: MediaStreamTrack, audio_track: MediaStreamTrack | None = None
    ) -> None:
        loopback_if_local(whip_url)
        self.url = whip_url
        self.pc = RTCPeerConnection(rtc_configuration())
        self.pc.addTransceiver(track, direction="sendonly")
        if audio_track is not None:
            self.pc.addTransceiver(audio_track, direction="sendonly")
        self.location: str | None = None

    async def start(self, session: aiohttp.ClientSession) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer, self.location = await whep_offer(session, self.url, self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def close(self, session: aiohttp.ClientSession | None = None) -> None:
        """End the session: DELETE its resource (with `session`), then close the connection."""
        if session is not None and self.location:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.delete(self.location):
                    pass
        await self.pc.close()
