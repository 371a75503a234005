"""Strategy comparison on the real model: CRN makes identical variants identical, and mini-peaks
every 15 minutes hold viewers longer than none. Small audiences keep it fast."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from livelab.cli import main
from reports.compare import compare_variants
from reports.compare_sweep import (
    SerialExecutor,
    make_executor,
    run_sweep,
    variant_scenarios,
)
from scenarios import SCENARIO_DIR

SMALL = [("markets.ID.audience", 800), ("markets.GB.audience", 500)]


def small_data(variants: list[dict[str, Any]]) -> dict[str, Any]:
    """The demo scenario cut to two markets, ~1,300 viewers, 45 minutes."""
    data = tomllib.loads((SCENARIO_DIR / "demo.toml").read_text("utf-8"))
    data["markets"] = [m for m in data["markets"] if m["code"] in ("ID", "GB")]
    data["infra"]["edges"] = [
        {**e, "markets": [m for m in e["markets"] if m in ("ID", "GB")]}
        for e in data["infra"]["edges"]
    ]
    data["stream"]["duration_min"] = 45
    data["variants"] = variants
    data.pop("gates", None)
    return data


def test_identical_variants_differ_by_exactly_zero_under_crn() -> None:
    data = small_data([{"name": "a", "set": {}}, {"name": "b", "set": {}}])
    scenarios = variant_scenarios(data, source="<test>", overrides=SMALL)
    executor = make_executor("process", 2)  # CRN must survive separate worker processes
    try:
        runs = run_sweep(scenarios, 3, executor)
    finally:
        executor.shutdown()
    comparison = compare_variants(runs)
    assert len(comparison.differences) > 100  # every figure, overall and per market
    scopes = {d.scope for d in comparison.differences}
    assert scopes == {"overall", "ID", "GB"}
    for d in comparison.differences:
        assert d.diff == 0.0 and d.ci95 == (0.0, 0.0) and not d.significant, d
    # and the replications themselves differ: the zero is pairing, not a constant model
    gmv = comparison.values["a"][("overall", "gmv")]
    assert len(set(gmv)) == 3


def test_mini_peaks_every_15_min_beat_none_on_watch_time() -> None:
    data = small_data(
        [
            {"name": "every15", "set": {"host.mini_peak_every_min": 15}},
            {"name": "none", "set": {"host.mini_peak_every_min": 0}},
        ]
    )
    scenarios = variant_scenarios(data, source="<test>", overrides=SMALL)
    runs = run_sweep(scenarios, 5, SerialExecutor())
    comparison = compare_variants(runs)
    d = comparison.difference("none", "overall", "watch_time_mean_s")
    assert d.baseline == "every15" and d.n == 5
    assert d.ci95 is not None and d.ci95[1] < 0 and d.significant, d
    assert d.variant_mean < d.base_mean and d.better is False


def test_variants_must_share_the_seed() -> None:
    from livelab.errors import ScenarioError

    data = small_data([{"name": "a", "set": {}}, {"name": "b", "set": {"scenario.seed": 9}}])
    with pytest.raises(ScenarioError, match="CRN"):
        variant_scenarios(data, source="<test>", overrides=SMALL)
    with pytest.raises(ScenarioError, match="at least two"):
        variant_scenarios(data, source="<test>", names=["a"])


def test_livelab_compare_writes_json_markdown_and_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = small_data(
        [
            {"name": "every20", "set": {"host.mini_peak_every_min": 20}},
            {"name": "none", "set": {"host.mini_peak_every_min": 0}},
        ]
    )
    scenario = tmp_path / "s.toml"
    scenario.write_text(_toml(data), "utf-8")
    out = tmp_path / "out"
    argv = ["compare", str(scenario), "--out", str(out), "--replications", "2",
            "--executor", "serial", "--with-base", "--objective", "retention_30s"]  # fmt: skip
    for key, value in SMALL:
        argv += ["--set", f"{key}={value}"]
    assert main(argv) == 0
    doc = json.loads((out / "compare.json").read_text())
    assert doc["meta"]["variants"] == ["base", "every20", "none"]
    assert doc["meta"]["baseline"] == "base" and doc["meta"]["objective"] == "retention_30s"
    assert set(doc["differences"]) == {"every20", "none"}
    assert [r["scope"] for r in doc["recommendation"]] == ["overall", "GB", "ID"]
    assert (out / "compare_forest.png").stat().st_size > 5000
    assert "## Recommendation by `retention_30s`" in (out / "compare.md").read_text()
    assert "best by retention_30s" in capsys.readouterr().out


def test_livelab_compare_bad_input_exits_2(tmp_path: Path) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text(_toml(small_data([{"name": "a", "set": {}}])), "utf-8")
    assert main(["compare", str(scenario), "--out", str(tmp_path / "o")]) == 2  # one variant
    assert main(["compare", str(scenario), "--with-base", "--variants", "a,nope"]) == 2
    assert main(["compare", str(scenario), "--with-base", "--executor", "nowhere"]) == 2


def _toml(data: dict[str, Any]) -> str:
    """Minimal TOML writer for the test scenario (tables, arrays of tables, inline values)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if hasattr(v, "isoformat"):
            return v.isoformat()
        return repr(v)

    lines: list[str] = []

    def table(prefix: str, body: dict[str, Any], array: bool = False) -> None:
        lines.append(f"[[{prefix}]]" if array else f"[{prefix}]")
        nested = []
        for k, v in body.items():
            if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                nested.append((k, v))
            else:
                lines.append(f"{json.dumps(k)} = {value(v)}")
        for k, items in nested:
            for item in items:
                table(f"{prefix}.{k}", item, array=True)

    for key, body in data.items():
        if isinstance(body, list):
            for item in body:
                table(key, item, array=True)
        else:
            table(key, body)
    return "\n".join(lines) + "\n"


def test_shipped_strategies_scenario_covers_cadence_and_incentives() -> None:
    path = SCENARIO_DIR / "strategies_sea_vs_eu.toml"
    data = tomllib.loads(path.read_text("utf-8"))
    scenarios = variant_scenarios(data, source=str(path))
    assert list(scenarios) == ["every15-interest", "every20", "no-peaks", "social", "honour"]
    cadence = {n: s.host.mini_peak_every_min for n, s in scenarios.items()}
    assert cadence == {"every15-interest": 15, "every20": 20, "no-peaks": 0, "social": 15,
                       "honour": 15}  # fmt: skip
    modes = {n: {m.incentive for m in s.markets} for n, s in scenarios.items()}
    assert modes["every15-interest"] == {"interest"} and modes["social"] == {"social"}
    assert modes["honour"] == {"honour"}
    codes = [m.code for m in scenarios["every20"].markets]
    assert codes == ["ID", "TH", "GB", "DE"]  # Southeast Asia and Europe
    assert len({s.scenario.seed for s in scenarios.values()}) == 1
