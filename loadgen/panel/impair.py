"""Put one viewer's ICE connection behind a profile: up = viewer → server, down = server → viewer.

`impair_ice_connection` wraps every aioice `StunProtocol` of the viewer's ICE agent with
`netem_profiles.datagram.impair_endpoint`: ``transport.sendto`` goes through the profile's ``up``
scheduler and ``datagram_received`` through its ``down`` scheduler. Everything on that
connection is impaired, STUN connectivity checks included, as `tc netem` on an interface would.
A profile clean in both directions is left unwrapped, so clean viewers cost nothing extra.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from netem_profiles import ImpairedDatagramTransport, Profile, impair_endpoint

__all__ = ["impair_ice_connection"]


def impair_ice_connection(
    connection: Any, profile: Profile, rng: random.Random
) -> list[ImpairedDatagramTransport]:
    """Wrap every protocol of aioice ``connection`` (an ``aioice.Connection``) with ``profile``.

    Call after gathering (``setLocalDescription``) and before the connectivity checks start
    (``setRemoteDescription``). Returns the wrapped transports (their ``scheduler.stats`` count
    what the profile did); an empty list when the profile is clean.
    """
    if profile.down.is_clean and profile.up.is_clean:
        return []
    loop = asyncio.get_running_loop()
    return [
        impair_endpoint(p.transport, p, profile, loop, rng=random.Random(rng.getrandbits(64)))
        for p in list(connection._protocols)
    ]
