"""The aiortc viewers' WHEP exchange crosses their profile (`loadgen.panel.whep_relay`)."""

from __future__ import annotations

import asyncio
import random

import pytest

from loadgen.panel.viewer import Viewer, ViewerSpec, wall_ms
from loadgen.panel.whep_relay import WhepRelay
from netem_profiles.loader import load_profile


def test_urls_are_rewritten_to_the_relay() -> None:
    async def go() -> tuple[str, str, str]:
        relay = WhepRelay(
            load_profile("delay 0ms"), "http://127.0.0.1:9/whep/demo", random.Random(1)
        )
        try:
            base = await relay.start()
            return base, relay.url("/whep/demo/abc"), relay.url("http://127.0.0.1:9/x?y=1")
        finally:
            await relay.close()

    base, session, absolute = asyncio.run(go())
    port = base.split(":")[2].split("/")[0]
    assert base == f"http://127.0.0.1:{port}/whep/demo"
    assert session == f"http://127.0.0.1:{port}/whep/demo/abc"
    assert absolute == f"http://127.0.0.1:{port}/x?y=1"


@pytest.mark.slow
def test_signalling_of_an_impaired_aiortc_viewer_pays_the_round_trip() -> None:
    """Behind ``delay 300ms`` (600 ms RTT) the WHEP POST cannot take less than one round trip
    through the relay; without the relay it takes the server's answer time (~150 ms)."""
    import aiohttp

    from stack.ice import restore_ice_host_addresses, restrict_ice_to_loopback
    from stack.testing import running_stack

    async def go():
        async with running_stack() as base, aiohttp.ClientSession() as session:
            stop = wall_ms() + 6_000.0
            spec = ViewerSpec(0, "delay 300ms", "lite", seed=1)
            return await Viewer(spec, f"{base}/whep/demo", session, stop).run()

    restrict_ice_to_loopback()
    try:
        raw = asyncio.run(go())
    finally:
        restore_ice_host_addresses()
    assert raw.error is None, raw.error
    assert raw.phases["signalling_ms"] >= 590.0, raw.phases
    assert raw.frame_ms  # it still watched
