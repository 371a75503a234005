"""JUnit output and the CI examples in docs/: times on every case, and examples that parse and
run commands livelab accepts, reading the files `livelab gate` writes."""

from __future__ import annotations

import json
import re
import shlex
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from reportfixtures import RunFactory

from livelab.cli import build_parser, main
from reports.gates import Verdict
from reports.gates_judge import GateResult
from reports.gates_output import junit_xml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
GATES = '"chat_rtt_ms" = ["p(95)<600", "avg<10"]\n"retention_30s" = ">= 0.55"'


def _cases(xml: str) -> tuple[ET.Element, list[ET.Element]]:
    suite = ET.fromstring(xml)
    return suite, suite.findall("testcase")


def test_junit_times_on_the_suite_and_every_case() -> None:
    verdicts = (
        Verdict("chat_rtt_ms.p95", "threshold", "< 600", 41.0, True),
        Verdict("join_ms", "threshold", "p(95)<1000", 1500.0, False, "1500 is not p(95)<1000"),
    )
    result = GateResult(
        "fail", 1, verdicts, "runs/x", elapsed_s=83.25, created_utc="2026-12-02T03:16:41Z"
    )
    suite, cases = _cases(junit_xml(result))
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "0")
    assert (suite.get("time"), suite.get("timestamp")) == ("83.250", "2026-12-02T03:16:41")
    assert [(c.get("classname"), c.get("name"), c.get("time")) for c in cases] == [
        ("gates.run", "run validity", "83.250"),
        ("gates.threshold", "chat_rtt_ms.p95", "0.000"),
        ("gates.threshold", "join_ms", "0.000"),
    ]
    # CI systems add the cases up: they come to the suite's time.
    assert sum(float(c.get("time", "nan")) for c in cases) == float(suite.get("time", "nan"))
    assert cases[2].find("failure") is not None and cases[0].find("error") is None


def test_junit_of_a_run_that_could_not_be_made() -> None:
    suite, cases = _cases(junit_xml(GateResult("invalid", 3, (), "runs/x", notes=("down",))))
    assert (suite.get("tests"), suite.get("errors"), suite.get("time")) == ("1", "1", "0.000")
    assert "timestamp" not in suite.attrib
    error = cases[0].find("error")
    assert error is not None and error.text == "down"


def test_gate_reads_the_run_time_from_run_json(
    make_run: RunFactory, make_scenario: Callable[[str], Path], tmp_path: Path
) -> None:
    run = make_run()
    info = {"elapsed_s": 61.5, "created_utc": "2026-11-11T12:00:00Z"}
    (run / "run.json").write_text(json.dumps(info))
    out = tmp_path / "runs" / "ci"
    index = str(tmp_path / "i.sqlite")
    code = main(["gate", str(make_scenario(GATES)), "--from", str(run), "--out", str(out),
                 "--index", index])  # fmt: skip
    assert code == 1  # avg<10 fails
    suite, cases = _cases((out / "junit.xml").read_text())
    assert suite.get("time") == "61.500" and len(cases) == 4
    assert all(re.fullmatch(r"\d+\.\d{3}", c.get("time", "")) for c in cases)
    # What the CI examples publish is there.
    for name in ("junit.xml", "gate.json", "gate.md", "summary.md", "report.html"):
        assert (out / name).is_file(), name


def _gate_commands(text: str) -> list[list[str]]:
    """Every `livelab gate …` command line in a CI file, as argv after `livelab`."""
    found = []
    for line in text.splitlines():
        match = re.search(r"\.venv/bin/livelab (gate [^\"'\n]*)", line)
        if match:
            found.append(shlex.split(match.group(1).split("${")[0].split("$")[0]))
    return found


def _accepted(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.command == "gate" and (ROOT / args.scenario).is_file(), argv
    assert args.out == "runs/ci"


def test_github_actions_example() -> None:
    text = (DOCS / "ci-example.yml").read_text()
    doc: dict[Any, Any] = yaml.safe_load(text)
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"pull_request", "push"}
    job = doc["jobs"]["gate"]
    assert job["permissions"] == {"contents": "read", "checks": "write"}
    steps = {s.get("name", s.get("uses")): s for s in job["steps"]}
    assert steps["Test report"]["uses"].startswith("mikepenz/action-junit-report@")
    assert steps["Test report"]["with"]["report_paths"] == "runs/ci/junit.xml"
    assert "runs/ci/summary.md" in steps["Job summary"]["run"]
    assert steps["Install livelab"]["run"] == "make install"
    (gate,) = _gate_commands(steps["Gate"]["run"])
    _accepted(gate)
    _accepted([*gate, "--baseline", "runs/baseline", "--max-regression", "25%"])


def test_gitlab_ci_example() -> None:
    doc: dict[str, Any] = yaml.safe_load((DOCS / "ci-gitlab.yml").read_text())
    job, main_job = doc["livelab-gate"], doc["livelab-gate-main"]
    assert main_job["extends"] == "livelab-gate"
    assert job["artifacts"]["reports"]["junit"] == "runs/ci/junit.xml"
    assert job["artifacts"]["when"] == "always"
    assert (job["cache"]["policy"], main_job["cache"]["policy"]) == ("pull", "pull-push")
    assert job["script"][0] == "make install"
    (gate,) = _gate_commands("\n".join(job["script"]))
    _accepted(gate)
    _accepted([*gate, *shlex.split("--baseline runs/baseline --max-regression 25%")])


def test_jenkins_example() -> None:
    text = (DOCS / "ci-Jenkinsfile").read_text()
    code = re.sub(r"//[^\n]*", "", text)
    assert code.count("{") == code.count("}") and code.count("(") == code.count(")")
    assert re.search(r"^pipeline \{", code, re.M)
    assert "sh 'make install'" in code
    assert "junit testResults: 'runs/ci/junit.xml'" in code
    assert "unstable(" in code and "returnStatus: true" in code
    (gate,) = _gate_commands(code)
    _accepted(gate)
    _accepted([*gate, *shlex.split("--baseline baseline/runs/ci --max-regression 25%")])


@pytest.mark.parametrize("name", ["ci-example.yml", "ci-gitlab.yml", "ci-Jenkinsfile"])
def test_ci_examples_are_documented(name: str) -> None:
    assert f"docs/{name}" in (DOCS / "gates.md").read_text()
