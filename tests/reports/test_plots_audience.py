"""Audience plots of `livelab report` and `livelab simulate`: numbers exactly, pictures by smoke.

`reports.plots_audience` is the one set of concurrency, retention, funnel and referral figures;
`livelab simulate` writes them to plots/*.png from the run directory it has just written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from reportfixtures import RunFactory, write_model_run

from livelab.cli import main
from reports.plots_audience import (
    AUDIENCE_PLOTS,
    concurrency_by_market,
    funnel,
    referral_generations,
    retention_curves,
    retention_points,
)
from reports.plots_base import png_bytes
from reports.report_data import RunData, load_run
from scenarios import SCENARIO_DIR

SMALL = ["--set", "markets.ID.audience=1500", "--set", "markets.TH.audience=800",
         "--set", "markets.SA.audience=600", "--set", "markets.GB.audience=600"]  # fmt: skip
FILES = {"concurrency": "concurrency", "retention": "retention", "funnel": "funnel",
         "referral": "referrals"}  # fmt: skip


@pytest.fixture
def model_run(tmp_path: Path) -> Path:
    return write_model_run(tmp_path / "model")


def test_audience_numbers_exact(model_run: Path) -> None:
    run = load_run(model_run)
    conc = concurrency_by_market(run)
    assert list(conc) == ["GB", "ID"]
    assert conc["GB"][1].tolist() == [0, 2, 4, 6, 8, 10]
    assert conc["ID"][0].tolist() == [0, 10, 20, 30, 40, 50]
    curves = retention_curves(run, grid_s=[1, 3, 30, 300])
    # ID watch_s: 0, 2, 40, 400, 29.9, 30 → ≥1: 5/6, ≥3: 4/6, ≥30: 3/6, ≥300: 1/6
    assert curves["ID"][1].tolist() == [5 / 6, 4 / 6, 3 / 6, 1 / 6]
    assert curves["GB"][1].tolist() == [3 / 4, 3 / 4, 2 / 4, 1 / 4]
    assert retention_points(run.metrics) == {"ID": [(30.0, 0.5, 0.4, 0.6)]}
    assert funnel(run) == {
        "GB": {"arrived": 4, "started": 3, "stayed 30 s": 2, "trusted": 2, "ordered": 1},
        "ID": {"arrived": 6, "started": 5, "stayed 30 s": 3, "trusted": 3, "ordered": 2},
    }
    gens, k = referral_generations(run)
    assert gens == {"GB": {0: 3, 1: 1}, "ID": {0: 3, 1: 2, 2: 1}}
    assert k == {"overall": 0.25, "ID": 0.4, "GB": 0.1}


def test_retention_counts_at_least_t_and_nan_as_zero() -> None:
    viewers = {"watch_s": np.array([0.0, 2.0, 10.0, 100.0, np.nan]), "market": np.array(["ID"] * 5)}
    run = RunData(path=None, metrics={}, viewers=viewers)
    t, share = retention_curves(run, grid_s=[0.0, 1.0, 10.0, 100.0, 101.0])["ID"]
    # A NaN watch time is a viewer who never watched: 0 s, counted only at t = 0.
    assert t.tolist() == [0.0, 1.0, 10.0, 100.0, 101.0]
    assert share.tolist() == [1.0, 0.6, 0.4, 0.2, 0.0]


def test_funnel_from_metrics_when_no_viewers(make_run: RunFactory) -> None:
    run = load_run(make_run(retention=0.6, arrivals=2000))
    assert funnel(run) == {
        "GB": {"arrived": 1000.0, "stayed 30 s": 600.0},
        "ID": {"arrived": 1000.0, "stayed 30 s": 600.0},
    }
    gens, k = referral_generations(run)
    assert gens == {} and k == {}


def _has_data(run: RunData) -> dict[str, bool]:
    # A plot with nothing to show is `no_data_figure`: one axis, switched off.
    figures = {key: make(run) for key, make in AUDIENCE_PLOTS.items()}
    return {key: any(ax.axison for ax in fig.axes) for key, fig in figures.items()}


def test_simulate_plots_are_the_audience_figures_of_its_run(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    demo = str(SCENARIO_DIR / "demo.toml")
    assert main(["simulate", demo, "--out", str(out), *SMALL]) == 0
    run = load_run(out)
    assert sorted(p.name for p in (out / "plots").iterdir()) == sorted(
        f"{stem}.png" for stem in FILES.values()
    )
    for key, make in AUDIENCE_PLOTS.items():
        png = (out / "plots" / f"{FILES[key]}.png").read_bytes()
        assert png == png_bytes(make(run), dpi=100), key  # Agg renders the same bytes
        assert len(png) > 5000, key
    assert _has_data(run) == dict.fromkeys(AUDIENCE_PLOTS, True)
    # A load run (`livelab run`) keeps its model in model/: the same figures, all with data.
    load = tmp_path / "load"
    shutil.copytree(out, load / "model")
    shutil.copyfile(out / "metrics.json", load / "metrics.json")
    assert _has_data(load_run(load)) == dict.fromkeys(AUDIENCE_PLOTS, True)


def test_no_data_figures_on_a_bare_metrics_file(tmp_path: Path) -> None:
    bare = tmp_path / "metrics.json"
    bare.write_text('{"meta": {}, "overall": {}, "markets": {}}')
    assert _has_data(load_run(bare)) == dict.fromkeys(AUDIENCE_PLOTS, False)
