"""`livelab chaos`: replay a scenario's load while killing the stack with `kill -9`, then check
that the ledger kept every acknowledged order exactly once.

Phases: model and plan the scenario (as `livelab run` does) → start the reference stack on a
file ledger → start Locust (one local process) with the chaos locustfile → at each kill moment
(`moments.kill_moments`, plan seconds) `kill -9` the stack and restart it on the same port,
ledger and secret → when Locust ends, replay every acknowledged order with its key against the
last life of the stack → stop it gracefully, read the ledger → `verdict.judge`.

The run directory (`--out`) holds `model/`, `plan.json`, `locust/` (Locust's stats and
`chaos-events.jsonl`), `stack_ledger.sqlite`, `logs/` and `chaos.json` (`ChaosVerdict`).
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livelab.errors import ConfigError, Problem, RunError
from loadgen.chaos.killable_stack import CrashingStack
from loadgen.chaos.moments import kill_moments
from loadgen.chaos.orders import with_orders
from loadgen.chaos.verdict import EVENTS_FILE, ChaosVerdict, judge, reconnects
from loadgen.run.commands import LocustSpec, locust_commands
from loadgen.run.procs import Children

__all__ = ["ChaosOptions", "plan_scenario", "run_chaos"]

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
START_TIMEOUT_S = 60.0  # Locust import and test start on a busy machine, s


@dataclass(frozen=True)
class ChaosOptions:
    """`livelab chaos` settings: kill moments (`at`, plan s) or a count, room, stack extras."""

    out: Path
    kills: int | None = None
    at: tuple[float, ...] = ()
    room: str = "demo"
    stack_args: tuple[str, ...] = ()
    orders_per_min: float = 6.0  # extra orders per viewer-minute (`orders.with_orders`)


def plan_scenario(
    scenario: Any, out: Path, command: Sequence[str] = (), orders_per_min: float = 0.0
) -> Any:
    """Model `scenario` into `out/model` and compile `out/plan.json` (no media panel), with
    `orders_per_min` extra orders per viewer-minute."""
    import sim
    from livelab import __version__
    from loadgen.plan import compile_plan, model_run_from_results, save_plan
    from reports import write_run
    from scenarios import scenario_hash

    results = sim.simulate_all(scenario)
    digest = scenario_hash(scenario)
    doc = sim.metrics_document(results, scenario, scenario_hash=digest, version=__version__)
    write_run(out / "model", results, scenario, doc, command=list(command), version=__version__,
              scenario_hash=digest)  # fmt: skip
    load = scenario.load
    plan = compile_plan(model_run_from_results(results, scenario), scale=load.scale,
                        window=load.window, window_s=load.window_s,
                        actor_scale=load.actor_scale, panel_viewers=0, probe_share=0.0,
                        max_duration_s=load.max_duration_s,
                        source={"run_dir": "model"})  # fmt: skip
    plan = with_orders(plan, orders_per_min, plan.seed)
    save_plan(plan, out / "plan.json")
    return plan


def run_chaos(
    scenario: Any,
    options: ChaosOptions,
    command: Sequence[str] = (),
    say: Callable[[str], None] = print,
) -> ChaosVerdict:
    """The whole chaos run (module docstring); RunError when a process will not start."""
    out = options.out
    (out / "logs").mkdir(parents=True, exist_ok=True)
    plan = plan_scenario(scenario, out, command, options.orders_per_min)
    try:
        moments = kill_moments(plan.events, plan.duration_s, kills=options.kills, at=options.at)
    except ValueError as exc:
        allowed = f"times inside the replayed window (0, {plan.duration_s:g}) s"
        raise ConfigError([Problem("--at", "", list(options.at), allowed)]) from exc
    orders = sum(1 for sc in plan.scripts for _, kind in sc.actions if kind == "order")
    say(f"plan: {len(plan.scripts)} viewers, {orders} orders over {plan.duration_s:g} s; "
        f"kill -9 at {', '.join(f'{t:g}' for t in moments)} s")  # fmt: skip
    stack = CrashingStack(out, room=options.room, every_s=max(plan.duration_s / 4.0, 15.0),
                          extra=options.stack_args)  # fmt: skip
    locust = Children()
    kills: list[tuple[float, float, float]] = []
    replays: list[tuple[str, str, str | None]] = []
    try:
        stack.start()
        locust_out = out / "locust"
        spec = LocustSpec(host=stack.base_url, plan=out / "plan.json", out=locust_out,
                          room=options.room, stop_timeout_s=scenario.load.drain_s + 5)  # fmt: skip
        cmd = locust_commands(spec)["locust"]
        cmd[cmd.index("-f") + 1] = str(LOCUSTFILE)
        child = locust.start("locust", cmd, out / "logs" / "locust.log")
        t0 = _plan_start(locust_out / "live.json", lambda: child.running, child.log_tail)
        for at in moments:
            if not _sleep_until(t0 + at, lambda: child.running):
                break
            killed, ready = stack.crash()
            kills.append((killed, ready, at))
            say(f"  kill {len(kills)} at plan {at:g} s: back after {ready - killed:.2f} s")
        budget = plan.duration_s + scenario.load.drain_s + 90.0
        if locust.wait("locust", max(t0 + budget - time.time(), 1.0)) is None:
            say("  Locust did not end in time: stopping it")
            locust.stop("locust", signal.SIGTERM, timeout_s=20.0)
        acks = _read_events(locust_out / EVENTS_FILE, "ack")
        replays = _replay(stack.base_url, options.room, acks)
    finally:
        locust.stop_all()
        stack.stop()
    rows = _ledger_rows(stack.db)
    events = _read_events(locust_out / EVENTS_FILE, None)
    verdict = judge(acks, rows, replays, reconnects(events, kills))
    (out / "chaos.json").write_text(json.dumps(verdict.as_json(), indent=1) + "\n")
    return verdict


def _plan_start(live: Path, running: Callable[[], bool], log_tail: Callable[[], str]) -> float:
    """Epoch second of Locust's plan time 0, from `live.json` (written every second with its
    plan time `t_s`): its mtime minus `t_s`, once the test has started."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not running():
            raise RunError(f"Locust exited before the test started:\n{log_tail()}")
        try:
            data = json.loads(live.read_text())
            if float(data.get("t_s", 0.0)) > 0.0:
                return live.stat().st_mtime - float(data["t_s"])
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise RunError(f"Locust did not start the test within {START_TIMEOUT_S:g} s ({live})")


