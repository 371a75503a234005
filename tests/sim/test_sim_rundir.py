"""`livelab simulate` writes a complete run directory; `read_run_dir` reads it back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from simkit import make

import sim
from livelab.cli import main
from reports import TIMESERIES_COLUMNS, read_run_dir, write_run
from scenarios import SCENARIO_DIR

SMALL = ["--set", "markets.ID.audience=1500", "--set", "markets.TH.audience=800",
         "--set", "markets.SA.audience=600", "--set", "markets.GB.audience=600"]  # fmt: skip
DEMO = str(SCENARIO_DIR / "demo.toml")


def test_simulate_writes_every_file_and_reads_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["simulate", DEMO, "--out", str(out), *SMALL]) == 0
    assert str(out) in capsys.readouterr().out
    for name in ("metrics.json", "scenario.json", "run.json", "timeseries.csv", "viewers.npz",
                 "events.json", "summary.md"):  # fmt: skip
        assert (out / name).is_file(), name
    for plot in ("concurrency", "retention", "funnel", "referrals"):
        assert (out / "plots" / f"{plot}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    run = read_run_dir(out)
    assert run.run["kind"] == "simulate" and run.run["seed"] == 42
    assert run.run["command"] == ["livelab", "simulate", DEMO, "--out", str(out), *SMALL]
    assert run.scenario["markets"][0]["audience"] == 1500  # the effective scenario
    assert run.scenario["markets"][0]["access"]["4g"] == 0.6  # aliases kept
    assert tuple(run.timeseries) == TIMESERIES_COLUMNS
    assert set(run.timeseries["market"]) == {"ID", "TH", "SA", "GB"}
    assert run.timeseries["t_s"][:2].tolist() == [0.0, 10.0]
    n = run.viewers["arrival_s"].size
    assert n == run.metrics["overall"]["arrivals"]["value"]
    assert run.viewers["markets"].tolist() == ["ID", "TH", "SA", "GB"]
    assert run.viewers["profiles"][run.viewers["profile"]].size == n
    for key in ("startup_ms", "g2g_latency_ms", "chat_rtt_ms", "answer_ms", "rebuffer_ratio",
                "resolution", "chats", "likes", "votes", "questions", "shares", "orders", "gmv",
                "referred", "generation", "leave_s"):  # fmt: skip
        assert run.viewers[key].shape == (n,), key
    # The demo's host polls the room during its flash deal ([host] flash_deal_poll).
    assert [e["kind"] for e in run.events] == ["lottery", "flash_deal", "poll", "poll"]
    assert run.events[1] | {"kind": "poll"} == run.events[2]
    assert run.events[0] == {
        "kind": "lottery",
        "announce_s": 780.0,
        "start_s": 900.0,
        "end_s": 1080.0,
    }
    assert "retention_30s" in run.summary
    arrivals = run.timeseries["arrivals"].sum()
    assert arrivals == n


def test_metrics_json_is_byte_identical_and_free_of_time_and_paths(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert main(["simulate", DEMO, "--out", str(tmp_path / name), "--no-plots", *SMALL]) == 0
    a = (tmp_path / "a" / "metrics.json").read_bytes()
    assert a == (tmp_path / "b" / "metrics.json").read_bytes()
    assert str(tmp_path).encode() not in a and b"2026-" not in a
    assert (tmp_path / "a" / "timeseries.csv").read_bytes() == (
        tmp_path / "b" / "timeseries.csv"
    ).read_bytes()


def test_replications_give_intervals_and_variant_applies(tmp_path: Path) -> None:
    out = tmp_path / "v"
    args = ["simulate", DEMO, "--out", str(out), "--no-plots", "--replications", "3"]
    assert main([*args, "--variant", "no-peaks", *SMALL]) == 0
    run = read_run_dir(out)
    assert run.run["replications"] == 3
    assert len(run.metrics["overall"]["retention_30s"]["ci95"]) == 2
    assert run.scenario["host"]["mini_peak_every_min"] == 0
    assert run.events == []


def test_bad_scenario_exits_2_with_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["simulate", DEMO, "--out", str(tmp_path / "x"),
                 "--set", "markets.ID.audience=-5", "--set", "stream.duration_min=0"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2
    assert any("markets.ID.audience" in line and "-5" in line for line in err)
    assert not (tmp_path / "x").exists()


def test_unknown_profile_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["simulate", DEMO, "--out", str(tmp_path / "x"), "--set", "markets.ID.backbone=nowhere"]
    )
    assert code == 2
    assert "nowhere" in capsys.readouterr().err


def test_write_run_takes_the_creation_time_from_a_clock(tmp_path: Path) -> None:
    scenario = make([("markets.ID.audience", 300)])
    results = sim.simulate_all(scenario)
    doc = sim.metrics_document(results, scenario, scenario_hash="abc", version="t")
    fixed = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    path = write_run(tmp_path / "r", results, scenario, doc, command=["x"], version="t",
                     scenario_hash="abc", clock=lambda: fixed)  # fmt: skip
    info = json.loads((path / "run.json").read_text())
    assert info["created_utc"] == "2030-01-02T03:04:05+00:00"
    assert info["scenario_hash"] == "abc"
    assert not (path / "plots").exists()


def test_read_run_dir_refuses_a_directory_without_metrics(tmp_path: Path) -> None:
    from livelab.errors import ConfigError

    with pytest.raises(ConfigError, match=r"metrics\.json"):
        read_run_dir(tmp_path)


def test_reports_reader_sees_the_model_samples(tmp_path: Path) -> None:
    from reports import load_run as report_load

    out = tmp_path / "run"
    assert main(["simulate", DEMO, "--out", str(out), "--no-plots", *SMALL]) == 0
    data = report_load(out)
    chat = data.samples["chat_rtt_ms"]
    assert len(chat) == data.metrics["overall"]["arrivals"]["value"]
    assert set(np.unique(chat.market)) == {"ID", "TH", "SA", "GB"}
    assert "ID-4g" in set(np.unique(chat.profile))


def test_an_empty_audience_gives_empty_metrics_not_an_error(tmp_path: Path) -> None:
    zero = [arg.replace("=1500", "=0").replace("=800", "=0").replace("=600", "=0") for arg in SMALL]
    assert main(["simulate", DEMO, "--out", str(tmp_path / "e"), "--no-plots", *zero]) == 0
    run = read_run_dir(tmp_path / "e")
    assert run.metrics["overall"]["arrivals"] == {"value": 0.0}
    assert run.metrics["overall"]["retention_30s"] == {"value": None}
    assert run.metrics["overall"]["chat_rtt_ms"]["n"] == 0
    assert run.viewers["arrival_s"].size == 0
