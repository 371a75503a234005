"""A soak: one reference stack under the demo's interaction rates for minutes, sampled for leaks.

`soak(minutes)` starts the stack (synthetic host, file ledger), connects `viewers` WebSocket
viewers (chatting, liking and ordering at `demo_rates()`) from `processes` processes and
`whep` lite WHEP viewers from one more, and every `every_s` seconds samples the server: RSS
and open file descriptors (psutil, the server process), asyncio tasks and worst event-loop lag
(its /metrics: `livelab_stack_asyncio_tasks`, `livelab_stack_loop_lag_ms`), and the chat
delivery lag the sampled viewers saw in that interval (p95, ms).

The pass rule (`judge`): after the warm-up (`warmup_s`: 5 minutes for the 30-minute soak), RSS
and open FDs grow by less than 5 % over their value at the end of the warm-up, and the p95
delivery lag of everything after the warm-up is at most 20 % above the p95 of the warm-up.

The lag rule compares two stretches of time on one machine, so it only holds if the machine
was equally busy in both: on a shared machine other work slows the stack and its clients
alike. Each sample carries the machine's 1-minute load average; if its mean after the warm-up
exceeds `LOAD_RISE_MAX` times its mean during the warm-up (plus 0.5), the lag is reported but
not judged (`lag_judged` False, with the two load figures) rather than blamed on the stack.
RSS and FDs are judged regardless.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from loadgen.chaos.killable_stack import CrashingStack
from loadgen.chaos.soak_clients import Rates, whep_worker, ws_worker
from loadgen.locust.samples import percentile

__all__ = ["SoakSample", "SoakVerdict", "demo_rates", "judge", "soak"]

RSS_GROWTH_MAX = 0.05
FD_GROWTH_MAX = 0.05
LAG_RISE_MAX = 0.20
LOAD_RISE_MAX = 1.25  # machine load after / during the warm-up beyond which lag is not judged


@dataclass(frozen=True)
class SoakSample:
    """One sample, `t_s` seconds after the load started."""

    t_s: float
    rss_mb: float
    fds: int
    tasks: int
    loop_lag_ms: float
    lag_p95_ms: float
    lag_n: int
    ws_connections: int
    whep_viewers: int
    chats: int
    orders_ok: int
    loadavg: float = 0.0  # the machine's 1-minute load average


@dataclass(frozen=True)
class SoakVerdict:
    """Growth after the warm-up (fractions: 0.03 = 3 %) and the lag rule; `ok` all held."""

    warmup_s: float
    rss_growth: float
    fd_growth: float
    lag_p95_warmup_ms: float
    lag_p95_after_ms: float
    lag_rise: float
    samples: int
    load_warmup: float = 0.0
    load_after: float = 0.0

    @property
    def lag_judged(self) -> bool:
        return self.load_after <= LOAD_RISE_MAX * self.load_warmup + 0.5

    @property
    def ok(self) -> bool:
        lag_ok = self.lag_rise <= LAG_RISE_MAX or not self.lag_judged
        return self.rss_growth < RSS_GROWTH_MAX and self.fd_growth < FD_GROWTH_MAX and lag_ok

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "lag_judged": self.lag_judged, "ok": self.ok}


def judge(
    samples: Sequence[SoakSample], lags: Sequence[Sequence[float]], warmup_s: float
) -> SoakVerdict:
    """The pass rule of the module docstring. `lags[i]`: the raw lags (ms) behind sample i.
    ValueError if no sample lies on each side of the warm-up."""
    before = [i for i, s in enumerate(samples) if s.t_s <= warmup_s]
    after = [i for i, s in enumerate(samples) if s.t_s > warmup_s]
    if not before or not after:
        raise ValueError(f"need samples before and after the {warmup_s:g} s warm-up")
    base = samples[before[-1]]
    warm = [x for i in before for x in lags[i]]
    later = [x for i in after for x in lags[i]]
    p_warm = percentile(warm, 95) if warm else math.nan
    p_after = percentile(later, 95) if later else math.nan
    return SoakVerdict(
        warmup_s=warmup_s,
        rss_growth=round(max(samples[i].rss_mb for i in after) / base.rss_mb - 1.0, 4),
        fd_growth=round(max(samples[i].fds for i in after) / max(base.fds, 1) - 1.0, 4),
        lag_p95_warmup_ms=round(p_warm, 2),
        lag_p95_after_ms=round(p_after, 2),
        lag_rise=round(p_after / p_warm - 1.0, 4) if p_warm > 0 else math.inf,
        samples=len(samples),
        load_warmup=round(sum(samples[i].loadavg for i in before) / len(before), 2),
        load_after=round(sum(samples[i].loadavg for i in after) / len(after), 2),
    )


def demo_rates(workdir: Path) -> Rates:
    """Per viewer-minute rates of the demo scenario: chats and likes from its replayed window
    (the plan), orders from the whole modelled stream (orders / viewer-minutes watched), since
    the busiest window of a launch holds almost none."""
    import json

    from loadgen.chaos.run import plan_scenario
    from scenarios import load_scenario

    demo = Path(__file__).parents[2] / "scenarios" / "demo.toml"
    plan = plan_scenario(load_scenario(str(demo), [], None), workdir)
    minutes = sum(s.end_s - s.start_s for s in plan.scripts) / 60.0
    count = {k: sum(1 for s in plan.scripts for _, a in s.actions if a == k)
             for k in ("chat", "like")}  # fmt: skip
    model = json.loads((workdir / "model" / "metrics.json").read_text())["overall"]
    watched = model["arrivals"]["value"] * model["watch_time_mean_s"]["value"] / 60.0
    return Rates(chat=count["chat"] / minutes, like=count["like"] / minutes,
                 order=model["orders"]["value"] / watched)  # fmt: skip


def soak(
    minutes: float,
    *,
    viewers: int = 1000,
    whep: int = 50,
    processes: int = 2,
    every_s: float = 10.0,
    rates: Rates | None = None,
    say: Callable[[str], None] = print,
) -> tuple[list[SoakSample], list[list[float]], Rates]:
    """Run the soak (module docstring): (samples, the lags behind each sample, rates used)."""
    import psutil

    ctx = mp.get_context("spawn")
    out: Any = ctx.Queue()
    samples: list[SoakSample] = []
    lags: list[list[float]] = []
    with tempfile.TemporaryDirectory(prefix="livelab-soak-") as tmp:
        source = "given" if rates else "demo scenario"
        rates = rates or demo_rates(Path(tmp) / "demo")
        say(f"  rates per viewer-minute: chat {rates.chat:.3f}, like {rates.like:.3f}, "
            f"order {rates.order:.4f} ({source})")  # fmt: skip
        stack = CrashingStack(Path(tmp), extra=("--rate-limit", "50"), media=whep > 0)
        pipes: list[Any] = []
        procs: list[Any] = []
        try:
            stack.start()
            per = [viewers // processes + (k < viewers % processes) for k in range(processes)]
            for k, n in enumerate(per):
                parent, child = ctx.Pipe()
                args = (stack.base_url, stack.secret, sum(per[:k]), n, rates, 10, child, out)
                procs.append(ctx.Process(target=ws_worker, args=args, daemon=True))
                pipes.append(parent)
            if whep:
                parent, child = ctx.Pipe()
                url = f"{stack.base_url}/whep/demo"
                procs.append(ctx.Process(target=whep_worker, args=(url, whep, child, out),
                                         daemon=True))  # fmt: skip
                pipes.append(parent)
            for p in procs:
                p.start()
            ready = [out.get(timeout=180)[1] for _ in procs]
            say(f"  connected: {ready[: len(per)]} WebSocket viewers, {ready[len(per) :]} WHEP")
            server = psutil.Process(stack.children.items["stack"].proc.pid)
            t0 = time.monotonic()
            end = t0 + minutes * 60.0
            nxt = t0 + every_s
            while nxt <= end + 1e-6:
                time.sleep(max(nxt - time.monotonic(), 0.0))
                sample, window = _sample(server, stack.base_url, pipes, len(per), nxt - t0)
                samples.append(sample)
                lags.append(window)
                say(f"  {sample.t_s:6.0f} s  RSS {sample.rss_mb:7.1f} MB  FDs {sample.fds:5d}  "
                    f"tasks {sample.tasks:5d}  loop lag {sample.loop_lag_ms:6.1f} ms  "
                    f"delivery p95 {sample.lag_p95_ms:6.1f} ms (n={sample.lag_n})  "
                    f"load {sample.loadavg:.1f}")  # fmt: skip
                nxt += every_s
            for pipe in pipes:
                pipe.send(("stop",))
                if pipe.poll(60.0):
                    pipe.recv()
        finally:
            for p in procs:
                p.join(timeout=30)
                if p.is_alive():
                    p.kill()
            stack.stop()
    return samples, lags, rates


def _sample(server: Any, base: str, pipes: list[Any], ws_pipes: int, t_s: float
            ) -> tuple[SoakSample, list[float]]:  # fmt: skip
    rss = server.memory_info().rss / 1e6
    fds = server.num_fds()
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as resp:
        metrics = _gauges(resp.read().decode())
    replies = []
    for pipe in pipes[:ws_pipes]:
        pipe.send(("sample",))
        if not pipe.poll(30.0):
            raise RuntimeError("a soak client process stopped answering")
        replies.append(pipe.recv())
    window = [x for r in replies for x in r["lags"]]
    sample = SoakSample(
        t_s=round(t_s, 1),
        rss_mb=round(rss, 2),
        fds=int(fds),
        tasks=int(metrics.get("livelab_stack_asyncio_tasks", -1)),
        loop_lag_ms=metrics.get("livelab_stack_loop_lag_ms", math.nan),
        lag_p95_ms=round(percentile(window, 95), 1) if window else math.nan,
        lag_n=len(window),
        ws_connections=int(metrics.get("livelab_stack_ws_connections", -1)),
        whep_viewers=int(metrics.get("livelab_stack_whep_viewers", -1)),
        chats=sum(r["chats"] for r in replies),
        orders_ok=sum(r["orders_ok"] for r in replies),
        loadavg=round(os.getloadavg()[0], 2),
    )
    return sample, window


def _gauges(text: str) -> dict[str, float]:
    """Unlabelled samples of a Prometheus text page, by name."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith("#") and "{" not in parts[0]:
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                continue
    return out
