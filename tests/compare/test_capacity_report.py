"""The model forecast read from a result, the step plan, capacity.json/md and the plot."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.figure import Figure

from loadgen.capacity.search import Limit, StepResult, search_knee
from loadgen.capacity.steps import per_viewer_rates, ramp_for, step_plan
from loadgen.capacity.target import step_figures
from reports.capacity import Knee, plan_capacity
from reports.capacity_forecast import model_forecast
from reports.capacity_plots import capacity_figure, latency_series
from reports.capacity_render import capacity_json, capacity_markdown
from reports.metrics import dumps

LADDER = {360: 800.0, 720: 2500.0, 1080: 4500.0}


def fake_result() -> SimpleNamespace:
    """Two markets, three 10-s steps; ID busiest in messages at t=10 (a mini-peak)."""
    z = np.zeros((2, 3))
    return SimpleNamespace(
        markets=("ID", "GB"),
        times_s=np.array([0.0, 10.0, 20.0]),
        series={
            "concurrent": np.array([[100.0, 300.0, 200.0], [100.0, 100.0, 100.0]]),
            "chat_per_s": np.array([[1.0, 20.0, 2.0], [1.0, 4.0, 1.0]]),
            "likes_per_s": np.array([[2.0, 40.0, 4.0], [0.0, 0.0, 0.0]]),
            "votes_per_s": z,
            "questions_per_s": z,
            "orders_per_min": np.array([[0.0, 24.0, 0.0], [0.0, 0.0, 0.0]]),
        },
        viewers={
            "market": np.array([0, 0, 1, 1]),
            "start_s": np.array([1.0, np.nan, 2.0, 3.0]),  # the 2nd ID viewer never started
            "kbps": np.array([800.0, 99999.0, 2500.0, 4500.0]),
        },
        host_events=(SimpleNamespace(kind="lottery", announce_s=0.0, start_s=10.0, end_s=15.0),),
    )


def test_model_forecast_reads_peaks_rates_and_bitrates() -> None:
    f = model_forecast(fake_result(), {"sg": ["ID"], "fra": ["GB"]}, LADDER)
    assert f.kbps == {"ID": 800.0, "GB": 3500.0}  # only viewers who started count
    sg, fra = f.regions
    assert (sg.peak_concurrent, sg.peak_t_s, sg.peak_msgs_per_s) == (300.0, 10.0, 60.0)
    assert sg.mini_peak_msgs_per_s == 60.0
    assert sg.peak_egress_gbps == pytest.approx(300 * 800 / 1e6)
    assert fra.peak_egress_gbps == pytest.approx(100 * 3500 / 1e6)
    assert f.busiest_t_s == 10.0
    # at t=10: 400 viewers, 24 chats/s, 40 likes/s, 0.4 orders/s
    assert f.rates == pytest.approx(
        {"chat": 24 / 400, "like": 40 / 400, "vote": 0.0, "question": 0.0, "order": 0.4 / 400}
    )
    assert f.mix == {"ID": 0.75, "GB": 0.25}
    id_peak, gb_peak = f.markets
    assert (id_peak.market, id_peak.region, id_peak.peak_concurrent) == ("ID", "sg", 300.0)
    assert (id_peak.peak_t_s, id_peak.peak_msgs_per_s, id_peak.kbps) == (10.0, 60.0, 800.0)
    assert (gb_peak.region, gb_peak.peak_concurrent, gb_peak.peak_t_s) == ("fra", 100.0, 0.0)


def test_model_forecast_falls_back_to_the_ladder() -> None:
    r = fake_result()
    r.viewers = {"market": np.array([0, 1]), "start_s": np.array([0.0, 0.0]),
                 "resolution": np.array([720, 1080])}  # fmt: skip
    assert model_forecast(r, {}, LADDER).kbps == {"ID": 2500.0, "GB": 4500.0}


def test_step_plan_holds_the_audience_at_the_rates() -> None:
    rates = per_viewer_rates(400.0, {"chat": 24.0, "like": 40.0})
    assert rates == {"chat": 0.06, "like": 0.1}
    mix = {"ID-4g": 0.75, "GB-wifi": 0.25}
    plan = step_plan(50, hold_s=30.0, rates=rates, seed=1, ramp_s=5.0, lead_s=2.0, mix=mix)
    assert plan == step_plan(50, hold_s=30.0, rates=rates, seed=1, ramp_s=5.0, lead_s=2.0, mix=mix)
    assert plan.duration_s == 37.0 and plan.window["hold_from_s"] == 7.0
    assert len(plan.scripts) == 50 and plan.curve[1] == 0 and plan.curve[7] == 50
    assert len(plan.curve) == 37
    assert sum(s.profile == "ID-4g" for s in plan.scripts) == 37  # 37.5: the tie goes to GB
    assert {(s.market, s.access) for s in plan.scripts} == {("ID", "4g"), ("GB", "wifi")}
    for s in plan.scripts:
        assert 2.0 <= s.start_s < 7.0 and s.actions[0][1] == "join"
        assert s.actions[-1] == (37.0, "leave") and s.end_s == 37.0
        assert [t for t, _ in s.actions] == sorted(t for t, _ in s.actions)
        assert all(t >= s.start_s + 0.5 for t, k in s.actions if k in ("chat", "like"))
    chats = sum(k == "chat" for s in plan.scripts for _, k in s.actions)
    # Poisson: 50 viewers × ~32 s × 0.06/s ≈ 96 chats; a loose band of ±5 sigma
    assert 50 < chats < 150
    assert plan.source["kind"] == "capacity-step" and plan.source["hold_s"] == 30.0
    with pytest.raises(ValueError):
        step_plan(0, hold_s=30.0, rates=rates, seed=1)
    with pytest.raises(ValueError):
        step_plan(5, hold_s=0.2, rates=rates, seed=1)
    with pytest.raises(ValueError):
        step_plan(5, hold_s=30.0, rates={"dance": 1.0}, seed=1)


def test_large_steps_ramp_slower_than_locust_spawns() -> None:
    assert ramp_for(10, 5.0) == 5.0
    assert ramp_for(800, 5.0) == 16.0  # 800 joins at ≤ 50/s


def test_step_figures_judge_the_hold_only() -> None:
    rows = [
        ("join_ms", "ID", "ID-wifi", 30.0, True, 1.0),
        ("join_ms", "ID", "ID-wifi", 50.0, False, 1.5),
        ("chat_rtt_ms", "ID", "ID-wifi", 900.0, True, 2.0),  # during the ramp: left out
        ("chat_rtt_ms", "ID", "ID-wifi", 10.0, True, 6.0),
        ("chat_rtt_ms", "ID", "ID-wifi", 20.0, True, 7.0),
        ("start_lag_ms", "ID", "ID-wifi", 5000.0, True, 1.0),  # health, not a request
    ]
    f = step_figures(rows, hold_from_s=5.0)
    assert f["join_ms.p50"] == 30.0 and f["chat_rtt_ms.p50"] == 15.0
    assert f["chat_rtt_ms.p95"] == pytest.approx(19.5)
    assert f["error_rate"] == 1 / 4 and f["order_ms.p95"] is None


def _curve() -> dict:
    def measure(a: int) -> StepResult:
        return StepResult(a, {"chat_rtt_ms.p95": 40.0 + a, "join_ms.p95": 20.0,
                              "error_rate": 0.0}, requests=10 * a)  # fmt: skip

    return search_knee(measure, [100, 300, 600], [Limit("chat_rtt_ms.p95", "<", 600.0)]).to_json()


def test_capacity_json_markdown_and_figure() -> None:
    curve = _curve()
    assert curve["knee"] == 300 and curve["steps"][2]["broken"] == ["chat_rtt_ms.p95 < 600"]
    forecast = model_forecast(fake_result(), {"sg": ["ID"], "fra": ["GB"]}, LADDER)
    knee = Knee(viewers=300)
    plans = plan_capacity(forecast.regions, knee, 0.3, {"sg": (20000, 40.0), "fra": (100, 1.0)})
    doc = capacity_json(
        curve=curve, knee=knee, measured=True, forecasts=forecast.regions, plans=plans,
        meta={"scenario": "t", "headroom": 0.3, "seed": 1, "target": "http://127.0.0.1:1"},
        markets=forecast.markets,
    )  # fmt: skip
    back = json.loads(dumps(doc))
    assert back["totals"] == {"instances": 3, "egress_gbps": pytest.approx((0.24 + 0.35) * 1.3)}
    assert [p["instances"] for p in back["plan"]] == [2, 1]  # 300 × 1.3 / 300 → 2; 130 / 300 → 1
    assert back["knee"] == {"viewers": 300, "msgs_per_s": None, "measured": True,
                            "bound": "target",
                            "reason": "chat_rtt_ms.p95 < 600 broken at 600 viewers"}  # fmt: skip
    md = capacity_markdown(back)
    assert "| ID | sg | 300 | 0.2 | 60 | 800 |" in md
    assert "**One instance holds 300 concurrent viewers** within the limits (measured on" in md
    assert (
        "| sg | ID | 300 | 60 | 60 | **2** | viewers | 50% | 0.24 Gbit/s | **0.312 Gbit/s** |" in md
    )
    assert "| 600 | 640 | 0 | 20 | 6000 | breaks chat_rtt_ms.p95 < 600 |" in md
    assert latency_series(curve) == {
        "chat_rtt_ms.p95": ([100, 300, 600], [140.0, 340.0, 640.0]),
        "join_ms.p95": ([100, 300, 600], [20.0, 20.0, 20.0]),
    }
    assert isinstance(capacity_figure(curve, back["plan"]), Figure)
    assert isinstance(capacity_figure(None, back["plan"]), Figure)


def test_small_steps_get_probe_chats() -> None:
    plan = step_plan(3, hold_s=10.0, rates={"chat": 0.0}, seed=2, ramp_s=2.0, min_chats=7)
    chats = [(s.id, t) for s in plan.scripts for t, k in s.actions if k == "chat"]
    assert len(chats) == 7 and {i for i, _ in chats} == {s.id for s in plan.scripts}
    assert all(4.0 <= t < 14.0 for _, t in chats)  # inside the hold (lead 2 s + ramp 2 s)
    busy = step_plan(3, hold_s=10.0, rates={"chat": 5.0}, seed=2, ramp_s=2.0, min_chats=7)
    assert sum(k == "chat" for s in busy.scripts for _, k in s.actions) > 50  # no probes needed
