"""Per-viewer path draws for the model: vectorised, pure numpy, deterministic for a given rng.

Each viewer behind a profile gets a mean round trip, jitter, loss, mean loss-burst length and an
available downstream bandwidth. Without a spread every viewer sees the profile's figures; with
one, a viewer's figures vary around the profile's:

- round trip: lognormal with the profile's mean ``rtt_ms`` and sd ``spread.rtt_sd_ms`` (RTTs
  are right-skewed and never negative);
- jitter, loss, bandwidth: the profile's figure times a lognormal factor of mean 1 and
  coefficient of variation ``jitter_cv`` / ``loss_cv`` / ``bw_cv`` (loss clipped to [0, 1]).

The generator always draws one (4, n) block of standard normals, so the rng advances by the
same amount whatever the spread, and a change to one profile's spread does not shift other draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from netem_profiles.model import Profile

__all__ = ["PathSample", "sample_paths"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class PathSample:
    """Arrays of length n, one entry per viewer.

    ``rtt_ms``: mean round trip added by the path (ms); ``jitter_ms``: standard deviation of the
    downstream one-way delay (ms); ``loss``: effective downstream loss fraction (Gilbert-Elliott
    mean included); ``burst_len``: mean run of consecutive lost packets (packets);
    ``down_kbit``: available downstream bandwidth (kbit/s; ``inf`` when unlimited).
    """

    rtt_ms: FloatArray
    jitter_ms: FloatArray
    loss: FloatArray
    burst_len: FloatArray
    down_kbit: FloatArray

    def __len__(self) -> int:
        return int(self.rtt_ms.shape[0])


def _lognormal_factor(z: FloatArray, cv: float) -> FloatArray:
    """exp(σz − σ²/2) with σ² = ln(1 + cv²): mean 1, coefficient of variation ``cv``."""
    if cv <= 0:
        return np.ones_like(z)
    sigma = float(np.sqrt(np.log1p(cv * cv)))
    result: FloatArray = np.exp(sigma * z - 0.5 * sigma * sigma)
    return result


def sample_paths(profile: Profile, n: int, rng: np.random.Generator) -> PathSample:
    """Draw ``n`` viewers' paths behind ``profile`` (see the module docstring for the laws)."""
    if n < 0:
        raise ValueError(f"n must be ≥ 0, got {n}")
    z = rng.standard_normal((4, n))
    spread = profile.spread
    down = profile.down

    base = profile.rtt_ms
    if spread.rtt_sd_ms <= 0:
        rtt = np.full(n, base, dtype=np.float64)
    elif base <= 0:
        rtt = np.abs(z[0]) * spread.rtt_sd_ms
    else:
        rtt = base * _lognormal_factor(z[0], spread.rtt_sd_ms / base)

    jitter = down.delay_sd_ms * _lognormal_factor(z[1], spread.jitter_cv)
    loss = np.clip(down.mean_loss * _lognormal_factor(z[2], spread.loss_cv), 0.0, 1.0)
    if down.ge is not None:
        burst = np.full(n, down.ge.mean_burst_len, dtype=np.float64)
    else:
        with np.errstate(divide="ignore"):
            burst = 1.0 / (1.0 - loss)
    rate = np.inf if down.rate_kbit is None else down.rate_kbit
    down_kbit = rate * _lognormal_factor(z[3], spread.bw_cv)
    return PathSample(
        rtt_ms=rtt.astype(np.float64),
        jitter_ms=jitter.astype(np.float64),
        loss=loss.astype(np.float64),
        burst_len=burst.astype(np.float64),
        down_kbit=np.asarray(down_kbit, dtype=np.float64),
    )
