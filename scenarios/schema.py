"""The scenario schema: what a `scenarios/*.toml` file may say, with units and ranges.

Every model forbids unknown keys and is frozen; `scenarios.loader` turns validation failures into
one `Problem` line each (file, field path, value, what is allowed).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from scenarios.behavior import (
    Behavior,
    BehaviorOverrides,
    PresetName,
    preset,
    preset_for_market,
)
from scenarios.load import Load

if TYPE_CHECKING:
    from collections.abc import Mapping

    from netem_profiles.model import Profile

__all__ = [
    "QOE_FIELDS",
    "Access",
    "CoHost",
    "Edge",
    "Host",
    "Infra",
    "Market",
    "ModelSettings",
    "QoE",
    "Rung",
    "Scenario",
    "ScenarioMeta",
    "Stream",
    "Variant",
]

AccessKind = Literal["wifi", "4g", "5g"]
Incentive = Literal["interest", "social", "honour"]
MiniPeakKind = Literal["lottery", "flash_deal", "poll", "cohost"]
# The default rotation: a co-host (连麦) segment is opt-in, it needs a guest market and a call.
_ALL_KINDS: tuple[MiniPeakKind, ...] = ("lottery", "flash_deal", "poll")
# A fixed experience value, or an empirical distribution (a list of samples) drawn per viewer.
Experience = float | list[float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScenarioMeta(_Strict):
    """`[scenario]`: identity and model settings."""

    name: str = Field(min_length=1, max_length=80)
    description: str = ""
    seed: int = Field(42, ge=0, le=2**63 - 1, description="root seed of every random stream")
    replications: int = Field(1, ge=1, le=1000, description="independent replications")
    series_streams: int = Field(
        1, ge=1, le=52, description="streams in a series, for return and repurchase"
    )


class ModelSettings(_Strict):
    """`[model]`: which fitted QoE laws the model uses (docs/calibration.md)."""

    calibration: str | None = Field(
        None,
        min_length=1,
        max_length=1000,
        description="a `livelab calibrate` file, relative to the scenario file; "
        "default: the shipped scenarios/data/calibration.toml",
    )


class Rung(_Strict):
    """One rung of the video ladder."""

    name: str
    height: int = Field(ge=144, le=2160, description="pixels")
    kbps: float = Field(gt=0, le=50_000, description="video bitrate, kbit/s")
    fps: float = Field(30, gt=0, le=120)


def _default_ladder() -> list[Rung]:
    # Common live ladders for 360p/720p/1080p (vendor docs); HD = 720p and up (seed: +10 % watch).
    return [
        Rung(name="360p", height=360, kbps=800, fps=30),
        Rung(name="720p", height=720, kbps=2500, fps=30),
        Rung(name="1080p", height=1080, kbps=4500, fps=30),
    ]


class Stream(_Strict):
    """`[stream]`: the broadcast."""

    start_utc: datetime = Field(description="stream start, ISO 8601 with a UTC offset")
    duration_min: float = Field(ge=1, le=24 * 60, description="minutes")
    origin: Literal["hk", "hangzhou"] = Field("hk", description="origin of the stream")
    host_delay_ms: float = Field(
        500, ge=0, le=60_000, description="host glass-to-glass delay (camera to viewer), ms"
    )
    ladder: list[Rung] = Field(default_factory=_default_ladder, min_length=1)
    keyframe_interval_s: float = Field(2.0, gt=0, le=20, description="seconds")

    @field_validator("start_utc")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2026-11-11T12:00:00Z")
        return value


class CoHost(_Strict):
    """`[host.cohost]`: co-host (连麦) mini-peaks: a viewer of one market on air with the host."""

    duration_min: float = Field(
        4, gt=0, le=60, description="minutes a guest is on air (replaces mini_peak_duration_min)"
    )
    guest_market: str = Field(
        "rotate",
        pattern=r"^(rotate|largest|[A-Z]{2}(-[A-Z]{1,2})?)$",
        description='whose viewer goes on air: "rotate" (markets in order), "largest" '
        "(largest audience) or a market code",
    )
    guest_delay_ms: float = Field(
        150,
        ge=0,
        le=60_000,
        description="guest's capture, encode, decode and render delay (one way, ms; assumed)",
    )


class Host(_Strict):
    """`[host]`: what the host does on stream."""

    mini_peak_every_min: float = Field(
        15, ge=0, le=240, description="minutes between mini-peaks; 0 means none (seed: 15–20)"
    )
    mini_peak_kinds: list[MiniPeakKind] = Field(
        default_factory=lambda: list(_ALL_KINDS), min_length=1
    )
    mini_peak_duration_min: float = Field(3, gt=0, le=60, description="minutes")
    flash_deal_poll: bool = Field(
        False,
        description='the host also runs an "A or B?" poll during each flash deal (which colour, '
        "which size), live for the deal's minutes (assumed)",
    )
    announce_lead_min: float = Field(2, ge=0, le=60, description="minutes (seed: 1–2)")
    answer_s: float = Field(4, ge=0, le=600, description="host think time for a question, s")
    cohost: CoHost = Field(default_factory=CoHost, description="co-host segments (kind cohost)")


class QoE(_Strict):
    """`[markets.qoe]`: fixed experience values replacing the modelled ones for a market.

    Each value is a number, or a list of samples drawn per viewer (measured distributions).
    `profiles` holds the same fields per network profile of the market (`ID-4g`, `ID-evening`):
    a viewer on a listed profile takes its values there, the others the market's (the closed
    loop feeds measured samples back this way, `loadgen.run.closed_loop`).
    """

    startup_ms: Experience | None = None
    rebuffer_ratio: Experience | None = None
    g2g_latency_ms: Experience | None = None
    chat_rtt_ms: Experience | None = None
    answer_ms: Experience | None = None
    resolution: int | None = Field(None, ge=144, le=2160, description="video height, px")
    profiles: dict[str, QoE] | None = Field(
        None, description='the same fields per profile of the market, e.g. {"ID-4g" = {...}}'
    )

    @model_validator(mode="after")
    def _ranges(self) -> QoE:
        for name, inner in (self.profiles or {}).items():
            if inner.profiles:
                raise ValueError(f"profiles.{name}: a profile's values take no profiles")
        limits = {
            "startup_ms": 600_000.0,
            "rebuffer_ratio": 1.0,
            "g2g_latency_ms": 600_000.0,
            "chat_rtt_ms": 600_000.0,
            "answer_ms": 600_000.0,
        }
        for name, top in limits.items():
            value = getattr(self, name)
            values = value if isinstance(value, list) else [] if value is None else [value]
            if isinstance(value, list) and not value:
                raise ValueError(f"{name}: an empty list; give a number or samples")
            bad = [v for v in values if not 0 <= v <= top]
            if bad:
                raise ValueError(f"{name}: {bad[0]!r} is outside 0..{top:g}")
        return self


QOE_FIELDS = ("startup_ms", "rebuffer_ratio", "g2g_latency_ms", "chat_rtt_ms", "answer_ms",
              "resolution")  # fmt: skip


class Access(_Strict):
    """Access mix; shares sum to 1."""

    wifi: float = Field(0.0, ge=0, le=1)
    g4: float = Field(0.0, ge=0, le=1, alias="4g")
    g5: float = Field(0.0, ge=0, le=1, alias="5g")

    @model_validator(mode="after")
    def _sums_to_one(self) -> Access:
        total = self.wifi + self.g4 + self.g5
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"wifi + 4g + 5g must sum to 1, got {total:g}")
        return self

    def shares(self) -> dict[AccessKind, float]:
        """Access kind → share, in the order wifi, 4g, 5g."""
        return {"wifi": self.wifi, "4g": self.g4, "5g": self.g5}


class Market(_Strict):
    """`[[markets]]`: one market's audience, paths and behaviour."""

    code: str = Field(pattern=r"^[A-Z]{2}(-[A-Z]{1,2})?$", description="e.g. ID, GB, US-E")
    tz: str = Field(description="IANA time zone, e.g. Asia/Jakarta")
    audience: int = Field(ge=0, le=100_000_000, description="expected organic viewers")
    access: Access
    backbone: str | None = Field(None, description="path profile; default {origin}-{code}")
    incentive: Incentive = "interest"
    localized: bool = False
    evening_congestion: bool = Field(
        True, description="apply the `evening` last mile 20:00–23:00 local"
    )
    lastmile: dict[AccessKind, str] = Field(
        default_factory=dict,
        description="last-mile profile per access kind (name or inline tc spec); default the kind",
    )
    preset: PresetName | None = Field(None, description="behaviour preset; default by code")
    behavior: BehaviorOverrides = Field(default_factory=BehaviorOverrides)
    qoe: QoE | None = None

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        # OSError: ZoneInfo opens a file named after the value (a 5,000-character name fails).
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"unknown IANA time zone {value[:80]!r}") from exc
        return value

    # The merged behaviour, resolved once at validation: the model never reads presets.toml.
    _behavior: Behavior | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _qoe_profiles(self) -> Market:
        allowed = [f"{self.code}-{k}" for k in ("wifi", "4g", "5g", "evening")]
        unknown = sorted(set((self.qoe.profiles or {}) if self.qoe else {}) - set(allowed))
        if unknown:
            raise ValueError(
                f"qoe.profiles: unknown profile {unknown[0]!r}; allowed: {', '.join(allowed)}"
            )
        return self

    @model_validator(mode="after")
    def _behavior_resolves(self) -> Market:
        self._behavior = None
        self._behavior = self.resolved_behavior()  # range errors surface at load time
        return self

    def profile_names(self, origin: str) -> dict[str, str]:
        """Field path → the network profile this market's viewers use: `backbone` (default
        `{origin}-{code}`), `lastmile.wifi|4g|5g` (default the kind) and `evening` (the
        congested-hours last mile). The one naming rule for the loader and the model."""
        names = {"backbone": self.backbone or f"{origin}-{self.code}"}
        for kind in ("wifi", "4g", "5g"):
            names[f"lastmile.{kind}"] = self.lastmile.get(kind, kind)
        names["evening"] = "evening"
        return names

    def preset_name(self) -> PresetName:
        return self.preset or preset_for_market(self.code)

    def resolved_behavior(self) -> Behavior:
        """The preset with this market's overrides laid over it."""
        if self._behavior is not None:
            return self._behavior
        values = preset(self.preset_name())
        overrides = self.behavior.model_dump(exclude_none=True)
        # A partial share_prob table overrides only the modes it names.
        overrides["share_prob"] = {**values["share_prob"], **overrides.get("share_prob", {})}
        values.update(overrides)
        return Behavior(**values)


