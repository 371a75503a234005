"""The plan compiler: exact results on a small hand-made model run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import VIEWERS, write_run_dir

from livelab.cli import main
from livelab.errors import ConfigError, PlanError
from loadgen.plan import ACTIONS, Plan, compile_plan, load_plan, read_model_run, save_plan
from loadgen.plan.compile import CARRY_SPREAD_S, CONNECT_S, apportion
from loadgen.plan.host_peaks import stack_peaks
from loadgen.plan.shape import share_of, slots_opened, users_at
from loadgen.plan.window import choose_window, concurrency_per_second, parse_window
from scenarios.load import Load


@pytest.fixture
def run(tmp_path):
    return read_model_run(write_run_dir(tmp_path / "model"))


def test_read_model_run_decodes_names_and_rates(run):
    assert run.n == 8
    assert list(run.market[:3]) == ["ID", "ID", "GB"]
    assert list(run.access[:3]) == ["4g", "wifi", "wifi"]
    assert run.duration_s == 300.0
    assert run.seed == 7
    ts, rate = run.message_rate
    assert ts[0] == 0 and ts[12] == 120
    assert rate[0] == pytest.approx(2 * (0.5 + 1.0))
    assert rate[12] == pytest.approx(2 * (5.0 + 1.0))


def test_read_model_run_names_what_is_missing(tmp_path):
    with pytest.raises(PlanError, match=r"no viewers\.npz"):
        read_model_run(tmp_path)
    np.savez(tmp_path / "viewers.npz", arrival_s=np.zeros(1))
    with pytest.raises(PlanError, match=r"missing arrays \['leave_s', 'market'\]"):
        read_model_run(tmp_path)


def test_concurrency_per_second_counts_present_viewers():
    c = concurrency_per_second(np.array([0.0, 1.0, 1.5]), np.array([2.0, 1.5, 4.0]), 5)
    assert c.tolist() == [1, 2, 1, 1, 0]


def test_apportion_uses_largest_remainder_with_ties_by_name():
    assert apportion(4, {"ID-4g": 3, "GB-wifi": 1}) == {"GB-wifi": 1, "ID-4g": 3}
    assert apportion(3, {"a": 1, "b": 1, "c": 1, "d": 1}) == {"a": 1, "b": 1, "c": 1}
    assert apportion(5, {"x": 0.5, "y": 0.3, "z": 0.2}) == {"x": 3, "y": 1, "z": 1}
    assert apportion(0, {"x": 1}) == {}


def test_parse_window():
    assert parse_window("peak") == ("peak", 0.0, 0.0)
    assert parse_window("600-720") == ("range", 600.0, 720.0)
    for bad in ("720-600", "abc", "-5", "10-"):
        with pytest.raises(ConfigError, match="--window"):
            parse_window(bad)


def test_peak_window_takes_the_most_viewers_and_the_message_burst(run):
    w = choose_window("peak", 300, run.arrival_s, run.leave_s, *run.message_rate, length_s=60)
    # Concurrency peaks at 140-160 s (4 present) and the burst runs 120-180 s.
    assert (w.start_s, w.end_s) == (120.0, 180.0)
    assert w.rule.startswith("peak")
    full = choose_window("full", 300, run.arrival_s, run.leave_s, *run.message_rate)
    assert (full.start_s, full.end_s) == (0.0, 300.0)
    short = choose_window("peak", 300, run.arrival_s, run.leave_s, *run.message_rate, 400)
    assert (short.start_s, short.end_s) == (0.0, 300.0)


def test_compile_full_scale_keeps_every_viewer_and_its_actions(run):
    plan = compile_plan(run, scale=1, window="full")
    assert len(plan.scripts) == 8
    by_id = {s.id: s for s in plan.scripts}
    for i, row in enumerate(VIEWERS):
        s = by_id[f"v{i:07d}"]
        assert (s.market, s.access, s.profile) == (row[0], row[1], f"{row[0]}-{row[1]}")
        assert (s.start_s, s.end_s) == (row[2], row[3])
        kinds = [k for _, k in s.actions]
        assert kinds[:2] == ["join", "connect"] and kinds[-1] == "leave"
        assert kinds.count("leave") == 1
        times = [t for t, _ in s.actions]
        assert times == sorted(times)
        assert all(s.start_s <= t <= s.end_s for t in times)
        assert all(t >= s.start_s + CONNECT_S for t, k in s.actions[2:-1])
        # Whole stay inside the window: every counted action survives (unless it would come
        # after the leave once pushed behind the connect, which these stays are long enough for).
        names = ("chat", "like", "vote", "question", "share", "order")
        expected = dict(zip(names, row[4:], strict=True))
        if row[3] - row[2] > 10:
            assert {k: kinds.count(k) for k in expected} == expected
    # Votes land inside the poll (120-180 s) when the stay overlaps it.
    votes = [t for s in plan.scripts for t, k in s.actions if k == "vote"]
    assert votes and all(120.0 <= t <= 180.0 for t in votes)
    assert by_id["v0000004"].order_cents == 1500  # 30.00 GMV over 2 orders
    # The first order happens when the model placed it.
    assert [t for t, k in by_id["v0000001"].actions if k == "order"] == [250.0]
    assert 150.0 in [t for t, k in by_id["v0000004"].actions if k == "order"]
    assert plan.curve == tuple(concurrency_per_second(run.arrival_s, run.leave_s, 300))
    assert plan.peak_concurrency == 4  # 140-160 s: viewers 1, 2, 4, 6


def test_compile_window_carries_present_viewers_and_shifts_events(run):
    plan = compile_plan(run, scale=1, window="120-180", panel_viewers=4, probe_share=0.5)
    assert plan.window["start_s"] == 120.0 and plan.duration_s == 60.0
    ids = {s.id for s in plan.scripts}
    assert ids == {"v0000001", "v0000002", "v0000004", "v0000005", "v0000006"}
    carried = [s for s in plan.scripts if s.carried]
    assert {s.id for s in carried} == {"v0000001", "v0000002"}
    assert all(0.0 <= s.start_s < CARRY_SPREAD_S for s in carried)
    assert all(s.end_s <= 60.0 for s in plan.scripts)
    assert [e["kind"] for e in plan.events] == ["poll"]
    assert plan.events[0]["start_s"] == 0.0 and plan.events[0]["end_s"] == 60.0
    # Present in 120-180: ID-wifi, GB-wifi x2, ID-4g x2 → 4 seats: 1.6/1.6/0.8 by largest
    # remainder gives ID-wifi its seat first, then the 0.6 tie goes to GB-wifi by name.
    # Two probes cannot give one profile its 3 measuring viewers: the panel keeps the audience
    # spread and every profile with ≥ 5 % of it is named unserved (the run's notes say so).
    assert plan.panel == {
        "viewers": 4, "probes": 2, "profiles": {"GB-wifi": 2, "ID-4g": 1, "ID-wifi": 1},
        "needing": ["GB-wifi", "ID-4g", "ID-wifi"], "unserved": ["GB-wifi", "ID-4g", "ID-wifi"],
    }  # fmt: skip


def test_compile_samples_one_in_n_deterministically(run, tmp_path):
    a = compile_plan(run, scale=2, window="full")
    b = compile_plan(run, scale=2, window="full")
    assert a == b
    assert len(a.scripts) == 4
    save_plan(a, tmp_path / "a.json")
    save_plan(b, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert load_plan(tmp_path / "a.json") == a
    # Systematic sampling over arrival order: indices differ by exactly 2 in arrival rank.
    ids = sorted(int(s.id[1:]) for s in a.scripts)
    assert ids in ([0, 2, 4, 6], [1, 3, 5, 7])


def test_plan_version_is_checked():
    with pytest.raises(ValueError, match="plan version"):
        Plan.from_json({"version": 99})


def test_slots_follow_the_running_peak_and_reuse_free_slots():
    spans = [(0.0, 2.0), (0.5, 1.0), (1.0, 3.0), (2.5, 4.0), (3.0, 3.5)]
    # t<1: two slots; the third span reuses the one freed at 1.0; the fifth reuses at 3.0.
    assert slots_opened(spans, 5) == [2, 2, 2, 2, 2]
    assert slots_opened([(0.0, 10.0), (1.0, 10.0), (2.0, 10.0)], 4) == [1, 2, 3, 3]
    assert share_of(7, 1, 3) == [1, 4]
    assert users_at([1, 2, 3], 0.2, workers=2, margin=1) == 6
    assert users_at([1, 2, 3], 99.0, workers=1, margin=0) == 3
    with pytest.raises(ValueError):
        share_of(3, 3, 3)


def test_cli_plan_writes_plan_json(tmp_path, capsys):
    model = write_run_dir(tmp_path / "model")
    assert main(["plan", str(model), "--scale", "1:1", "--window", "full", "--out",
                 str(tmp_path / "p")]) == 0  # fmt: skip
    doc = json.loads((tmp_path / "p" / "plan.json").read_text())
    assert doc["scale"] == 1 and len(doc["scripts"]) == 8
    assert "8 virtual viewers" in capsys.readouterr().out
    assert main(["plan", str(model), "--scale", "1:zero"]) == 2
    assert "--scale" in capsys.readouterr().err


@pytest.fixture(scope="module")
def demo_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "m"
    assert main(["simulate", "scenarios/demo.toml", "--out", str(out), "--no-plots",
                 "--no-record"]) == 0  # fmt: skip
    return read_model_run(out)


def test_demo_plan_measures_every_interaction_of_the_commerce_path(demo_model):
    """`make demo`'s own plan ([load] of scenarios/demo.toml) holds the flash deal (with the poll
    the host runs during it) and enough of each interaction: >= 30 orders, votes, questions and
    shares, >= 100 chats; the deal's orders fall inside the deal."""
    load = Load(**demo_model.scenario["load"])
    plan = compile_plan(
        demo_model, scale=load.scale, window=load.window, window_s=load.window_s,
        panel_viewers=load.panel_viewers, actor_scale=load.actor_scale,
    )  # fmt: skip
    assert plan.window["rule"].startswith("flash_deal_1")
    assert [e["kind"] for e in plan.events] == ["flash_deal", "poll"]
    counts = {k: sum(1 for s in plan.scripts for _, a in s.actions if a == k) for k in ACTIONS}
    assert min(counts["order"], counts["vote"], counts["question"], counts["share"]) >= 30
    assert counts["chat"] >= 100
    # Every order the model places in the window is replayed (actor_scale = 1).
    order_s = demo_model.moments["order"]
    in_window = (order_s >= plan.window["start_s"]) & (order_s < plan.window["end_s"])
    assert counts["order"] == int(in_window.sum())
    # Orders concentrate at the deal: the 150 s of it in the window hold more of them than the
    # 30 s before it would at the same rate (the model's deal-driven orders fall inside it).
    deal, poll = plan.events
    orders = np.array([t for s in plan.scripts for t, a in s.actions if a == "order"])
    inside = int(((orders >= deal["start_s"]) & (orders < deal["end_s"])).sum())
    before = len(orders) - inside
    assert inside / (plan.duration_s - deal["start_s"]) > 2 * before / deal["start_s"]
    # The votes fall inside the poll, which the stack is told to open at the same plan time.
    votes = [t for s in plan.scripts for t, a in s.actions if a == "vote"]
    assert all(poll["start_s"] <= t <= poll["end_s"] for t in votes)
    open_s = f"{deal['start_s']:g}s+{plan.duration_s - deal['start_s']:g}s"
    assert stack_peaks(plan) == f"flash_deal@{open_s},poll@{open_s}"
    assert plan.peak_concurrency < 400  # what one Locust process keeps up with on two cores


