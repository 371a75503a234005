"""Named random streams: stable, independent, keyed by seed, replication and name."""

from __future__ import annotations

import numpy as np
import pytest

from sim.rng import Streams, stream_key


def test_same_name_same_numbers_every_time() -> None:
    a = Streams(42).uniform("ID/arrival", 5)
    b = Streams(42).uniform("ID/arrival", 5)
    assert np.array_equal(a, b)


def test_stream_key_is_stable_across_processes() -> None:
    # BLAKE2b, not Python's salted hash(): this value must never change.
    assert stream_key("ID/arrival") == stream_key("ID/arrival")
    assert stream_key("ID/arrival") != stream_key("TH/arrival")
    assert len(stream_key("x")) == 4 and all(0 <= w < 2**32 for w in stream_key("x"))


def test_names_seeds_and_replications_give_different_streams() -> None:
    base = Streams(42).uniform("ID/arrival", 5)
    assert not np.array_equal(base, Streams(42).uniform("ID/access", 5))
    assert not np.array_equal(base, Streams(43).uniform("ID/arrival", 5))
    assert not np.array_equal(base, Streams(42, 1).uniform("ID/arrival", 5))


def test_large_seeds_use_all_bits() -> None:
    assert not np.array_equal(Streams(1).uniform("a", 3), Streams(1 + 2**32).uniform("a", 3))


def test_negative_seed_is_refused() -> None:
    with pytest.raises(ValueError, match="≥ 0"):
        Streams(-1)