class Edge(_Strict):
    """`[[infra.edges]]`: one edge region serving some markets."""

    region: str = Field(min_length=1, max_length=64, description="e.g. sg; names the edge")
    markets: list[str] = Field(min_length=1, description="market codes served")
    max_viewers: int = Field(ge=1, le=100_000_000, description="concurrent viewers")
    egress_gbps: float = Field(gt=0, le=100_000, description="Gbit/s")
    join_service_ms: float = Field(20, gt=0, le=10_000, description="mean join handling, ms")


class Infra(_Strict):
    """`[infra]`: capacity the model queues against. No edges means unlimited edges."""

    edges: list[Edge] = Field(default_factory=list)
    interaction_msgs_per_s: float = Field(
        50_000, gt=0, le=1e9, description="interaction service capacity, messages/s"
    )
    interaction_base_ms: float = Field(15, ge=0, le=10_000, description="service time, ms")
    join_round_trips: float | None = Field(
        None,
        ge=1,
        le=50,
        description="round trips to join: signalling, ICE and DTLS handshakes; "
        "default: the calibration's fitted value",
    )
    join_timeout_s: float = Field(
        30, gt=0, le=600, description="a join waiting longer at a full edge fails, s"
    )


class Variant(_Strict):
    """`[[variants]]`: a named set of overrides, in `--set` syntax."""

    # Bounded: a variant's name ends up in file and directory names of its runs.
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=64)
    description: str = ""
    set: dict[str, Any] = Field(default_factory=dict)


