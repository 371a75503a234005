"""Paired-difference statistics, recommendation, rendering and the forest plot, on exact data."""

from __future__ import annotations

import json
import math

import pytest
from matplotlib.figure import Figure
from scipy import stats

from reports.compare import compare_variants, figures, paired_interval, recommend
from reports.compare_render import comparison_json, comparison_markdown
from reports.metrics import distribution, dumps, replicated, scalar
from reports.plots_compare import forest_plot, forest_rows


def doc(gmv: float, ret: float, id_gmv: float, rtt: list[float]) -> dict:
    return {
        "meta": {},
        "overall": {
            "gmv": scalar(gmv),
            "retention_30s": scalar(ret),
            "chat_rtt_ms": distribution(rtt),
        },
        "markets": {"ID": {"gmv": scalar(id_gmv)}, "GB": {"gmv": scalar(gmv - id_gmv)}},
        "profiles": {},
    }


BASE = [doc(100, 0.5, 60, [10, 20]), doc(110, 0.6, 70, [10, 30]), doc(90, 0.4, 50, [20, 20])]


def test_figures_reads_scalars_and_distribution_mean_and_p95() -> None:
    f = figures(BASE[0])
    assert f[("overall", "gmv")] == 100.0
    assert f[("overall", "chat_rtt_ms.mean")] == 15.0
    assert f[("overall", "chat_rtt_ms.p95")] == pytest.approx(19.5)
    assert f[("ID", "gmv")] == 60.0 and f[("GB", "gmv")] == 40.0
    assert figures({"overall": {"gmv": {"value": None}}})[("overall", "gmv")] is None


def test_paired_interval_matches_student_t() -> None:
    diffs = [1.0, 2.0, 4.0]
    mean, ci = paired_interval(diffs)
    t = stats.t.ppf(0.975, 2)
    half = t * stats.tstd(diffs) / math.sqrt(3)
    assert mean == pytest.approx(7 / 3)
    assert ci == pytest.approx((7 / 3 - half, 7 / 3 + half))
    assert paired_interval([0.0, 0.0, 0.0]) == (0.0, (0.0, 0.0))
    assert paired_interval([5.0]) == (5.0, None)
    # same interval as replicated() gives for a level
    assert list(ci) == pytest.approx(replicated(diffs)["ci95"])


def test_identical_variants_have_exactly_zero_differences_and_none_significant() -> None:
    comp = compare_variants({"a": BASE, "b": [json.loads(json.dumps(d)) for d in BASE]})
    assert comp.differences
    for d in comp.differences:
        assert d.diff == 0.0 and d.ci95 == (0.0, 0.0) and not d.significant, d


def test_constant_shift_is_significant_and_noise_is_paired_away() -> None:
    # +5 GMV in every replication: the levels overlap widely, the paired interval does not.
    shifted = [doc(105, 0.5, 63, [10, 20]), doc(115, 0.6, 73, [10, 30]), doc(95, 0.4, 53, [20, 20])]
    comp = compare_variants({"base": BASE, "promo": shifted})
    d = comp.difference("promo", "overall", "gmv")
    assert (d.diff, d.ci95, d.significant, d.better) == (5.0, (5.0, 5.0), True, True)
    assert d.relative == pytest.approx(0.05)
    assert d.base_mean == 100.0 and d.variant_mean == 105.0 and d.n == 3
    hi_b = comp.levels["base"][("overall", "gmv")].ci95[1]
    lo_p = comp.levels["promo"][("overall", "gmv")].ci95[0]
    assert lo_p < hi_b  # the unpaired intervals overlap
    assert not comp.difference("promo", "overall", "retention_30s").significant
    assert comp.difference("promo", "ID", "gmv").diff == 3.0
    assert comp.difference("promo", "GB", "gmv").diff == 2.0


def test_lower_is_better_direction() -> None:
    faster = [doc(100, 0.5, 60, [5, 15]), doc(110, 0.6, 70, [5, 25]), doc(90, 0.4, 50, [15, 15])]
    d = compare_variants({"a": BASE, "b": faster}).difference("b", "overall", "chat_rtt_ms.mean")
    assert d.diff == -5.0 and d.significant and d.better is True


def test_mismatched_replications_and_single_variant_are_refused() -> None:
    with pytest.raises(ValueError, match="same number"):
        compare_variants({"a": BASE, "b": BASE[:2]})
    with pytest.raises(ValueError, match="two variants"):
        compare_variants({"a": BASE})


