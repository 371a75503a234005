"""A viewer's WHEP HTTP exchange through its profile: a per-viewer `TcpRelay` to the target.

`WhepRelay.start` opens a `netem_profiles.tcp_relay.TcpRelay` on 127.0.0.1:0 in front of the
WHEP URL's host and port; `WhepRelay.url` turns any URL of the target (the endpoint, the
session ``Location``) into the same URL through the relay. The POST and DELETE then pay the
profile's delay, jitter and loss (as retransmission delay) both ways, so the join phases and the
first frame include the signalling round trips, as they would on the viewer's real path.
"""

from __future__ import annotations

import random
from urllib.parse import urljoin, urlsplit, urlunsplit

from netem_profiles.model import Profile
from netem_profiles.tcp_relay import TcpRelay

__all__ = ["WhepRelay"]


class WhepRelay:
    """HTTP to ``whep_url``'s server through ``profile`` (``rng`` seeds the relay)."""

    def __init__(self, profile: Profile, whep_url: str, rng: random.Random) -> None:
        parts = urlsplit(whep_url)
        self.whep_url = whep_url
        self.target = (
            parts.hostname or "127.0.0.1",
            parts.port or (443 if parts.scheme == "https" else 80),
        )
        self.relay = TcpRelay(profile, ("127.0.0.1", 0), self.target, rng=rng)
        self._started = False

    async def start(self) -> str:
        """Listen; returns the WHEP endpoint's URL through the relay."""
        await self.relay.start()
        self._started = True
        return self.url(self.whep_url)

    def url(self, url: str) -> str:
        """``url`` (absolute, or relative to the WHEP endpoint) through the relay."""
        if not self._started:
            raise RuntimeError("relay not started")
        host, port = self.relay.address
        parts = urlsplit(urljoin(self.whep_url, url))
        return urlunsplit(parts._replace(scheme="http", netloc=f"{host}:{port}"))

    async def close(self) -> None:
        if self._started:
            await self.relay.close()
