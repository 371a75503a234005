"""`livelab run`: simulate → plan → (reference stack) → Locust + media panel → measure → model
again with the measured experience → one run directory.

Layout of the run directory (`--out`):

- `model/` — the `livelab simulate` run directory of the scenario (modelled outcomes);
- `plan.json` — the load plan; `locust/` — Locust's CSV/JSON/HTML stats plus `samples.json`
  (every sample, exact) and `live.json`; `panel/` and `panel.json` — the media panel's outputs;
- `stack_metrics.prom` — the target's `/metrics` at the end; `logs/` — child process logs;
- `metrics.json` — measured experience overall, per market and per profile, the modelled
  business outcomes, and `with_measured_qoe` (the model re-run on the measured experience);
- `run.json` — what ran, where, when, and the outage windows seen by the health monitor.

Every child runs in its own process group; Ctrl-C (or SIGTERM) stops them all, Locust first
and gracefully so its samples are written, and still writes `metrics.json` from what was
measured (marked invalid, with a note).
"""

from __future__ import annotations

import functools
import json
import secrets
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from livelab.errors import RunError, TargetError
from loadgen.media_target import media_url
from loadgen.plan.host_peaks import stack_peak_args
from loadgen.run import finish as finishing
from loadgen.run.adapter_check import check_adapter
from loadgen.run.commands import (
    LocustSpec,
    locust_commands,
    panel_command,
    relay_command,
    stack_command,
)
from loadgen.run.generator_faults import GeneratorWatch
from loadgen.run.live_metrics import live_metrics_line
from loadgen.run.procs import Child, Children
from loadgen.run.progress import Progress, Status
from loadgen.run.record import RunOptions, RunOutcome, RunRecord, adapter_spec
from loadgen.run.target import HealthMonitor, check_allowed, fetch, is_loopback, wait_healthy
from netem_profiles import free_port
from stack import poll_until, read_ready

__all__ = ["RunOptions", "RunOutcome", "run"]

STACK_READY_S = 30.0
TARGET_CHECK_S = 5.0


def _peak_request_rate(plan: Any) -> float:
    per_second: dict[int, int] = {}
    for s in plan.scripts:
        for t, kind in s.actions:
            if kind != "leave":
                per_second[int(t)] = per_second.get(int(t), 0) + 1
    return float(max(per_second.values(), default=0))


