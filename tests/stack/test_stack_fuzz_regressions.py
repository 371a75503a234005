"""Each input the fuzzing found (issue 12), sent again on its own: the fixed answer, exactly."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine
from typing import Any

import aiohttp
import pytest

from benchmarks.fuzz_inputs import OFFER_LINES
from stack.testing import running_stack_server
from stack.tokens import TokenError, TokenSigner

ROOM = "demo"


def run(coro: Coroutine[Any, Any, None], timeout_s: float = 60.0) -> None:
    asyncio.run(asyncio.wait_for(coro, timeout_s))


async def _join(session: aiohttp.ClientSession, base: str, viewer: str = "v") -> str:
    async with session.post(
        f"{base}/api/rooms/{ROOM}/join", json={"viewer_id": viewer, "market": "ID"}
    ) as resp:
        token: str = (await resp.json())["token"]
        return token


@pytest.mark.parametrize("tail", ["é", "\u00ff", "\U0001f600", "\udcff"])
def test_token_with_non_ascii_signature_is_invalid_not_a_crash(tail: str) -> None:
    signer = TokenSigner(b"s" * 16, lambda: 0.0)
    token = signer.issue(ROOM, "v", "ID", ttl_s=60)
    for bad in (token + tail, token[:-1] + tail, f"{tail}.{tail}"):
        with pytest.raises(TokenError) as info:
            signer.verify(bad, ROOM)
        assert (info.value.status, info.value.code) == (401, "invalid_token")


def test_non_ascii_token_signature_gets_401_over_http() -> None:
    """The bug the issue names: this answered `500 internal`."""

    async def main() -> None:
        async with (
            running_stack_server(host="none") as server,
            aiohttp.ClientSession() as session,
        ):
            base = server.base_url
            forged = await _join(session, base) + "é"
            for method, path in [
                ("GET", f"/api/rooms/{ROOM}/orders/ord_0000"),
                ("POST", f"/api/rooms/{ROOM}/orders"),
                ("POST", f"/api/rooms/{ROOM}/referrals"),
            ]:
                headers = {"Authorization": f"Bearer {forged}", "Idempotency-Key": "k"}
                async with session.request(method, base + path, headers=headers) as resp:
                    assert resp.status == 401, await resp.text()
                    assert (await resp.json())["error"]["code"] == "invalid_token"
            url = f"{base}/api/rooms/{ROOM}/ws"
            async with session.get(url, params={"token": forged}) as resp:
                assert resp.status == 401
            assert server.metrics.value("livelab_stack_errors_total", code="internal") == 0

    run(main())


def test_message_type_that_is_a_json_object_or_list_gets_an_error_frame() -> None:
    """`{"type": {}}` raised TypeError (unhashable) and dropped the WebSocket."""

    async def main() -> None:
        async with (
            running_stack_server(host="none") as server,
            aiohttp.ClientSession() as session,
        ):
            token = await _join(session, server.base_url)
            url = f"{server.base_url}/api/rooms/{ROOM}/ws"
            async with session.ws_connect(url, params={"token": token}) as ws:
                assert (await ws.receive_json(timeout=10))["type"] == "welcome"
                for bad in ({}, [], {"type": "chat"}):
                    await ws.send_str(json.dumps({"type": bad, "id": "m1"}))
                    frame = await ws.receive_json(timeout=10)
                    assert (frame["type"], frame["code"], frame["ref"]) == (
                        "error",
                        "unknown_type",
                        "m1",
                    )
                await ws.send_json({"type": "ping", "id": "still-here"})
                assert await ws.receive_json(timeout=10) == {
                    "type": "pong",
                    "id": "still-here",
                    "ts": pytest.approx(server.clock_ms(), abs=60_000),
                }

    run(main())


def _offer(edit: tuple[str, str | None]) -> bytes:
    """The fuzzer's template offer with the line starting with edit[0] replaced by edit[1]
    (dropped if None)."""
    lines = [
        line if not line.startswith(edit[0]) else edit[1]
        for line in OFFER_LINES
        if edit[1] is not None or not line.startswith(edit[0])
    ]
    return ("\r\n".join(str(line) for line in lines) + "\r\n").encode()


@pytest.mark.parametrize("kind", ["whep", "whip"])
@pytest.mark.parametrize(
    "edit, reason",
    [
        # An a=fmtp for a payload type with no a=rtpmap escaped aiortc's parser as
        # StopIteration (RuntimeError inside the coroutine): 500.
        (("a=fmtp:98", "a=fmtp:111 x=1"), "StopIteration"),
        # The m-line's VP8 payload type without its a=rtpmap: aiortc's OperationError, 500.
        (("a=rtpmap:97", None), "send parameters"),
        # A bare "m=video": aiortc's parser asserts on the m-line's shape, 500.
        (("m=video", "m=video"), "AssertionError"),
        # An attribute without its value: None.split() in aiortc's parser, 500.
        (("a=rtcp:9", "a=rtcp"), "AttributeError"),
        (("a=rtpmap:98", "a=rtpmap"), "AttributeError"),
        # No fingerprint: answered 201, then aiortc's DTLS task failed an assert nobody saw.
        (("a=fingerprint", None), "no a=fingerprint"),
        (("a=ice-pwd", None), "no a=ice-ufrag and a=ice-pwd"),
    ],
)
def test_offers_aiortc_cannot_parse_or_negotiate_are_invalid_sdp(
    kind: str, edit: tuple[str, str | None], reason: str
) -> None:
    async def main() -> None:
        async with (
            running_stack_server(host="none") as server,
            aiohttp.ClientSession() as session,
        ):
            sdp = _offer(edit)
            if kind == "whip":
                sdp = sdp.replace(b"a=recvonly", b"a=sendonly")
            async with session.post(
                f"{server.base_url}/{kind}/r-1",
                data=sdp,
                headers={"Content-Type": "application/sdp"},
            ) as resp:
                assert resp.status == 400, await resp.text()
                error = (await resp.json())["error"]
                assert error["code"] == "invalid_sdp"
                assert reason in error["message"]
            assert server.media.sessions == {} and server.media.publishers == {}
            assert server.metrics.value("livelab_stack_errors_total", code="internal") == 0

    run(main())


@pytest.mark.parametrize(
    "request_line, header",
    [
        (b"POST /api/rooms/demo/orders", b"Authorization: Bearer \x00"),
        (b"POST /api/rooms/demo/referrals?token=\x00", b"X-A: b"),
        (b"POST /api/rooms/demo/join/\x00", b"X-A: b"),
    ],
)
def test_malformed_request_is_one_warning_line_not_a_traceback(
    request_line: bytes, header: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp logged every request its parser refuses at ERROR with a traceback (a client
    could flood the log); the stack logs one WARNING line and answers 400."""

    async def main() -> None:
        async with running_stack_server(host="none") as server:
            host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(request_line + b" HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(4096), 10)
            writer.close()
            await writer.wait_closed()
            assert answer.split(b"\r\n")[0].endswith(b" 400 Bad Request"), answer

    with caplog.at_level(logging.INFO):
        run(main())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    warnings = [r for r in caplog.records if r.name == "stack.http"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert warnings[0].exc_info is None and "\n" not in warnings[0].getMessage()
    assert "bad request from 127.0.0.1 answered 400" in warnings[0].getMessage()


def test_admin_token_header_that_is_not_utf8_gets_401() -> None:
    """`Authorization: Bearer \\x80` reached us as a lone surrogate; `.encode()` raised: 500."""

    async def main() -> None:
        async with running_stack_server(host="none", admin_token="an-admin-token") as server:
            host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(
                b"GET /admin/faults HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \x80\xff\r\n"
                b"Connection: close\r\n\r\n"
            )
            answer = await asyncio.wait_for(reader.read(4096), 10)
            writer.close()
            await writer.wait_closed()
            assert answer.split(b"\r\n")[0].endswith(b" 401 Unauthorized"), answer
            assert b'"invalid_admin_token"' in answer
            assert server.metrics.value("livelab_stack_errors_total", code="internal") == 0

    run(main())
