"""`LiveStack`: a stack on 127.0.0.1:0 and a `FuzzHarness` on an event loop in a background
thread, so a synchronous hypothesis test (or the benchmark) can drive them input by input.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable
from typing import TypeVar

import aiohttp

from benchmarks.fuzz_harness import ADMIN_TOKEN, FuzzFailure, FuzzHarness
from benchmarks.fuzz_inputs import HttpInput, RawInput, WsInput
from stack.testing import running_stack_server

__all__ = ["LiveStack"]

T = TypeVar("T")


class LiveStack:
    """A stack on 127.0.0.1:0 plus a `FuzzHarness`, on an event loop in a background thread.

    ``with LiveStack(db_path) as live: live.send(inp); live.check_invariants()`` — each call
    waits at most `timeout_s` seconds for its answer.
    """

    def __init__(self, db_path: str, timeout_s: float = 60.0) -> None:
        self.db_path = db_path
        self.timeout_s = timeout_s
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fuzz-stack")
        self._stack: contextlib.AsyncExitStack | None = None
        self.harness: FuzzHarness | None = None

    def _call(self, coro: Awaitable[T]) -> T:
        future = asyncio.run_coroutine_threadsafe(_as_coro(coro), self._loop)
        try:
            return future.result(self.timeout_s)
        except TimeoutError:
            future.cancel()
            raise FuzzFailure(f"no answer within {self.timeout_s} s") from None

    async def _start(self) -> FuzzHarness:
        self._stack = contextlib.AsyncExitStack()
        server = await self._stack.enter_async_context(
            running_stack_server(
                host="none", db=self.db_path, admin_token=ADMIN_TOKEN, rate_limit_per_s=1e6
            )
        )
        session = await self._stack.enter_async_context(aiohttp.ClientSession())
        harness = FuzzHarness(server, session, self.db_path)
        await harness.start()
        self._stack.push_async_callback(harness.close)
        return harness

    def __enter__(self) -> LiveStack:
        self._thread.start()
        try:
            self.harness = self._call(self._start())
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stack is not None:
            self._call(self._stack.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=self.timeout_s)
        if not self._thread.is_alive():
            self._loop.close()

    def send(self, inp: WsInput | HttpInput | RawInput) -> str:
        assert self.harness is not None  # inside `with`
        return self._call(self.harness.send(inp))

    def check_invariants(self) -> dict[str, int]:
        assert self.harness is not None  # inside `with`
        return self._call(self.harness.check_invariants())


async def _as_coro(awaitable: Awaitable[T]) -> T:
    return await awaitable
