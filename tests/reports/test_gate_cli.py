"""`livelab gate --from`, `baseline save`, `runs list`: exit codes, outputs, reproducibility."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from reportfixtures import RunFactory

from livelab.cli import main

GATES = """
"chat_rtt_ms.p95" = "< 600"
"retention_30s" = ">= 0.55"
"ID:chat_rtt_ms.p99" = "< 900"
"chat_rtt_ms.p95@mini_peak_1" = "< 600"
"chat_rtt_ms.p99@0..300" = { threshold = "< 900" }
"error_rate" = { threshold = "< 50%", window = "poll_1", description = "optional" }
"""


def gate(scenario: Path, run: Path, tmp_path: Path, *extra: str, report: bool = False) -> int:
    index = str(tmp_path / "i.sqlite")
    more = [] if report else ["--no-report"]
    return main(["gate", str(scenario), "--from", str(run), "--index", index, *more, *extra])


def test_pass_writes_json_junit_and_is_reproducible(
    make_run: RunFactory, make_scenario: Callable[[str], Path], tmp_path: Path
) -> None:
    scenario = make_scenario(GATES)
    run = make_run()
    assert gate(scenario, run, tmp_path, report=True) == 0
    first = (run / "gate.json").read_bytes()
    # The report shows the verdicts.
    assert "**Gate ✅ PASS** — 0 of 6 failed" in (run / "summary.md").read_text()
    result = json.loads(first)
    assert result["status"] == "pass" and result["exit_code"] == 0
    assert [v["key"] for v in result["verdicts"]][:3] == [
        "chat_rtt_ms.p95", "retention_30s", "ID:chat_rtt_ms.p99",
    ]  # fmt: skip
    suite = ET.parse(run / "junit.xml").getroot()
    assert suite.get("tests") == str(len(result["verdicts"]) + 1)  # + the run's validity
    assert suite.get("failures") == "0"
    # Judging the saved run again gives the same verdict, byte for byte.
    assert gate(scenario, run, tmp_path) == 0
    assert (run / "gate.json").read_bytes() == first


def test_fail_exit_1_names_the_gate(
    make_run: RunFactory,
    make_scenario: Callable[[str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scenario = make_scenario('"chat_rtt_ms.p95" = "< 600"\n"retention_30s" = ">= 0.55"')
    run = make_run(shift_ms=800.0)
    assert gate(scenario, run, tmp_path, "--out", str(tmp_path / "g")) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "chat_rtt_ms.p95" in out
    result = json.loads((tmp_path / "g" / "gate.json").read_text())
    failed = [v["key"] for v in result["verdicts"] if not v["passed"]]
    assert failed == ["chat_rtt_ms.p95"]
    suite = ET.parse(tmp_path / "g" / "junit.xml").getroot()
    assert suite.get("failures") == "1"
    assert suite.find("testcase/failure") is not None


@pytest.mark.parametrize(
    ("gates", "fragment"),
    [
        ('"chat_rtt_ms.p95" = "below 600"', "gates.chat_rtt_ms.p95 = 'below 600'"),
        ('"no_such_metric" = "< 1"', "gates.no_such_metric"),
        ('"g2g_latency_ms.p95" = "< 600"', "no metric 'g2g_latency_ms' under overall"),
        ('"XX:retention_30s" = "> 0"', "no market 'XX'"),
    ],
)
def test_config_errors_exit_2_naming_the_key(
    make_run: RunFactory,
    make_scenario: Callable[[str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    gates: str,
    fragment: str,
) -> None:
    assert gate(make_scenario(gates), make_run(), tmp_path) == 2
    assert fragment in capsys.readouterr().err


def test_bad_options_exit_2(
    make_run: RunFactory, make_scenario: Callable[[str], Path], tmp_path: Path
) -> None:
    scenario = make_scenario('"retention_30s" = "> 0"')
    run = make_run()
    assert gate(scenario, run, tmp_path, "--max-regression", "lots") == 2
    assert gate(scenario, run, tmp_path, "--baseline", "never-saved") == 2
    assert gate(scenario, tmp_path / "nowhere", tmp_path) == 2


def test_invalid_run_exits_3(
    make_run: RunFactory, make_scenario: Callable[[str], Path], tmp_path: Path
) -> None:
    run = make_run(valid=False)
    assert gate(make_scenario('"retention_30s" = "> 0"'), run, tmp_path) == 3
    result = json.loads((run / "gate.json").read_text())
    assert result["status"] == "invalid"
    assert "generator saturated" in result["notes"][0]
    suite = ET.parse(run / "junit.xml").getroot()
    assert suite.get("errors") == "1"


def test_regression_against_named_baseline(
    make_run: RunFactory,
    make_scenario: Callable[[str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    index = str(tmp_path / "i.sqlite")
    scenario = make_scenario('"chat_rtt_ms.p95" = "< 2000"')
    base = make_run("base", seed=1)
    assert main(["baseline", "save", str(base), "main", "--index", index]) == 0
    # Same distribution, another seed: not worse beyond 10 % with significance → pass.
    same = make_run("same", seed=2)
    assert gate(scenario, same, tmp_path, "--baseline", "main") == 0
    v = json.loads((same / "gate.json").read_text())["verdicts"][1]
    assert v["kind"] == "regression" and v["test"].startswith("Mann-Whitney U")
    # 60 ms slower on every sample: > 10 % on p95 and significant → exit 1 with the p-value.
    slow = make_run("slow", seed=3, shift_ms=60.0)
    assert gate(scenario, slow, tmp_path, "--baseline", "main") == 1
    v = json.loads((slow / "gate.json").read_text())["verdicts"][1]
    assert not v["passed"] and v["significant"] and v["p_value"] < 1e-6
    assert (
        v["baseline"]
        == json.loads((base / "metrics.json").read_text())["overall"]["chat_rtt_ms"]["p95"]
    )
    # The same, but allowed 200 % → pass (the margin, not only significance, must be exceeded).
    assert gate(scenario, slow, tmp_path, "--baseline", "main", "--max-regression", "200%") == 0
    # A baseline given as a bare metrics.json has no samples: no test applies, not counted.
    assert gate(scenario, slow, tmp_path, "--baseline", str(base / "metrics.json")) == 0
    v = json.loads((slow / "gate.json").read_text())["verdicts"][1]
    assert v["test"] is None and "no test applies" in v["detail"]
    capsys.readouterr()
    assert main(["runs", "list", "--index", index, "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert {Path(r["path"]).name for r in runs} == {"base", "same", "slow"}
    assert next(r for r in runs if Path(r["path"]).name == "base")["baselines"] == ["main"]


def test_rate_and_replication_regressions(
    make_run: RunFactory, make_scenario: Callable[[str], Path], tmp_path: Path
) -> None:
    scenario = make_scenario('"retention_30s" = ">= 0.1"')
    base = make_run("base", retention=0.60, arrivals=20000)
    worse = make_run("worse", retention=0.50, arrivals=20000)
    assert gate(scenario, worse, tmp_path, "--baseline", str(base)) == 1
    v = json.loads((worse / "gate.json").read_text())["verdicts"][1]
    assert v["test"].startswith("two-proportion z") and v["p_value"] < 1e-9
    assert v["change"] == pytest.approx(0.1 / 0.6)
    # Replicated scalars: Welch t on the replications.
    rb = make_run("rb", replications=[0.60, 0.61, 0.59, 0.60, 0.62])
    rw = make_run("rw", replications=[0.50, 0.52, 0.49, 0.51, 0.50])
    assert gate(scenario, rw, tmp_path, "--baseline", str(rb)) == 1
    v = json.loads((rw / "gate.json").read_text())["verdicts"][1]
    assert v["test"] == "Welch t (5 vs 5 replications)" and v["p_value"] < 1e-4
    noisy = make_run("noisy", replications=[0.30, 0.70, 0.45, 0.72, 0.40])
    assert gate(scenario, noisy, tmp_path, "--baseline", str(rb)) == 0
    v = json.loads((noisy / "gate.json").read_text())["verdicts"][1]
    assert v["significant"] is False and "not significant" in v["detail"]


def test_baseline_survives_deleted_run_dir(
    make_run: RunFactory, make_scenario: Callable[[str], Path], tmp_path: Path
) -> None:
    import shutil

    index = str(tmp_path / "i.sqlite")
    base = make_run("base", retention=0.60, arrivals=20000)
    assert main(["baseline", "save", str(base), "keep", "--index", index]) == 0
    shutil.rmtree(base)
    worse = make_run("worse", retention=0.50, arrivals=20000)
    assert (
        gate(make_scenario('"retention_30s" = "> 0"'), worse, tmp_path, "--baseline", "keep") == 1
    )
    assert json.loads((worse / "gate.json").read_text())["baseline"] == "keep (saved copy)"


def test_model_only_gate_runs_simulate(
    make_scenario: Callable[[str], Path], tmp_path: Path
) -> None:
    scenario = make_scenario('"retention_30s" = ">= 0.05"\n"chat_rtt_ms.p95@0..300" = "< 60000"')
    out = tmp_path / "m"
    args = ["--model-only", "--out", str(out), "--index", str(tmp_path / "i.sqlite")]
    assert main(["gate", str(scenario), "--no-report", *args]) == 0
    result = json.loads((out / "gate.json").read_text())
    assert result["status"] == "pass" and (out / "viewers.npz").exists()
    assert main(["gate", str(scenario), "--model-only", "--target", "http://127.0.0.1:9"]) == 2


def test_unreachable_target_exits_3(make_scenario: Callable[[str], Path], tmp_path: Path) -> None:
    scenario = make_scenario('"chat_rtt_ms.p95" = "< 600"')
    out = tmp_path / "u"
    args = ["--target", "http://127.0.0.1:9", "--out", str(out), "--index", str(tmp_path / "i")]
    assert main(["gate", str(scenario), *args]) == 3
    result = json.loads((out / "gate.json").read_text())
    assert result["status"] == "invalid" and "not answering" in result["notes"][0]
    assert ET.parse(out / "junit.xml").getroot().get("errors") == "1"


def test_regression_between_real_model_runs(
    make_scenario: Callable[[str], Path], tmp_path: Path
) -> None:
    """`livelab simulate` twice: the host 2.5 s behind loses viewers, and the gate says so."""
    scenario = make_scenario('"retention_30s" = ">= 0.05"\n"chat_rtt_ms.p95" = "< 60000"')
    base, slow = tmp_path / "base", tmp_path / "slow"
    reps = "scenario.replications=3"
    assert main(["simulate", str(scenario), "--out", str(base), "--no-plots", "--set", reps]) == 0
    assert main(["simulate", str(scenario), "--out", str(slow), "--no-plots", "--set", reps,
                 "--set", "stream.host_delay_ms=2500"]) == 0  # fmt: skip
    assert gate(scenario, slow, tmp_path, "--baseline", str(base)) == 1
    verdicts = json.loads((slow / "gate.json").read_text())["verdicts"]
    retention = next(
        v for v in verdicts if v["kind"] == "regression" and v["key"] == "retention_30s"
    )
    assert retention["test"] == "Welch t (3 vs 3 replications)"
    assert not retention["passed"] and retention["p_value"] < 0.05
    assert retention["observed"] < retention["baseline"]
    # The same model run against itself: nothing is worse.
    assert gate(scenario, base, tmp_path, "--baseline", str(base)) == 0
