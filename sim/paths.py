"""Per-viewer network paths: the market's backbone composed with a last mile, by access mix.

The backbone is `markets[].backbone` or `{origin}-{code}`; the last mile is the access kind's
profile (`wifi`, `4g`, `5g`) or `markets[].lastmile[kind]`. In the market's congested evening
hours (the `evening` profile's `congested_hours`, 20:00–23:00 local) fixed-line viewers use the
`evening` last mile instead of `wifi`, and mobile viewers' bandwidth is scaled by the same
evening/daytime ratio (docs/calibration.md: evening congestion halves bandwidth). The profiles were
loaded by the scenario loader (`Scenario.profile`); this module only chooses and samples them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from netem_profiles import PathSample, Profile, compose, sample_paths
from scenarios import Market, Scenario

__all__ = ["ACCESS", "MarketPaths", "Paths", "market_paths"]

ACCESS: tuple[str, ...] = ("wifi", "4g", "5g")
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Paths:
    """Per-viewer path figures (arrays of one length) and the profile each viewer used.

    `profile` indexes `MarketPaths.names`. Units as in `netem_profiles.PathSample`.
    """

    rtt_ms: FloatArray
    jitter_ms: FloatArray
    loss: FloatArray
    burst_len: FloatArray
    down_kbit: FloatArray
    profile: NDArray[np.int16]


@dataclass(frozen=True)
class MarketPaths:
    """The profiles of one market: daytime per access kind, and the evening variants."""

    code: str
    day: tuple[Profile, ...]  # per ACCESS kind
    evening: Profile  # fixed line at the evening peak
    evening_hours: tuple[int, int] | None
    mobile_evening_factor: float  # bandwidth × for mobile viewers at the evening peak
    names: tuple[str, ...]  # profile names: ACCESS kinds, then "evening"

    def sample(
        self,
        access: NDArray[np.int8],
        local_hour: FloatArray,
        rng_for: dict[str, np.random.Generator] | None,
        seed_rng: np.random.Generator | None = None,
    ) -> Paths:
        """Draw paths for viewers with `access` (ACCESS index) arriving at `local_hour`.

        Each access kind draws from its own generator (`rng_for[kind]`, fresh) or, for referred
        viewers, from generators seeded off `seed_rng`. Day and evening profiles are sampled
        from generators in the same state, so a viewer's draw only moves with the profile.
        """
        n = access.shape[0]
        out = {k: np.empty(n) for k in ("rtt_ms", "jitter_ms", "loss", "burst_len", "down_kbit")}
        profile = access.astype(np.int16)
        peak = self._in_evening(local_hour)
        for k, kind in enumerate(ACCESS):
            idx = np.flatnonzero(access == k)
            if idx.size == 0:
                continue
            seed = self._seed(kind, rng_for, seed_rng)
            day = sample_paths(self.day[k], idx.size, np.random.default_rng(seed))
            self._put(out, idx, day)
            if kind == "wifi":
                eve = sample_paths(self.evening, idx.size, np.random.default_rng(seed))
                sel = peak[idx]
                self._put(out, idx[sel], eve, sel)
                profile[idx[sel]] = len(ACCESS)
            else:
                out["down_kbit"][idx[peak[idx]]] *= self.mobile_evening_factor
        return Paths(profile=profile, **out)

    def _in_evening(self, local_hour: FloatArray) -> NDArray[np.bool_]:
        if self.evening_hours is None:
            return np.zeros(local_hour.shape, dtype=bool)
        lo, hi = self.evening_hours
        if lo <= hi:
            return (local_hour >= lo) & (local_hour < hi)
        return (local_hour >= lo) | (local_hour < hi)

    @staticmethod
    def _seed(
        kind: str,
        rng_for: dict[str, np.random.Generator] | None,
        seed_rng: np.random.Generator | None,
    ) -> int:
        source = rng_for[kind] if rng_for is not None else seed_rng
        if source is None:
            raise ValueError("need rng_for or seed_rng")
        return int(source.integers(0, 2**63 - 1))

    @staticmethod
    def _put(
        out: dict[str, FloatArray],
        idx: NDArray[np.intp],
        sample: PathSample,
        sel: NDArray[np.bool_] | None = None,
    ) -> None:
        for name in out:
            values: FloatArray = getattr(sample, name)
            out[name][idx] = values if sel is None else values[sel]


def market_paths(scenario: Scenario, market: Market) -> MarketPaths:
    """One market's composed paths, from the profiles the scenario loader resolved."""
    names = market.profile_names(scenario.stream.origin)
    backbone = scenario.profile(names["backbone"])
    day = []
    for kind in ACCESS:
        last = scenario.profile(names[f"lastmile.{kind}"])
        day.append(compose(backbone, last, name=f"{market.code}-{kind}"))
    evening_last = scenario.profile(names["evening"])
    wifi_last = scenario.profile(names["lastmile.wifi"])
    evening = compose(backbone, evening_last, name=f"{market.code}-evening")
    hours = evening_last.congested_hours if market.evening_congestion else None
    eve_rate, day_rate = evening_last.down.rate_kbit, wifi_last.down.rate_kbit
    factor = eve_rate / day_rate if eve_rate and day_rate and eve_rate < day_rate else 1.0
    return MarketPaths(
        code=market.code,
        day=tuple(day),
        evening=evening,
        evening_hours=hours,
        mobile_evening_factor=factor,
        names=(*(f"{market.code}-{k}" for k in ACCESS), f"{market.code}-evening"),
    )
