"""`livelab capacity` without load: a given knee, argument errors and an unreachable target."""

from __future__ import annotations

import json
import math
import socket
from pathlib import Path

import pytest

from livelab.cli import main
from livelab.commands.capacity import parse_headroom
from livelab.errors import ConfigError
from scenarios import SCENARIO_DIR

DEMO = str(SCENARIO_DIR / "demo.toml")
SMALL = ["--set", "markets.ID.audience=2000", "--set", "markets.TH.audience=1000"]


def test_given_knee_plans_from_the_model_forecast(tmp_path: Path) -> None:
    out = tmp_path / "cap"
    assert main(["capacity", DEMO, *SMALL, "--knee", "100", "--headroom", "50%",
                 "--out", str(out)]) == 0  # fmt: skip
    doc = json.loads((out / "capacity.json").read_text())
    assert doc["knee"]["measured"] is False and doc["curve"] is None
    assert [p["region"] for p in doc["plan"]] == ["sg", "fra"]
    assert [tuple(f["markets"]) for f in doc["forecast"]] == [("ID", "TH"), ("SA", "GB")]
    for f, p in zip(doc["forecast"], doc["plan"], strict=True):
        assert f["peak_concurrent"] > 0 and f["peak_egress_gbps"] > 0
        assert p["instances"] == math.ceil(round(f["peak_concurrent"] * 1.5 / 100, 9))
        assert p["egress_gbps"] == pytest.approx(f["peak_egress_gbps"] * 1.5)
    assert doc["totals"]["instances"] == sum(p["instances"] for p in doc["plan"])
    assert doc["meta"]["headroom"] == 0.5
    assert set(doc["meta"]["step_rates_per_viewer_s"]) == {"chat", "like", "vote", "question",
                                                          "order"}  # fmt: skip
    assert "(given with --knee, not measured)" in (out / "capacity.md").read_text()
    assert (out / "capacity.png").stat().st_size > 5000


def test_parse_headroom() -> None:
    assert parse_headroom("30%") == pytest.approx(0.3)
    assert parse_headroom("0.25") == 0.25
    for bad in ("lots", "-5%", "2000%"):
        with pytest.raises(ConfigError):
            parse_headroom(bad)


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    out = ["--out", str(tmp_path / "o")]
    assert main(["capacity", DEMO, "--knee", "10", "--headroom", "lots", *out]) == 2
    assert main(["capacity", DEMO, "--steps", "10:1:x2", *out]) == 2
    assert main(["capacity", DEMO, "--step-duration", "0", *out]) == 2
    assert main(["capacity", DEMO, "--target", "http://10.1.2.3:8080", *out]) == 2
    assert main(["capacity", DEMO, "--set", "markets.ID.audience=-1", *out]) == 2


def test_unreachable_target_exits_3(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = ["capacity", DEMO, *SMALL, "--target", f"http://127.0.0.1:{port}",
            "--out", str(tmp_path / "o")]  # fmt: skip
    assert main(argv) == 3


@pytest.mark.parametrize("argv", [["--help"], ["compare", "--help"], ["capacity", "--help"]])
def test_help_renders(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "95 %" in capsys.readouterr().out or argv == ["capacity", "--help"]
