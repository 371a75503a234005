# mypy: disable-error-code="untyped-decorator,no-untyped-call"
"""Per-process state of a livelab Locust run, and the event wiring that moves samples.

Roles: a *local* runner (one process) plays every script and writes the outputs; in distributed
mode each *worker* plays its round-robin share of the scripts (`share_of`) and ships new sample
rows and a status line to the *master* every `SHIP_EVERY_S` seconds; the master merges them
and writes `samples.json` (exact samples) and `live.json` (status for the progress display)
into `--livelab-out`. Only ever imported inside Locust processes.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from pathlib import Path
from typing import Any

import gevent
from gevent.event import Event
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadgen.locust.adapter import Adapter
from loadgen.locust.adapter_load import load_adapter
from loadgen.locust.adapters import DEFAULT_ADAPTER
from loadgen.locust.options import LIVELAB_OPTIONS, env_var
from loadgen.locust.samples import SampleBook, percentile
from loadgen.plan import Plan, Script, load_plan, share_of

__all__ = ["RUNTIME", "Runtime"]

log = logging.getLogger(__name__)

SHIP_EVERY_S = 1.0
MSG_SAMPLES = "livelab_samples"


class Runtime:
    """What one Locust process knows about the run (a module-level singleton, `RUNTIME`)."""

    def __init__(self) -> None:
        self.env: Environment | None = None
        self.plan: Plan | None = None
        self.queue: deque[Script] = deque()
        self.t0: float | None = None  # monotonic seconds at this process's test start
        self.book = SampleBook()
        self.stopping = Event()
        self.codes: list[str] = []
        self.relays: dict[str, str] = {}
        self.active = 0
        self.active_by_market: dict[str, int] = {}
        self.started = 0
        self.finished = 0
        self.votes_skipped = 0
        self.disconnects = 0
        self.order_replays = 0
        self.worker_status: dict[str, dict[str, Any]] = {}
        self.cpu_max = 0.0
        self.base_url = ""
        self.room = "demo"
        self.linger_s = 5.0
        self.out: Path | None = None
        self.finalised = False
        self.extra_notes: dict[str, Any] = {}  # e.g. "aborted" (loadgen.locust.abort)
        self.adapter: type[Adapter] | None = None  # --livelab-adapter (loadgen.locust.adapter)

    # --- set-up ---------------------------------------------------------------------------
    def setup(self, env: Environment) -> None:
        opts = env.parsed_options
        self.env = env
        if opts is None or not getattr(opts, "livelab_plan", None):
            raise RuntimeError("livelab locustfile needs --livelab-plan PATH")
        self.plan = load_plan(opts.livelab_plan)
        self.room = opts.livelab_room
        self.linger_s = float(opts.livelab_linger_s)
        self.base_url = (env.host or opts.host or "").rstrip("/")
        self.adapter = load_adapter(opts.livelab_adapter or DEFAULT_ADAPTER)
        if opts.livelab_relays:
            self.relays = json.loads(Path(opts.livelab_relays).read_text())
        if opts.livelab_out and not isinstance(env.runner, WorkerRunner):
            self.out = Path(opts.livelab_out)
            self.out.mkdir(parents=True, exist_ok=True)
        if isinstance(env.runner, MasterRunner):
            env.runner.register_message(MSG_SAMPLES, self._on_samples)
        if isinstance(env.runner, WorkerRunner):
            gevent.spawn(self._ship_loop)
        elif self.out is not None:
            gevent.spawn(self._write_loop)

    def start(self) -> None:
        """Test start in this process: fix t0 and this worker's share of the scripts."""
        assert self.plan is not None and self.env is not None  # setup() ran at init
        runner = self.env.runner
        opts = self.env.parsed_options
        if isinstance(runner, WorkerRunner):
            workers = max(int(getattr(opts, "livelab_workers", 1) or 1), 1)
            index = runner.worker_index % workers
        else:
            workers, index = 1, 0
        self.queue = deque(
            self.plan.scripts[i] for i in share_of(len(self.plan.scripts), index, workers)
        )
        self.stopping.clear()
        self.t0 = time.monotonic()

    def now_s(self) -> float:
        """Seconds since this process's test start (plan time)."""
        return time.monotonic() - (self.t0 if self.t0 is not None else time.monotonic())

    def clock_at(self, t_s: float) -> float:
        """The monotonic clock reading at plan time `t_s`."""
        return (self.t0 if self.t0 is not None else time.monotonic()) + t_s

    def claim(self) -> Script | None:
        return self.queue.popleft() if self.queue else None

    # --- samples --------------------------------------------------------------------------
    def report(
        self,
        script: Script,
        metric: str,
        value_ms: float,
        ok: bool,
        error: str | None,
        exc: BaseException | None = None,
    ) -> None:
        """One measurement: into Locust's stats (type = market) and the exact sample book;
        `exc`, when given, is the failure Locust files it under (an adapter's own exception)."""
        assert self.env is not None
        if not ok and exc is None:
            exc = RuntimeError(error or "failed")
        self.env.events.request.fire(
            request_type=script.market,
            name=metric,
            response_time=value_ms,
            response_length=0,
            exception=None if ok else exc,
            context={"profile": script.profile},
        )
        self.book.add(metric, script.market, script.profile, value_ms, ok, self.now_s())

    def health(self, script: Script, metric: str, lag_s: float) -> None:
        self.book.add(
            metric, script.market, script.profile, max(lag_s, 0.0) * 1000.0, True, self.now_s()
        )

    def _status(self) -> dict[str, Any]:
        runner = self.env.runner if self.env else None
        cpu = float(getattr(runner, "current_cpu_usage", 0.0) or 0.0)
        self.cpu_max = max(self.cpu_max, cpu)
        return {
            "active": self.active,
            "active_by_market": dict(self.active_by_market),
            "started": self.started,
            "finished": self.finished,
            "votes_skipped": self.votes_skipped,
            "disconnects": self.disconnects,
            "order_replays": self.order_replays,
            "cpu": cpu,
            "cpu_max": self.cpu_max,
            "cpu_warning": bool(getattr(runner, "cpu_warning_emitted", False)),
            "pid": os.getpid(),
        }

    def ship(self) -> None:
        """Worker: send new rows and status to the master."""
        if self.env is None or not isinstance(self.env.runner, WorkerRunner):
            return
        self.env.runner.send_message(
            MSG_SAMPLES, {"rows": self.book.take_new(), "status": self._status()}
        )

    def _ship_loop(self) -> None:
        while True:
            gevent.sleep(SHIP_EVERY_S)
            self.ship()

    def _on_samples(self, environment: Environment, msg: Any, **kwargs: Any) -> None:
        data = msg.data
        self.book.extend(data.get("rows", []))
        self.worker_status[str(msg.node_id)] = dict(data.get("status", {}))

    # --- outputs (master or local) --------------------------------------------------------
    def statuses(self) -> dict[str, dict[str, Any]]:
        """Status by process of every process playing scripts: the workers' (by Locust node
        id), or this one's ("local")."""
        return dict(self.worker_status) or {"local": self._status()}

    def totals(self) -> dict[str, Any]:
        statuses = list(self.statuses().values())
        if self.worker_status and self.env is not None:
            # The master's own record of a worker CPU warning (Locust logs it there).
            warned = bool(getattr(self.env.runner, "worker_cpu_warning_emitted", False))
            statuses.append({"cpu_warning": warned})
        lags = self.book.values("start_lag_ms")
        return {
            "active": sum(int(s.get("active", 0)) for s in statuses),
            "started": sum(int(s.get("started", 0)) for s in statuses),
            "finished": sum(int(s.get("finished", 0)) for s in statuses),
            "votes_skipped": sum(int(s.get("votes_skipped", 0)) for s in statuses),
            "disconnects": sum(int(s.get("disconnects", 0)) for s in statuses),
            "order_replays": sum(int(s.get("order_replays", 0)) for s in statuses),
            "cpu_max": max(float(s.get("cpu_max", 0.0)) for s in statuses),
            "cpu_warning": any(bool(s.get("cpu_warning")) for s in statuses),
            "start_lag_p95_ms": percentile(lags, 95) if lags else 0.0,
            "start_lag_max_ms": max(lags, default=0.0),
            "workers": len(self.worker_status),
        }

    def write_outputs(self, final: bool = False) -> None:
        if self.out is None or self.plan is None or self.finalised:
            return
        self.finalised = final  # the periodic writer must not overwrite the final files
        runner = self.env.runner if self.env else None
        totals = self.totals()
        live = {
            "t_s": round(self.now_s(), 2) if self.t0 is not None else 0.0,
            "duration_s": self.plan.duration_s,
            "users": int(getattr(runner, "user_count", 0) or 0),
            "scripts": len(self.plan.scripts),
            "samples": len(self.book.rows),
            "errors": sum(1 for r in self.book.rows if not r[4]),
            "p95": self.book.p95s(),
            "final": final,
            **totals,
        }
        tmp = self.out / "live.json.tmp"
        tmp.write_text(json.dumps(live))
        tmp.replace(self.out / "live.json")
        self.book.notes = {
            **totals,
            "scripts": len(self.plan.scripts),
            "final": final,
            **self.extra_notes,
        }
        self.book.save(self.out / "samples.json")

    def _write_loop(self) -> None:
        while True:
            gevent.sleep(SHIP_EVERY_S)
            try:
                self.write_outputs()
            except OSError:
                log.exception("livelab: could not write live outputs")


RUNTIME = Runtime()


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("livelab")
    for option, kwargs in LIVELAB_OPTIONS:  # each also from its LOCUST_LIVELAB_… variable
        group.add_argument(option, env_var=env_var(option), **kwargs)


@events.init.add_listener
def _init(environment: Environment, **kwargs: Any) -> None:
    RUNTIME.setup(environment)


@events.test_start.add_listener
def _test_start(environment: Environment, **kwargs: Any) -> None:
    if not isinstance(environment.runner, MasterRunner):
        RUNTIME.start()
    elif RUNTIME.t0 is None:
        RUNTIME.t0 = time.monotonic()


@events.test_stopping.add_listener
def _test_stopping(environment: Environment, **kwargs: Any) -> None:
    RUNTIME.stopping.set()


@events.test_stop.add_listener
def _test_stop(environment: Environment, **kwargs: Any) -> None:
    RUNTIME.ship()


@events.quitting.add_listener
def _quitting(environment: Environment, **kwargs: Any) -> None:
    RUNTIME.stopping.set()
    RUNTIME.ship()
    RUNTIME.write_outputs(final=True)
