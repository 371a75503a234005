"""A reconnect storm: every viewer of a big room comes back at once after a `kill -9`.

`storm(viewers, processes)` starts the reference stack (`CrashingStack`: no media, a file
ledger, a known token secret), connects `viewers` WebSocket viewers to one room from
`processes` asyncio processes (tokens minted with the stack's secret, so no HTTP join), kills
the stack and restarts it on the same port. Every viewer saw its socket die at the same
instant and reconnects by `loadgen.backoff` with the viewers' own law (`STORM_BACKOFF` =
`DEFAULT_BACKOFF`: full jitter, base 0.25 s, cap 4 s), so all of them knock within one cap of
the restart — the storm.

The backoff window is that cap, counted from the restarted stack being ready: a viewer refused
while the stack was down is at most one ceiling (<= cap) from its next knock when the stack
comes back, and the stack admits each knock as it comes if it accepts at least viewers / cap
joins per second (500/s for 2,000 in 4 s). The cap is the one of the real viewers, not a
tighter one: 2,000 knocks inside 1 s need a 2,000/s accept rate that one stack process on a
shared 2-core machine does not have (docs/reliability.md). `ok` requires the p95 inside it.

Each viewer, on every (re)connect, sends a `ping` and a `vote` for a poll that does not exist,
both tagged with its own id, so the stack owes it three private frames: `welcome` (its
viewer_id), `pong` (its ping id) and `error` (its poll id as `ref`). A private frame carrying
another viewer's tag is counted in `foreign_frames` (must be 0). A viewer is back when its new
socket's `welcome` arrives; `reconnect_s` runs from the restarted stack being ready.

Locust is not involved (asyncio world only); run by `python -m benchmarks storm` (2,000
viewers) and by tests/reliability (200).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import random
import resource
import tempfile
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from loadgen.backoff import DEFAULT_BACKOFF, Backoff
from loadgen.chaos.killable_stack import CrashingStack
from loadgen.locust.samples import percentile

__all__ = ["STORM_BACKOFF", "StormResult", "storm"]

# The law the Locust viewers use (loadgen.backoff.DEFAULT_BACKOFF): the storm tests theirs.
STORM_BACKOFF = DEFAULT_BACKOFF
ROOM = "demo"
CONNECT_TIMEOUT_S = 120.0  # all viewers connected before the kill, s
BACK_TIMEOUT_S = 60.0  # all viewers back after the restart, s


@dataclass(frozen=True)
class StormResult:
    """What the storm showed; times in seconds. `ok`: the stack survived, every viewer came
    back, the p95 of the reconnect times is inside the backoff window (its cap, from the
    stack being ready), and no private frame reached the wrong viewer."""

    viewers: int
    processes: int
    connected_before: int
    outage_s: float
    back: int
    reconnect_p50_s: float
    reconnect_p95_s: float
    reconnect_max_s: float
    backoff_window_s: float
    within_window: int  # viewers back within backoff_window_s of the restart
    retries: int
    private_frames: int
    foreign_frames: int
    stack_alive: bool
    loadavg: tuple[float, float, float]

    @property
    def ok(self) -> bool:
        return (self.stack_alive and self.back == self.viewers
                and self.connected_before == self.viewers and self.foreign_frames == 0
                and self.p95_in_window)  # fmt: skip

    @property
    def p95_in_window(self) -> bool:
        return self.reconnect_p95_s <= self.backoff_window_s  # NaN (nobody back): False

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "p95_in_window": self.p95_in_window, "ok": self.ok}


def storm(viewers: int = 2000, processes: int = 2, backoff: Backoff = STORM_BACKOFF) -> StormResult:
    """Run one storm (module docstring). RuntimeError if viewers cannot connect at all."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # the stack (a child) inherits it: it must hold every socket
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ctx = mp.get_context("spawn")
    out: Any = ctx.Queue()
    with tempfile.TemporaryDirectory(prefix="livelab-storm-") as tmp:
        stack = CrashingStack(Path(tmp), room=ROOM, extra=("--rate-limit", "50"))
        pipes, procs = [], []
        try:
            stack.start()
            per = [viewers // processes + (1 if k < viewers % processes else 0)
                   for k in range(processes)]  # fmt: skip
            for k, count in enumerate(per):
                parent, child = ctx.Pipe()
                args = (stack.base_url, stack.secret, sum(per[:k]), count, backoff, child, out)
                p = ctx.Process(target=_worker, args=args, daemon=True)
                p.start()
                pipes.append(parent)
                procs.append(p)
            connected = sum(int(out.get(timeout=CONNECT_TIMEOUT_S)) for _ in procs)
            # Tell the workers first: a welcome after this mark is a viewer coming back.
            mark = time.time()
            _ask(pipes, ("back", mark))
            killed, ready = stack.crash()
            deadline = time.monotonic() + BACK_TIMEOUT_S
            while time.monotonic() < deadline:
                if _ask(pipes, ("back", mark)) >= viewers:
                    break
                time.sleep(0.2)
            time.sleep(1.0)  # the last viewers' pongs and errors are on their way
            alive = stack.children.items["stack"].running
            details = [_ask_one(p, ("stop",)) for p in pipes]
            for p in procs:
                p.join(timeout=30)
        finally:
            for p in procs:
                if p.is_alive():
                    p.kill()
            stack.stop()
    back = [t - ready for d in details for t in d["back_at"] if t is not None]
    one, five, fifteen = os.getloadavg()
    return StormResult(
        viewers=viewers,
        processes=processes,
        connected_before=connected,
        outage_s=round(ready - killed, 3),
        back=len(back),
        reconnect_p50_s=round(percentile(back, 50), 3) if back else float("nan"),
        reconnect_p95_s=round(percentile(back, 95), 3) if back else float("nan"),
        reconnect_max_s=round(max(back), 3) if back else float("nan"),
        backoff_window_s=backoff.cap_s,  # the module docstring says why the cap
        within_window=sum(1 for t in back if t <= backoff.cap_s),
        retries=sum(d["retries"] for d in details),
        private_frames=sum(d["own"] for d in details),
        foreign_frames=sum(d["foreign"] for d in details),
        stack_alive=alive,
        loadavg=(round(one, 2), round(five, 2), round(fifteen, 2)),
    )


