"""Co-host gates and the report's co-host section, on a real model run and a load-run layout."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import sim
from livelab.errors import GateError
from reports.gates import parse_gate, parse_gates
from reports.gates_observe import evaluate, evaluate_all, observe
from reports.metrics import distribution, dumps, new_document
from reports.report_build import write_report
from reports.report_cohost import cohost
from reports.report_data import load_run
from reports.rundir import write_run
from scenarios import SCENARIO_DIR, load_scenario

SMALL = ["scenario.replications=1", "markets.ID.audience=1500", "markets.TH.audience=700"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scenario = load_scenario(SCENARIO_DIR / "cohost_sea.toml", SMALL)
    results = sim.simulate_all(scenario)
    doc = sim.metrics_document(results, scenario, scenario_hash="h", version="t")
    out = tmp_path_factory.mktemp("cohost") / "model"
    fixed = datetime(2026, 12, 2, tzinfo=UTC)
    write_run(out, results, scenario, doc, command=["t"], version="t", scenario_hash="h",
              clock=lambda: fixed)  # fmt: skip
    return out


def _load_run(root: Path, model: Path, measured: dict[str, list[float]]) -> Path:
    """A `livelab run` layout: the measured document, the model run in `model/`."""
    shutil.copytree(model, root / "model")
    doc = new_document({"seed": 14, "window": {"start_s": 690.0, "end_s": 810.0}})
    for profile, values in measured.items():
        doc["profiles"][profile] = {"cohost_rtt_ms": distribution(values)}
    (root / "metrics.json").write_text(dumps(doc))
    return root


def test_profile_gates_on_cohost_rtt_resolve_on_the_model_document(model_dir: Path) -> None:
    run = load_run(model_dir)
    doc = json.loads((model_dir / "metrics.json").read_text())
    events = json.loads((model_dir / "events.json").read_text())["events"]
    guest = next(e["guest"] for e in events if e["kind"] == "cohost")
    key = f"profile={guest['profile']}:cohost_rtt_ms.p95"
    expected = doc["profiles"][guest["profile"]]["cohost_rtt_ms"]["p95"]
    assert observe(parse_gate(key, "< 600"), run) == expected
    verdict = evaluate(parse_gate(key, "< 600"), run)
    assert verdict.passed == (expected < 600)
    assert (
        observe(parse_gate("cohost_rtt_ms.p95", "< 600"), run)
        == (doc["overall"]["cohost_rtt_ms"]["p95"])
    )
    assert 0 <= observe(parse_gate("ID:cohost_conversion_rate", "> 0"), run) <= 1
    # The scenario's own gates all resolve (passing or not) on its model run.
    scenario_gates = load_scenario(SCENARIO_DIR / "cohost_sea.toml", SMALL).gates
    assert len(evaluate_all(parse_gates(scenario_gates), run)) == len(scenario_gates)


def test_profile_gates_resolve_on_a_measured_document_and_name_what_is_missing(
    tmp_path: Path, model_dir: Path
) -> None:
    root = _load_run(tmp_path / "load", model_dir, {"ID-4g": [410.0, 520.0, 700.0]})
    run = load_run(root)
    gate = parse_gate("profile=ID-4g:cohost_rtt_ms.p95", "< 600")
    assert observe(gate, run) == distribution([410.0, 520.0, 700.0])["p95"]
    assert not evaluate(gate, run).passed
    with pytest.raises(GateError) as info:
        observe(parse_gate("profile=TH-5g:cohost_rtt_ms.p95", "< 600"), run, source="s.toml")
    assert "no profile 'TH-5g'" in str(info.value) and "ID-4g" in str(info.value)


def test_report_section_lists_segments_with_modelled_and_measured_round_trips(
    tmp_path: Path, model_dir: Path
) -> None:
    model_doc = json.loads((model_dir / "metrics.json").read_text())
    events = json.loads((model_dir / "events.json").read_text())["events"]
    segments = [e for e in events if e["kind"] == "cohost"]
    first = segments[0]["guest"]
    section = cohost(load_run(model_dir))
    assert section is not None and len(section.rows) == len(segments) == 2
    row = section.rows[0]
    assert row[:4] == ("cohost_1: 12–16 min", "ID", first["profile"], f"{first['rtt_ms']:.0f}")
    assert row[4] == f"{model_doc['profiles'][first['profile']]['cohost_rtt_ms']['p95']:.0f}"
    assert row[5:] == ("—", "—")  # a model run measured nothing
    retention = model_doc["overall"]["cohost_retention_30s"]["value"]
    assert any(f"retention_30s {retention:.3f}" in fact for fact in section.facts)

    measured: dict[str, list[float]] = {first["profile"]: [300.0, 400.0, 500.0, 600.0]}
    root = _load_run(tmp_path / "load", model_dir, measured)
    loaded = cohost(load_run(root))
    assert loaded is not None
    dist = distribution(measured[first["profile"]])
    assert loaded.rows[0][5:] == (f"{dist['p50']:.0f} / {dist['p95']:.0f}", "4")
    assert loaded.rows[0][4] == row[4]  # the model's figure comes from model/metrics.json
    files = write_report(root, tmp_path / "out")
    html = files.html.read_text()
    assert '<h2 id="cohost">Co-host segments</h2>' in html and "cohost_1: 12–16 min" in html
    assert "**Co-host segments**" in files.summary.read_text()


def test_no_cohost_segments_no_section(tmp_path: Path) -> None:
    from reports.report_data import RunData

    assert cohost(RunData(path=None, metrics={"overall": {}})) is None
    root = tmp_path / "run"
    root.mkdir()
    (root / "events.json").write_text(json.dumps({"events": [{"kind": "poll", "start_s": 1.0}]}))
    doc: dict[str, Any] = new_document({"seed": 1})
    (root / "metrics.json").write_text(dumps(doc))
    assert cohost(load_run(root)) is None
