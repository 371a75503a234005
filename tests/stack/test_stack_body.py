"""A request body that arrives in several segments is read whole (`stack.body.read_body`)."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from stack.body import read_body


def test_body_in_slow_segments_is_read_whole_and_an_oversized_one_is_cut_at_limit_plus_one():
    async def go() -> list[str]:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(text=str(len(await read_body(request, 5000))))

        app = web.Application()
        app.router.add_post("/", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

        async def segments(n: int, size: int):
            for _ in range(n):
                yield b"x" * size
                await asyncio.sleep(0.02)  # each segment is its own TCP write

        out = []
        try:
            async with aiohttp.ClientSession() as session:
                for n, size in ((4, 1200), (1, 10), (3, 3000)):
                    async with session.post(
                        f"http://127.0.0.1:{port}/", data=segments(n, size)
                    ) as r:
                        out.append(await r.text())
        finally:
            await runner.cleanup()
        return out

    assert asyncio.run(go()) == ["4800", "10", "5001"]
