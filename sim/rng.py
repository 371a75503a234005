"""Named, independent random streams derived from the root seed.

A stream is `numpy.random.Generator(PCG64(SeedSequence([seed, replication, *blake2b(name)])))`:
the name is hashed with BLAKE2b (stable across processes, unlike Python's salted `hash()`), so
adding or removing a stream never shifts the numbers of another. Streams are keyed per market and
purpose (e.g. `"ID/arrival"`), and every draw of a purpose is made for all of a market's organic
viewer slots at once, in a fixed order — so two variants of a scenario give the same viewer slot
the same numbers (common random numbers) and differ only where their overrides act.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["Streams", "stream_key"]


def stream_key(name: str) -> list[int]:
    """Four 32-bit words of BLAKE2b(name): the name's part of a stream's seed sequence."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=16).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


class Streams:
    """Factory of named generators for one replication of one scenario.

    `Streams(seed, replication).get("ID/arrival")` always returns a fresh generator in the same
    state for the same (seed, replication, name).
    """

    def __init__(self, seed: int, replication: int = 0) -> None:
        if seed < 0 or replication < 0:
            raise ValueError(f"seed and replication must be ≥ 0, got {seed}, {replication}")
        self.seed = seed
        self.replication = replication

    def get(self, name: str) -> np.random.Generator:
        """A new generator for stream `name`."""
        words = [self.seed & 0xFFFFFFFF, self.seed >> 32, self.replication, *stream_key(name)]
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(words)))

    def uniform(self, name: str, n: int) -> np.ndarray:
        """`n` uniforms in [0, 1) from stream `name` (float64)."""
        return self.get(name).random(n)
