"""Real Locust (in subprocesses) replaying a hand-made plan against the real reference stack."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from loadgen.locust.samples import read_samples
from loadgen.plan.document import Plan, Script, save_plan
from loadgen.run.commands import LocustSpec, locust_commands
from loadgen.run.procs import Children
from loadgen.run.target import fetch
from netem_profiles import free_port
from stack.testing import start_stack_process, stop_stack_process

pytestmark = pytest.mark.slow

ACTIONS = (
    (1.0, "chat"), (1.5, "chat"), (2.0, "question"), (2.5, "order"), (3.0, "share"),
    (3.2, "like"), (13.5, "vote"),
)  # fmt: skip
LEAVE_S = 15.0


def _plan() -> Plan:
    scripts = []
    for i, market in enumerate(("ID", "GB", "ID")):
        start = 0.5 * i
        actions = ((start, "join"), (start, "connect"), *ACTIONS, (LEAVE_S, "leave"))
        scripts.append(
            Script(
                id=f"v{i}",
                market=market,
                access="4g",
                profile=f"{market}-4g",
                referred=i == 2,
                carried=False,
                start_s=start,
                end_s=LEAVE_S,
                actions=actions,
                order_cents=1999,
            )
        )
    curve = tuple(3 if t < LEAVE_S else 0 for t in range(int(LEAVE_S) + 1))
    window = {"start_s": 0.0, "end_s": LEAVE_S + 1, "rule": "test"}
    return Plan(scale=1, seed=1, window=window, duration_s=LEAVE_S + 1, curve=curve,
                scripts=tuple(scripts))  # fmt: skip


@pytest.fixture(scope="module")
def stack():
    # Mini-peaks every 4 s (lottery, flash deal, poll in turn): a poll every 12 s to vote in.
    proc, url = start_stack_process(
        ["--host", "none", "--mini-peak-every", "4s", "--announce-ahead", "1s",
         "--think-time", "1s"], timeout_s=30,
    )  # fmt: skip
    yield url
    stop_stack_process(proc)


def _run_locust(url: str, tmp_path: Path, workers: int) -> Path:
    plan_path = save_plan(_plan(), tmp_path / "plan.json")
    out = tmp_path / "locust"
    out.mkdir()
    spec = LocustSpec(host=url, plan=plan_path, out=out, workers=workers, linger_s=3.0,
                      master_port=free_port())  # fmt: skip
    children = Children()
    for name, cmd in locust_commands(spec).items():
        children.start(name, cmd, tmp_path / f"{name}.log")
    try:
        rc = children.wait("locust", 120)
        assert rc == 0, children.items["locust"].log_tail(60)
    finally:
        children.stop_all()
    return out


def _check(out: Path) -> None:
    book = read_samples(out / "samples.json")
    failed = [r for r in book.rows if not r[4]]
    assert failed == []

    def count(metric: str, market: str | None = None) -> int:
        return len(book.values(metric, market=market))

    # Three viewers, each: 1 join, 1 socket, 2 chats, 1 answer, 1 order, 1 referral, 1 vote.
    assert count("join_ms") == 3 and count("ws_connect_ms") == 3
    assert count("chat_rtt_ms") == 6 and count("chat_rtt_ms", "ID") == 4
    assert count("chat_rtt_ms", "GB") == 2
    assert count("answer_ms") == 3
    assert min(book.values("answer_ms")) >= 1000.0  # the host thinks for 1 s
    assert count("order_ms") == 3 and count("referral_ms") == 3
    assert count("vote_ack_ms") == 3
    assert count("start_lag_ms") == 3
    assert {r[2] for r in book.rows} == {"ID-4g", "GB-4g"}
    assert book.notes["final"] and book.notes["finished"] == 3
    assert book.notes["order_replays"] == 0  # every order created, none answered as a replay
    # Locust's own stats: one row per (market, metric).
    with (out / "stats_stats.csv").open() as fh:
        rows = {(r["Type"], r["Name"]): r for r in csv.DictReader(fh)}
    assert rows[("ID", "chat_rtt_ms")]["Request Count"] == "4"
    assert rows[("GB", "order_ms")]["Failure Count"] == "0"
    assert json.loads((out / "stats.json").read_text())


def test_locust_replays_plan_and_keeps_exact_samples(stack, tmp_path):
    before = fetch(f"{stack}/metrics").decode()
    out = _run_locust(stack, tmp_path, workers=0)
    _check(out)
    after = fetch(f"{stack}/metrics").decode()

    def orders(text: str) -> float:
        lines = [ln for ln in text.splitlines() if ln.startswith("livelab_stack_orders_total")]
        return float(lines[0].split()[-1]) if lines else 0.0

    assert orders(after) - orders(before) == 3  # the stack received exactly the plan's orders


# Runs in its own interpreter: the viewer client is gevent code (Locust's world).
_REPLAY = """
import sys
from gevent import monkey
monkey.patch_all()
from loadgen.locust.client import ViewerClient
from loadgen.plan.document import Script
rows = []
script = Script(id="vr", market="ID", access="4g", profile="ID-4g", referred=False,
                carried=False, start_s=0.0, end_s=1.0, actions=())
client = ViewerClient(sys.argv[1], "demo", script, lambda *row: rows.append(row))
client._id = lambda prefix: "order-same-key"  # the same Idempotency-Key twice
client.order(1999)
client.order(1999)
print(client.replays, sum(1 for r in rows if r[0] == "order_ms" and r[2]))
"""


def test_client_counts_an_idempotent_replay(stack):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _REPLAY, stack], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "2"]  # two good answers, the second one a replay


def test_locust_master_and_two_workers_merge_samples(stack, tmp_path):
    out = _run_locust(stack, tmp_path, workers=2)
    _check(out)
    assert read_samples(out / "samples.json").notes["workers"] == 2
