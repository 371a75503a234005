"""The honest closed loop: per-profile draws, panel placement, failures fed back, intervals,
small-n flags and gates on `with_measured_qoe`."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from loadgen.locust.samples import SampleBook
from loadgen.plan.panel_plan import MIN_VIEWERS, place_panel
from loadgen.run.closed_loop import FAILED_MS, measured_qoe, unmeasured
from loadgen.run.loop_interval import MIN_SAMPLES, change_intervals, verdict
from loadgen.run.measured import experience
from reports.gates import parse_gate
from reports.gates_observe import evaluate
from reports.report_data import RunData
from reports.report_tables import change_note, measured_changes
from scenarios import QoE, load_scenario
from sim.qoe import Experience, with_fixed

NAMES = ("ID-wifi", "ID-4g", "ID-5g", "ID-evening")


def _experience(n: int) -> Experience:
    fields = {f: np.full(n, 100.0) for f in Experience.__dataclass_fields__}
    fields["rebuffer_ratio"] = np.zeros(n)
    return Experience(**fields)


def test_a_viewer_draws_from_its_own_profile_and_unmeasured_profiles_keep_the_model():
    profile = np.array([0, 1, 1, 2, 1, 0, 3, 1], dtype=np.int16)
    qoe = QoE(profiles={"ID-4g": QoE(g2g_latency_ms=[700.0, 900.0], startup_ms=[5000.0])})
    picks: dict[str, np.ndarray] = {}
    out = with_fixed(_experience(8), qoe, np.random.default_rng(1), profile, NAMES, picks)
    on = profile == 1
    assert set(out.g2g_latency_ms[on]) <= {700.0, 900.0}
    assert np.all(out.g2g_latency_ms[~on] == 100.0)  # ID-wifi, ID-5g, ID-evening: modelled
    assert np.all(out.startup_ms[on] == 5000.0) and np.all(out.startup_ms[~on] == 100.0)
    assert np.all(picks["g2g_latency_ms"][~on] == -1)
    assert np.all(out.g2g_latency_ms[on] == np.array([700.0, 900.0])[picks["g2g_latency_ms"][on]])
    again = with_fixed(_experience(8), qoe, np.random.default_rng(1), profile, NAMES)
    assert np.array_equal(again.g2g_latency_ms, out.g2g_latency_ms)  # same seed, same draw


def test_qoe_profiles_must_belong_to_the_market():
    data = load_scenario("scenarios/demo.toml").model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    data["markets"][0]["qoe"] = {"profiles": {"GB-wifi": {"g2g_latency_ms": [1.0]}}}
    from scenarios import scenario_from_dict

    with pytest.raises(Exception, match="ID-wifi, ID-4g, ID-5g, ID-evening"):
        scenario_from_dict(data, source="<test>")


def test_panel_placement_gives_each_needing_profile_three_measuring_viewers():
    mix = {"ID-4g": 50, "ID-wifi": 20, "TH-4g": 15, "GB-wifi": 12, "GB-5g": 3}
    placed = place_panel(12, 12, mix)
    # Each market's largest first (ID-4g, TH-4g, GB-wifi), then ID-wifi; GB-5g is < 5 %.
    assert placed.needing == ("ID-4g", "TH-4g", "GB-wifi", "ID-wifi")
    assert placed.profiles == {"GB-wifi": 3, "ID-4g": 3, "ID-wifi": 3, "TH-4g": 3}
    assert placed.unserved == ()
    few = place_panel(8, 6, mix)  # two profiles' worth of measuring viewers
    assert few.unserved == ("GB-wifi", "ID-wifi")
    assert set(few.profiles) == {"ID-4g", "TH-4g"} and sum(few.profiles.values()) == 8
    assert all(c >= MIN_VIEWERS for c in few.profiles.values())
    none = place_panel(4, 2, mix)  # cannot serve one: spread, every needing profile unserved
    assert none.unserved == none.needing and sum(none.profiles.values()) == 4


def _viewer(profile: str, kind: str = "probe", g2g: float | None = 80.0, watched: float = 60.0,
            first: float | None = 300.0) -> dict:  # fmt: skip
    return {"profile": profile, "kind": kind, "first_frame_ms": first,
            "stats": {"g2g_latency_ms": {"p50": g2g}, "watched_s": watched}}  # fmt: skip


def test_unmeasured_names_profiles_without_three_viewers_and_thirty_seconds():
    panel = {
        "viewers": [_viewer("ID-4g")] * 3
        + [_viewer("TH-4g")] * 2
        + [_viewer("GB-wifi", watched=20.0)] * 3
        + [_viewer("SA-wifi", kind="lite")] * 3
    }
    needing = ["ID-4g", "TH-4g", "GB-wifi", "SA-wifi"]
    assert unmeasured(needing, panel) == ["TH-4g", "GB-wifi", "SA-wifi"]
    assert unmeasured(needing, None) == needing


def test_failures_are_fed_back_and_counted_in_error_rate():
    book = SampleBook()
    for v in (100.0, 120.0, 140.0):
        book.add("chat_rtt_ms", "ID", "ID-4g", v, True, 1.0)
    book.add("chat_rtt_ms", "ID", "ID-4g", 5000.0, False, 2.0)  # no answer
    for ok in (True, True, True, False):  # a quarter of the joins failed
        book.add("join_ms", "ID", "ID-4g", 50.0, ok, 0.5)
    panel = {"viewers": [_viewer("ID-4g", first=300.0), _viewer("ID-4g", first=500.0),
                         _viewer("ID-4g", first=None, g2g=None)]}  # fmt: skip
    qoe = measured_qoe(book, ["ID-4g"], path_rtt_ms={}, panel=panel, add_path=False,
                       host_delay_ms=0.0, seed=1)["ID-4g"]  # fmt: skip
    assert qoe["chat_rtt_ms"] == [100.0, 120.0, 140.0, FAILED_MS]
    # 2 frames + 1 viewer that never got one, + 1 for the joins' 25 % failures (3 × 1/3).
    assert qoe["startup_ms"] == [300.0, 500.0, FAILED_MS, FAILED_MS]
    assert qoe["g2g_latency_ms"] == [80.0, 80.0]
    exp = experience(book, ["ID"], None, panel)
    # 8 requests (2 failed) + 3 panel viewers (1 failed start).
    assert exp["overall"]["error_rate"]["value"] == pytest.approx(3 / 11)
    assert exp["profiles"]["ID-4g"]["panel_failed_starts"]["value"] == 1
    beh = load_scenario("scenarios/demo.toml").market("ID").resolved_behavior()
    patience = (beh.startup_onset_s + 1.0 / beh.startup_abandon_per_s) * max(
        1.0, beh.mobile_patience
    )
    assert patience < FAILED_MS / 1000.0  # a failed start is always a startup abandonment


def _result(picks: np.ndarray, abandoned: np.ndarray) -> SimpleNamespace:
    n = picks.size
    zeros = np.zeros(n, dtype=np.int32)
    viewers = {
        "market": np.zeros(n, dtype=np.int16), "profile": np.ones(n, dtype=np.int16),
        "watch_s": np.where(abandoned, 0.0, 60.0), "abandoned": abandoned,
        "chats": zeros, "likes": zeros, "votes": zeros, "questions": zeros, "shares": zeros,
        "orders": zeros, "ordered": np.zeros(n, dtype=bool), "gmv": np.zeros(n),
        "invites": zeros, "referred": np.zeros(n, dtype=bool),
        "returned": np.zeros(n, dtype=bool), "repurchased": np.zeros(n, dtype=bool),
        "pick_startup_ms": picks,
    }  # fmt: skip
    return SimpleNamespace(viewers=viewers, profiles=NAMES, markets=("ID",))


def _scenario() -> SimpleNamespace:
    beh = SimpleNamespace(cac_paid_usd=1.0, cac_referral_ratio=0.5)
    return SimpleNamespace(markets=[SimpleNamespace(resolved_behavior=lambda: beh)])


def test_interval_holding_zero_is_no_significant_change_and_small_n_is_flagged():
    rng = np.random.default_rng(3)
    n = 2000
    modelled = _result(np.full(n, -1, dtype=np.int32), np.zeros(n, dtype=bool))
    # 3 samples: one of them a failed start. The interval spans 0 (a resample may hold none).
    picks = rng.integers(0, 3, n).astype(np.int32)
    measured = _result(picks, picks == 2)
    qoe = {"ID-4g": {"startup_ms": [300.0, 400.0, FAILED_MS]}}
    out = change_intervals([modelled], [measured], _scenario(), qoe, seed=1, resamples=200)
    ret = out["overall"]["retention_30s"]
    assert ret["value"] == pytest.approx(-np.mean(picks == 2))
    assert ret["ci95"][0] < 0.0 <= ret["ci95"][1]
    assert ret["verdict"] == "no significant change"
    assert ret["thin"] and ret["n"] == 3 < MIN_SAMPLES
    assert "no significant change" in change_note({"change": ret})
    assert "thin: 3 measured samples" in change_note({"change": ret})
    # 40 samples, a quarter failed starts: a significant fall, not thin.
    values = [300.0] * 30 + [FAILED_MS] * 10
    picks = rng.integers(0, 40, n).astype(np.int32)
    measured = _result(picks, picks >= 30)
    out = change_intervals([modelled], [measured], _scenario(), {"ID-4g": {"startup_ms": values}},
                           seed=1, resamples=200)  # fmt: skip
    ret = out["ID"]["retention_30s"]
    assert ret["ci95"][1] < 0.0 and ret["verdict"] == "significant fall" and not ret["thin"]


def test_verdict_reads_the_interval():
    assert verdict(-0.1, 0.2) == "no significant change"
    assert verdict(0.01, 0.2) == "significant rise"
    assert verdict(-0.3, -0.01) == "significant fall"


def _doc(measured_value: float) -> dict:
    change = {"value": -0.1, "ci95": [-0.2, 0.05], "verdict": "no significant change", "n": 12,
              "thin": True}  # fmt: skip
    return {
        "meta": {"valid": True},
        "overall": {"retention_30s": {"value": 0.5}},
        "markets": {},
        "with_measured_qoe": {
            "overall": {"retention_30s": {"value": measured_value, "change": change}},
            "markets": {},
        },
    }


def test_a_gate_on_the_closed_loop_resolves_and_moves_with_the_measurement():
    gate = parse_gate("with_measured_qoe.retention_30s", ">= 0.45")
    assert gate.measured and gate.metric == "retention_30s"
    assert evaluate(gate, RunData(path=None, metrics=_doc(0.48))).passed
    assert not evaluate(gate, RunData(path=None, metrics=_doc(0.40))).passed  # the stack moved it
    scoped = parse_gate("ID:with_measured_qoe.retention_30s", ">= 0.45")
    assert scoped.measured and scoped.market == "ID"


def test_report_rows_carry_the_change_and_its_verdict():
    rows = measured_changes(_doc(0.4))
    assert rows[0][:4] == ("overall", "retention_30s", 0.5, 0.4)
    assert "no significant change" in rows[0][4] and "thin: 12" in rows[0][4]


def test_the_model_fed_per_profile_is_deterministic_and_keeps_its_draws():
    import sim
    from loadgen.run.closed_loop import scenario_with_qoe

    base = load_scenario("scenarios/ci_smoke.toml")
    qoe = {"ID-4g": {"g2g_latency_ms": [700.0, 900.0, 1100.0], "startup_ms": [400.0, FAILED_MS]}}
    fed = scenario_with_qoe(base, qoe)
    a, b = sim.simulate(fed), sim.simulate(fed)
    for key in a.viewers:
        assert np.array_equal(a.viewers[key], b.viewers[key], equal_nan=True), key
    v = a.viewers
    on = v["profile"] == list(a.profiles).index("ID-4g")
    assert on.any() and set(np.unique(v["g2g_latency_ms"][on])) <= {700.0, 900.0, 1100.0}
    assert np.all(v["pick_g2g_latency_ms"][on] >= 0) and np.all(v["pick_g2g_latency_ms"][~on] == -1)
    failed = on & (v["pick_startup_ms"] == 1)
    assert failed.any() and v["abandoned"][failed].all()  # a failed start: abandoned
