"""The interaction service over real HTTP and WebSocket connections on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import aiohttp
import pytest

from stack.testing import running_stack, running_stack_server

ROOM = "demo"


def run(coro: Coroutine[Any, Any, None], timeout_s: float = 30.0) -> None:
    asyncio.run(asyncio.wait_for(coro, timeout_s))


async def join(
    session: aiohttp.ClientSession, base: str, viewer: str, room: str = ROOM, **extra: Any
) -> dict[str, Any]:
    async with session.post(
        f"{base}/api/rooms/{room}/join", json={"viewer_id": viewer, "market": "ID", **extra}
    ) as resp:
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body


async def next_of(
    ws: aiohttp.ClientWebSocketResponse,
    pred: Callable[[dict[str, Any]], bool],
    timeout_s: float = 5.0,
) -> dict[str, Any]:
    """The next message (batches unpacked) matching `pred`, within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no matching message")
        frame = await ws.receive(timeout=left)
        if frame.type != aiohttp.WSMsgType.TEXT:
            raise AssertionError(f"connection ended: {frame}")
        msg = json.loads(frame.data)
        for m in msg["messages"] if msg["type"] == "batch" else [msg]:
            if pred(m):
                return m


def of_type(kind: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["type"] == kind


async def with_viewer(
    base: str,
    body: Callable[[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse], Awaitable[None]],
) -> None:
    async with aiohttp.ClientSession() as session:
        info = await join(session, base, "v1")
        async with session.ws_connect(info["ws_url"]) as ws:
            await next_of(ws, of_type("welcome"))
            await body(session, ws)


def test_join_and_chat_round_trip_includes_own_message() -> None:
    async def main() -> None:
        async with running_stack(host="none") as base, aiohttp.ClientSession() as session:
            a, b = await join(session, base, "alice"), await join(session, base, "bob")
            assert a["whep_url"] == f"{base}/whep/{ROOM}"
            assert a["ws_url"].startswith("ws://127.0.0.1:")
            async with session.ws_connect(a["ws_url"]) as wa, session.ws_connect(b["ws_url"]) as wb:
                welcome = await next_of(wa, of_type("welcome"))
                assert welcome["viewer_id"] == "alice"
                await next_of(wb, of_type("welcome"))
                await wa.send_json({"type": "chat", "id": "m1", "text": "hello"})
                mine = await next_of(wa, of_type("chat"))
                theirs = await next_of(wb, of_type("chat"))
                assert mine == theirs
                assert mine["id"] == "m1" and mine["from"] == "alice" and mine["text"] == "hello"
                assert isinstance(mine["ts"], int)
                viewers = await next_of(wa, of_type("viewers"))
                assert viewers["count"] == 2

    run(main())


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{oops", "bad_json"),
        ('{"type": "teleport"}', "unknown_type"),
        ('{"type": "chat", "id": "m1"}', "missing_field"),
        ('{"type": "chat", "id": "m1", "text": "' + "x" * 5000 + '"}', "too_large"),
    ],
)
def test_bad_frames_get_error_and_connection_stays_open(frame: str, code: str) -> None:
    async def body(session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        await ws.send_str(frame)
        err = await next_of(ws, of_type("error"))
        assert err["code"] == code and err["message"]
        assert "ref" in err
        await ws.send_json({"type": "ping", "id": "p1"})
        assert (await next_of(ws, of_type("pong")))["id"] == "p1"

    async def main() -> None:
        async with running_stack(host="none") as base:
            await with_viewer(base, body)

    run(main())


def test_flooding_gets_rate_limited_then_closed_1008() -> None:
    async def main() -> None:
        async with (
            running_stack(host="none", rate_limit_per_s=5) as base,
            aiohttp.ClientSession() as session,
        ):
            info = await join(session, base, "flooder")
            bystander = await join(session, base, "bystander")
            async with (
                session.ws_connect(info["ws_url"]) as ws,
                session.ws_connect(bystander["ws_url"]) as other,
            ):
                for i in range(40):
                    await ws.send_json({"type": "like", "id": f"l{i}"})
                err = await next_of(ws, of_type("error"))
                assert err["code"] == "rate_limited"
                while True:  # drain until the close frame
                    frame = await ws.receive(timeout=5)
                    if frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                        break
                assert ws.close_code == 1008
                # The server and the other viewer are fine.
                await other.send_json({"type": "ping", "id": "still-here"})
                assert (await next_of(other, of_type("pong")))["id"] == "still-here"

    run(main())


@pytest.mark.parametrize("case", ["missing", "forged", "expired", "other_room"])
def test_bad_tokens_are_refused(case: str) -> None:
    async def main() -> None:
        now_ms = [1.8e12]  # the server's clock, moved by hand: the token expires exactly
        clock = lambda: now_ms[0]  # noqa: E731
        async with running_stack_server(clock, host="none", token_ttl_s=60.0) as server:
            base = server.base_url
            async with aiohttp.ClientSession() as session:
                info = await join(
                    session, base, "v1", room="other" if case == "other_room" else ROOM
                )
                token = info["token"]
                if case == "missing":
                    token = ""
                elif case == "forged":
                    body, _, sig = token.partition(".")
                    token = body.replace(body[-4:], "AAAA") + "." + sig
                elif case == "expired":
                    now_ms[0] += 60_000.0 + 1.0  # 1 ms past the 60 s lifetime
                expected = 403 if case == "other_room" else 401
                url = f"{base}/api/rooms/{ROOM}/ws?token={token}"
                with pytest.raises(aiohttp.WSServerHandshakeError) as info_ws:
                    await session.ws_connect(url)
                assert info_ws.value.status == expected
                async with session.post(
                    f"{base}/api/rooms/{ROOM}/orders",
                    json={"sku": "s1"},
                    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k1"},
                ) as resp:
                    assert resp.status == expected
                    assert (await resp.json())["error"]["code"]

    run(main())


def test_question_answered_after_think_time() -> None:
    async def body(session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        t0 = time.monotonic()
        await ws.send_json({"type": "question", "id": "q1", "text": "Does it ship to Jakarta?"})
        answer = await next_of(ws, of_type("answer"))
        assert answer["question_id"] == "q1" and answer["to"] == "v1"
        assert time.monotonic() - t0 >= 0.3

    async def main() -> None:
        async with running_stack(host="none", think_time_s=0.3) as base:
            await with_viewer(base, body)

    run(main())


def test_mini_peaks_announced_with_countdown_and_votes_counted() -> None:
    async def main() -> None:
        async with (
            running_stack_server(
                host="none", mini_peak_every_s=1.0, announce_ahead_s=0.5
            ) as server,
            aiohttp.ClientSession() as session,
        ):
            info = await join(session, server.base_url, "v1")
            async with session.ws_connect(info["ws_url"]) as ws:
                seen: list[str] = []

                def watch(m: dict[str, Any]) -> bool:
                    if m["type"] in ("countdown", "lottery", "flash_deal", "poll"):
                        seen.append(m["type"])
                    return m["type"] == "poll"

                poll = await next_of(ws, watch, timeout_s=8)
                assert seen[0] == "countdown"
                assert {"lottery", "flash_deal"} <= set(seen)
                await ws.send_json({"type": "vote", "poll_id": poll["poll_id"], "option": "A"})
                await ws.send_json({"type": "ping", "id": "sync"})
                await next_of(ws, lambda m: m["type"] == "pong")
                assert server.rooms[ROOM].tallies.votes[poll["poll_id"]] == {"A": 1}

    run(main(), timeout_s=30)


def test_fixed_peaks_and_a_late_joiner_learns_the_open_poll() -> None:
    async def main() -> None:
        async with (
            running_stack_server(
                host="none", announce_ahead_s=0.2, peaks=(("poll", 0.3, 30.0),)
            ) as server,
            aiohttp.ClientSession() as session,
        ):
            early = await join(session, server.base_url, "v1")
            async with session.ws_connect(early["ws_url"]) as ws:
                welcome = await next_of(ws, of_type("welcome"))
                assert "poll" not in welcome
                poll = await next_of(ws, of_type("poll"), timeout_s=8)
            late = await join(session, server.base_url, "v2")
            async with session.ws_connect(late["ws_url"]) as ws:
                welcome = await next_of(ws, of_type("welcome"))
                assert welcome["poll"] == poll
                await ws.send_json({"type": "vote", "poll_id": poll["poll_id"], "option": "B"})
                await ws.send_json({"type": "ping", "id": "sync"})
                await next_of(ws, of_type("pong"))
            room = server.rooms[ROOM]
            assert room.tallies.votes == {poll["poll_id"]: {"B": 1}}

    run(main(), timeout_s=30)


def test_large_rooms_get_batched_frames() -> None:
    async def main() -> None:
        async with (
            running_stack(host="none", batch_threshold=2, batch_tick_ms=100) as base,
            aiohttp.ClientSession() as session,
        ):
            infos = [await join(session, base, f"v{i}") for i in range(3)]
            sockets = [await session.ws_connect(i["ws_url"]) for i in infos]
            try:
                for i in range(5):
                    await sockets[0].send_json({"type": "chat", "id": f"m{i}", "text": "hi"})
                got: list[str] = []
                while len(got) < 5:
                    frame = json.loads((await sockets[2].receive(timeout=5)).data)
                    if frame["type"] == "batch":
                        got += [m["id"] for m in frame["messages"] if m["type"] == "chat"]
                    else:
                        assert frame["type"] == "welcome"
                assert got == [f"m{i}" for i in range(5)]
            finally:
                for ws in sockets:
                    await ws.close()

    run(main())


def test_admin_faults_chat_delay_and_auth(prom_samples) -> None:
    async def main() -> None:
        async with (
            running_stack(host="none", admin_token="s3cret") as base,
            aiohttp.ClientSession() as session,
        ):
            url = f"{base}/admin/faults"
            async with session.post(url, json={"chat_delay_ms": 400}) as resp:
                assert resp.status == 401
            auth = {"Authorization": "Bearer s3cret"}
            async with session.post(url, json={"chat_delay_ms": 99999999}, headers=auth) as r:
                assert r.status == 400
            async with session.post(url, json={"chat_delay_ms": 400}, headers=auth) as r:
                assert r.status == 200 and (await r.json())["chat_delay_ms"] == 400
            info = await join(session, base, "v1")
            async with session.ws_connect(info["ws_url"]) as ws:
                t0 = time.monotonic()
                await ws.send_json({"type": "chat", "id": "slow", "text": "x"})
                await next_of(ws, of_type("chat"))
                assert time.monotonic() - t0 >= 0.38
            async with session.get(f"{base}/metrics") as resp:
                text = await resp.text()
            got = prom_samples(text)
            assert got[("livelab_stack_delivery_lag_ms_count", ())] >= 1
            assert got[("livelab_stack_ws_messages_in_total", (("type", "chat"),))] == 1

    run(main())


def test_error_rate_fault_fails_api_but_not_health() -> None:
    async def main() -> None:
        async with (
            running_stack(host="none", faults={"error_rate": 1.0}) as base,
            aiohttp.ClientSession() as session,
        ):
            async with session.post(
                f"{base}/api/rooms/{ROOM}/join", json={"viewer_id": "v", "market": "ID"}
            ) as resp:
                assert resp.status == 503
                assert (await resp.json())["error"]["code"] == "injected_fault"
            async with session.get(f"{base}/healthz") as resp:
                assert resp.status == 200

    run(main())


def test_drop_ws_fault_drops_the_connection() -> None:
    async def main() -> None:
        async with (
            running_stack_server(host="none", admin_token="t") as server,
            aiohttp.ClientSession() as session,
        ):
            info = await join(session, server.base_url, "v1")
            server.faults.update({"drop_ws": 1.0})
            async with session.ws_connect(info["ws_url"]) as ws:
                await next_of(ws, of_type("welcome"))
                await ws.send_json({"type": "like"})
                frame = await ws.receive(timeout=5)
                assert frame.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)

    run(main())


def test_referrals_attribution_and_leaderboard() -> None:
    async def main() -> None:
        async with running_stack(host="none") as base, aiohttp.ClientSession() as session:
            host = await join(session, base, "amir")
            auth = {"Authorization": f"Bearer {host['token']}"}
            async with session.post(f"{base}/api/rooms/{ROOM}/referrals", headers=auth) as resp:
                assert resp.status == 201
                code = (await resp.json())["code"]
            async with session.post(f"{base}/api/rooms/{ROOM}/referrals", headers=auth) as resp:
                assert (await resp.json())["code"] == code  # one code per viewer and room
            outcomes = [
                (await join(session, base, f"friend{i}", referral_code=code))["referral"]
                for i in range(3)
            ]
            assert outcomes == ["recorded"] * 3
            assert (await join(session, base, "friend0", referral_code=code))[
                "referral"
            ] == "already"
            assert (await join(session, base, "amir", referral_code=code))["referral"] == "self"
            assert (await join(session, base, "x", referral_code="nope"))["referral"] == "unknown"
            async with session.get(f"{base}/api/rooms/{ROOM}/leaderboard") as resp:
                board = await resp.json()
            assert board["entries"] == [
                {"rank": 1, "viewer_id": "amir", "code": code, "referred": 3}
            ]

    run(main())


def test_bad_join_bodies() -> None:
    async def main() -> None:
        async with running_stack(host="none") as base, aiohttp.ClientSession() as session:
            url = f"{base}/api/rooms/{ROOM}/join"
            for data, code in [
                (b"{nope", "bad_json"),
                (b'{"market": "ID"}', "missing_field"),
                (b'{"viewer_id": 7, "market": "ID"}', "bad_field"),
            ]:
                async with session.post(url, data=data) as resp:
                    assert resp.status == 400
                    assert (await resp.json())["error"]["code"] == code
            async with session.post(f"{base}/api/rooms/bad%20room/join", json={}) as resp:
                assert resp.status == 400

    run(main())
