"""Co-host (issue 14) on a real stack over 127.0.0.1: invitations, slots, errors, guest media."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Coroutine
from typing import Any

import aiohttp
import numpy as np
import pytest

from stack import barcode
from stack.testing import running_stack_server

ROOM = "demo"
ADMIN = "admin-secret"


def run(coro: Coroutine[Any, Any, None], timeout_s: float = 60.0) -> None:
    asyncio.run(asyncio.wait_for(coro, timeout_s))


class Client:
    """A joined viewer with its WebSocket; `messages` collects everything it is sent."""

    def __init__(self, http: aiohttp.ClientSession, base: str, viewer: str) -> None:
        self.http, self.base, self.viewer = http, base, viewer
        self.token = ""
        self.messages: list[dict[str, Any]] = []
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task[None] | None = None

    async def join(self) -> Client:
        body = {"viewer_id": self.viewer, "market": "GB"}
        async with self.http.post(f"{self.base}/api/rooms/{ROOM}/join", json=body) as resp:
            self.token = (await resp.json())["token"]
        self.ws = await self.http.ws_connect(
            f"{self.base.replace('http', 'ws', 1)}/api/rooms/{ROOM}/ws?token={self.token}"
        )
        self._task = asyncio.ensure_future(self._read())
        return self

    async def _read(self) -> None:
        assert self.ws is not None
        async for frame in self.ws:
            msg = json.loads(frame.data)
            self.messages += msg["messages"] if msg["type"] == "batch" else [msg]

    async def wait_for(self, kind: str, timeout_s: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = [m for m in self.messages if m.get("type") == kind]
            if found:
                return found[-1]
            await asyncio.sleep(0.02)
        raise AssertionError(f"{self.viewer}: no {kind} in {timeout_s} s: {self.messages}")

    async def call(self, method: str, path: str, **kw: Any) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.request(method, self.base + path, headers=headers, **kw) as resp:
            return resp.status, await resp.json()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


async def admin_invite(http: aiohttp.ClientSession, base: str, viewer: str) -> int:
    async with http.post(
        f"{base}/api/rooms/{ROOM}/cohost/invitations",
        json={"viewer_id": viewer},
        headers={"Authorization": f"Bearer {ADMIN}"},
    ) as resp:
        return resp.status


def test_barcode_bands_are_independent() -> None:
    y = np.full((180, 320), 128, dtype=np.uint8)
    barcode.encode(y, 1_700_000_000_123, band=0)
    barcode.encode(y, 1_700_000_000_045, band=1)
    assert barcode.decode(y, band=0) == 1_700_000_000_123
    assert barcode.decode(y, band=1) == 1_700_000_000_045
    assert barcode.decode(y, band=2) is None  # nothing drawn there
    with pytest.raises(ValueError, match="band"):
        barcode.encode(y, 1, band=-1)


def test_invitation_accept_and_errors() -> None:
    async def main() -> None:
        async with (
            running_stack_server(host="none", max_guests=1, admin_token=ADMIN) as server,
            aiohttp.ClientSession() as http,
        ):
            base = server.base_url
            alice = await Client(http, base, "alice").join()
            bob = await Client(http, base, "bob").join()
            await alice.wait_for("welcome")
            await bob.wait_for("welcome")
            # 403 without an invitation.
            status, body = await bob.call(
                "POST", f"/api/rooms/{ROOM}/cohost/accept", json={"invite_id": "nope"}
            )
            assert (status, body["error"]["code"]) == (403, "not_invited")
            # 403 publishing without an accepted slot.
            async with http.post(
                f"{base}/whip/{ROOM}/guest/0?token={bob.token}",
                data="v=0\r\n",
                headers={"Content-Type": "application/sdp"},
            ) as resp:
                assert resp.status == 403
            # A raised hand: the built-in host invites at once.
            assert alice.ws is not None
            await alice.ws.send_str(json.dumps({"type": "cohost_request"}))
            invite = await alice.wait_for("cohost_invite")
            status, accepted = await alice.call(
                "POST", f"/api/rooms/{ROOM}/cohost/accept", json={"invite_id": invite["invite_id"]}
            )
            assert status == 201 and accepted["slot"] == 0
            assert accepted["whip_url"] == f"/whip/{ROOM}/guest/0"
            # The one slot is taken: bob's hand is refused, the operator's invitation too.
            assert bob.ws is not None
            await bob.ws.send_str(json.dumps({"type": "cohost_request", "id": "h1"}))
            refused = await bob.wait_for("error")
            assert (refused["code"], refused["ref"]) == ("guest_slots_full", "h1")
            assert await admin_invite(http, base, "bob") == 409
            assert await admin_invite(http, base, "nobody") == 404
            async with http.get(f"{base}/api/rooms/{ROOM}/cohost") as resp:
                status_doc = await resp.json()
            assert status_doc["max_guests"] == 1
            assert [g["viewer_id"] for g in status_doc["guests"]] == ["alice"]
            # Leaving frees the slot; an invitation for bob now goes through.
            status, report = await alice.call("DELETE", f"/api/rooms/{ROOM}/cohost")
            assert status == 200 and report["ended"] == "left"
            status, _ = await alice.call("DELETE", f"/api/rooms/{ROOM}/cohost")
            assert status == 404
            assert await admin_invite(http, base, "bob") == 201
            assert (await bob.wait_for("cohost_invite"))["invite_id"]
            await alice.close()
            await bob.close()

    run(main())


def test_accepted_guest_who_never_publishes_loses_the_slot() -> None:
    async def main() -> None:
        async with (
            running_stack_server(host="none", publish_within_s=0.5) as server,
            aiohttp.ClientSession() as http,
        ):
            alice = await Client(http, server.base_url, "alice").join()
            assert alice.ws is not None
            await alice.ws.send_str(json.dumps({"type": "cohost_request"}))
            invite = await alice.wait_for("cohost_invite")
            status, _ = await alice.call(
                "POST", f"/api/rooms/{ROOM}/cohost/accept", json={"invite_id": invite["invite_id"]}
            )
            assert status == 201
            await asyncio.sleep(1.5)
            status, report = await alice.call("GET", f"/api/rooms/{ROOM}/cohost/me")
            assert status == 200 and report["ended"] == "never_published"
            await alice.close()

    run(main())


def test_options_bound_the_guests() -> None:
    from livelab.errors import ConfigError
    from stack.options import MAX_GUESTS, StackOptions

    with pytest.raises(ConfigError, match="--max-guests"):
        StackOptions(max_guests=MAX_GUESTS + 1).validate()
    with pytest.raises(ConfigError, match="--guest-timeout"):
        StackOptions(guest_timeout_s=5.0).validate()


@pytest.mark.slow
def test_guest_on_air_reaches_viewers_and_host_and_a_dead_guest_is_dropped() -> None:
    """Real peer connections: the guest sees and hears the host, the host (stack) sees the
    guest's barcodes and echoes, a viewer gets the guest's slot tracks; then the guest's network
    dies
    (its ICE sockets closed, no DTLS goodbye) and the stack drops it within 5 s."""
    from loadgen.panel.cohost_client import CohostGuest, GuestAudience
    from stack import restrict_ice_to_loopback

    async def main() -> None:
        restrict_ice_to_loopback()
        async with (
            running_stack_server(room=ROOM, audio=True) as server,
            aiohttp.ClientSession() as http,
        ):
            base = server.base_url
            watcher = await Client(http, base, "watcher").join()
            guest = CohostGuest(base, ROOM, "guest", http)
            await guest.join()
            await guest.go_on_air()
            on = await watcher.wait_for("cohost_on")
            assert (on["slot"], on["viewer_id"]) == (0, "guest")
            audience = GuestAudience(f"{base}/whep/{ROOM}", http, slots=1, watch_slot=0)
            await audience.start()
            deadline = time.monotonic() + 25
            me: dict[str, Any] = {}
            while time.monotonic() < deadline:
                await asyncio.sleep(0.5)
                async with http.get(
                    f"{base}/api/rooms/{ROOM}/cohost/me",
                    headers={"Authorization": f"Bearer {guest.token}"},
                ) as resp:
                    me = await resp.json()
                saw = me["host_saw"]
                if (
                    len(guest.host_to_guest) >= 5
                    and len(saw["guest_to_host_ms"]) >= 5
                    and len(saw["rtt_ms"]) >= 3
                    and len(audience.guest_to_viewer) >= 3
                    and guest.host_audio
                ):
                    break
            saw = me["host_saw"]
            assert len(guest.host_to_guest) >= 5, "the guest never saw the host"
            assert len(saw["guest_to_host_ms"]) >= 5, f"the host never saw the guest: {saw}"
            assert len(saw["rtt_ms"]) >= 3, "no answer frame echoed a host stamp"
            assert len(audience.guest_to_viewer) >= 3, "a viewer never saw the guest's slot"
            # The host's wall-clock beeps reach the guest: onset latency in 0..1000 ms.
            assert guest.host_audio, "the guest never heard a beep"
            assert all(0 <= v < 1000 for _, v in guest.host_audio)
            # Every latency is positive and below a loaded machine's worst (same clock).
            for _, v in saw["rtt_ms"]:
                assert 0 < v < 10_000
            await audience.close()
            # The guest's network dies: close its publishing ICE sockets, say nothing.
            assert guest._publish_pc is not None
            transport = guest._publish_pc.getTransceivers()[0].receiver.transport
            connection = transport.transport.iceGatherer._connection
            died_ms = time.time() * 1000  # the stack's clock: the same wall clock
            for protocol in list(connection._protocols):
                protocol.transport.close()
            off = await watcher.wait_for("cohost_off", timeout_s=10.0)
            assert off["reason"] == "connection_lost"
            async with http.get(
                f"{base}/api/rooms/{ROOM}/cohost/me",
                headers={"Authorization": f"Bearer {guest.token}"},
            ) as resp:
                ended_ms = (await resp.json())["ended_ms"]
            assert ended_ms - died_ms < 5000, f"dropped {ended_ms - died_ms:.0f} ms after dying"
            with contextlib.suppress(Exception):  # its sockets are gone: a rough goodbye
                await guest.close()
            await watcher.close()

    run(main(), timeout_s=90)


def test_beeps_start_on_whole_wall_clock_seconds() -> None:
    from stack.audio import BEEP_MS, FRAME_MS, is_beep

    frames = range(1_796_000_000_000, 1_796_000_003_000, FRAME_MS)
    onsets = [w for w in frames if is_beep(w) and not is_beep(w - FRAME_MS)]
    assert onsets == [1_796_000_000_000, 1_796_000_001_000, 1_796_000_002_000]
    assert sum(map(is_beep, frames)) == 3 * BEEP_MS // FRAME_MS
