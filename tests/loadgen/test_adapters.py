"""Interaction adapters: a team's own API (Socket.IO) driven by the plan, and bad adapters."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from livelab.errors import ConfigError
from loadgen.locust.adapters import DEFAULT_ADAPTER
from loadgen.locust.samples import read_samples
from loadgen.plan.document import Plan, Script, save_plan
from loadgen.run.adapter_check import check_adapter
from loadgen.run.commands import LocustSpec, locust_commands
from loadgen.run.procs import Children
from loadgen.run.target import fetch

LIVELAB = [sys.executable, "-m", "livelab"]
SERVER = Path(__file__).with_name("sio_server.py")
SIO = "loadgen.locust.adapters.socket_io:SocketIOAdapter"
ACTIONS = ((1.0, "chat"), (1.5, "chat"), (2.0, "question"), (2.5, "order"), (3.0, "share"),
           (3.2, "like"), (3.5, "vote"))  # fmt: skip
LEAVE_S = 5.0


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


def _module(tmp_path: Path, name: str, body: str) -> Path:
    """Write an adapter module `name` into tmp_path/mods (put on PYTHONPATH by the caller)."""
    mods = tmp_path / "mods"
    mods.mkdir(exist_ok=True)
    (mods / f"{name}.py").write_text(textwrap.dedent(body))
    return mods


@pytest.fixture(scope="module")
def sio_server() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, str(SERVER)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the server prints its URL once listening
        assert line.startswith("listening http://127.0.0.1:"), line
        yield line.split()[1]
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        if proc.stdout is not None:
            proc.stdout.close()


def _stats(url: str) -> dict[str, int]:
    return dict(json.loads(fetch(f"{url}/stats")))


# --- bad adapters: refused before anything runs, exit 2, named --------------------------------
def test_default_and_socketio_adapters_load():
    check_adapter(DEFAULT_ADAPTER)
    check_adapter(SIO)


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("no_colon_here", "not of the form package.module:Class"),
        ("livelab_no_such_module:Adapter", "module 'livelab_no_such_module' does not import"),
        ("loadgen.locust.adapter:NoSuch", "has no 'NoSuch'"),
        ("loadgen.locust.adapter:Timing", "not a subclass of loadgen.locust.adapter.Adapter"),
    ],
)
def test_check_adapter_names_what_is_wrong(spec, says):
    with pytest.raises(ConfigError) as info:
        check_adapter(spec)
    assert spec in str(info.value) and says in str(info.value)


def test_adapter_lacking_methods_is_refused_by_livelab_run_with_exit_2(tmp_path, monkeypatch):
    mods = _module(tmp_path, "half_adapter", """
        from loadgen.locust.adapter import Adapter

        class Half(Adapter):
            def join(self):
                return True

            def chat(self):
                pass
    """)  # fmt: skip
    monkeypatch.setenv("PYTHONPATH", str(mods))
    out = tmp_path / "run"
    proc = subprocess.run(
        [*LIVELAB, "run", "scenarios/demo.toml", "--target", "http://127.0.0.1:9",
         "--adapter", "half_adapter:Half", "--out", str(out), "--no-panel"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "--adapter = 'half_adapter:Half'" in proc.stderr
    assert "lacks the method(s) like, question, vote, order, share, leave" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (out / "model").exists()  # refused before the model ran


def test_adapter_that_does_not_import_is_refused_from_the_scenario(tmp_path, monkeypatch):
    mods = _module(tmp_path, "broken_adapter", "raise ImportError('needs libfoo')\n")
    monkeypatch.setenv("PYTHONPATH", str(mods))
    proc = subprocess.run(
        [*LIVELAB, "run", "scenarios/demo.toml", "--set", "load.adapter=broken_adapter:X",
         "--out", str(tmp_path / "run"), "--no-panel"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "[load] adapter = 'broken_adapter:X'" in proc.stderr
    assert "module 'broken_adapter' does not import: ImportError: needs libfoo" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- a real Socket.IO stack, driven by real Locust --------------------------------------------
def _run_locust(
    url: str, tmp_path: Path, adapter: str, env_path: Path | None = None, expect_rc: int = 0
) -> Path:
    """Play the plan through `adapter`; Locust exits `expect_rc` (1: some requests failed)."""
    plan_path = save_plan(_plan(), tmp_path / "plan.json")
    out = tmp_path / "locust"
    out.mkdir()
    spec = LocustSpec(host=url, plan=plan_path, out=out, linger_s=3.0, adapter=adapter)
    children = Children()
    env = None if env_path is None else {**os.environ, "PYTHONPATH": str(env_path)}
    for name, cmd in locust_commands(spec).items():
        children.start(name, cmd, tmp_path / f"{name}.log", env=env)
    try:
        rc = children.wait("locust", 120)
        assert rc == expect_rc, children.items["locust"].log_tail(60)
    finally:
        children.stop_all()
    return out


@pytest.mark.slow
def test_socketio_adapter_measures_a_teams_own_stack(sio_server, tmp_path):
    before = _stats(sio_server)
    out = _run_locust(sio_server, tmp_path, SIO)
    after = _stats(sio_server)
    book = read_samples(out / "samples.json")
    assert [r for r in book.rows if not r[4]] == []

    def count(metric: str, market: str | None = None) -> int:
        return len(book.values(metric, market=market))

    # Three viewers (ID, GB, ID), each: 1 join, 2 chats, 1 answer, 1 order, 1 referral, 1 vote.
    assert count("join_ms") == 3 and count("ws_connect_ms") == 0  # one channel: join opens it
    assert count("chat_rtt_ms") == 6 and count("chat_rtt_ms", "ID") == 4
    assert count("answer_ms") == 3 and min(book.values("answer_ms")) >= 200.0  # host thinks
    assert count("order_ms", "ID") == 2 and count("order_ms", "GB") == 1
    assert count("referral_ms") == 3 and count("vote_ack_ms") == 3
    assert book.notes["finished"] == 3 and book.notes["order_replays"] == 0

    def delta(key: str) -> int:
        return after.get(key, 0) - before.get(key, 0)

    # The stack received exactly what was measured.
    assert (delta("chats"), delta("orders.ID"), delta("orders.GB")) == (6, 2, 1)
    assert (delta("likes"), delta("votes"), delta("shares")) == (3, 3, 3)
    with (out / "stats_stats.csv").open() as fh:
        rows = {(r["Type"], r["Name"]): r for r in csv.DictReader(fh)}
    assert rows[("ID", "chat_rtt_ms")]["Request Count"] == "4"
    assert rows[("GB", "order_ms")]["Failure Count"] == "0"


@pytest.mark.slow
def test_an_adapter_that_raises_counts_failures_by_exception_and_the_run_goes_on(
    sio_server, tmp_path
):
    mods = _module(tmp_path, "raising_adapter", """
        from loadgen.locust.adapters.socket_io import SocketIOAdapter

        class BrokenChat(SocketIOAdapter):
            def chat(self):
                raise ValueError("chat is broken")

            def like(self):
                raise KeyError("like")
    """)  # fmt: skip
    out = _run_locust(
        sio_server, tmp_path, "raising_adapter:BrokenChat", env_path=mods, expect_rc=1
    )  # Locust's own exit code for failed requests: the run went on
    book = read_samples(out / "samples.json")
    assert len(book.values("chat_rtt_ms", ok=False)) == 6 and book.values("chat_rtt_ms") == []
    assert len(book.values("adapter_error", ok=False)) == 3  # the likes
    # The rest of every script still ran.
    assert len(book.values("order_ms")) == 3 and len(book.values("answer_ms")) == 3
    assert book.notes["finished"] == 3
    with (out / "stats_failures.csv").open() as fh:
        failures = {(r["Method"], r["Name"], r["Error"]): int(r["Occurrences"])
                    for r in csv.DictReader(fh)}  # fmt: skip
    assert failures == {
        ("ID", "chat_rtt_ms", "ValueError('chat is broken')"): 4,
        ("GB", "chat_rtt_ms", "ValueError('chat is broken')"): 2,
        ("ID", "adapter_error", "KeyError('like')"): 2,
        ("GB", "adapter_error", "KeyError('like')"): 1,
    }


# A chatty audience that buys (everyone trusting after a minute) in a 20 s window at 1:100: a
# few dozen viewers, hundreds of chats and a handful of orders across markets in ~30 s.
BUYERS = [
    a
    for m in ("ID", "TH", "SA", "GB")
    # The deal's own orders fall inside the deal (the boost's share, 1 - 1/boost of its
    # buyers): a low base chance with the full boost puts ~90 % of them in the window.
    for kv in ("chat_per_min=60", "purchase_prob=0.1", "flash_deal_buy_boost=10", "trust_min=1")
    for a in ("--set", f"markets.{m}.behavior.{kv}")
]


@pytest.mark.slow
def test_livelab_run_measures_chat_and_orders_per_market_on_a_socketio_stack(sio_server, tmp_path):
    before = _stats(sio_server)
    out = tmp_path / "run"
    proc = subprocess.run(
        [*LIVELAB, "run", "scenarios/demo.toml", "--target", sio_server, "--adapter", SIO,
         "--no-panel", "--no-report", "--set", "load.scale=100", "--set", "load.actor_scale=100",
         "--set", "load.window_s=20", *BUYERS, "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    after = _stats(sio_server)
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["meta"]["valid"], doc["meta"]["notes"]
    markets = doc["markets"]
    chats = sum(m["chat_rtt_ms"]["n"] for m in markets.values() if "chat_rtt_ms" in m)
    assert chats > 100 and chats == after["chats"] - before.get("chats", 0)
    orders = {code: m["order_ms"]["n"] for code, m in markets.items() if "order_ms" in m}
    received = {k.split(".", 1)[1]: v - before.get(k, 0) for k, v in after.items()
                if k.startswith("orders.") and v > before.get(k, 0)}  # fmt: skip
    assert len(orders) >= 2 and orders == received  # every order measured, in its market
    assert all(m["error_rate"]["value"] == 0.0 for m in markets.values())
    assert "g2g_latency_ms" not in doc["overall"]  # no media: that stack has no WHEP
    run = json.loads((out / "run.json").read_text())
    assert run["target"] == sio_server and not run["reference_stack"]
    assert run["adapter"] == SIO
