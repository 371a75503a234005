"""ICE for a loopback lab: gather only 127.0.0.1 host candidates, and no STUN unless asked.

aioice deliberately leaves 127.0.0.1 out of its host candidates (`aioice.ice.get_host_addresses`
skips it) and aiortc falls back to Google's public STUN server when no ICE servers are given.
Both would send lab traffic off the machine, so a process that serves or views locally calls
`restrict_ice_to_loopback()` once and builds every peer connection with `rtc_configuration()`.

The restriction replaces the module-level `aioice.ice.get_host_addresses`, which aioice looks up
by name each time a connection gathers candidates. It is process-wide on purpose (every peer
connection of a lab process is local) and reversible with `restore_ice_host_addresses()`.
"""

from __future__ import annotations

from collections.abc import Callable

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer
from yarl import URL

from netem_profiles import netio

__all__ = [
    "LOOPBACK",
    "loopback_if_local",
    "restore_ice_host_addresses",
    "restrict_ice_to_loopback",
    "rtc_configuration",
]

LOOPBACK = "127.0.0.1"
_ORIGINAL: Callable[[bool, bool], list[str]] = aioice.ice.get_host_addresses


def _loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return [LOOPBACK] if use_ipv4 else []


def restrict_ice_to_loopback() -> None:
    """Make every ICE agent in this process gather exactly one host candidate: 127.0.0.1."""
    aioice.ice.get_host_addresses = _loopback_only


def loopback_if_local(url: str) -> None:
    """`restrict_ice_to_loopback()` when `url` names a loopback host (a local target)."""
    if netio.is_loopback(URL(url).host or ""):
        restrict_ice_to_loopback()


def restore_ice_host_addresses() -> None:
    """Undo `restrict_ice_to_loopback` (aioice's own interface scan again)."""
    aioice.ice.get_host_addresses = _ORIGINAL  # type: ignore[assignment]


def rtc_configuration(stun: str | None = None) -> RTCConfiguration:
    """Peer-connection configuration: no ICE servers at all, or only the given `stun:` URL."""
    return RTCConfiguration(iceServers=[RTCIceServer(stun)] if stun else [])