class _Run:
    """The run while it runs (mutable, private here); `record()` freezes what it did."""

    def __init__(self, scenario: Any, options: RunOptions, command: Sequence[str]) -> None:
        self.scenario = scenario
        self.opts = options
        self.command = list(command)
        self.load = scenario.load
        self.out = options.out
        self.children = Children()
        self.t_start = time.monotonic()
        self.clock: Callable[[], float] = lambda: time.monotonic() - self.t_start
        self.status = Status()
        self.notes: list[str] = []
        self.base_url = ""
        self.monitor: HealthMonitor | None = None
        self.stack_restarts: list[float] = []
        self.plan: Any = None
        self.model_results: tuple[Any, ...] = ()
        self.model_doc: dict[str, Any] = {}
        self.locust_rc: int | None = None
        self.stack_cmd: list[str] | None = None
        self.web_url: str | None = None
        self.generators = GeneratorWatch()
        self.load_stopping = False  # the run stops Locust itself from here on

    def record(self) -> RunRecord:
        """What the run did so far, frozen, for `loadgen.run.finish`."""
        outages = self.monitor.outages if self.monitor else []
        return RunRecord(
            scenario=self.scenario, options=self.opts, command=tuple(self.command),
            base_url=self.base_url, elapsed_s=self.clock(),
            model_results=tuple(self.model_results), model_doc=self.model_doc, plan=self.plan,
            outages=tuple(tuple(o) for o in outages), stack_restarts_s=tuple(self.stack_restarts),
            locust_rc=self.locust_rc, notes=tuple(self.notes),
            generator_faults=tuple(self.generators.faults),
        )  # fmt: skip

    # --- phases ---------------------------------------------------------------------------
    def simulate(self) -> None:
        import sim
        from livelab import __version__
        from reports import write_run
        from scenarios import scenario_hash

        self.status.phase = "simulating"
        results = sim.simulate_all(self.scenario)
        self.model_results = tuple(results)
        digest = scenario_hash(self.scenario)
        self.model_doc = sim.metrics_document(
            results, self.scenario, scenario_hash=digest, version=__version__
        )
        write_run(  # the model's results, written once; the plan takes them from memory
            self.out / "model",
            results,
            self.scenario,
            self.model_doc,
            command=self.command,
            version=__version__,
            scenario_hash=digest,
        )

    def compile_plan(self) -> None:
        from loadgen.plan import compile_plan, model_run_from_results, save_plan

        self.status.phase = "planning"
        self.plan = compile_plan(
            model_run_from_results(self.model_results, self.scenario),  # in memory, not model/
            scale=self.load.scale,
            window=self.load.window,
            window_s=self.load.window_s,
            panel_viewers=self.load.panel_viewers if self.opts.panel else 0,
            probe_share=self.load.panel_probe_share,
            kinds=self.load.panel_kinds,
            max_duration_s=self.load.max_duration_s,
            source={"run_dir": "model"},
            actor_scale=self.load.actor_scale,
        )
        save_plan(self.plan, self.out / "plan.json")
        self.status.scripts = len(self.plan.scripts)

    def _stack_schedule(self) -> tuple[float, float]:
        # The reference stack's host runs its mini-peaks (lottery, flash deal, poll, in turn) on a
        # compressed cadence so the replayed window holds one of each: polls to vote in, deals.
        every = max(self.plan.duration_s / 4.0, 15.0)
        return every, every / 3.0

    def start_stack(self, port: int = 0) -> None:
        self.status.phase = "starting the reference stack"
        ready = self.out / "logs" / "stack.ready"
        ready.unlink(missing_ok=True)
        if self.stack_cmd is None:
            every, ahead = self._stack_schedule()
            self.stack_cmd = stack_command(
                ready, room=self.opts.room, db=self.out / "stack_ledger.sqlite",
                secret=secrets.token_hex(16), mini_peak_every_s=every, announce_ahead_s=ahead,
                think_time_s=self.scenario.host.answer_s,
                extra=(*stack_peak_args(self.plan), *self.opts.stack_args),
            )  # fmt: skip
        cmd = list(self.stack_cmd)
        cmd[cmd.index("--port") + 1] = str(port)
        child = self.children.start("stack", cmd, self.out / "logs" / "stack.log")
        (self.out / "logs" / "stack.pid").write_text(f"{child.proc.pid}\n")
        self.base_url = _ready(child, lambda: read_ready(ready), STACK_READY_S,
                               "the reference stack")  # fmt: skip

    def adapter_spec(self) -> str:
        """The interaction adapter, "package.module:Class"; "" for livelab's own protocol."""
        return adapter_spec(self.opts, self.load)

    def check_target(self) -> None:
        assert self.opts.target is not None
        self.base_url = self.opts.target.rstrip("/")
        check_allowed(self.base_url, self.opts.allow_remote)

    def announce_remote(self, progress: Progress) -> None:
        if is_loopback(self.base_url):
            return
        progress.say(
            f"REMOTE TARGET {self.base_url}: up to {_peak_request_rate(self.plan):.0f} requests "
            f"and messages per second from {len(self.plan.scripts)} virtual viewers "
            f"(peak {self.plan.peak_concurrency} concurrent) for {self.plan.duration_s:.0f} s, "
            f"plus {self.plan.panel.get('viewers', 0)} WHEP media viewers."
        )

    def start_relays(self) -> Path | None:
        """With `load.ws_through_profile`: one impairing TCP relay per network profile of the
        plan; returns the profile → host:port file for the Locust users (None otherwise)."""
        if not self.load.ws_through_profile:
            return None
        self.status.phase = "starting network-profile relays"
        target = self.base_url.split("://", 1)[1].split("/", 1)[0]
        relays: dict[str, str] = {}
        for k, profile in enumerate(sorted({s.profile for s in self.plan.scripts})):
            cmd = relay_command(profile, target, origin=self.scenario.stream.origin,
                                seed=self.plan.seed + k)  # fmt: skip
            child = self.children.start(
                f"relay-{profile}", cmd, self.out / "logs" / f"relay-{profile}.log"
            )
            relays[profile] = _ready(child, functools.partial(_listening, child), 20.0,
                                     f"the relay for {profile}")  # fmt: skip
        path = self.out / "relays.json"
        path.write_text(json.dumps(relays, indent=2, sort_keys=True) + "\n")
        return path

    def start_load(self) -> None:
        from loadgen.run.abort import write_abort_spec

        abort = write_abort_spec(self.scenario.gates, self.out, self.scenario.scenario.name)
        relays = self.start_relays()
        self.status.phase = "load"
        locust_out = self.out / "locust"
        locust_out.mkdir(parents=True, exist_ok=True)
        workers = self.opts.workers if self.opts.workers is not None else self.load.workers
        spec = LocustSpec(
            host=self.base_url, plan=self.out / "plan.json", out=locust_out, room=self.opts.room,
            workers=workers, external_workers=self.opts.external_workers,
            master_port=self.opts.master_port, web=self.opts.web, web_port=free_port(),
            stop_timeout_s=self.load.drain_s + 5, relays=relays, abort=abort,
            adapter=self.adapter_spec(),
        )  # fmt: skip
        cmds = locust_commands(spec)
        for name, cmd in cmds.items():
            self.children.start(name, cmd, self.out / "logs" / f"{name}.log")
        if self.opts.web:
            self.web_url = f"http://127.0.0.1:{spec.web_port}"
        panel = self.plan.panel
        if self.opts.panel and panel.get("viewers", 0) > 0 and panel.get("profiles"):
            media = media_url(self.base_url, self.opts.room, self.opts.media)
            cmd = panel_command(
                media, panel["profiles"], panel["probes"],
                self.plan.duration_s, self.out / "panel", seed=self.plan.seed,
                allow_remote=self.opts.allow_remote, browsers=panel.get("browsers", 0),
            )  # fmt: skip
            self.children.start("panel", cmd, self.out / "logs" / "panel.log")
            self.status.panel_viewers = int(panel["viewers"])

    def watch(self, progress: Progress) -> None:
        """Until Locust ends: refresh the display, restart our stack if it died."""
        live_path = self.out / "locust" / "live.json"
        end_by = self.clock() + self.plan.duration_s + self.load.drain_s + 120.0
        locust = self.children.items["locust"]
        while locust.running:
            self._tick(progress, live_path)
            if self.clock() > end_by:
                self.notes.append("Locust overran the plan by 120 s and was stopped")
                break
            time.sleep(0.25)
        self._tick(progress, live_path)  # a master killed in the last quarter second
        self.load_stopping = True
        # Its exit code is judged in `finish` (loadgen.run.locust_exit).
        self.locust_rc = self.children.stop("locust", signal.SIGTERM, timeout_s=15.0)
        for name in list(self.children.items):
            if name.startswith("locust-worker"):
                self.children.stop(name, timeout_s=10.0)
        self._tick(progress, live_path)
        panel = self.children.items.get("panel")
        if panel is not None:
            self.status.phase = "waiting for the media panel"
            deadline = self.clock() + 60.0
            while panel.running and self.clock() < deadline:
                self._tick(progress, live_path)
                time.sleep(0.25)
            rc = self.children.stop("panel", signal.SIGINT, timeout_s=15.0)
            if rc not in (0, None) and not self.generators.failed("panel"):
                self.notes.append(f"media panel exited with {rc}: {panel.log_tail(3)}")

    def _tick(self, progress: Progress, live_path: Path) -> None:
        self.status.elapsed_s = self.clock()
        try:
            live = json.loads(live_path.read_text())
        except (OSError, ValueError):
            live = {}
        if live:
            self.status.update_from_live(live)
            self.status.remaining_s = max(
                float(live.get("duration_s", 0)) - float(live.get("t_s", 0)), 0.0
            )
        self.status.target_down = bool(self.monitor and self.monitor.down)
        self.generators.check(self.children.items, self.clock(), self.load_stopping)
        stack = self.children.items.get("stack")
        if stack is not None and not stack.running and self.opts.target is None:
            self.stack_restarts.append(round(self.clock(), 2))
            progress.say(f"the reference stack exited ({stack.proc.returncode}); restarting it")
            port = int(self.base_url.rsplit(":", 1)[1])
            try:
                self.start_stack(port=port)
            except RunError as exc:
                self.notes.append(f"could not restart the reference stack: {exc}")
            self.status.phase = "load"
        progress.refresh()

    def scrape(self) -> None:
        try:
            (self.out / "stack_metrics.prom").write_bytes(fetch(f"{self.base_url}/metrics", 5.0))
        except OSError as exc:
            self.notes.append(f"could not scrape {self.base_url}/metrics: {exc}")


