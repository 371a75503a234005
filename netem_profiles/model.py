"""The profile model: one network path with netem semantics, per direction.

A `Profile` is the single description of a path that every consumer reads: the model's per-viewer
sampler, the user-space packet scheduler and the `tc` renderer. Values are validated when an
object is built, so a `Profile` in hand is always usable; invalid values raise
`livelab.errors.ProfileError` with one `Problem` (source, field path, value, allowed range) each.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from livelab.errors import Problem, ProfileError
from netem_profiles._dist import DISTRIBUTIONS, jitter_mean_factor, jitter_sd_factor

__all__ = ["Direction", "GilbertElliott", "Profile", "ViewerSpread"]

MAX_DELAY_MS = 60_000.0
MAX_RATE_KBIT = 100_000_000.0  # 100 Gbit/s


@dataclass(frozen=True)
class GilbertElliott:
    """Two-state bursty loss, netem's ``loss gemodel p r 1-h 1-k``.

    Per packet the chain first moves (good → bad with probability ``p``, bad → good with ``r``),
    then the packet is lost with the new state's loss probability: ``bad_loss`` (netem's ``1-h``,
    default 1: every packet in the bad state is lost) or ``good_loss`` (netem's ``1-k``, default 0).
    With the defaults the mean loss is p / (p + r) and the mean loss burst is 1 / r packets.
    All four are fractions in [0, 1].
    """

    p: float
    r: float
    bad_loss: float = 1.0
    good_loss: float = 0.0

    def __post_init__(self) -> None:
        problems = ge_problems(asdict(self), "<GilbertElliott>", "ge")
        if problems:
            raise ProfileError(problems)

    @property
    def bad_share(self) -> float:
        """Stationary probability of the bad state, p / (p + r)."""
        total = self.p + self.r
        return 0.0 if total == 0 else self.p / total

    @property
    def mean_loss(self) -> float:
        """Long-run fraction of packets lost."""
        pb = self.bad_share
        return pb * self.bad_loss + (1.0 - pb) * self.good_loss

    @property
    def mean_burst_len(self) -> float:
        """Mean length of a run of consecutive lost packets (packets), from the chain exactly.

        mean run = P(lost) / P(lost and previous not lost).
        """
        pb = self.bad_share
        pg = 1.0 - pb
        lg, lb = self.good_loss, self.bad_loss
        # P(previous lost and this lost): previous state s lost, move s → s', s' lost.
        both = pg * lg * ((1 - self.p) * lg + self.p * lb) + pb * lb * (
            self.r * lg + (1 - self.r) * lb
        )
        lost = self.mean_loss
        starts = lost - both
        return 1.0 if starts <= 0 else lost / starts


@dataclass(frozen=True)
class Direction:
    """One direction of a path (origin → viewer is ``down``; viewer → origin is ``up``).

    Units: milliseconds for times, fractions in [0, 1] for probabilities and correlations,
    kbit/s for ``rate_kbit`` (None = unlimited), packets for ``limit_pkts`` (netem's queue limit,
    tail drop). ``jitter_ms`` has netem's meaning, which depends on ``distribution``: the half
    width for ``uniform``, the standard deviation for ``normal`` (see `delay_sd_ms`).
    ``reorder`` sends that share of packets at once (ahead of the queue), every ``reorder_gap``-th
    packet at most, as netem does; it needs a delay to reorder against.
    """

    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    delay_corr: float = 0.0
    distribution: str = "uniform"
    loss: float = 0.0
    loss_corr: float = 0.0
    ge: GilbertElliott | None = None
    duplicate: float = 0.0
    duplicate_corr: float = 0.0
    reorder: float = 0.0
    reorder_corr: float = 0.0
    reorder_gap: int = 1
    rate_kbit: float | None = None
    limit_pkts: int = 1000

    def __post_init__(self) -> None:
        values = {k: v for k, v in asdict(self).items() if k != "ge"}
        problems = direction_problems(values, "<Direction>", "direction")
        if self.ge is not None and self.loss > 0:
            problems.append(Problem("<Direction>", "direction.loss", self.loss, "0 when ge is set"))
        if problems:
            raise ProfileError(problems)

    @property
    def delay_sd_ms(self) -> float:
        """Standard deviation of the added delay (ms) for uncorrelated draws, before ordering."""
        return self.jitter_ms * jitter_sd_factor(self.distribution)

    @property
    def mean_delay_ms(self) -> float:
        """Mean added delay (ms) before ordering and rate (``delay_ms`` up to table clipping)."""
        return self.delay_ms + self.jitter_ms * jitter_mean_factor(self.distribution)

    @property
    def mean_loss(self) -> float:
        """Long-run loss fraction (random loss, or the Gilbert-Elliott chain's mean)."""
        if self.ge is not None:
            return self.ge.mean_loss
        return self.loss

    @property
    def mean_burst_len(self) -> float:
        """Mean run of consecutive lost packets; 1/(1-loss) for independent random loss."""
        if self.ge is not None:
            return self.ge.mean_burst_len
        if self.loss >= 1.0:
            return math.inf
        return 1.0 / (1.0 - self.loss)

    @property
    def is_clean(self) -> bool:
        """True when the direction changes nothing."""
        return self == Direction()


@dataclass(frozen=True)
class ViewerSpread:
    """Between-viewer variation of a path, used only by the model's sampler.

    ``rtt_sd_ms``: standard deviation of a viewer's mean round trip (ms) around the profile's;
    ``jitter_cv``, ``loss_cv``, ``bw_cv``: coefficients of variation (sd / mean) of a viewer's
    jitter, loss and available bandwidth. Zero means every viewer sees the profile's figure.
    """

    rtt_sd_ms: float = 0.0
    jitter_cv: float = 0.0
    loss_cv: float = 0.0
    bw_cv: float = 0.0

    def __post_init__(self) -> None:
        problems = spread_problems(asdict(self), "<ViewerSpread>", "spread")
        if problems:
            raise ProfileError(problems)


@dataclass(frozen=True)
class Profile:
    """A named path: ``down`` (origin → viewer) and ``up`` (viewer → origin).

    ``source`` says where the numbers come from; ``kind`` is one of backbone, lastmile, preset,
    composite or inline; ``congested_hours`` is a local-time window (start hour, end hour) in which
    the profile applies (e.g. the evening last mile), or None.
    """

    name: str
    down: Direction = field(default_factory=Direction)
    up: Direction = field(default_factory=Direction)
    source: str = ""
    spread: ViewerSpread = field(default_factory=ViewerSpread)
    kind: str = "custom"
    description: str = ""
    congested_hours: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        if not self.name:
            problems.append(Problem("<Profile>", "name", self.name, "a non-empty name"))
        if self.congested_hours is not None:
            problems += hours_problems(self.congested_hours, "<Profile>", "congested_hours")
        if problems:
            raise ProfileError(problems)

    @property
    def rtt_ms(self) -> float:
        """Base round trip added by the path (ms): down delay + up delay."""
        return self.down.delay_ms + self.up.delay_ms

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready): every field, ``None`` for unlimited rate or no GE chain."""
        data = asdict(self)
        data["rtt_ms"] = self.rtt_ms
        data["congested_hours"] = (
            list(self.congested_hours) if self.congested_hours is not None else None
        )
        return data


# --- validation shared by the dataclasses and the TOML loader -------------------------------

_FRACTIONS = (
    "delay_corr",
    "loss",
    "loss_corr",
    "duplicate",
    "duplicate_corr",
    "reorder",
    "reorder_corr",
)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def direction_problems(values: dict[str, Any], source: str, path: str) -> list[Problem]:
    """Range problems of a direction's scalar fields (``ge`` excluded), one per bad value."""
    out: list[Problem] = []

    def bad(key: str, allowed: str) -> None:
        out.append(Problem(source, f"{path}.{key}", values[key], allowed))

    for key in ("delay_ms", "jitter_ms"):
        v = values.get(key, 0.0)
        if not _is_number(v) or not 0.0 <= v <= MAX_DELAY_MS:
            bad(key, f"a number of milliseconds in [0, {MAX_DELAY_MS:g}]")
    for key in _FRACTIONS:
        v = values.get(key, 0.0)
        if not _is_number(v) or not 0.0 <= v <= 1.0:
            bad(key, "a fraction in [0, 1] (0.02 = 2 %)")
    dist = values.get("distribution", "uniform")
    if dist not in DISTRIBUTIONS:
        bad("distribution", f"one of {', '.join(DISTRIBUTIONS)}")
    gap = values.get("reorder_gap", 1)
    if not isinstance(gap, int) or isinstance(gap, bool) or gap < 1:
        bad("reorder_gap", "an integer ≥ 1 (packets)")
    rate = values.get("rate_kbit")
    if rate is not None and (not _is_number(rate) or not 0.0 < rate <= MAX_RATE_KBIT):
        bad("rate_kbit", f"kbit/s in (0, {MAX_RATE_KBIT:g}], or absent for unlimited")
    limit = values.get("limit_pkts", 1000)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10_000_000:
        bad("limit_pkts", "an integer number of packets in [1, 10000000]")
    reorder = values.get("reorder", 0.0)
    delay = values.get("delay_ms", 0.0)
    if _is_number(reorder) and reorder > 0 and _is_number(delay) and delay == 0:
        bad("reorder", "reordering needs a delay_ms > 0 to reorder against (as in tc netem)")
    return out


def ge_problems(values: dict[str, Any], source: str, path: str) -> list[Problem]:
    """Range problems of a Gilbert-Elliott table."""
    out: list[Problem] = []
    for key in ("p", "r", "bad_loss", "good_loss"):
        v = values.get(key)
        if not _is_number(v) or not 0.0 <= v <= 1.0:  # type: ignore[operator]
            out.append(Problem(source, f"{path}.{key}", v, "a fraction in [0, 1]"))
    p, r = values.get("p"), values.get("r")
    if _is_number(p) and _is_number(r) and p > 0 and r == 0:  # type: ignore[operator]
        out.append(
            Problem(source, f"{path}.r", r, "> 0 when p > 0 (else the bad state never ends)")
        )
    return out


def spread_problems(values: dict[str, Any], source: str, path: str) -> list[Problem]:
    """Range problems of a viewer spread table."""
    out: list[Problem] = []
    v = values.get("rtt_sd_ms", 0.0)
    if not _is_number(v) or not 0.0 <= v <= MAX_DELAY_MS:
        out.append(Problem(source, f"{path}.rtt_sd_ms", v, "milliseconds ≥ 0"))
    for key in ("jitter_cv", "loss_cv", "bw_cv"):
        v = values.get(key, 0.0)
        if not _is_number(v) or not 0.0 <= v <= 10.0:
            out.append(Problem(source, f"{path}.{key}", v, "a coefficient of variation in [0, 10]"))
    return out


def hours_problems(value: object, source: str, path: str) -> list[Problem]:
    """Problems of a (start hour, end hour) local-time window."""
    ok = (
        isinstance(value, tuple | list)
        and len(value) == 2
        and all(isinstance(h, int) and not isinstance(h, bool) and 0 <= h <= 24 for h in value)
    )
    if ok:
        return []
    return [Problem(source, path, value, "two whole hours [start, end] in 0..24 (local time)")]
