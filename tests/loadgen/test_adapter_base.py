"""`loadgen.locust.adapter.Adapter`'s measuring helpers, with a hand-driven clock (no gevent)."""

from __future__ import annotations

import pytest

from loadgen.locust.adapter import Adapter, AdapterContext, AlreadyRecorded
from loadgen.plan.document import Script

SCRIPT = Script(id="v0", market="ID", access="4g", profile="ID-4g", referred=False,
                carried=False, start_s=0.0, end_s=10.0, actions=((0.0, "join"),),
                order_cents=100)  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _adapter() -> tuple[Adapter, Clock, list[tuple[str, float, bool, str | None]]]:
    clock, rows = Clock(), []
    ctx = AdapterContext("http://127.0.0.1:1", "demo", SCRIPT,
                         lambda *row: rows.append(row), clock=clock)  # fmt: skip
    return Adapter(ctx), clock, rows


def test_timed_records_elapsed_ms_and_failures():
    a, clock, rows = _adapter()
    with a.timed("order_ms"):
        clock.t += 0.25
    with a.timed("order_ms") as timing:
        clock.t += 0.5
        timing.fail("HTTP 500")
    with pytest.raises(AlreadyRecorded), a.timed("join_ms"):
        clock.t += 0.125
        raise TimeoutError("no ack")
    assert rows == [
        ("order_ms", 250.0, True, None),
        ("order_ms", 500.0, False, "HTTP 500"),
        ("join_ms", 125.0, False, "TimeoutError: no ack"),
    ]


def test_expect_resolve_expire_and_close():
    a, clock, rows = _adapter()
    a.expect("chat:1", "chat_rtt_ms")
    a.expect("question:1", "answer_ms")
    a.expect("chat:2", "chat_rtt_ms")
    clock.t += 0.04
    assert a.resolve("chat:1") and not a.resolve("chat:1")  # a duplicate echo counts once
    clock.t += 30.0
    a.expect("chat:3", "chat_rtt_ms")
    a.expire(30.0)
    assert rows == [
        ("chat_rtt_ms", pytest.approx(40.0), True, None),
        ("answer_ms", pytest.approx(30040.0), False, "no reply within 30 s"),
        ("chat_rtt_ms", pytest.approx(30040.0), False, "no reply within 30 s"),
    ]
    assert a.outstanding() == 1
    naps: list[float] = []

    def nap(s: float) -> None:
        naps.append(s)
        clock.t += s

    left: list[bool] = []
    a.leave = lambda: left.append(True)  # type: ignore[method-assign]
    a.close(0.2, lambda: False, nap)  # lingers 0.2 s for chat:3, then forgets it and leaves
    assert len(naps) == 4 and a.outstanding() == 0 and left == [True]
    assert len(rows) == 3  # a viewer that left does not count what it never saw


def test_the_base_class_requires_the_team_methods():
    a, _, _ = _adapter()
    assert a.connected and a.connect() and a.ensure_connected(until=0.0)
    with pytest.raises(NotImplementedError):
        a.chat()
    with pytest.raises(NotImplementedError):
        a.order(100, "k")
