"""Nothing a client sends crashes the server or touches another client's data (seeded fuzz)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Coroutine
from typing import Any

import aiohttp

from stack.messages import CLIENT_TYPES
from stack.testing import running_stack_server

ROOM = "demo"


def run(coro: Coroutine[Any, Any, None], timeout_s: float = 60.0) -> None:
    asyncio.run(asyncio.wait_for(coro, timeout_s))


def _junk_value(rng: random.Random) -> Any:
    return rng.choice(
        [
            None,
            True,
            -1,
            0,
            2**70,
            1e308,
            "",
            "x" * rng.randint(1, 600),
            "\u202e\U0001f600",
            [],
            {},
            [1, {"a": None}],
            {"type": "chat"},
            float("nan"),
        ]
    )


def _junk_frame(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.2:  # not JSON at all, or truncated
        return "".join(chr(rng.randint(1, 0x2FF)) for _ in range(rng.randint(1, 200)))
    if kind < 0.3:  # absurd nesting
        depth = rng.randint(100, 2000)
        return "[" * depth + "]" * depth
    msg: dict[str, Any] = {"type": rng.choice([*CLIENT_TYPES, "admin", 7, None])}
    for name in ("id", "text", "count", "poll_id", "option", "channel", "extra"):
        if rng.random() < 0.6:
            msg[name] = _junk_value(rng)
    return json.dumps(msg)


def test_fuzzed_frames_and_bodies_leave_server_and_neighbours_intact() -> None:
    rng = random.Random(20260401)

    async def main() -> None:
        async with (
            running_stack_server(host="none", rate_limit_per_s=10_000) as server,
            aiohttp.ClientSession() as session,
        ):
            base = server.base_url

            async def join(viewer: str) -> dict[str, Any]:
                async with session.post(
                    f"{base}/api/rooms/{ROOM}/join", json={"viewer_id": viewer, "market": "AE"}
                ) as resp:
                    body: dict[str, Any] = await resp.json()
                    return body

            victim, attacker = await join("victim"), await join("attacker")
            auth = {"Authorization": f"Bearer {victim['token']}", "Idempotency-Key": "v-1"}
            async with session.post(
                f"{base}/api/rooms/{ROOM}/orders", json={"sku": "oud-1"}, headers=auth
            ) as resp:
                assert resp.status == 201
                order = await resp.json()

            async with session.ws_connect(attacker["ws_url"]) as ws:
                for _ in range(300):
                    await ws.send_str(_junk_frame(rng))
                await ws.send_json({"type": "ping", "id": "after-fuzz"})
                while True:
                    msg = json.loads((await ws.receive(timeout=10)).data)
                    if msg["type"] == "pong" and msg["id"] == "after-fuzz":
                        break
                    assert msg["type"] in (
                        *("welcome", "error", "chat", "viewers", "pong", "batch"),
                        "cohost_invite",  # a fuzzed cohost_request is a real raised hand
                    )

            attacker_auth = {"Authorization": f"Bearer {attacker['token']}"}
            for _ in range(100):
                raw = _junk_frame(rng).encode()
                path = rng.choice(["join", "orders", "referrals"])
                headers = {**attacker_auth, "Idempotency-Key": rng.choice(["v-1", "k", "\u00e9"])}
                async with session.post(
                    f"{base}/api/rooms/{ROOM}/{path}", data=raw, headers=headers
                ) as resp:
                    assert resp.status in (200, 201, 400, 413, 422), await resp.text()

            # The victim's order is intact and still only theirs.
            victim_auth = {"Authorization": f"Bearer {victim['token']}"}
            async with session.get(
                f"{base}/api/rooms/{ROOM}/orders/{order['order_id']}", headers=victim_auth
            ) as resp:
                assert resp.status == 200 and await resp.json() == order
            async with session.get(
                f"{base}/api/rooms/{ROOM}/orders/{order['order_id']}", headers=attacker_auth
            ) as resp:
                assert resp.status == 404
            async with session.get(f"{base}/metrics") as resp:
                text = await resp.text()
            assert 'code="internal"' not in text

    run(main())


def test_leaderboard_is_pushed_to_the_room() -> None:
    async def main() -> None:
        async with (
            running_stack_server(host="none") as server,
            aiohttp.ClientSession() as session,
        ):
            base = server.base_url
            async with session.post(
                f"{base}/api/rooms/{ROOM}/join", json={"viewer_id": "host", "market": "TH"}
            ) as resp:
                host = await resp.json()
            async with session.ws_connect(host["ws_url"]) as ws:
                async with session.post(
                    f"{base}/api/rooms/{ROOM}/referrals",
                    headers={"Authorization": f"Bearer {host['token']}"},
                ) as resp:
                    code = (await resp.json())["code"]
                async with session.post(
                    f"{base}/api/rooms/{ROOM}/join",
                    json={"viewer_id": "friend", "market": "TH", "referral_code": code},
                ) as resp:
                    assert (await resp.json())["referral"] == "recorded"
                while True:
                    msg = json.loads((await ws.receive(timeout=5)).data)
                    if msg["type"] == "leaderboard":
                        assert msg["entries"][0]["viewer_id"] == "host"
                        assert msg["entries"][0]["referred"] == 1
                        break

    run(main())