def test_plan_of_the_real_demo_model(demo_model):
    """`livelab simulate` output compiles into a plan whose scripts respect the window."""
    run = demo_model
    plan = compile_plan(run, scale=100, window="peak", window_s=120, panel_viewers=4)
    assert plan.duration_s == 120.0 and plan.window["end_s"] - plan.window["start_s"] == 120.0
    assert 0 <= plan.window["start_s"] <= run.duration_s - 120
    assert len(plan.scripts) > 10
    assert sum(plan.panel["profiles"].values()) == 4
    markets = {s.market for s in plan.scripts}
    assert markets <= {"ID", "TH", "SA", "GB"} and len(markets) >= 3
    for s in plan.scripts:
        assert 0.0 <= s.start_s <= s.end_s <= 120.0
        assert all(s.start_s <= t <= s.end_s for t, _ in s.actions)
    assert max(plan.curve) == plan.peak_concurrency > 0


def test_named_mini_peak_window_opens_a_sixth_of_its_length_before_the_event(run):
    events = run.events  # a poll at 120-180 s and a lottery at 240-260 s
    args = (300, run.arrival_s, run.leave_s, *run.message_rate)
    poll = choose_window("poll_1", *args, length_s=60, events=events)
    assert (poll.start_s, poll.end_s) == (110.0, 170.0)  # lead: 60 / 6 = 10 s
    assert poll.rule == "poll_1: 60 s from 10 s before the poll at 120 s"
    second = choose_window("mini_peak_2", *args, length_s=120, events=events)
    assert (second.start_s, second.end_s) == (180.0, 300.0)  # 240 - 20, kept inside the stream
    whole = choose_window("lottery_1", *args, length_s=600, events=events)
    assert (whole.start_s, whole.end_s) == (0.0, 300.0)
    with pytest.raises(PlanError, match=r"flash_deal_1: .* 0 flash_deal events .*poll_1"):
        choose_window("flash_deal_1", *args, length_s=60, events=events)
    assert parse_window("flash_deal_2") == ("flash_deal", 2.0, 0.0)
    for bad in ("poll_0", "vote_1", "poll_"):
        with pytest.raises(ConfigError, match="KIND_N"):
            parse_window(bad)


