"""Delay distributions with netem's semantics: inverse-CDF tables indexed by a uniform draw.

netem draws a (possibly correlated) uniform number and looks it up in a table of 4096 entries
that holds the distribution's quantiles in units of the jitter parameter, clipped to ±32767/8192
(about ±4) because the kernel stores them as 16-bit integers scaled by 8192. We build the same
tables here, so the user-space scheduler, the model's sampler and `tc` agree on what "delay 100ms
20ms distribution normal" means:

- ``uniform``: delay ± jitter (flat; no table in netem). Its standard deviation is jitter/√3.
- ``normal``: jitter is the standard deviation.
- ``pareto``: iproute2's pareto table, shape a = 3, shifted to mean 0 and scaled by 4/3, i.e.
  ``((1-u)^(-1/3) - 1.5) · 4/3`` — a long right tail.
- ``paretonormal``: 1/4 pareto + 3/4 normal taken at the same quantile (an approximation of
  iproute2's mixed table).
"""

from __future__ import annotations

import math
from functools import cache
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

__all__ = ["DISTRIBUTIONS", "TABLE_SIZE", "jitter_sd_factor", "quantile_table", "table_lookup"]

DISTRIBUTIONS: tuple[str, ...] = ("uniform", "normal", "pareto", "paretonormal")
TABLE_SIZE = 4096
# netem stores table entries as s16 scaled by NETEM_DIST_SCALE = 8192.
_TABLE_CLIP = 32767 / 8192


def _pareto(u: NDArray[np.float64]) -> NDArray[np.float64]:
    result: NDArray[np.float64] = ((1.0 - u) ** (-1.0 / 3.0) - 1.5) * (4.0 / 3.0)
    return result


def _normal(u: NDArray[np.float64]) -> NDArray[np.float64]:
    inv = NormalDist().inv_cdf
    return np.array([inv(float(x)) for x in u], dtype=np.float64)


@cache
def quantile_table(distribution: str) -> tuple[float, ...]:
    """The 4096 quantiles (in units of the jitter parameter) for a table distribution."""
    u = (np.arange(TABLE_SIZE, dtype=np.float64) + 0.5) / TABLE_SIZE
    if distribution == "uniform":
        values = 2.0 * u - 1.0
    elif distribution == "normal":
        values = _normal(u)
    elif distribution == "pareto":
        values = _pareto(u)
    elif distribution == "paretonormal":
        values = 0.25 * _pareto(u) + 0.75 * _normal(u)
    else:
        raise ValueError(f"unknown distribution {distribution!r}; allowed {DISTRIBUTIONS}")
    clipped = np.clip(values, -_TABLE_CLIP, _TABLE_CLIP)
    return tuple(float(v) for v in clipped)


def table_lookup(distribution: str, u: float) -> float:
    """Quantile for a uniform ``u`` in [0, 1), in units of the jitter parameter."""
    if distribution == "uniform":
        return 2.0 * u - 1.0
    table = quantile_table(distribution)
    return table[min(int(u * TABLE_SIZE), TABLE_SIZE - 1)]


@cache
def jitter_sd_factor(distribution: str) -> float:
    """Standard deviation of the added delay per unit of the jitter parameter (uncorrelated)."""
    if distribution == "uniform":
        return 1.0 / math.sqrt(3.0)
    return float(np.std(np.array(quantile_table(distribution))))


@cache
def jitter_mean_factor(distribution: str) -> float:
    """Mean of the table per unit of jitter (≈ 0; not exactly 0 after clipping the tail)."""
    if distribution == "uniform":
        return 0.0
    return float(np.mean(np.array(quantile_table(distribution))))
