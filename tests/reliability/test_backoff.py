"""The retry law (`loadgen.backoff`): exact ceilings, exact seeded draws, the window bound."""

from __future__ import annotations

import random

import pytest

from loadgen.backoff import DEFAULT_BACKOFF, Backoff


def test_ceilings_double_from_base_until_the_cap() -> None:
    law = Backoff(base_s=0.25, cap_s=4.0)
    assert [law.ceiling_s(k) for k in range(7)] == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert law.ceiling_s(10_000) == 4.0  # no overflow far past the cap
    assert law.ceiling_s(-3) == 0.25


def test_delay_is_one_uniform_draw_scaled_by_the_ceiling() -> None:
    law = Backoff(base_s=0.5, cap_s=2.0)
    draws = random.Random(7)
    expected = [draws.random() * c for c in (0.5, 1.0, 2.0, 2.0)]
    rng = random.Random(7)
    assert [law.delay_s(k, rng) for k in range(4)] == expected


def test_same_seed_same_delays_and_all_inside_their_ceiling() -> None:
    a = [DEFAULT_BACKOFF.delay_s(k % 8, random.Random(k)) for k in range(200)]
    b = [DEFAULT_BACKOFF.delay_s(k % 8, random.Random(k)) for k in range(200)]
    assert a == b
    assert all(0.0 <= d < DEFAULT_BACKOFF.ceiling_s(k % 8) for k, d in enumerate(a))


def test_full_jitter_spreads_a_crowd_over_the_window() -> None:
    # 2,000 clients failing at once on their 4th attempt: roughly uniform on [0, 2 s).
    law = Backoff(base_s=0.25, cap_s=4.0)
    rng = random.Random(1)
    delays = [law.delay_s(3, rng) for _ in range(2000)]
    quarters = [sum(1 for d in delays if q * 0.5 <= d < (q + 1) * 0.5) for q in range(4)]
    assert all(430 <= n <= 570 for n in quarters), quarters


def test_window_is_the_sum_of_ceilings() -> None:
    law = Backoff(base_s=0.25, cap_s=4.0)
    assert law.window_s(0) == 0.0
    assert law.window_s(3) == 1.75
    assert law.window_s(7) == 0.25 + 0.5 + 1.0 + 2.0 + 4.0 + 4.0 + 4.0


@pytest.mark.parametrize(("base", "cap"), [(0.0, 1.0), (2.0, 1.0), (-1.0, 1.0)])
def test_bad_parameters_are_refused(base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="base_s"):
        Backoff(base_s=base, cap_s=cap)
