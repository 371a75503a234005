"""The plan puts the model's co-host segments in one guest's script (issue 14)."""

from __future__ import annotations

from typing import Any

import numpy as np

import sim
from loadgen.plan import compile_plan
from loadgen.plan.compile import CONNECT_S
from loadgen.plan.model_run import ACTION_COUNTS, ModelRun, model_run_from_results
from scenarios import SCENARIO_DIR, load_scenario


def _run(market: list[str], access: list[str], arrival: list[float], leave: list[float],
         events: list[dict[str, Any]]) -> ModelRun:  # fmt: skip
    n = len(market)
    return ModelRun(
        arrival_s=np.array(arrival), leave_s=np.array(leave), market=np.array(market),
        access=np.array(access), referred=np.zeros(n, bool),
        counts={k: np.zeros(n, np.int64) for k in ACTION_COUNTS}, gmv=np.zeros(n),
        message_rate=(np.zeros(0), np.zeros(0)), events=events, duration_s=600.0, seed=3,
    )  # fmt: skip


GUEST = {"market": "ID", "access": "4g", "profile": "ID-4g", "rtt_ms": 640.0}
SEGMENT = {"kind": "cohost", "announce_s": 200.0, "start_s": 260.0, "end_s": 380.0, "guest": GUEST}


def test_the_guest_is_a_present_viewer_of_the_guest_market_preferring_its_access() -> None:
    run = _run(
        market=["ID", "ID", "TH", "ID"],
        access=["wifi", "4g", "4g", "4g"],
        arrival=[100.0, 150.0, 100.0, 300.0],  # the last one comes after the segment starts
        leave=[600.0, 330.0, 600.0, 600.0],
        events=[SEGMENT],
    )
    plan = compile_plan(run, scale=1, window="240-420")
    scripts = {s.id: s for s in plan.scripts}
    guest = scripts["v0000001"]  # ID, 4g, present at 260 s; leaves at 330 s
    actions = list(guest.actions)
    assert (20.0, "cohost") in actions and (90.0, "cohost_leave") in actions
    assert actions[-1][1] == "leave" and actions.index((20.0, "cohost")) < len(actions) - 2
    for other in ("v0000000", "v0000002", "v0000003"):
        assert not any(k.startswith("cohost") for _, k in scripts[other].actions)
    assert plan.sampling["cohost"] == [
        {"start_s": 20.0, "market": "ID", "profile": "ID-4g", "script": "v0000001"}
    ]
    times = [t for t, _ in actions]
    assert times == sorted(times)


def test_no_present_viewer_of_the_guest_market_leaves_the_segment_unassigned() -> None:
    run = _run(["TH"], ["wifi"], [0.0], [600.0], [SEGMENT])
    plan = compile_plan(run, scale=1, window="240-420")
    assert plan.sampling["cohost"][0]["script"] is None
    assert not any(k.startswith("cohost") for s in plan.scripts for _, k in s.actions)


def test_a_carried_guest_goes_on_air_once_connected() -> None:
    run = _run(["ID"], ["4g"], [0.0], [600.0], [SEGMENT])
    plan = compile_plan(run, scale=1, window="260-380")
    (script,) = plan.scripts
    on_air = next(t for t, k in script.actions if k == "cohost")
    assert on_air == round(max(0.0, script.start_s + CONNECT_S), 3)
    assert next(t for t, k in script.actions if k == "cohost_leave") == script.end_s


def test_a_model_run_of_the_cohost_scenario_schedules_its_first_segment() -> None:
    scenario = load_scenario(
        SCENARIO_DIR / "cohost_sea.toml",
        ["scenario.replications=1", "markets.ID.audience=1500", "markets.TH.audience=600"],
    )
    results = sim.simulate_all(scenario)
    run = model_run_from_results(results, scenario)
    first = next(e for e in run.events if e["kind"] == "cohost")
    assert first["guest"]["market"] == "ID" and first["guest"]["rtt_ms"] > 0
    plan = compile_plan(run, scale=20, window="cohost_1", window_s=120)
    on_air = [s for s in plan.scripts if any(k == "cohost" for _, k in s.actions)]
    assert len(on_air) == 1 and on_air[0].market == "ID"
    (entry,) = plan.sampling["cohost"]
    assert entry["script"] == on_air[0].id and entry["profile"] == first["guest"]["profile"]
    event = next(e for e in plan.events if e["kind"] == "cohost")
    assert event["guest"] == first["guest"]  # the plan carries the guest to the stack side