def test_recommendation_names_best_and_ties() -> None:
    up5 = [doc(105, 0.5, 60, [10]), doc(115, 0.6, 70, [10]), doc(95, 0.4, 50, [10])]
    noisy = [doc(106, 0.5, 61, [10]), doc(108, 0.6, 71, [10]), doc(92, 0.4, 49, [10])]
    comp = compare_variants({"base": BASE, "up5": up5, "noisy": noisy})
    recs = {r.scope: r for r in recommend(comp, "gmv")}
    overall = recs["overall"]
    assert overall.best == "up5" and overall.best_mean == 105.0
    margins = {m.baseline: m for m in overall.margins}
    assert margins["base"].diff == 5.0 and margins["base"].significant
    assert not margins["noisy"].significant  # diffs -1, 7, 3: interval straddles zero
    assert overall.ties == ("noisy",) and not overall.clear
    # ID: noisy leads by a third on average (+1, +1, -1): not a real difference
    assert recs["ID"].best == "noisy" and recs["ID"].ties == ("base", "up5")
    assert [r.scope for r in recommend(comp, "gmv")] == ["overall", "GB", "ID"]
    with pytest.raises(ValueError, match="objective"):
        recommend(comp, "referral_k")


def test_single_replication_has_no_intervals() -> None:
    comp = compare_variants({"a": BASE[:1], "b": [doc(200, 0.5, 60, [1])]})
    d = comp.difference("b", "overall", "gmv")
    assert d.diff == 100.0 and d.ci95 is None and not d.significant
    rec = recommend(comp, "gmv")[0]
    assert rec.best == "b" and rec.ties == ("a",)
    assert "no interval" in comparison_markdown(comp, [rec], {"scenario": "x"})


def test_json_and_markdown_render_the_numbers() -> None:
    shifted = [doc(105, 0.5, 63, [10, 20]), doc(115, 0.6, 73, [10, 30]), doc(95, 0.4, 53, [20, 20])]
    comp = compare_variants({"base": BASE, "promo": shifted})
    recs = recommend(comp, "gmv")
    out = comparison_json(comp, recs, {"scenario": "t", "seed": 7, "objective": "gmv"})
    text = dumps(out)
    assert (
        dumps(comparison_json(comp, recs, {"scenario": "t", "seed": 7, "objective": "gmv"})) == text
    )
    back = json.loads(text)
    entry = back["differences"]["promo"]["overall"]["gmv"]
    assert entry == {
        "baseline": 100.0, "value": 105.0, "diff": 5.0, "ci95": [5.0, 5.0],
        "relative": 0.05, "significant": True, "better": True, "n": 3,
    }  # fmt: skip
    assert back["meta"]["baseline"] == "base" and back["meta"]["replications"] == 3
    assert back["levels"]["base"]["ID"]["gmv"]["value"] == 60.0
    assert back["recommendation"][0]["best"] == "promo" and back["recommendation"][0]["clear"]
    md = comparison_markdown(comp, recs, {"scenario": "t", "seed": 7})
    assert "| overall | **promo** | 105 |" in md
    assert "| gmv | 100 | +5 (+5 %) [5, 5] ▲ |" in md
    assert "## ID" in md and "## GB" in md
    tiny = [doc(100.00001, 0.5, 60, [10, 20]), doc(110.00001, 0.6, 70, [10, 30]),
            doc(90.00001, 0.4, 50, [20, 20])]  # fmt: skip
    comp = compare_variants({"base": BASE, "tiny": tiny})
    assert comp.difference("tiny", "overall", "gmv").significant
    md = comparison_markdown(comp, recommend(comp, "gmv"), {"scenario": "t"})
    assert "≈ (significant but < 0.1 %)" in md


def test_forest_plot_is_a_figure_with_one_panel_per_reported_figure() -> None:
    shifted = [doc(105, 0.5, 63, [10, 20]), doc(115, 0.6, 73, [10, 30]), doc(95, 0.4, 53, [20, 20])]
    comp = compare_variants({"base": BASE, "promo": shifted})
    rows = forest_rows(comp, "gmv")
    assert [label for label, _ in rows] == ["overall · promo", "GB · promo", "ID · promo"]
    fig = forest_plot(comp, ["gmv", "retention_30s", "not_a_metric"])
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert len(forest_plot(comp, ["nothing"]).axes) == 1
