"""What a browser page on another origin needs from WHIP/WHEP: CORS, ETag, Link, PATCH, DELETE."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import aiohttp
import pytest
from aiortc import RTCPeerConnection

from stack.ice import restrict_ice_to_loopback, rtc_configuration
from stack.testing import running_stack_server

ORIGIN = "http://127.0.0.1:9"  # a page's origin; never contacted
EXPOSED = {"location", "etag", "link", "accept-patch"}
CANDIDATE = "a=candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host"


def run(coro: Coroutine[Any, Any, None], timeout_s: float = 60.0) -> None:
    asyncio.run(asyncio.wait_for(coro, timeout_s))


async def recvonly_offer() -> tuple[RTCPeerConnection, str]:
    restrict_ice_to_loopback()
    pc = RTCPeerConnection(rtc_configuration())
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    # As a trickling browser sends it: no candidates yet, no end-of-candidates.
    lines = pc.localDescription.sdp.splitlines()
    kept = [ln for ln in lines if not ln.startswith(("a=candidate:", "a=end-of-candidates"))]
    return pc, "\r\n".join(kept) + "\r\n"


def test_preflight_and_cors_headers_on_answers_and_errors() -> None:
    async def main() -> None:
        async with running_stack_server(host="none") as server, aiohttp.ClientSession() as s:
            base = server.base_url
            for path in ("/whep/demo", "/whip/demo", "/whep/demo/abc", "/api/rooms/demo/orders"):
                headers = {
                    "Origin": ORIGIN,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type,authorization,if-match",
                }
                async with s.options(base + path, headers=headers) as resp:
                    assert resp.status == 204, path
                    assert resp.headers["Access-Control-Allow-Origin"] == "*"
                    methods = resp.headers["Access-Control-Allow-Methods"]
                    assert {"POST", "PATCH", "DELETE"} <= set(methods.replace(" ", "").split(","))
                    allowed = resp.headers["Access-Control-Allow-Headers"].lower()
                    for name in ("content-type", "authorization", "if-match", "idempotency-key"):
                        assert name in allowed
                    exposed = resp.headers["Access-Control-Expose-Headers"].lower()
                    assert set(exposed.replace(" ", "").split(",")) == EXPOSED
                    if path.count("/") == 2:  # a WHIP/WHEP endpoint
                        assert resp.headers["Accept-Post"] == "application/sdp"
                    elif path.count("/") == 3:  # a session
                        assert resp.headers["Accept-Patch"] == "application/trickle-ice-sdpfrag"
            # An error a page must be able to read (no token) carries the headers too.
            url = f"{base}/api/rooms/demo/orders"
            async with s.post(url, json={"sku": "x"}, headers={"Origin": ORIGIN}) as resp:
                assert resp.status == 401
                assert resp.headers["Access-Control-Allow-Origin"] == "*"
            join = {"viewer_id": "v", "market": "GB"}
            async with s.post(
                f"{base}/api/rooms/demo/join", json=join, headers={"Origin": ORIGIN}
            ) as resp:
                assert resp.status == 200
                assert resp.headers["Access-Control-Allow-Origin"] == "*"
            # Not for pages: operators' endpoints stay without CORS.
            async with s.get(f"{base}/metrics", headers={"Origin": ORIGIN}) as resp:
                assert "Access-Control-Allow-Origin" not in resp.headers

    run(main())


def test_whep_session_etag_trickle_patch_and_delete() -> None:
    async def main() -> None:
        async with running_stack_server(host="none") as server, aiohttp.ClientSession() as s:
            pc, sdp = await recvonly_offer()
            headers = {"Content-Type": "application/sdp", "Origin": ORIGIN}
            async with s.post(f"{server.base_url}/whep/demo", data=sdp, headers=headers) as resp:
                assert resp.status == 201
                assert resp.headers["Access-Control-Allow-Origin"] == "*"
                assert resp.headers["Accept-Patch"] == "application/trickle-ice-sdpfrag"
                assert "Link" not in resp.headers  # no ICE servers configured
                etag, location = resp.headers["ETag"], resp.headers["Location"]
            assert etag.startswith('"') and etag.endswith('"')
            url = server.base_url + location
            ufrag = next(ln for ln in sdp.splitlines() if ln.startswith("a=ice-ufrag:"))
            frag = f"{ufrag}\r\nm=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n{CANDIDATE}\r\n"
            trickle = {"Content-Type": "application/trickle-ice-sdpfrag"}
            cases = [
                ({}, frag, 428),
                ({"If-Match": '"other"'}, frag, 412),
                ({"If-Match": "*"}, "a=ice-ufrag:abcd\r\na=ice-pwd:" + "p" * 22 + "\r\n", 422),
                ({"If-Match": etag}, "a=ice-ufrag:zzzz\r\n" + CANDIDATE + "\r\n", 422),
                ({"If-Match": etag}, "not sdp", 400),
                ({"If-Match": etag, "Content-Type": "application/sdp"}, frag, 415),
            ]
            for extra, body, status in cases:
                async with s.patch(url, data=body, headers={**trickle, **extra}) as resp:
                    assert resp.status == status, (extra, body, await resp.text())
                    assert resp.headers["Access-Control-Allow-Origin"] == "*"
            async with s.patch(url, data=frag, headers={**trickle, "If-Match": etag}) as resp:
                assert resp.status == 204 and "ETag" not in resp.headers
                assert await resp.read() == b""
            session = next(iter(server.media.sessions.values()))
            ice = session.pc.getTransceivers()[0].receiver.transport.transport
            assert [(c.ip, c.port) for c in ice.getRemoteCandidates()] == [("127.0.0.1", 40000)]
            for resource in (url, f"{server.base_url}/whep/demo"):  # no representation
                async with s.get(resource) as resp:
                    assert resp.status == 204 and await resp.read() == b""
            async with s.delete(url, headers={"Origin": ORIGIN}) as resp:
                assert resp.status == 200
                assert resp.headers["Access-Control-Allow-Origin"] == "*"
            assert server.media.sessions == {}
            async with s.patch(url, data=frag, headers={**trickle, "If-Match": etag}) as resp:
                assert resp.status == 404
            async with s.get(url) as resp:
                assert resp.status == 404
            await pc.close()

    run(main())


@pytest.mark.slow  # ~5 s: the server's STUN gathering times out (nothing listens there)
def test_link_header_names_the_configured_stun_server() -> None:
    async def main() -> None:
        stun = "stun:127.0.0.1:9"
        async with (
            running_stack_server(host="none", stun=stun) as server,
            aiohttp.ClientSession() as s,
        ):
            pc, sdp = await recvonly_offer()
            headers = {"Content-Type": "application/sdp"}
            async with s.post(f"{server.base_url}/whep/demo", data=sdp, headers=headers) as resp:
                assert resp.status == 201
                assert resp.headers["Link"] == f'<{stun}>; rel="ice-server"'
            await pc.close()

    run(main())


def test_watch_page_is_served_for_a_valid_room() -> None:
    async def main() -> None:
        async with running_stack_server(host="none") as server, aiohttp.ClientSession() as s:
            async with s.get(f"{server.base_url}/watch/demo") as resp:
                assert resp.status == 200 and resp.content_type == "text/html"
                assert '<video id="ll-video"' in await resp.text()
            async with s.get(f"{server.base_url}/watch.js") as resp:
                assert resp.status == 200 and resp.content_type == "text/javascript"
                assert "LivelabWatch" in await resp.text()
            async with s.get(f"{server.base_url}/watch/no%20such%20room") as resp:
                assert resp.status == 400

    run(main())
