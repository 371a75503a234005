"""Experience from path and load: exact values on hand-made paths; fixed `qoe` overrides."""

from __future__ import annotations

import numpy as np
import pytest
from simkit import make

from scenarios.schema import QoE
from sim.paths import Paths
from sim.qoe import JITTER_BUFFER_MS, Conditions, experience, with_fixed


def _paths(n: int = 1, **values: float) -> Paths:
    base = {"rtt_ms": 100.0, "jitter_ms": 0.0, "loss": 0.0, "burst_len": 1.0, "down_kbit": 1e5}
    base.update(values)
    return Paths(**{k: np.full(n, v) for k, v in base.items()}, profile=np.zeros(n, np.int16))


def _idle(n: int = 1) -> Conditions:
    return Conditions(np.zeros(n), 20.0, 1.0, 15.0)


def test_clean_path_experience_is_exact() -> None:
    scenario = make()  # host_delay 500 ms, 6 join round trips, keyframes every 2 s
    exp = experience(scenario, _paths(), np.array([0.5]), _idle())
    assert exp.join_ms.tolist() == [6 * 100.0 + 20.0]
    assert exp.startup_ms.tolist() == [620.0 + 1000.0 + JITTER_BUFFER_MS]
    assert exp.g2g_latency_ms.tolist() == [500.0 + 50.0 + JITTER_BUFFER_MS]
    assert exp.chat_rtt_ms.tolist() == [115.0]
    assert exp.answer_ms.tolist() == [4000.0 + 57.5 + 590.0]
    assert exp.rebuffer_ratio.tolist() == [0.0]
    assert exp.resolution.tolist() == [1080.0]


def test_bandwidth_picks_the_rung_and_starves_below_the_ladder() -> None:
    scenario = make()
    exp = experience(
        scenario, Paths(**{**_paths(3).__dict__, "down_kbit": np.array([400.0, 2000.0, 4000.0])}),
        np.zeros(3), _idle(3),
    )  # fmt: skip
    assert exp.resolution.tolist() == [360.0, 360.0, 720.0]
    assert exp.rebuffer_ratio[0] == pytest.approx(1 - 400 * 0.85 / 800)
    assert exp.rebuffer_ratio[1:].tolist() == [0.0, 0.0]


def test_bursty_loss_stalls_and_grows_the_buffer_by_a_round_trip() -> None:
    scenario = make()
    clean = experience(scenario, _paths(), np.zeros(1), _idle())
    lossy = experience(scenario, _paths(loss=0.02, burst_len=10.0), np.zeros(1), _idle())
    assert lossy.rebuffer_ratio[0] > 0.01
    assert lossy.g2g_latency_ms[0] == pytest.approx(clean.g2g_latency_ms[0] + 100.0)
    assert lossy.freeze_per_min[0] > 0


def test_edge_wait_and_interaction_queue_add_latency() -> None:
    scenario = make()
    busy = Conditions(np.array([5000.0]), 200.0, 1.0, 915.0)
    exp = experience(scenario, _paths(), np.zeros(1), busy)
    assert exp.join_ms.tolist() == [600.0 + 200.0 + 5000.0]
    assert exp.chat_rtt_ms.tolist() == [1015.0]


def test_fixed_qoe_numbers_and_samples_replace_the_model() -> None:
    scenario = make()
    exp = experience(scenario, _paths(1000), np.zeros(1000), _idle(1000))
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
