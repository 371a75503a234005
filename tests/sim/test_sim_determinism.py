"""Same scenario and seed → byte-identical metrics; seeds, replications and variants behave."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from simkit import make

import sim
from reports.metrics import BUSINESS, EXPERIENCE, dumps
from scenarios import SCENARIO_DIR, load_scenario, scenario_hash
from sim.cohost import COHOST_BUSINESS

DEMO = SCENARIO_DIR / "demo.toml"


def _metrics_text(scenario: sim.Scenario | object) -> str:  # type: ignore[name-defined]
    results = sim.simulate_all(scenario)  # type: ignore[arg-type]
    doc = sim.metrics_document(
        results,
        scenario,  # type: ignore[arg-type]
        scenario_hash=scenario_hash(scenario),  # type: ignore[arg-type]
        version="test",
    )
    return dumps(doc)


def test_same_scenario_and_seed_give_byte_identical_metrics() -> None:
    scenario = make([("markets.ID.audience", 3000)])
    assert _metrics_text(scenario) == _metrics_text(scenario)


def test_a_different_seed_changes_the_metrics() -> None:
    a = _metrics_text(make([("markets.ID.audience", 3000), ("scenario.seed", 1)]))
    b = _metrics_text(make([("markets.ID.audience", 3000), ("scenario.seed", 2)]))
    assert a != b


def test_metrics_document_has_the_vocabulary_overall_per_market_and_profile() -> None:
    scenario = load_scenario(DEMO, ["scenario.replications=3", "markets.ID.audience=2000",
                                    "markets.TH.audience=1000"])  # fmt: skip
    results = sim.simulate_all(scenario)
    doc = sim.metrics_document(results, scenario, scenario_hash="h", version="v")
    assert doc["meta"]["seed"] == 42 and doc["meta"]["replications"] == 3
    modelled = set(EXPERIENCE) - {"error_rate"}
    for scope in [doc["overall"], *doc["markets"].values()]:
        for name in BUSINESS:
            if name in COHOST_BUSINESS:  # demo has no co-host segment: the document has none
                assert name not in scope, name
                continue
            assert "value" in scope[name], name
            assert len(scope[name]["ci95"]) == 2, name
        for name in modelled:
            assert set(scope[name]) == {"p50", "p95", "p99", "mean", "n"}, name
        assert "value" in scope["error_rate"]
    assert set(doc["markets"]) == {"ID", "TH", "SA", "GB"}
    assert "ID-4g" in doc["profiles"] and "GB-wifi" in doc["profiles"]
    assert doc["profiles"]["ID-4g"]["g2g_latency_ms"]["n"] > 0
    lo, hi = doc["overall"]["retention_30s"]["ci95"]
    assert lo < doc["overall"]["retention_30s"]["value"] < hi


def test_replications_differ_and_an_executor_gives_the_serial_results() -> None:
    scenario = make([("markets.ID.audience", 2000), ("scenario.replications", 3)])
    serial = sim.simulate_all(scenario)
    with ThreadPoolExecutor(max_workers=2) as pool:
        pooled = sim.simulate_all(scenario, executor=pool)
    assert [r.replication for r in pooled] == [0, 1, 2]
    for a, b in zip(serial, pooled, strict=True):
        assert a.outcomes == b.outcomes
    assert serial[0].outcomes != serial[1].outcomes


def test_progress_reaches_one() -> None:
    seen: list[float] = []
    sim.simulate(make([("markets.ID.audience", 200)]), progress=seen.append)
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)


def test_variants_share_random_numbers_for_the_same_viewer_slots() -> None:
    base = sim.simulate(load_scenario(DEMO))
    variant = sim.simulate(load_scenario(DEMO, variant="every20"))

    def organic(r: sim.SimResult, key: str) -> np.ndarray:
        return r.viewers[key][r.viewers["generation"] == 0]

    # Same organic audience, same access and same paths per slot; only the schedule moved.
    assert organic(base, "access").size == organic(variant, "access").size
    assert np.array_equal(organic(base, "access"), organic(variant, "access"))
    assert np.array_equal(organic(base, "rtt_ms"), organic(variant, "rtt_ms"))
    assert not np.array_equal(organic(base, "arrival_s"), organic(variant, "arrival_s"))
