"""The pure parts of a chaos run: kill moments, extra orders, the verdict, reconnect timing."""

from __future__ import annotations

import pytest

from loadgen.chaos import Restart, judge, kill_moments, reconnects, render
from loadgen.chaos.orders import with_orders
from loadgen.plan.document import Plan, Script

EVENTS = [
    {"kind": "lottery", "start_s": 12.0, "end_s": 40.0},
    {"kind": "poll", "start_s": 20.0, "end_s": 50.0},
    {"kind": "flash_deal", "start_s": 35.0, "end_s": 60.0},
    {"kind": "flash_deal", "start_s": -30.0, "end_s": 10.0},  # began before the window
    {"kind": "lottery", "start_s": 38.0, "end_s": 70.0},  # too close to the deal at 35 s
]


def test_default_moments_are_the_lotteries_and_flash_deals_inside_the_window() -> None:
    assert kill_moments(EVENTS, 60.0) == [12.0, 35.0]


def test_kills_takes_the_first_peaks_then_spreads_the_rest_evenly() -> None:
    assert kill_moments(EVENTS, 60.0, kills=1) == [12.0]
    assert kill_moments(EVENTS, 60.0, kills=3) == [12.0, 30.0, 35.0]  # 15 is too near 12
    assert kill_moments([], 60.0, kills=3) == [15.0, 30.0, 45.0]
    assert kill_moments([], 60.0) == [30.0]


def test_explicit_moments_win_and_must_lie_in_the_window() -> None:
    assert kill_moments(EVENTS, 60.0, kills=5, at=(40.0, 10.0)) == [10.0, 40.0]
    with pytest.raises(ValueError, match=r"\[75.0\]"):
        kill_moments(EVENTS, 60.0, at=(10.0, 75.0))


def _script(i: int) -> Script:
    actions = ((0.0, "join"), (0.5, "connect"), (3.0, "chat"), (20.0, "leave"))
    return Script(f"v{i}", "ID", "4g", "ID-4g", False, False, 0.0, 20.0, actions)


def test_extra_orders_are_deterministic_and_inside_each_session() -> None:
    plan = Plan(scale=1, seed=3, window={}, duration_s=20.0, curve=(3,) * 20,
                scripts=tuple(_script(i) for i in range(50)))  # fmt: skip
    a, b = with_orders(plan, 30.0, seed=3), with_orders(plan, 30.0, seed=3)
    assert a == b and with_orders(plan, 0.0, seed=3) is plan
    orders = [t for s in a.scripts for t, kind in s.actions if kind == "order"]
    # Poisson with mean 30/min x 19.5 s x 50 viewers = 487.5; 4 sigma is ~88.
    assert 400 <= len(orders) <= 575
    assert all(0.5 < t < 20.0 for t in orders)
    for s in a.scripts:
        assert [k for _, k in s.actions][:2] == ["join", "connect"]
        assert s.actions[-1][1] == "leave" and s.order_cents == 1999
        assert list(s.actions) == sorted(s.actions, key=lambda x: x[0])


def _ack(key: str, order_id: str, status: int = 201, attempts: int = 1) -> dict[str, object]:
    return {"key": key, "order_id": order_id, "status": status, "attempts": attempts}


def test_a_clean_ledger_passes() -> None:
    acks = [_ack("k1", "o1"), _ack("k2", "o2", 200, 3)]
    rows = [("o1", "k1"), ("o2", "k2"), ("o3", "k3")]  # o3: committed, never acknowledged
    v = judge(acks, rows, [("k1", "o1", "o1"), ("k2", "o2", "o2")], [])
    assert (v.ok, v.lost, v.duplicate_keys, v.replay_mismatches) == (True, 0, 0, 0)
    assert (v.acknowledged, v.retried, v.recovered_by_retry, v.ledger_rows) == (2, 1, 1, 3)
    assert render(v).splitlines()[-1] == "PASS"


def test_each_must_be_zero_count_is_counted() -> None:
    acks = [_ack("k1", "o1"), _ack("k2", "o2"), _ack("k3", "o3"), _ack("k3", "o9")]
    rows = [("o1", "k1"), ("o1b", "k1"), ("o3", "k3"), ("o9", "k3")]
    replays = [("k1", "o1", "o1"), ("k2", "o2", "o7"), ("k3", "o3", None)]
    v = judge(acks, rows, replays, [])
    assert v.lost == 1 and v.lost_keys == ("k2",)
    assert v.duplicate_keys == 2  # k1 and k3 each hold two rows
    assert v.replay_mismatches == 3  # k3 acknowledged twice differently; k2 and k3 replays
    assert not v.ok and render(v).splitlines()[-1] == "FAIL"


def test_reconnect_times_count_from_ready_per_kill() -> None:
    kills = [(100.0, 100.5, 10.0), (130.0, 131.0, 40.0)]
    events = [
        {"viewer": "a", "ev": "connect", "t": 90.0},
        {"viewer": "a", "ev": "drop", "t": 100.01},
        {"viewer": "a", "ev": "connect", "t": 100.7},
        {"viewer": "a", "ev": "drop", "t": 130.02},
        {"viewer": "a", "ev": "connect", "t": 133.0},
        {"viewer": "b", "ev": "drop", "t": 100.02},
        {"viewer": "b", "ev": "leave", "t": 100.3},  # its script ended: not counted
        {"viewer": "c", "ev": "drop", "t": 100.03},
        {"viewer": "c", "ev": "connect", "t": 131.5},  # after the next kill: not back in time
        {"viewer": "d", "ev": "connect", "t": 120.0},  # joined later, never dropped by kill 1
    ]
    first, second = reconnects(events, kills)
    assert isinstance(first, Restart)
    assert (first.dropped, first.not_back, first.outage_s) == (2, 1, 0.5)
    assert first.reconnect_s == pytest.approx((0.2,))
    assert (second.dropped, second.not_back) == (1, 0)
    assert second.reconnect_s == pytest.approx((2.0,))
    assert second.as_json()["reconnect_p95_s"] == 2.0
