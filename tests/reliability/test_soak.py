"""Soak, two minutes: the full soak's load (1,000 WebSocket viewers at the demo's rates, 50 lite
WHEP viewers) on one stack, judged by the scaled rule: after the first 30 s, RSS and open FDs
grow by less than 5 % and the delivery-lag p95 rises by at most 20 %."""

from __future__ import annotations

import math

import pytest

from loadgen.chaos.soak import SoakSample, judge, soak

pytestmark = pytest.mark.slow


def _s(t: float, rss: float, fds: int, load: float = 2.0) -> SoakSample:
    return SoakSample(t, rss, fds, 10, 1.0, 0.0, 0, 0, 0, 0, 0, load)


def test_the_rule_reads_growth_from_the_end_of_the_warmup() -> None:
    samples = [_s(10, 100.0, 50), _s(20, 110.0, 60), _s(30, 114.0, 62), _s(40, 112.0, 61)]
    lags = [[10.0] * 20, [10.0] * 20, [11.0] * 20, [13.0] * 20]
    v = judge(samples, lags, warmup_s=20)
    assert (v.rss_growth, v.fd_growth) == (round(114 / 110 - 1, 4), round(62 / 60 - 1, 4))
    assert (v.lag_p95_warmup_ms, v.lag_p95_after_ms, v.lag_rise) == (10.0, 13.0, 0.3)
    assert v.lag_judged and not v.ok  # lag rose 30 % on an equally busy machine
    assert judge(samples, [[10.0] * 20] * 4, warmup_s=20).ok
    # The machine got much busier after the warm-up: the lag is reported, not judged.
    busier = [*samples[:2], _s(30, 114.0, 62, 6.0), _s(40, 112.0, 61, 6.0)]
    noisy = judge(busier, lags, warmup_s=20)
    assert (noisy.load_warmup, noisy.load_after, noisy.lag_judged, noisy.ok) == (
        2.0,
        6.0,
        False,
        True,
    )
    with pytest.raises(ValueError, match="warm-up"):
        judge(samples, lags, warmup_s=60)


def test_two_minute_soak_holds_memory_fds_and_lag() -> None:
    samples, lags, rates = soak(2.0, viewers=1000, whep=50, processes=2, every_s=10.0)
    assert len(samples) == 12
    assert rates.chat > 0 and rates.order > 0
    assert all(s.ws_connections == 1000 and s.whep_viewers == 50 for s in samples)
    assert all(s.lag_n > 0 and not math.isnan(s.lag_p95_ms) for s in samples)
    assert samples[-1].chats > 0
    v = judge(samples, lags, warmup_s=30.0)
    assert v.rss_growth < 0.05 and v.fd_growth < 0.05, v
    # On a shared machine whose load rose mid-test the lag is not judged (v.lag_judged False);
    # where the load stayed comparable the rule holds.
    assert v.lag_rise <= 0.20 or not v.lag_judged, v
    assert v.ok, v
