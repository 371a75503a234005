"""Plot data exactly; figures smoke-tested (object API, Agg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from simkit import make

import sim
from reports import plots


def test_retention_data_counts_viewers_watching_at_least_t() -> None:
    t, share = plots.retention_data(np.array([0.0, 2.0, 10.0, 100.0]), horizon_s=100.0, points=3)
    assert t.tolist() == [0.0, 1.0, 100.0]
    assert share.tolist() == [1.0, 0.75, 0.25]


def test_funnel_and_referral_data_are_exact() -> None:
    viewers = {
        "watch_s": np.array([0.0, 2.0, 40.0, 400.0]),
        "abandoned": np.array([True, False, False, False]),
        "trusted": np.array([False, False, False, True]),
        "ordered": np.array([False, False, False, True]),
    }
    mask = np.ones(4, dtype=bool)
    assert plots.funnel_data(viewers, mask) == [4.0, 3.0, 2.0, 2.0, 1.0, 1.0]
    gen = np.array([0, 0, 1, 2, 0])
    assert plots.referral_data(gen, gen >= 0).tolist() == [3.0, 1.0, 1.0]


def test_run_figures_render_and_save(tmp_path: Path) -> None:
    result = sim.simulate(make([("markets.ID.audience", 500)]))
    figures = plots.run_figures(result)
    assert set(figures) == {"concurrency", "retention", "funnel", "referrals"}
    for name, fig in figures.items():
        assert isinstance(fig, Figure) and fig.axes
        path = plots.save(fig, tmp_path / f"{name}.png")
        assert path.stat().st_size > 5000