def run(
    scenario: Any,
    options: RunOptions,
    command: Sequence[str] = (),
    on_done: Callable[[RunOutcome], None] | None = None,
) -> RunOutcome:
    """Run the whole job (see the module docstring). Raises TargetError (exit 3) when the
    target does not answer; partial results stay in `options.out`."""
    r = _Run(scenario, options, command)
    r.out.mkdir(parents=True, exist_ok=True)
    (r.out / "logs").mkdir(exist_ok=True)
    interrupted = False
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if r.adapter_spec():  # a broken adapter costs nothing either (a child imports it)
            check_adapter(r.adapter_spec(), _adapter_source(options))
        with Progress(r.status, r.clock, live=options.live_display) as progress:
            try:
                if options.target is not None:
                    r.check_target()  # a refused URL costs nothing: before the model runs
                r.simulate()
                r.compile_plan()
                if options.target is not None:
                    r.announce_remote(progress)
                    wait_healthy(r.base_url, TARGET_CHECK_S)
                else:
                    r.start_stack()
                r.monitor = HealthMonitor(r.base_url, r.clock)
                r.monitor.start()
                r.start_load()
                if r.web_url:
                    progress.say(f"Locust web UI: {r.web_url}")
                progress.say(live_metrics_line(r.children, r.out, r.base_url))
                r.watch(progress)
                r.status.phase = "measuring"
                r.scrape()
            except KeyboardInterrupt:
                interrupted = True
                r.status.phase = "interrupted"
                progress.say("interrupted: stopping everything and writing partial results")
                r.children.stop("locust", signal.SIGTERM, timeout_s=10.0)
            except TargetError as exc:
                r.notes.append(str(exc))
                finishing.write_run_info(r.record(), error=str(exc))
                raise
            finally:
                if r.monitor is not None:
                    r.monitor.stop()
                r.children.stop_all(timeout_s=10.0)
                r.status.phase = "closing the loop" if not interrupted else "interrupted"
                progress.refresh()
        outcome = finishing.finish(r.record(), interrupted=interrupted)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if on_done is not None:
        on_done(outcome)
    return outcome


def _listening(child: Child) -> str | None:
    """The address a relay child printed as `... listening on HOST:PORT ...`, once it has."""
    words = child.log_tail(5).split()
    return words[words.index("listening") + 2] if "listening" in words else None


def _ready(child: Child, probe: Callable[[], str | None], timeout_s: float, what: str) -> str:
    """`probe()`'s value once `child` is ready; RunError naming `what` if it exits or is late."""
    try:
        return poll_until(probe, alive=lambda: child.running, timeout_s=timeout_s)
    except ChildProcessError:
        raise RunError(f"{what} exited before it was ready:\n{child.log_tail()}") from None
    except TimeoutError:
        raise RunError(f"{what} was not ready within {timeout_s:g} s") from None


def _adapter_source(options: RunOptions) -> str:
    return "--adapter" if options.adapter is not None else "[load] adapter"


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