def _ask(pipes: list[Any], cmd: tuple[Any, ...]) -> int:
    return sum(int(_ask_one(p, cmd)) for p in pipes)


def _ask_one(pipe: Any, cmd: tuple[Any, ...]) -> Any:
    pipe.send(cmd)
    if not pipe.poll(30.0):
        raise RuntimeError(f"storm worker did not answer {cmd[0]!r} within 30 s")
    return pipe.recv()


# ------------------------------------------------------------------------- worker process
def _worker(base: str, secret: str, first: int, count: int, backoff: Backoff, ctl: Any,
            out: Any) -> None:  # fmt: skip
    asyncio.run(_worker_main(base, secret, first, count, backoff, ctl, out))


@dataclass
class _Viewer:
    vid: str
    rng: random.Random
    welcomed_at: float | None = None  # epoch s of the latest welcome
    dropped_at: float | None = None
    back_at: float | None = None  # first welcome after the kill
    own: int = 0
    foreign: int = 0
    retries: int = 0
    n: int = 0


async def _worker_main(base: str, secret: str, first: int, count: int, backoff: Backoff,
                       ctl: Any, out: Any) -> None:  # fmt: skip
    import aiohttp

    from stack import TokenSigner

    signer = TokenSigner(secret.encode(), time.time)
    ws_base = base.replace("http://", "ws://", 1)
    stopping = asyncio.Event()
    gate = asyncio.Semaphore(100)  # handshakes in flight per process
    killed_at = [float("inf")]
    ids = [f"storm-{first + i}" for i in range(count)]
    # Each viewer's jitter comes from its own seeded generator: the same storm, the same draws.
    people = [_Viewer(vid, random.Random(zlib.crc32(vid.encode()))) for vid in ids]

    async def play(v: _Viewer, session: aiohttp.ClientSession) -> None:
        url = f"{ws_base}/api/rooms/{ROOM}/ws?token={signer.issue(ROOM, v.vid, 'ID', 3600)}"
        attempt = 0
        while not stopping.is_set():
            try:
                async with gate:
                    ws = await session.ws_connect(url, autoping=True, heartbeat=None)
            except (TimeoutError, aiohttp.ClientError, OSError):
                v.retries += 1
                await asyncio.sleep(backoff.delay_s(attempt, v.rng))
                attempt += 1
                continue
            attempt = 0
            v.n += 1
            await ws.send_str(json.dumps({"type": "ping", "id": f"p:{v.vid}:{v.n}"}))
            await ws.send_str(json.dumps({"type": "vote", "poll_id": f"x:{v.vid}:{v.n}",
                                          "option": "A"}))  # fmt: skip
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    _judge(v, json.loads(msg.data), killed_at[0])
            if stopping.is_set():
                break
            v.dropped_at = time.time()
            v.retries += 1
            await asyncio.sleep(backoff.delay_s(attempt, v.rng))
            attempt += 1

    timeout = aiohttp.ClientTimeout(total=None, connect=10.0)
    # limit=0: every WebSocket holds a connector slot for its whole life (default cap 100).
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        tasks = [asyncio.ensure_future(play(v, session)) for v in people]
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while sum(v.welcomed_at is not None for v in people) < count:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        out.put(sum(v.welcomed_at is not None for v in people))
        while True:
            cmd = await asyncio.to_thread(ctl.recv)
            if cmd[0] == "back":
                killed_at[0] = float(cmd[1])
                ctl.send(sum(v.back_at is not None for v in people))
                continue
            stopping.set()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            ctl.send({"back_at": [v.back_at for v in people],
                      "own": sum(v.own for v in people),
                      "foreign": sum(v.foreign for v in people),
                      "retries": sum(v.retries for v in people)})  # fmt: skip
            return


def _judge(v: _Viewer, msg: dict[str, Any], killed_at: float) -> None:
    """Count one frame: a private frame is ours only if it carries our tag."""
    for m in msg.get("messages", []) if msg.get("type") == "batch" else [msg]:
        kind = m.get("type")
        if kind == "welcome":
            mine = m.get("viewer_id") == v.vid
            if mine:
                v.welcomed_at = time.time()
                if v.back_at is None and v.welcomed_at > killed_at:
                    v.back_at = v.welcomed_at
        elif kind == "pong":
            mine = str(m.get("id", "")).startswith(f"p:{v.vid}:")
        elif kind == "error" and m.get("ref") is not None:
            mine = str(m.get("ref")).startswith(f"x:{v.vid}:")
        else:
            continue  # public frames (chat, host events) are everyone's
        if mine:
            v.own += 1
        else:
            v.foreign += 1
