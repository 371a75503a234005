"""Stack benchmark (a): 2,000 WebSocket viewers in one room, 100 chat messages/s in (issue 3).

p95 delivery lag (client send → every sampled viewer's receive; target ≤ 250 ms) and deliveries
per second per server core; the clients are minimal RFC 6455 clients in their own processes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing as mp
import os
import secrets
import time
from typing import Any

import psutil

from benchmarks.stack_common import ROOM, cpu_s, metric, metrics_text, pct, self_cpu_s
from stack import start_stack_process, stop_stack_process


def _ws_worker(
    base: str,
    secret: str,
    first: int,
    count: int,
    senders: int,
    rate: float,
    sample_every: int,
    ctl: Any,
    out: Any,
) -> None:
    asyncio.run(_ws_worker_main(base, secret, first, count, senders, rate, sample_every, ctl, out))


class _WsViewer(asyncio.Protocol):
    """A minimal RFC 6455 client: the load generator must stay lighter than the server.

    Every viewer parses frame headers (to answer pings); only sampled viewers decode JSON and
    record lag. Client frames are masked with the all-zero key (valid framing, no XOR cost).
    """

    def __init__(self, path: str, host: str, sampled: bool, lags: list[tuple[float, float]]):
        self.path, self.host, self.sampled, self.lags = path, host, sampled, lags
        self.buf = b""
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.frames = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(  # type: ignore[attr-defined]
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError("closed before upgrade"))

    def send_text(self, text: str) -> None:
        payload = text.encode()
        n = len(payload)
        head = bytes((0x81, 0x80 | n)) if n < 126 else bytes((0x81, 0xFE)) + n.to_bytes(2, "big")
        assert self.transport is not None  # connected before anyone sends
        self.transport.write(head + b"\0\0\0\0" + payload)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded.done():
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = self.buf.split(b" ", 2)[1]
            self.buf = self.buf[end + 4 :]
            if status != b"101":
                self.upgraded.set_exception(ConnectionError(f"HTTP {status!r}"))
                return
            self.upgraded.set_result(None)
        buf = self.buf
        while len(buf) >= 2:
            opcode, n, pos = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, pos = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, pos = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < pos + n:
                break
            payload, buf = buf[pos : pos + n], buf[pos + n :]
            self.frames += 1
            if opcode == 0x9 and self.transport is not None:  # ping -> pong (masked, zero key)
                self.transport.write(bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload)
            elif opcode == 0x1 and self.sampled:
                now = time.time() * 1000
                msg = json.loads(payload)
                for m in msg["messages"] if msg["type"] == "batch" else [msg]:
                    if m["type"] == "chat":
                        sent = float(m["text"])
                        self.lags.append((sent, now - sent))
        self.buf = buf


async def _ws_worker_main(
    base: str,
    secret: str,
    first: int,
    count: int,
    senders: int,
    rate: float,
    sample_every: int,
    ctl: Any,
    out: Any,
) -> None:
    from yarl import URL

    from stack import TokenSigner

    signer = TokenSigner(secret.encode(), time.time)
    url = URL(base)
    host, port = str(url.host), int(url.port or 80)
    loop = asyncio.get_running_loop()
    lags: list[tuple[float, float]] = []
    sem = asyncio.Semaphore(50)

    async def connect(i: int) -> _WsViewer:
        token = signer.issue(ROOM, f"viewer-{first + i}", "ID", 3600)
        path = f"/api/rooms/{ROOM}/ws?token={token}"
        async with sem:
            _, viewer = await loop.create_connection(
                lambda: _WsViewer(path, f"{host}:{port}", i % sample_every == 0, lags),
                host,
                port,
            )
            await viewer.upgraded
        return viewer

    viewers = list(await asyncio.gather(*(connect(i) for i in range(count))))
    out.put(("ready", count))
    await asyncio.to_thread(ctl.recv)  # "go"

    async def send(viewer: _WsViewer, k: int) -> None:
        period = 1.0 / rate
        t0 = loop.time() + k * period / max(senders, 1)
        n = 0
        while True:
            delay = t0 + n * period - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            text = f"{time.time() * 1000:.3f}"
            viewer.send_text(json.dumps({"type": "chat", "id": f"{k}-{n}", "text": text}))
            n += 1

    writers = [asyncio.ensure_future(send(viewers[k], k)) for k in range(senders)]
    await asyncio.to_thread(ctl.recv)  # "stop"
    for task in writers:
        task.cancel()
    await asyncio.gather(*writers, return_exceptions=True)
    frames = sum(v.frames for v in viewers)
    for v in viewers:
        if v.transport is not None:
            v.transport.close()
    out.put(("done", {"lags": lags, "frames": frames, "cpu_s": self_cpu_s()}))


def _lag_buckets(base: str, name: str = "livelab_stack_delivery_lag_ms") -> dict[float, float]:
    """Cumulative counts of one of the server's histograms, by upper bound (ms)."""
    out = {}
    for line in metrics_text(base).splitlines():
        if line.startswith(name + "_bucket"):
            bound = line.split('le="')[1].split('"')[0]
            out[float("inf") if bound == "+Inf" else float(bound)] = float(line.split()[1])
    return out


