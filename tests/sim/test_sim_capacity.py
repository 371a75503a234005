"""Capacity responds to load: overload raises latency, and latency changes behaviour."""

from __future__ import annotations

import numpy as np
import pytest
from simkit import make

import sim
from scenarios.schema import Edge
from sim.capacity import EdgeQueue, InteractionQueue

EDGE = {"region": "sg", "markets": ["ID"], "egress_gbps": 100}


def test_interaction_queue_grows_and_drains_exactly() -> None:
    q = InteractionQueue(capacity_per_s=100.0, base_ms=10.0, step_s=10.0)
    assert q.tick(50.0) == 20.0  # ρ = 0.5 → 10 / 0.5
    assert q.tick(150.0) == pytest.approx(200.0)  # ρ capped at 0.95 → 10 / 0.05; backlog 500
    assert q.backlog == 500.0
    assert q.tick(50.0) == pytest.approx(20.0 + 5000.0)  # 500 messages ahead at 100/s
    assert q.backlog == 0.0


def test_full_edge_makes_joiners_wait_for_departures() -> None:
    edge = EdgeQueue(Edge(max_viewers=2, **EDGE), n_buckets=10, step_s=10.0)  # type: ignore[arg-type]
    edge.admit(np.array([3, 3]), np.array([1000.0, 1000.0]))  # two viewers leave in step 3
    edge.tick(1)
    wait_ms, _, _ = edge.conditions(1, 2)
    # 2 departures in the next 60 s → 1 per 30 s; joiner k waits k × 30 s.
    assert wait_ms.tolist() == [30_000.0, 60_000.0]
    edge.tick(2)
    edge.tick(3)
    assert edge.committed == 0.0
    assert edge.conditions(3, 1)[0].tolist() == [0.0]


def test_small_edge_fails_joins_and_raises_abandonment() -> None:
    roomy = make(
        [("markets.ID.audience", 6000)], infra={"edges": [{**EDGE, "max_viewers": 100_000}]}
    )
    tight = make([("markets.ID.audience", 6000)], infra={"edges": [{**EDGE, "max_viewers": 150}]})
    a, b = sim.simulate(roomy), sim.simulate(tight)
    assert a.viewers["failed"].sum() == 0
    assert b.viewers["failed"].mean() > 0.2
    assert (
        b.outcomes["overall"]["abandon_before_start"]
        > a.outcomes["overall"]["abandon_before_start"] + 0.2
    )
    assert b.system["edge_utilisation"].max() > 1.0  # joiners queue beyond the slots
    assert b.series["concurrent"].max() <= 150 * 1.2


def test_overloaded_interaction_service_slows_chat_and_loses_viewers() -> None:
    audience = [("markets.ID.audience", 8000)]
    ample = sim.simulate(make(audience, infra={"interaction_msgs_per_s": 1e6}))
    scarce = sim.simulate(make(audience, infra={"interaction_msgs_per_s": 30}))
    assert np.percentile(scarce.viewers["chat_rtt_ms"], 95) > 10 * np.percentile(
        ample.viewers["chat_rtt_ms"], 95
    )
    assert scarce.system["interaction_ms"].max() > 1000
    # Watching viewers leave as the lag grows, which sheds load: the loop settles lower.
    lost, kept = scarce.outcomes["overall"], ample.outcomes["overall"]
    assert lost["retention_5m"] < kept["retention_5m"] - 0.05
    assert lost["watch_time_mean_s"] < 0.8 * kept["watch_time_mean_s"]
    assert lost["retention_30s"] < kept["retention_30s"]
    cut_short = scarce.series["concurrent"].max() < ample.series["concurrent"].max()
    assert cut_short


def test_egress_oversubscription_lowers_resolution() -> None:
    wide = make([("markets.ID.audience", 6000)], infra={"edges": [{**EDGE, "max_viewers": 10**6}]})
    narrow = make(
        [("markets.ID.audience", 6000)],
        infra={"edges": [{**EDGE, "max_viewers": 10**6, "egress_gbps": 0.5}]},
    )
    a, b = sim.simulate(wide), sim.simulate(narrow)
    assert b.viewers["resolution"].mean() < a.viewers["resolution"].mean() - 100
    assert b.system["edge_egress_share"].min() < 1.0


def test_overload_feedback_is_deterministic_and_consistent() -> None:
    scenario = make([("markets.ID.audience", 5000)], infra={"interaction_msgs_per_s": 20})
    a, b = sim.simulate(scenario), sim.simulate(scenario)
    assert a.outcomes == b.outcomes
    v = a.viewers
    assert np.array_equal(v["leave_s"], b.viewers["leave_s"])
    # Nobody orders or shares after leaving; watch time matches the leave time.
    assert not (v["ordered"] & ~(v["order_s"] < v["leave_s"])).any()
    assert not (v["shared"] & ~(v["share_s"] < v["leave_s"])).any()
    assert (v["invites"][~v["shared"]] == 0).all()
    started = ~v["abandoned"]
    assert np.allclose(v["start_s"][started] + v["watch_s"][started], v["leave_s"][started])
    # Concurrency never goes negative after early departures are moved.
    assert a.series["concurrent"].min() >= 0