def _sleep_until(epoch_s: float, alive: Callable[[], bool]) -> bool:
    """Sleep in short naps until `epoch_s`; False if `alive()` turns False first."""
    while time.time() < epoch_s:
        if not alive():
            return False
        time.sleep(min(0.05, max(epoch_s - time.time(), 0.0)))
    return alive()


def _read_events(path: Path, kind: str | None) -> list[dict[str, Any]]:
    """The viewers' events log; a torn last line (Locust stopped mid-write) is skipped."""
    out: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return out
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if kind is None or record.get("ev") == kind:
            out.append(record)
    return out


def _replay(
    base_url: str, room: str, acks: list[dict[str, Any]]
) -> list[tuple[str, str, str | None]]:
    """POST every acknowledged order again with its key, token and body against the last life
    of the stack: (key, acknowledged order_id, replayed order_id or None)."""
    import requests

    out: list[tuple[str, str, str | None]] = []
    url = f"{base_url}/api/rooms/{room}/orders"
    with requests.Session() as http:
        for a in acks:
            headers = {"Authorization": f"Bearer {a['token']}", "Idempotency-Key": a["key"]}
            try:
                resp = http.post(url, json=a["body"], headers=headers, timeout=10.0)
                again = resp.json().get("order_id") if resp.status_code in (200, 201) else None
            except (requests.RequestException, ValueError):
                again = None
            out.append((a["key"], a["order_id"], None if again is None else str(again)))
    return out


def _ledger_rows(db: Path) -> list[tuple[str, str]]:
    """(order_id, idempotency_key) of every order in the ledger file, read after the stack
    stopped (read-only: this check must not change what it checks)."""
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [
            (str(o), str(k)) for o, k in con.execute("SELECT order_id, idempotency_key FROM orders")
        ]
    finally:
        con.close()
