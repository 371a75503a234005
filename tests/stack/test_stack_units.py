"""Pure parts of the stack, with time as a parameter: exact answers, no sleeping."""

from __future__ import annotations

import pytest

from livelab.errors import ConfigError
from stack.fanout import KeyframeLimiter
from stack.messages import ProtocolError, parse_client_message
from stack.metrics import Registry
from stack.options import StackOptions, parse_duration, parse_faults, parse_peaks
from stack.ratelimit import TokenBucket
from stack.schedule import HostSchedule
from stack.tokens import TokenError, TokenSigner

SECRET = b"0123456789abcdef0123456789abcdef"


def test_token_bucket_allows_rate_then_strikes() -> None:
    bucket = TokenBucket(20, now_s=0.0)
    assert [bucket.allow(0.0) for _ in range(21)] == [True] * 20 + [False]
    assert bucket.strikes == 1
    assert bucket.allow(0.05)  # one token back after 50 ms at 20/s
    assert bucket.strikes == 0
    with pytest.raises(ValueError):
        TokenBucket(0)


def test_keyframe_limiter() -> None:
    limiter = KeyframeLimiter(500)
    assert [limiter.allow(t) for t in (0, 100, 499, 500, 900, 1001)] == [
        True,
        False,
        False,
        True,
        False,
        True,
    ]


def test_tokens_scope_expiry_and_forgery() -> None:
    now = [1_000_000.0]
    signer = TokenSigner(SECRET, lambda: now[0])
    token = signer.issue("demo", "v1", "ID", ttl_s=60)
    claims = signer.verify(token, "demo")
    assert (claims.room, claims.viewer, claims.market) == ("demo", "v1", "ID")

    def code(tok: str | None, room: str = "demo") -> tuple[int, str]:
        with pytest.raises(TokenError) as info:
            signer.verify(tok, room)
        return info.value.status, info.value.code

    assert code(None) == (401, "missing_token")
    assert code(token, "other") == (403, "wrong_room")
    body, _, sig = token.partition(".")
    assert code(body + "." + sig[:-2] + "AA") == (401, "invalid_token")
    forged = TokenSigner(b"another-secret-of-32-bytes......", lambda: now[0])
    assert code(forged.issue("demo", "v1", "ID", 60)) == (401, "invalid_token")
    now[0] += 61
    assert code(token) == (401, "token_expired")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "chat", "id": "m1"}', "missing_field"),
        ('{"type": "chat", "id": "m1", "text": ""}', "bad_field"),
        ('{"type": "like", "count": true}', "bad_field"),
        ('{"type": "chat", "id": "m1", "text": "' + "x" * 5000 + '"}', "too_large"),
    ],
)
def test_bad_client_messages(text: str, code: str) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_message(text, 4096)
    assert info.value.code == code
    frame = info.value.frame()
    assert frame["type"] == "error" and frame["code"] == code and frame["message"]


def test_error_ref_echoes_message_id() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_client_message('{"type": "chat", "id": "m7"}', 4096)
    assert info.value.ref == "m7"


def test_good_client_messages() -> None:
    assert parse_client_message('{"type":"vote","poll_id":"p","option":2}', 4096)["option"] == "2"
    assert parse_client_message('{"type":"like"}', 4096) == {"type": "like"}


def test_schedule_announces_counts_down_and_rotates() -> None:
    schedule = HostSchedule(every_s=900, announce_ahead_s=90, open_s=60)
    events = schedule.events(0, opened_ms=1_000_000)
    times = [t for t, _ in events]
    assert times == [810, 840, 870, 890, 895, 897, 898, 899, 900]
    assert [m["starts_in_s"] for _, m in events[:-1]] == [90, 60, 30, 10, 5, 3, 2, 1]
    assert events[-1][1] == {
        "type": "lottery",
        "id": "peak-0",
        "prize": "coupon-50",
        "draw_at": 1_000_000 + 960_000,
    }
    assert schedule.events(1, 0)[-1][1]["type"] == "flash_deal"
    assert schedule.events(2, 0)[-1][1]["type"] == "poll"
    assert schedule.events(1, 0)[-1][0] == 1800


