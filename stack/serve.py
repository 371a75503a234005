"""Run the stack until SIGTERM/SIGINT: bind, announce the URL, then shut down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from netem_profiles import netio
from stack.httplog import http_logger
from stack.ice import restrict_ice_to_loopback
from stack.options import StackOptions
from stack.ready import write_ready
from stack.server import StackServer

__all__ = ["run_server", "serve"]


@contextlib.asynccontextmanager
async def run_server(
    options: StackOptions, clock_ms: Callable[[], float] | None = None
) -> AsyncIterator[StackServer]:
    """Start a `StackServer` on `options.bind:port`; `server.base_url` holds the real URL.

    `clock_ms` (epoch ms) is the server's clock: tokens, timestamps, rate limits (default the
    wall clock); tests pass one they move by hand.
    """
    if netio.is_loopback(options.bind):
        restrict_ice_to_loopback()
    server = StackServer(options) if clock_ms is None else StackServer(options, clock_ms)
    runner = web.AppRunner(
        server.build_app(),
        handle_signals=False,
        access_log=None,
        shutdown_timeout=2.0,
        logger=http_logger(),
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, options.bind, options.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        server.base_url = f"http://{host}:{port}"
        yield server
    finally:
        await runner.cleanup()


async def serve(
    options: StackOptions,
    ready_file: str | None = None,
    say: Callable[[str], None] = lambda s: print(s, flush=True),
) -> None:
    """Serve until SIGTERM or SIGINT; peer connections are closed and the ledger flushed."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with run_server(options) as server:
        if not netio.is_loopback(options.bind):
            say(
                f"WARNING: serving on {options.bind} (not loopback): WebSocket, HTTP and WebRTC "
                "media will be reachable from other machines; ICE gathers all interfaces."
            )
        say(f"listening on {server.base_url}")
        say(f"watch in a browser: {server.base_url}/watch/{options.room}")
        if options.host == "synthetic":
            say(f"synthetic host in room {options.room!r}: {server.base_url}/whep/{options.room}")
        if ready_file:
            write_ready(ready_file, server.base_url)
        await stop.wait()
        say("stopping")
    print("stopped", file=sys.stderr, flush=True)
