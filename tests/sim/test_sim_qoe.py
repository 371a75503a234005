"""Experience from path and load: exact values on hand-made paths under explicit laws (the
libwebrtc-shaped jitter buffer, keyframe on join, the loss-to-freeze law); fixed `qoe` overrides."""

from __future__ import annotations

import math

import numpy as np
import pytest
from simkit import make

from scenarios.schema import QoE
from sim.paths import Paths
from sim.qoe import Conditions, QoeLaws, experience, laws_of, with_fixed

LAWS = QoeLaws(buffer_base_ms=15.0, keyframe_on_join=1.0)
HALF = np.array([0.5])  # the median of the g2g spread: no spread


def _paths(n: int = 1, **values: float) -> Paths:
    base = {"rtt_ms": 100.0, "jitter_ms": 0.0, "loss": 0.0, "burst_len": 1.0, "down_kbit": 1e5}
    base.update(values)
    return Paths(**{k: np.full(n, v) for k, v in base.items()}, profile=np.zeros(n, np.int16))


def _idle(n: int = 1) -> Conditions:
    return Conditions(np.zeros(n), 20.0, 1.0, 15.0)


def test_clean_path_experience_is_exact() -> None:
    scenario = make()  # host_delay 500 ms, keyframes every 2 s
    waits = QoeLaws(buffer_base_ms=15.0, keyframe_on_join=0.0)
    exp = experience(scenario, _paths(), np.array([0.5]), _idle(), HALF, waits)
    assert exp.join_ms.tolist() == [6 * 100.0 + 20.0]
    # join + one-way transit + buffer + half a keyframe interval (no keyframe on join)
    assert exp.startup_ms.tolist() == [620.0 + 50.0 + 15.0 + 1000.0]
    assert exp.g2g_latency_ms.tolist() == [500.0 + 50.0 + 15.0]
    assert exp.chat_rtt_ms.tolist() == [115.0]
    assert exp.answer_ms.tolist() == [4000.0 + 57.5 + 565.0]
    assert exp.rebuffer_ratio.tolist() == [0.0]
    assert exp.resolution.tolist() == [1080.0]


def test_a_keyframe_on_join_means_no_wait_for_the_periodic_one() -> None:
    scenario = make()
    late = experience(scenario, _paths(), np.array([0.99]), _idle(), HALF, LAWS)
    assert late.startup_ms.tolist() == [620.0 + 50.0 + 15.0]


def test_jitter_buffer_is_the_libwebrtc_estimate_and_adds_no_rtt_by_default() -> None:
    scenario = make()
    jittery = experience(scenario, _paths(jitter_ms=20.0), HALF, _idle(), HALF, LAWS)
    # 2.33 σ − 30 ms (JitterEstimator), floored at 0, over decode + render delay
    assert jittery.g2g_latency_ms[0] == pytest.approx(500 + 50 + 15 + 2.33 * 20 - 30)
    calm = experience(scenario, _paths(jitter_ms=5.0), HALF, _idle(), HALF, LAWS)
    assert calm.g2g_latency_ms[0] == pytest.approx(565.0)
    lossy = _paths(loss=0.02, burst_len=1.0)
    chromium = experience(scenario, lossy, HALF, _idle(), HALF, LAWS)
    assert chromium.g2g_latency_ms[0] == pytest.approx(565.0)  # NACKs, yet no RTT added
    rtt_mult = experience(
        scenario, lossy, HALF, _idle(), HALF, QoeLaws(buffer_base_ms=15.0, buffer_nack_rtt=1.0)
    )
    assert rtt_mult.g2g_latency_ms[0] == pytest.approx(665.0)


def test_g2g_spread_is_a_logistic_quantile_of_the_viewers_uniform() -> None:
    scenario = make()
    laws = QoeLaws(buffer_base_ms=15.0, g2g_spread_ms=10.0, g2g_spread_jitter=0.0)
    u = np.array([0.5, 0.95])
    exp = experience(scenario, _paths(2), u, _idle(2), u, laws)
    z95 = math.log(19.0) * math.sqrt(3.0) / math.pi
    assert exp.g2g_latency_ms.tolist() == pytest.approx([565.0, 565.0 + 10.0 * z95])


def test_loss_bursts_freeze_by_the_round_trip_beyond_the_floor() -> None:
    scenario = make()
    laws = QoeLaws(freeze_per_burst_ms=20.0, freeze_rtt_share=0.5, freeze_rtt_floor_ms=100.0)
    exp = experience(
        scenario, _paths(rtt_ms=300.0, loss=0.02, burst_len=2.0), HALF, _idle(), HALF, laws
    )
    bursts_per_s = 30 * 0.02 / 2.0  # per frame at 30 fps, not per packet
    frozen_s = (20.0 + 0.5 * 200.0) / 1000.0
    assert exp.rebuffer_ratio[0] == pytest.approx(1 - math.exp(-bursts_per_s * frozen_s))
    assert exp.freeze_per_min[0] == pytest.approx(bursts_per_s * 60 * (120.0 / 150.0))
    clean = experience(scenario, _paths(rtt_ms=300.0), HALF, _idle(), HALF, laws)
    assert clean.rebuffer_ratio[0] == 0.0


def test_bandwidth_picks_the_rung_and_starves_below_the_ladder() -> None:
    scenario = make()
    exp = experience(
        scenario, Paths(**{**_paths(3).__dict__, "down_kbit": np.array([400.0, 2000.0, 4000.0])}),
        np.zeros(3), _idle(3), np.full(3, 0.5), LAWS,
    )  # fmt: skip
    assert exp.resolution.tolist() == [360.0, 360.0, 720.0]
    assert exp.rebuffer_ratio[0] == pytest.approx(1 - 400 * 0.85 / 800)
    assert exp.rebuffer_ratio[1:].tolist() == [0.0, 0.0]


def test_scenario_join_round_trips_win_over_the_calibration() -> None:
    assert laws_of(make([("infra.join_round_trips", 9)])).join_round_trips == 9.0
    assert laws_of(make()).join_round_trips == make().qoe_laws["join_round_trips"]


def test_edge_wait_and_interaction_queue_add_latency() -> None:
    scenario = make()
    busy = Conditions(np.array([5000.0]), 200.0, 1.0, 915.0)
    exp = experience(scenario, _paths(), np.zeros(1), busy, HALF, LAWS)
    assert exp.join_ms.tolist() == [600.0 + 200.0 + 5000.0]
    assert exp.chat_rtt_ms.tolist() == [1015.0]


def test_fixed_qoe_numbers_and_samples_replace_the_model() -> None:
    scenario = make()
    exp = experience(scenario, _paths(1000), np.zeros(1000), _idle(1000), np.full(1000, 0.5))
    fixed = with_fixed(
        exp,
        QoE(startup_ms=3000.0, g2g_latency_ms=[100.0, 900.0], resolution=360),
        np.random.default_rng(1),
    )
    assert set(fixed.startup_ms.tolist()) == {3000.0}
    assert set(fixed.g2g_latency_ms.tolist()) == {100.0, 900.0}
    assert 400 < (fixed.g2g_latency_ms == 100.0).sum() < 600
    assert set(fixed.resolution.tolist()) == {360.0}
    assert np.array_equal(fixed.chat_rtt_ms, exp.chat_rtt_ms)
    assert fixed.join_ms[0] == pytest.approx(3000.0 * exp.join_ms[0] / exp.startup_ms[0])
    assert with_fixed(exp, None, np.random.default_rng(1)) is exp
