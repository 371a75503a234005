"""Composition of paths in series: a backbone followed by a last mile (or any chain).

Rules, per direction (each component's impairments are independent of the others):

- ``delay_ms`` adds.
- jitter: standard deviations add in quadrature; the result takes the distribution (and delay
  correlation) of the component with the largest jitter sd, and ``jitter_ms`` is set so that
  this distribution has the combined sd (``jitter_ms = sd / sd_factor(distribution)``).
- random loss, duplication and reordering: 1 − Π(1 − pᵢ); their correlations come from the
  component with the largest probability.
- Gilbert-Elliott: one chain keeps its states and the others' random loss q folds into both
  states' loss probabilities (1 − (1 − ℓ)(1 − q)), which is exact. With two chains, the one with
  the higher mean loss is kept and the other enters as random loss at its mean (an
  approximation that keeps the mean loss and underestimates burstiness).
- ``rate_kbit``: the minimum (the bottleneck); ``limit_pkts``: the minimum.
- spread: ``rtt_sd_ms`` in quadrature, coefficients of variation take the maximum.
"""

from __future__ import annotations

import math

from livelab.errors import ProfileError
from netem_profiles._dist import jitter_sd_factor
from netem_profiles.model import Direction, GilbertElliott, Profile, ViewerSpread

__all__ = ["compose", "compose_directions"]


def _union(probs: list[float]) -> float:
    keep = 1.0
    for p in probs:
        keep *= 1.0 - p
    return 1.0 - keep


def _fold(ge: GilbertElliott, q: float) -> GilbertElliott:
    return GilbertElliott(
        p=ge.p,
        r=ge.r,
        bad_loss=_union([ge.bad_loss, q]),
        good_loss=_union([ge.good_loss, q]),
    )


def compose_directions(parts: list[Direction]) -> Direction:
    """One direction equivalent to ``parts`` in series (rules in the module docstring)."""
    if not parts:
        return Direction()
    sds = [d.delay_sd_ms for d in parts]
    jittery = max(range(len(parts)), key=lambda i: sds[i])
    sd = math.sqrt(sum(s * s for s in sds))
    dist = parts[jittery].distribution if sd > 0 else "uniform"
    jitter = sd / jitter_sd_factor(dist) if sd > 0 else 0.0

    chains = sorted((d.ge for d in parts if d.ge is not None), key=lambda g: -g.mean_loss)
    random_losses = [d.loss for d in parts if d.ge is None]
    random_losses += [g.mean_loss for g in chains[1:]]
    q = _union(random_losses)
    ge = _fold(chains[0], q) if chains else None
    loss = 0.0 if ge is not None else q
    lossy = max(parts, key=lambda d: d.loss)

    dup = max(parts, key=lambda d: d.duplicate)
    reo = max(parts, key=lambda d: d.reorder)
    rates = [d.rate_kbit for d in parts if d.rate_kbit is not None]
    return Direction(
        delay_ms=sum(d.delay_ms for d in parts),
        jitter_ms=jitter,
        delay_corr=parts[jittery].delay_corr if sd > 0 else 0.0,
        distribution=dist,
        loss=loss,
        loss_corr=lossy.loss_corr if ge is None and loss > 0 else 0.0,
        ge=ge,
        duplicate=_union([d.duplicate for d in parts]),
        duplicate_corr=dup.duplicate_corr,
        reorder=_union([d.reorder for d in parts]),
        reorder_corr=reo.reorder_corr,
        reorder_gap=reo.reorder_gap,
        rate_kbit=min(rates) if rates else None,
        limit_pkts=min(d.limit_pkts for d in parts),
    )


def compose(*profiles: Profile, name: str | None = None) -> Profile:
    """The path made of ``profiles`` in series (backbone first, then last mile).

    The name defaults to the components' names joined by ``+``. Raises `ProfileError` if no
    profile is given.
    """
    if not profiles:
        raise ProfileError("compose() needs at least one profile")
    spread = ViewerSpread(
        rtt_sd_ms=math.sqrt(sum(p.spread.rtt_sd_ms**2 for p in profiles)),
        jitter_cv=max(p.spread.jitter_cv for p in profiles),
        loss_cv=max(p.spread.loss_cv for p in profiles),
        bw_cv=max(p.spread.bw_cv for p in profiles),
    )
    hours = next((p.congested_hours for p in profiles if p.congested_hours is not None), None)
    return Profile(
        name=name or "+".join(p.name for p in profiles),
        down=compose_directions([p.down for p in profiles]),
        up=compose_directions([p.up for p in profiles]),
        source=" + ".join(f"{p.name}: {p.source}" for p in profiles),
        spread=spread,
        kind="composite",
        description=" then ".join(p.name for p in profiles),
        congested_hours=hours,
    )
