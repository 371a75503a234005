"""Stack benchmark (b): server CPU per WHEP viewer at 360p15 and glass-to-glass on loopback.

Lightweight viewers (real aiortc peer connections that reassemble but do not decode) in their
own processes load the server (target ≥ 200 viewers on one core); decoding viewers read the
barcode (target g2g p50 ≤ 60 ms): aiortc's stock receiver and the panel's receive path.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import os
import statistics
import time
from typing import Any

import numpy as np
import psutil

from benchmarks.stack_common import ROOM, cpu_s, metric, pct, self_cpu_s
from stack import start_stack_process, stop_stack_process


def _media_worker(url: str, ctl: Any, out: Any, nice: int = 0) -> None:
    if nice:
        # Load viewers yield the CPU to the server under test and to the latency probe: on a
        # small shared machine they would otherwise starve the very process being measured.
        os.nice(nice)
    asyncio.run(_media_worker_main(url, ctl, out))


async def _media_worker_main(url: str, ctl: Any, out: Any) -> None:
    """Holds lightweight viewers; commands: ("add", n), ("g2g", seconds), ("stop",)."""
    import aiohttp

    from loadgen.panel import WhepViewer
    from stack import restrict_ice_to_loopback

    restrict_ice_to_loopback()
    viewers: list[WhepViewer] = []
    async with aiohttp.ClientSession() as session:
        while True:
            cmd = await asyncio.to_thread(ctl.recv)
            if cmd[0] == "add":
                new = [WhepViewer(url, decode=False) for _ in range(cmd[1])]
                for v in new:
                    await v.start(session)
                viewers += new
                deadline = time.monotonic() + 30
                while any(v.stats.frames == 0 for v in new) and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                out.put(("added", sum(1 for v in new if v.stats.frames > 0), self_cpu_s()))
            elif cmd[0] == "g2g":
                probes = [WhepViewer(url, decode=True), WhepViewer(url, marker_frames=True)]
                for v in probes:
                    await v.start(session)
                await asyncio.sleep(cmd[1])
                out.put(
                    (
                        "g2g",
                        {
                            "stock": probes[0].stats.g2g_ms,
                            "marker": probes[1].stats.g2g_ms,
                            "unreadable": probes[0].stats.unreadable + probes[1].stats.unreadable,
                            "first_frame_ms": [
                                (v.stats.first_frame_ms or 0) - v.started_ms for v in probes
                            ],
                        },
                    )
                )
                for v in probes:
                    await v.close(session)
            elif cmd[0] == "frames":
                out.put(("frames", [v.stats.frames for v in viewers], self_cpu_s()))
            else:
                break
        for v in viewers:
            await v.close()


def bench_media(
    levels: tuple[int, ...] = (1, 50, 100, 150, 200),
    per_process: int = 50,
    window_s: float = 8.0,
    g2g_s: float = 10.0,
) -> dict[str, Any]:
    """Run benchmark (b); returns the figures."""
    proc, base = start_stack_process(["--publisher", "synthetic"], timeout_s=30)
    url = f"{base}/whep/{ROOM}"
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    workers: list[tuple[Any, Any]] = []
    rows: list[dict[str, Any]] = []
    g2g: dict[str, Any] = {}
    server = psutil.Process(proc.pid)

    def new_worker(nice: int = 10) -> Any:
        parent, child = ctx.Pipe()
        p = ctx.Process(target=_media_worker, args=(url, child, out, nice))
        p.start()
        workers.append((p, parent))
        return parent

    try:
        probe = new_worker(nice=0)  # the decoding viewers live in their own process
        probe.send(("g2g", g2g_s))
        g2g = out.get(timeout=120)[1]
        current = 0
        loaded: list[Any] = []
        for level in levels:
            while current < level:
                if not loaded or sum(1 for _ in loaded) * per_process <= current:
                    loaded.append(new_worker())
                batch = min(per_process - current % per_process, level - current)
                loaded[-1].send(("add", batch))
                ok = out.get(timeout=300)[1]
                current += batch
                if ok < batch:
                    print(f"  warning: only {ok}/{batch} viewers got video", flush=True)
            time.sleep(3.0)

            def client_cpu() -> float:
                total = 0.0
                for pipe in loaded:
                    pipe.send(("frames",))
                    total += out.get(timeout=60)[2]
                return total

            ccpu0 = client_cpu()
            pk0 = metric(base, "livelab_stack_rtp_packets_sent_total")
            cpu0, t0 = cpu_s(server), time.monotonic()
            time.sleep(window_s)
            cpu1, t1 = cpu_s(server), time.monotonic()
            pk1 = metric(base, "livelab_stack_rtp_packets_sent_total")
            ccpu = (client_cpu() - ccpu0) / (t1 - t0)
            cpu = (cpu1 - cpu0) / (t1 - t0)
            # The g2g probe is idle between measurements, so every packet went to a load viewer.
            pps = (pk1 - pk0) / (t1 - t0) / max(level, 1)
            rows.append(
                {
                    "viewers": level,
                    "server_cpu_cores": round(cpu, 3),
                    "packets_per_viewer_s": round(pps, 1),
                    "client_cpu_cores": round(ccpu, 3),
                    "loadavg": [round(x, 2) for x in os.getloadavg()],
                }
            )
            print(
                f"  {level:4d} WHEP viewers: server CPU {cpu * 100:5.1f} % of a core, "
                f"{pps:5.1f} RTP packets/s per viewer, load-viewer processes "
                f"{ccpu * 100:5.1f} % of a core, load avg {os.getloadavg()[0]:.2f}",
                flush=True,
            )
        if levels and levels[-1] > 0:
            probe.send(("g2g", g2g_s))
            g2g_loaded = out.get(timeout=120)[1]
        else:
            g2g_loaded = None
        frames = []
        for pipe in loaded:
            pipe.send(("frames",))
            frames += out.get(timeout=60)[1]
    finally:
        for _p, pipe in workers:
            with contextlib.suppress(BrokenPipeError, OSError):
                pipe.send(("stop",))
        for p, _ in workers:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
        stop_stack_process(proc)
    # Fit only levels where every viewer still got the full stream: a level where packets per
    # viewer fell (machine saturated, server starved of CPU) would flatter the slope.
    full = rows[0]["packets_per_viewer_s"] * 0.95 if rows else 0.0
    fitted = [r for r in rows if r["packets_per_viewer_s"] >= full]
    for r in rows:
        r["full_delivery"] = r in fitted
    xs = np.array([r["viewers"] for r in fitted], dtype=float)
    ys = np.array([r["server_cpu_cores"] for r in fitted], dtype=float)
    slope, intercept = np.polyfit(xs, ys, 1) if len(fitted) >= 2 else (float("nan"), 0.0)
    result: dict[str, Any] = {
        "levels": rows,
        "cpu_per_viewer_pct_core": round(float(slope) * 100, 3),
        "idle_cpu_pct_core": round(float(intercept) * 100, 2),
        "viewers_per_core": round((1 - intercept) / slope) if slope > 0 else None,
        "fitted_levels": [r["viewers"] for r in fitted],
        "g2g_stock_p50_ms": round(statistics.median(g2g["stock"]), 1) if g2g["stock"] else None,
        "g2g_marker_p50_ms": round(statistics.median(g2g["marker"]), 1) if g2g["marker"] else None,
        "g2g_marker_p95_ms": round(pct(g2g["marker"], 95), 1) if g2g["marker"] else None,
        "g2g_frames": len(g2g["stock"]) + len(g2g["marker"]),
        "g2g_unreadable": g2g["unreadable"],
        "first_frame_ms": [round(x) for x in g2g["first_frame_ms"]],
        "viewer_frames_min": min(frames) if frames else None,
    }
    if g2g_loaded is not None:
        result["g2g_under_load"] = {
            "viewers": levels[-1],
            "stock_p50_ms": round(statistics.median(g2g_loaded["stock"]), 1)
            if g2g_loaded["stock"]
            else None,
            "marker_p50_ms": round(statistics.median(g2g_loaded["marker"]), 1)
            if g2g_loaded["marker"]
            else None,
        }
    return result
