"""Where the media panel's viewers go, so the closed loop has enough samples per profile.

The closed loop feeds each network profile its own measurement (`loadgen.run.closed_loop`), so
the panel must measure the profiles that carry the audience. The rule:

- a profile carrying at least `MIN_SHARE` of the audience present in the window "needs" a
  measurement: at least `MIN_VIEWERS` measuring viewers (probe or browser: they read g2g) for
  at least `MIN_WATCH_S` of frames each;
- needing profiles are served in order: each market's largest first (so every market gets g2g
  samples), then the others by share (ties by name); each served profile gets `MIN_VIEWERS` of
  the measuring viewers, as many profiles as the measuring viewers allow;
- every panel viewer (measuring or lite) goes to a served profile: at least `MIN_VIEWERS` each,
  the rest by largest remainder of the audience share. The panel deals measuring viewers
  round-robin over its profiles (`loadgen.panel.config.assign_viewers`), so with only served
  profiles listed each one gets its `MIN_VIEWERS`;
- when no profile needs a measurement (many small markets), the largest profiles are served;
- a panel with fewer than `MIN_VIEWERS` measuring viewers cannot serve one profile: it is
  spread over the audience mix as it is (largest remainder), every needing profile unserved.

`unserved` names the needing profiles the panel cannot measure: the run's notes and the report
say so (`loadgen.run.finish`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["MIN_SHARE", "MIN_VIEWERS", "MIN_WATCH_S", "PanelPlacement", "place_panel"]

MIN_SHARE = 0.05
MIN_VIEWERS = 3
MIN_WATCH_S = 30.0


@dataclass(frozen=True)
class PanelPlacement:
    """`profiles`: panel viewers per profile; `needing`: profiles with ≥ `MIN_SHARE` of the
    audience, in service order; `unserved`: those the measuring viewers cannot cover."""

    profiles: dict[str, int]
    needing: tuple[str, ...]
    unserved: tuple[str, ...]


def _market(profile: str) -> str:
    return profile.rsplit("-", 1)[0]


def _order(shares: Mapping[str, float]) -> list[str]:
    """Each market's largest profile first (by share), then the others by share."""
    ranked = sorted(shares, key=lambda p: (-shares[p], p))
    firsts: list[str] = []
    seen: set[str] = set()
    for p in ranked:
        if _market(p) not in seen:
            seen.add(_market(p))
            firsts.append(p)
    return firsts + [p for p in ranked if p not in firsts]


def place_panel(viewers: int, measuring: int, mix: Mapping[str, float]) -> PanelPlacement:
    """Place `viewers` panel viewers, `measuring` of them probes or browsers, over the
    audience `mix` (profile → viewers or weight) by the module's rule."""
    from loadgen.plan.compile import apportion

    total = sum(w for w in mix.values() if w > 0)
    if viewers <= 0 or total <= 0:
        return PanelPlacement({}, (), ())
    shares = {p: w / total for p, w in mix.items() if w > 0}
    needing = [p for p in _order(shares) if shares[p] >= MIN_SHARE]
    if measuring < MIN_VIEWERS:  # cannot serve one profile: spread over the audience as it is
        return PanelPlacement(apportion(viewers, shares), tuple(needing), tuple(needing))
    candidates = needing or _order(shares)
    slots = min(measuring // MIN_VIEWERS, len(candidates))
    served = candidates[:slots]
    counts = dict.fromkeys(served, 0)
    floor = min(MIN_VIEWERS, viewers // len(served))
    for p in served:
        counts[p] = floor
    rest = viewers - floor * len(served)
    for p, extra in apportion(rest, {p: shares[p] for p in served}).items():
        counts[p] += extra
    unserved = tuple(p for p in needing if p not in served)
    return PanelPlacement({p: c for p, c in sorted(counts.items()) if c}, tuple(needing), unserved)
