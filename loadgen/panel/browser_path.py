"""One browser viewer's network path: its WHEP exchange and its media cross the viewer's profile.

The browser's page posts its WHEP offer to the panel's page server (same origin), which hands it
to this viewer's `BrowserPath`:

1. every candidate of the browser's offer must be 127.0.0.1, and there must be one, or the join
   is refused (`BrowserRefused`): no mDNS names, no STUN, no other interface;
2. each UDP candidate of the offer is replaced by a *reverse* `UdpRelay` (profile directions
   swapped: what the target sends is the viewer's down path) in front of the browser, so the
   target's connectivity checks and media cross the profile too;
3. the offer goes to the target through a `TcpRelay` with the same profile, so the signalling
   round trips count in the join phases and the first frame;
4. each UDP candidate of the answer is replaced by a forward `UdpRelay` (viewer → target = up)
   in front of the target.

Whichever candidate pair the browser nominates, every datagram between browser and target
crosses one of the viewer's relays, in the direction the profile names. TCP candidates are
dropped from both descriptions (the relays are UDP). Relays are per viewer, on 127.0.0.1:0.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from loadgen.panel.whep_relay import WhepRelay
from netem_profiles.model import Profile
from netem_profiles.netio import is_loopback
from netem_profiles.udp_relay import UdpRelay

__all__ = ["BrowserPath", "BrowserRefused", "parse_candidates", "rewrite_candidates"]

LOOPBACK = "127.0.0.1"


class BrowserRefused(RuntimeError):
    """The browser offered a candidate that is not loopback: the panel does not let it join."""


def parse_candidates(sdp: str) -> list[tuple[str, str, int]]:
    """(transport lower-case, address, port) of every ``a=candidate`` line (RFC 8839 §5.1)."""
    out = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            f = line.split()
            if len(f) > 5:
                out.append((f[2].lower(), f[4], int(f[5])))
    return out


def rewrite_candidates(sdp: str, mapping: dict[tuple[str, int], tuple[str, int]]) -> str:
    """``sdp`` with UDP candidates' (address, port) replaced through ``mapping`` and TCP
    candidates dropped; a UDP candidate not in ``mapping`` raises `KeyError`."""
    eol = "\r\n" if "\r\n" in sdp else "\n"
    lines = []
    for line in sdp.split(eol):
        if line.startswith("a=candidate:"):
            f = line.split(" ")
            if f[2].lower() != "udp":
                continue
            f[4], port = mapping[f[4], int(f[5])]
            f[5] = str(port)
            line = " ".join(f)
        lines.append(line)
    return eol.join(lines)


def swapped(profile: Profile) -> Profile:
    """``profile`` seen from the other end: its ``up`` is the viewer's ``down``."""
    return dataclasses.replace(profile, up=profile.down, down=profile.up)


class BrowserPath:
    """The relays of one browser viewer, and the WHEP calls that cross them.

    ``whep_url``: the target's WHEP endpoint; ``session``: an aiohttp ``ClientSession``;
    ``rng``: seeds the relays' schedulers. `start` opens the TCP relay; `offer` runs steps 1–4
    above and returns the answer for the browser; `delete` ends the WHEP session; `close` stops
    every relay. ``offer_hosts`` / ``answer_hosts`` keep the addresses the two sides offered.
    """

    def __init__(self, profile: Profile, whep_url: str, session: Any, rng: random.Random) -> None:
        self.profile = profile
        self.whep_url = whep_url
        self.session = session
        self.rng = rng
        self.http = WhepRelay(profile, whep_url, rng)
        self.udp: list[UdpRelay] = []
        self.offer_hosts: list[str] = []
        self.answer_hosts: list[str] = []
        self.location: str | None = None
        self.error: str | None = None

    async def start(self) -> None:
        await self.http.start()

    async def _relay(self, profile: Profile, target: tuple[str, int]) -> tuple[str, int]:
        relay = UdpRelay(
            profile, (LOOPBACK, 0), target, rng=random.Random(self.rng.getrandbits(64))
        )
        self.udp.append(relay)
        return await relay.start()

    async def offer(self, offer: str) -> tuple[int, str]:
        """Forward the browser's ``offer``; returns (HTTP status, body) for the browser.
        Raises `BrowserRefused` for a non-loopback browser candidate (and keeps it in
        ``error``)."""
        cands = parse_candidates(offer)
        self.offer_hosts = [addr for _, addr, _ in cands]
        # Stricter than `is_loopback`: the relays listen on 127.0.0.1, so only that will do.
        bad = sorted({a for a in self.offer_hosts if a != LOOPBACK})
        if bad or not cands:
            self.error = (
                f"browser candidate(s) {', '.join(bad)} not loopback: refused to join"
                if bad
                else "browser offered no candidate: refused to join"
            )
            raise BrowserRefused(self.error)
        reverse = swapped(self.profile)
        mapping = {
            (a, p): await self._relay(reverse, (a, p))
            for t, a, p in sorted(set(cands))
            if t == "udp"
        }
        async with self.session.post(
            self.http.url(self.whep_url),
            data=rewrite_candidates(offer, mapping),
            headers={"Content-Type": "application/sdp"},
        ) as resp:
            answer = await resp.text()
            if resp.status != 201:
                return resp.status, answer
            location = resp.headers.get("Location")
        if location:
            self.location = location
        cands = parse_candidates(answer)
        self.answer_hosts = [addr for _, addr, _ in cands]
        bad = sorted({a for a in self.answer_hosts if not is_loopback(a)})
        if bad:  # the panel only relays loopback media
            self.error = f"target answered non-loopback candidate(s) {', '.join(bad)}"
            return 502, self.error
        mapping = {
            (a, p): await self._relay(self.profile, (a, p))
            for t, a, p in sorted(set(cands))
            if t == "udp"
        }
        return 201, rewrite_candidates(answer, mapping)

    async def delete(self) -> int:
        """End the WHEP session (through the TCP relay); returns the HTTP status (0: none)."""
        if not self.location:
            return 0
        async with self.session.delete(self.http.url(self.location)) as resp:
            return int(resp.status)

    async def close(self) -> None:
        for relay in self.udp:
            relay.close()
        await self.http.close()