def test_commerce_actors_are_sampled_apart(run):
    # 1 in 8 keeps one viewer; every viewer who orders, asks or shares in 100-200 s comes too.
    plain = compile_plan(run, scale=8, window="100-200")
    both = compile_plan(run, scale=8, window="100-200", actor_scale=1)
    kinds = ("order", "question", "share")
    full = compile_plan(run, scale=1, window="100-200")
    acting = {s.id for s in full.scripts if any(k in kinds for _, k in s.actions)}
    assert {s.id for s in both.scripts} == {s.id for s in plain.scripts} | acting
    assert acting == {"v0000002", "v0000004"}  # v1's order and share fall outside 100-200 s
    assert both.sampling == {
        "scale": 8, "sampled": len(plain.scripts), "actor_scale": 1,
        "actor_kinds": list(kinds), "actors": len(acting - {s.id for s in plain.scripts}),
    }  # fmt: skip
    assert plain.sampling == {"scale": 8, "sampled": len(plain.scripts)}
    by_id = {s.id: s for s in full.scripts}
    assert all(s == by_id[s.id] for s in both.scripts)  # scripts as the model drew them
    assert compile_plan(run, scale=8, window="100-200", actor_scale=1) == both


def test_plan_from_the_model_in_memory_equals_the_plan_from_its_run_directory(tmp_path):
    # `livelab run` compiles from memory, `livelab plan DIR` from disk: one plan, byte for byte.
    import sim
    from loadgen.plan import model_run_from_results
    from reports import write_run
    from scenarios import SCENARIO_DIR, load_scenario

    small = [(f"markets.{m}.audience", 400) for m in ("ID", "TH", "SA", "GB")]
    scenario = load_scenario(SCENARIO_DIR / "demo.toml", overrides=small)
    results = sim.simulate_all(scenario)
    doc = sim.metrics_document(results, scenario, scenario_hash="h", version="t")
    write_run(tmp_path / "m", results, scenario, doc, command=[], version="t", scenario_hash="h")
    options = {"scale": 5, "window": "peak", "window_s": 120, "panel_viewers": 2,
               "probe_share": 0.5, "source": {"run_dir": "model"}}  # fmt: skip
    from_memory = compile_plan(model_run_from_results(results, scenario), **options)
    from_disk = compile_plan(read_model_run(tmp_path / "m"), **options)
    assert len(from_memory.scripts) > 10
    assert json.dumps(from_memory.to_json(), sort_keys=True) == json.dumps(
        from_disk.to_json(), sort_keys=True
    )


def test_ci_smoke_plan_holds_the_orders_its_gates_judge():
    """`scenarios/ci_smoke.toml` gates order latency and count: its plan must place orders."""
    import sim
    from loadgen.plan import model_run_from_results
    from scenarios import load_scenario

    scenario = load_scenario("scenarios/ci_smoke.toml")
    assert scenario.gates["order_ms.p95"] == "< 1000"
    need = int(scenario.gates["order_ms.n"].removeprefix(">=").strip())
    load = scenario.load
    plan = compile_plan(
        model_run_from_results(sim.simulate_all(scenario), scenario), scale=load.scale,
        window=load.window, window_s=load.window_s, actor_scale=load.actor_scale,
    )  # fmt: skip
    orders = sum(1 for s in plan.scripts for _, a in s.actions if a == "order")
    assert orders >= 2 * need  # room for an order lost to a slow start
