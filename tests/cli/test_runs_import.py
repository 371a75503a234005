"""`livelab runs import`: a real headless Locust run against the reference stack, configured by
environment as Helm configures it, turned into a run directory that `gate` and `report` read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from livelab.cli import main
from loadgen.locust.samples import read_samples
from loadgen.plan.document import Plan, Script, save_plan
from loadgen.run.commands import locustfile_path
from loadgen.run.locust_import import import_locust, read_csv, read_json
from stack.testing import start_stack_process, stop_stack_process

LEAVE_S = 8.0
ACTIONS = ((1.0, "chat"), (1.5, "chat"), (2.0, "question"), (2.5, "order"), (3.0, "like"),
           (3.5, "chat"), (4.0, "share"))  # fmt: skip
GATES = """
[gates]
"chat_rtt_ms.p95" = "< 600"
"ID:chat_rtt_ms.p95" = "< 600"
"GB:join_ms.p95" = "< 1000"
"error_rate" = "< 2%"
"""


def _plan() -> Plan:
    scripts = []
    for i, market in enumerate(("ID", "GB", "ID", "SA")):
        start = 0.25 * i
        scripts.append(
            Script(
                id=f"v{i}",
                market=market,
                access="wifi",
                profile=f"{market}-wifi",
                referred=False,
                carried=False,
                start_s=start,
                end_s=LEAVE_S,
                actions=((start, "join"), (start, "connect"), *ACTIONS, (LEAVE_S, "leave")),
                order_cents=999,
            )
        )
    curve = tuple(4 if t < LEAVE_S else 0 for t in range(int(LEAVE_S) + 1))
    return Plan(scale=1, seed=3, window={"start_s": 0.0, "end_s": LEAVE_S + 1, "rule": "test"},
                duration_s=LEAVE_S + 1, curve=curve, scripts=tuple(scripts))  # fmt: skip


@pytest.fixture(scope="module")
def master_outputs(tmp_path_factory):
    """Outputs of a headless Locust master whose livelab options all come from LOCUST_… env."""
    root = tmp_path_factory.mktemp("k8s")
    plan = save_plan(_plan(), root / "plan.json")
    proc, url = start_stack_process(["--publisher", "none", "--think-time", "500ms"], 30.0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
    env.update({
        "LOCUST_LOCUSTFILE": str(locustfile_path()), "LOCUST_HOST": url,
        "LOCUST_HEADLESS": "true", "LOCUST_LIVELAB_PLAN": str(plan),
        "LOCUST_LIVELAB_OUT": str(root / "out"), "LOCUST_LIVELAB_LINGER_S": "2",
        "LOCUST_CSV": str(root / "out" / "stats"),
    })  # fmt: skip
    try:
        run = subprocess.run([sys.executable, "-m", "locust", "--loglevel", "WARNING",
                              "--json-file", str(root / "out" / "stats")], env=env,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    finally:
        stop_stack_process(proc)
    assert run.returncode == 0, run.stderr[-3000:]
    return root / "out"


@pytest.mark.slow
def test_locust_outputs_read_per_market_and_metric(master_outputs):
    by_csv = {(e.market, e.metric): e for e in read_csv(master_outputs / "stats_stats.csv")}
    by_json = {(e.market, e.metric): e for e in read_json(master_outputs / "stats.json")}
    assert by_csv[("ID", "chat_rtt_ms")].requests == 6 == by_json[("ID", "chat_rtt_ms")].requests
    assert sum(by_json[("GB", "chat_rtt_ms")].histogram.values()) == 3
    assert set(by_csv) == set(by_json)


@pytest.mark.slow
def test_import_gate_and_report_on_real_locust_outputs(master_outputs, tmp_path, capsys):
    out = tmp_path / "imported"
    index = ["--index", str(tmp_path / "index.sqlite")]
    stats = str(master_outputs / "stats")
    argv = ["--csv", stats, "--json", f"{stats}.json", "--out", str(out), *index]
    assert main(["runs", "import", *argv]) == 0
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["meta"]["valid"] and doc["meta"]["kind"] == "import"
    assert set(doc["markets"]) == {"ID", "GB", "SA"}
    assert (
        doc["overall"]["chat_rtt_ms"]["n"] == 12 and doc["markets"]["ID"]["chat_rtt_ms"]["n"] == 6
    )
    assert doc["overall"]["error_rate"]["value"] == 0.0
    assert any("generator health unknown" in n for n in doc["meta"]["notes"])
    # With the master's exact samples the distributions are livelab run's own.
    exact = import_locust(tmp_path / "exact", json_file=master_outputs / "stats.json",
                          samples=master_outputs / "samples.json")  # fmt: skip
    book = read_samples(master_outputs / "samples.json")
    assert exact["overall"]["chat_rtt_ms"]["n"] == len(book.values("chat_rtt_ms")) == 12
    assert exact["meta"]["valid"] and exact["profiles"]["ID-wifi"]["join_ms"]["n"] == 2
    # The generator's health is judged as `livelab run` judges it. Four scripts on an idle
    # generator may all start within 1 ms, so the saturation is injected: the real samples with
    # the start lag p95 a saturated generator reports (5 s), against the 2 s allowed.
    data = json.loads((master_outputs / "samples.json").read_text())
    data["notes"]["start_lag_p95_ms"] = 5000.0
    (tmp_path / "lagged.json").write_text(json.dumps(data))
    argv = ["--samples", str(tmp_path / "lagged.json"), "--max-start-lag", "2s"]
    assert main(["runs", "import", *argv, "--out", str(tmp_path / "lagged"), *index]) == 0
    lagged = json.loads((tmp_path / "lagged" / "metrics.json").read_text())["meta"]
    assert not lagged["valid"] and any("5000 ms > 2000 ms: generator saturated" in n
                                       for n in lagged["notes"])  # fmt: skip

    scenario = tmp_path / "gates.toml"
    text = Path("scenarios/ci_smoke.toml").read_text()
    scenario.write_text(text[: text.index("[gates]")] + GATES)
    capsys.readouterr()
    code = main(["gate", str(scenario), "--from", str(out), "--json", "--no-report", *index])
    verdict = json.loads(capsys.readouterr().out)
    assert code == 0 and verdict["status"] == "pass", verdict
    assert {v["key"] for v in verdict["verdicts"]} == {
        "chat_rtt_ms.p95",
        "ID:chat_rtt_ms.p95",
        "GB:join_ms.p95",
        "error_rate",
    }
    assert all(v["passed"] and v["observed"] is not None for v in verdict["verdicts"])
    assert (out / "junit.xml").is_file()
    assert main(["report", str(out), *index]) == 0
    assert (out / "report.html").stat().st_size > 1000


def test_import_refuses_what_locust_did_not_write(tmp_path, capsys):
    bad = tmp_path / "x_stats.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["runs", "import", "--csv", str(tmp_path / "x"), "--out", str(tmp_path / "o")]) == 2
    assert main(["runs", "import", "--out", str(tmp_path / "o")]) == 2
    (tmp_path / "s.json").write_text('{"not": "a list"}')
    assert main(["runs", "import", "--json", str(tmp_path / "s.json"),
                 "--out", str(tmp_path / "o")]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "x_stats.csv" in err and "--csv" in err and "Traceback" not in err