def _bucket_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """Upper bound of the histogram bucket holding quantile `q` of the window's observations."""
    diffs = [(b, after[b] - before.get(b, 0.0)) for b in sorted(after)]
    total = diffs[-1][1]
    for bound, cum in diffs:
        if total and cum >= q * total:
            return bound
    return float("nan")


def bench_ws(
    viewers: int = 2000,
    rate: float = 100.0,
    duration_s: float = 20.0,
    workers: int = 2,
    senders: int = 20,
    sample_every: int = 10,
) -> dict[str, Any]:
    """Run benchmark (a); returns the figures."""
    secret = secrets.token_hex(16)
    proc, base = start_stack_process(
        ["--publisher", "none", "--secret", secret, "--rate-limit", "50"], timeout_s=30
    )
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    pipes, procs = [], []
    try:
        per = viewers // workers
        for w in range(workers):
            parent, child = ctx.Pipe()
            p = ctx.Process(
                target=_ws_worker,
                args=(
                    base,
                    secret,
                    w * per,
                    per,
                    senders if w == 0 else 0,
                    rate / senders,
                    sample_every,
                    child,
                    out,
                ),
            )
            p.start()
            pipes.append(parent)
            procs.append(p)
        connected = sum(out.get(timeout=300)[1] for _ in procs)
        server = psutil.Process(proc.pid)
        for pipe in pipes:
            pipe.send("go")
        time.sleep(3.0)  # warm-up: batching and socket buffers reach steady state
        t0, cpu0 = time.time() * 1000, cpu_s(server)
        out0 = metric(base, "livelab_stack_ws_messages_out_total")
        in0 = metric(base, 'livelab_stack_ws_messages_in_total{type="chat"}')
        hist0 = _lag_buckets(base)
        fan0 = _lag_buckets(base, "livelab_stack_fanout_ms")
        time.sleep(duration_s)
        t1, cpu1 = time.time() * 1000, cpu_s(server)
        out1 = metric(base, "livelab_stack_ws_messages_out_total")
        in1 = metric(base, 'livelab_stack_ws_messages_in_total{type="chat"}')
        hist1 = _lag_buckets(base)
        fan1 = _lag_buckets(base, "livelab_stack_fanout_ms")
        load = os.getloadavg()
        for pipe in pipes:
            pipe.send("stop")
        results = [out.get(timeout=120)[1] for _ in procs]
        for p in procs:
            p.join(timeout=30)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
        stop_stack_process(proc)
    lags = [lag for r in results for (sent, lag) in r["lags"] if t0 <= sent <= t1 - 2000]
    window_s = (t1 - t0) / 1000
    server_cpu = (cpu1 - cpu0) / window_s
    deliveries = (out1 - out0) / window_s
    client_cpu = sum(r["cpu_s"] for r in results)
    return {
        "viewers": connected,
        "chat_in_per_s": round((in1 - in0) / window_s, 1),
        "lag_p50_ms": round(pct(lags, 50), 1),
        "lag_p95_ms": round(pct(lags, 95), 1),
        "lag_p99_ms": round(pct(lags, 99), 1),
        "lag_samples": len(lags),
        "server_lag_p50_bucket_ms": _bucket_quantile(hist0, hist1, 0.50),
        "server_lag_p95_bucket_ms": _bucket_quantile(hist0, hist1, 0.95),
        "server_fanout_p50_bucket_ms": _bucket_quantile(fan0, fan1, 0.50),
        "server_fanout_p95_bucket_ms": _bucket_quantile(fan0, fan1, 0.95),
        "deliveries_per_s": round(deliveries),
        "server_cpu_cores": round(server_cpu, 3),
        "deliveries_per_s_per_core": round(deliveries / server_cpu) if server_cpu else None,
        "client_cpu_s_total": round(client_cpu, 1),
        "client_processes": workers,
        "window_s": round(window_s, 1),
        "loadavg_end": [round(x, 2) for x in load],
    }


# ---------------------------------------------------------------------------------- (b) media