class Scenario(_Strict):
    """A whole scenario file."""

    scenario: ScenarioMeta
    stream: Stream
    host: Host = Field(default_factory=Host)
    markets: list[Market] = Field(min_length=1)
    infra: Infra = Field(default_factory=Infra)
    variants: list[Variant] = Field(default_factory=list)
    gates: dict[str, str | dict[str, Any] | list[str | dict[str, Any]]] = Field(
        default_factory=dict, description="thresholds, evaluated by `livelab gate`"
    )
    load: Load = Field(default_factory=Load, description="`livelab run` settings")
    model: ModelSettings = Field(default_factory=ModelSettings, description="QoE calibration")

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        # Each message starts with the field it is about ("FIELD: ..."): the loader's problem
        # line then names that field, not the whole scenario.
        codes = [m.code for m in self.markets]
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        if dupes:
            raise ValueError(f"markets: market codes must be unique; repeated: {', '.join(dupes)}")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("variants: variant names must be unique")
        guest = self.host.cohost.guest_market
        if guest not in ("rotate", "largest") and guest not in codes:
            raise ValueError(
                f"host.cohost.guest_market: {guest!r} is not a market of the scenario; "
                f"allowed: rotate, largest, {', '.join(codes)}"
            )
        for edge in self.infra.edges:
            unknown = sorted(set(edge.markets) - set(codes))
            if unknown:
                raise ValueError(
                    f"infra.edges: edge {edge.region!r} serves unknown markets {unknown}"
                )
        return self

    # Network profiles by name, resolved by the scenario loader (`scenarios.loader`) before the
    # model runs, so the model (`sim.paths`) reads no profile files.
    _profiles: dict[str, Profile] = PrivateAttr(default_factory=dict)

    def attach_profiles(self, profiles: Mapping[str, Profile]) -> None:
        """Keep the resolved `profiles` (name → profile); called by the scenario loader."""
        self._profiles.update(profiles)

    # The QoE laws' coefficients (`sim.qoe.QoeLaws` field → value), read by the loader from the
    # scenario's `[model] calibration` file or the shipped default; the model reads no files.
    _qoe_laws: dict[str, float] = PrivateAttr(default_factory=dict)

    def attach_qoe_laws(self, laws: Mapping[str, float]) -> None:
        """Keep the calibrated QoE laws (field → value); called by the scenario loader."""
        self._qoe_laws = dict(laws)

    @property
    def qoe_laws(self) -> dict[str, float]:
        """The calibrated QoE laws' coefficients (empty: the laws' own defaults)."""
        return dict(self._qoe_laws)

    def profile(self, name: str) -> Profile:
        """A network profile the loader resolved (see `Market.profile_names`); KeyError names
        an unresolved one."""
        try:
            return self._profiles[name]
        except KeyError:
            raise KeyError(f"profile {name!r} was not resolved by the scenario loader") from None

    def market(self, code: str) -> Market:
        """The market with this code; KeyError if absent."""
        for m in self.markets:
            if m.code == code:
                return m
        raise KeyError(code)
