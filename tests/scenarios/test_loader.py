"""The scenario loader: overrides, variants, hashing and one-line problems."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from livelab.cli import main
from livelab.errors import ScenarioError
from scenarios import SCENARIO_DIR, load_scenario, parse_overrides, scenario_hash

DEMO = SCENARIO_DIR / "demo.toml"

BAD = """
[scenario]
name = "bad"
seed = -3
colour = "red"

[stream]
start_utc = "2026-11-11T12:00:00"
duration_min = 60
origin = "mars"

[[markets]]
code = "ID"
tz = "Asia/Nowhere"
audience = -5
access = { wifi = 0.5, "4g" = 0.6 }
incentive = "money"

[markets.behavior]
chat_per_min = -1
"""


def test_demo_loads_with_its_markets() -> None:
    scenario = load_scenario(DEMO)
    assert [m.code for m in scenario.markets] == ["ID", "TH", "SA", "GB"]
    assert 15_000 <= sum(m.audience for m in scenario.markets) <= 25_000


def test_set_addresses_markets_by_code_and_parses_toml_values() -> None:
    scenario = load_scenario(
        DEMO,
        ["host.mini_peak_every_min=20", "markets.ID.audience=50000", "markets.GB.localized=true"],
    )
    assert scenario.host.mini_peak_every_min == 20
    assert scenario.market("ID").audience == 50_000
    assert scenario.market("GB").localized is True


def test_variant_applies_its_overrides_and_changes_the_hash() -> None:
    base = load_scenario(DEMO)
    none = load_scenario(DEMO, variant="no-peaks")
    assert none.host.mini_peak_every_min == 0
    assert scenario_hash(base) != scenario_hash(none)
    assert scenario_hash(base) == scenario_hash(load_scenario(DEMO))


def test_unknown_variant_names_the_ones_there_are() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(DEMO, variant="nope")
    assert "every20" in str(info.value) and "no-peaks" in str(info.value)


def test_every_problem_is_one_line_with_file_path_value_and_allowed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD)
    with pytest.raises(ScenarioError) as info:
        load_scenario(bad)
    lines = str(info.value).splitlines()
    assert all(line.startswith(f"{bad}: ") for line in lines)
    by_path = {line.split(": ", 1)[1].split(" = ")[0]: line for line in lines}
    assert set(by_path) == {
        "scenario.seed",
        "scenario.colour",
        "stream.start_utc",
        "stream.origin",
        "markets.ID.tz",
        "markets.ID.audience",
        "markets.ID.access",
        "markets.ID.incentive",
        "markets.ID.behavior.chat_per_min",
    }
    assert by_path["scenario.seed"].endswith("= -3: must be ≥ 0")
    assert "unknown key; allowed: name, description, seed" in by_path["scenario.colour"]
    assert "one of 'hk' or 'hangzhou'" in by_path["stream.origin"]


def test_bad_override_names_the_market_codes_there_are() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(DEMO, ["markets.XX.audience=5"])
    assert "markets.XX" in str(info.value) and "ID, TH, SA, GB" in str(info.value)


def test_override_needs_key_equals_value() -> None:
    with pytest.raises(ScenarioError, match="expected KEY=VALUE"):
        parse_overrides(["nokey"])


def test_cli_check_exits_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD)
    assert main(["scenario", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 9


def test_cli_check_missing_file_and_bad_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scenario", "check", str(tmp_path / "none.toml")]) == 2
    broken = tmp_path / "broken.toml"
    broken.write_text("[scenario\nname=")
    assert main(["scenario", "check", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and "not valid TOML" in err


def test_cli_schema_is_json_schema_forbidding_unknown_keys(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["scenario", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["additionalProperties"] is False
    assert {"scenario", "stream", "markets"} <= set(schema["required"])
    market = schema["$defs"]["Market"]["properties"]
    assert {"code", "audience", "access", "incentive", "localized", "qoe"} <= set(market)


SHIPPED = sorted(p for p in SCENARIO_DIR.glob("*.toml") if p.name != "presets.toml")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_scenario_is_valid_and_says_what_it_is_for(path: Path) -> None:
    load_scenario(path)
    assert path.read_text().startswith("#"), "each scenario opens with a header comment"


def test_cli_check_rejects_malformed_gates(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["scenario", "check", str(DEMO), "--set", 'gates.retention_30s="about half"'])
    assert code == 2
    err = capsys.readouterr().err
    assert "gates.retention_30s = 'about half'" in err and "expected OP NUMBER" in err


def test_simulate_records_the_run_in_the_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = tmp_path / "index.sqlite"
    out = tmp_path / "run"
    argv = ["simulate", str(DEMO), "--out", str(out), "--no-plots", "--index", str(index)]
    assert main([*argv, "--set", "markets.ID.audience=500"]) == 0
    capsys.readouterr()
    assert main(["runs", "list", "--json", "--index", str(index)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["scenario"], r["kind"], Path(r["path"])) for r in listed] == [
        ("demo", "model", out.resolve())
    ]


def test_unknown_profiles_are_named_by_field_at_load() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(DEMO, ['markets.ID.backbone="hk-XX"', 'markets.GB.lastmile={ "4g" = "6g" }'])
    lines = str(info.value).splitlines()
    assert [line.split(" = ")[0] for line in lines] == [
        f"{DEMO}: markets.ID.backbone",
        f"{DEMO}: markets.GB.lastmile.4g",
    ]
    assert "did you mean" in lines[0]


def test_partial_share_table_overrides_only_the_modes_it_names() -> None:
    scenario = load_scenario(DEMO, ["markets.ID.behavior.share_prob={ interest = 0.3 }"])
    shares = scenario.market("ID").resolved_behavior().share_prob
    preset_shares = load_scenario(DEMO).market("ID").resolved_behavior().share_prob
    assert shares == {**preset_shares, "interest": 0.3}
    with pytest.raises(ScenarioError, match=r"share_prob.interest = 1.3: must be ≤ 1"):
        load_scenario(DEMO, ["markets.ID.behavior.share_prob={ interest = 1.3 }"])


def test_a_single_problem_prints_like_many(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "check", str(DEMO), "--set", "markets.ID.audience=-1"]) == 2
    assert capsys.readouterr().err == f"{DEMO}: markets.ID.audience = -1: must be ≥ 0\n"