def test_fixed_peaks_replace_the_rotation() -> None:
    schedule = HostSchedule(
        every_s=900, announce_ahead_s=10, peaks=(("poll", 30.0, 150.0), ("lottery", 170.0, 5.0))
    )
    assert schedule.count == 2 and HostSchedule(every_s=900, announce_ahead_s=10).count is None
    poll = schedule.events(0, opened_ms=0)
    assert [t for t, _ in poll] == [20, 25, 27, 28, 29, 30]
    assert poll[-1][1] == {
        "type": "poll", "poll_id": "peak-0", "question": "A or B?", "options": ["A", "B"],
        "closes_at": 180_000,
    }  # fmt: skip
    assert schedule.events(1, 0)[-1] == (
        170.0, {"type": "lottery", "id": "peak-1", "prize": "coupon-50", "draw_at": 175_000}
    )  # fmt: skip
    assert parse_peaks("lottery@2m+5s, poll@0s+90s") == (
        ("poll", 0.0, 90.0), ("lottery", 120.0, 5.0)
    )  # fmt: skip
    for bad in ("vote@1s+1s", "poll@1s", "poll@-1s+2s"):
        with pytest.raises(ConfigError, match="--peaks"):
            parse_peaks(bad)


def test_durations_and_faults() -> None:
    assert parse_duration("15m") == 900 and parse_duration("500ms") == 0.5
    assert parse_duration("2") == 2.0
    with pytest.raises(ConfigError):
        parse_duration("soon")
    assert parse_faults(["chat_delay_ms=800", "error_rate=0.02"]) == {
        "chat_delay_ms": 800.0,
        "error_rate": 0.02,
    }
    with pytest.raises(ConfigError) as info:
        parse_faults(["error_rate=2", "explode=1"])
    assert len(info.value.problems) == 2
    assert "error_rate" in str(info.value) and "explode" in str(info.value)


def test_options_refuse_remote_bind_without_flag() -> None:
    with pytest.raises(ConfigError) as info:
        StackOptions(bind="0.0.0.0").validate()
    assert "--allow-remote" in str(info.value)
    StackOptions(bind="0.0.0.0", allow_remote=True).validate()
    StackOptions(bind="127.0.0.2").validate()  # all of 127.0.0.0/8 is loopback
    with pytest.raises(ConfigError):
        StackOptions(host="browser", room="bad room!").validate()


def test_metrics_render_parses_back_exactly(prom_samples) -> None:
    reg = Registry()
    reg.counter("c_total", "a counter")
    reg.counter("idle_total", "never counted")
    reg.inc("c_total", 2, code="x")
    # A label value with a quote, a backslash and a newline must be escaped, not break the line.
    reg.inc("c_total", 1, code='say "hi"\\ then\nbye')
    reg.counter_fn("big_total", "a large integer", lambda: 1234567)
    reg.counter_fn("huge_total", "beyond float32", lambda: 12345678901)
    reg.gauge("g", "a gauge", lambda: 3)
    hist = reg.histogram("lag_ms", "lag")
    hist.observe(7, times=2)
    hist.observe(300)
    got = prom_samples(reg.render())
    assert got[("c_total", (("code", "x"),))] == 2
    assert got[("c_total", (("code", 'say "hi"\\ then\nbye'),))] == 1
    assert got[("idle_total", ())] == 0  # a series exists before the first count
    assert got[("big_total", ())] == 1234567  # not 1.23457e+06
    assert got[("huge_total", ())] == 12345678901
    assert got[("g", ())] == 3
    assert got[("lag_ms_bucket", (("le", "5.0"),))] == 0
    assert got[("lag_ms_bucket", (("le", "10.0"),))] == 2
    assert got[("lag_ms_bucket", (("le", "250.0"),))] == 2
    assert got[("lag_ms_bucket", (("le", "500.0"),))] == 3
    assert got[("lag_ms_bucket", (("le", "+Inf"),))] == 3
    assert got[("lag_ms_count", ())] == 3 and got[("lag_ms_sum", ())] == 314


def test_registries_are_per_server() -> None:
    first, second = Registry(), Registry()
    for reg in (first, second):
        reg.counter("same_total", "registered twice, in two registries")
    first.inc("same_total")
    assert "same_total 1.0" in first.render() and "same_total 0.0" in second.render()
