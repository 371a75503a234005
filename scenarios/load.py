"""`[load]`: how `livelab run` turns a simulated launch into real load (scale, window, panel).

The defaults make `livelab run scenarios/demo.toml` finish in well under five minutes on two
busy cores: one virtual viewer per 200 modelled ones, the busiest two minutes replayed in real
time, a four-viewer media panel.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["WINDOW_PATTERN", "Load"]

# "peak", "full", "START-END" in seconds from the stream start (e.g. "600-780"), or a named
# mini-peak of the model's host: "lottery_N", "flash_deal_N", "poll_N", "cohost_N",
# "mini_peak_N" (N >= 1).
WINDOW_PATTERN = re.compile(
    r"^(peak|full|\d+(\.\d+)?-\d+(\.\d+)?|(lottery|flash_deal|poll|cohost|mini_peak)_[1-9]\d*)$"
)


class Load(BaseModel):
    """`[load]`: run settings for `livelab plan` and `livelab run`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scale: int = Field(200, ge=1, le=1_000_000, description="one virtual viewer per N modelled")
    window: str = Field(
        "peak",
        description='"peak", "full", "START-END" (s from stream start), or a mini-peak of the '
        'model\'s host: "lottery_N", "flash_deal_N", "poll_N", "cohost_N", "mini_peak_N"',
    )
    window_s: float = Field(
        120, ge=10, le=24 * 3600, description="length of the peak window replayed, s"
    )
    actor_scale: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="one virtual viewer per N modelled among those who order, ask or share in "
        "the window (default: scale)",
    )
    panel_viewers: int = Field(4, ge=0, le=10_000, description="real aiortc viewers (0 = none)")
    panel_probe_share: float = Field(
        0.5, ge=0, le=1, description="share of panel viewers that decode and read the barcode"
    )
    panel_kinds: dict[str, float] | None = Field(
        None,
        description="panel viewer kinds by share, e.g. {lite = 0.8, probe = 0.15, browser = "
        "0.05} (as `livelab panel --kinds`; replaces panel_probe_share)",
    )
    ws_through_profile: bool = Field(
        False, description="route profiled viewers' WebSocket through the impairing TCP relay"
    )
    workers: int = Field(0, ge=0, le=256, description="local Locust workers (0 = one process)")
    max_duration_s: float = Field(
        600, gt=0, le=7 * 24 * 3600, description="hard cap on the replayed window, s"
    )
    drain_s: float = Field(
        15, ge=0, le=3600, description="wait after the last scheduled leave for answers, s"
    )
    adapter: str = Field(
        "",
        pattern=r"^$|^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        description='interaction adapter "package.module:Class" for a stack\'s own API '
        '(docs/adapters.md); "" = livelab\'s own protocol',
    )
    max_start_lag_s: float = Field(
        2.0, gt=0, le=600, description="p95 start lag above which the generator is saturated, s"
    )

    @field_validator("panel_kinds")
    @classmethod
    def _kinds(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is None:
            return None
        unknown = sorted(set(value) - {"lite", "probe", "browser"})
        if unknown:
            raise ValueError(f"unknown viewer kind(s) {', '.join(unknown)}: lite, probe, browser")
        if any(not 0 <= w < float("inf") for w in value.values()) or sum(value.values()) <= 0:
            raise ValueError("kind shares must be ≥ 0 and not all 0")
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        if not WINDOW_PATTERN.match(value):
            raise ValueError(
                'window must be "peak", "full", "START-END" in seconds, or a mini-peak '
                '"lottery_N", "flash_deal_N", "poll_N", "cohost_N", "mini_peak_N" with N >= 1'
            )
        if "-" in value:
            start, end = (float(x) for x in value.split("-"))
            if end <= start:
                raise ValueError(f"window {value!r}: END must be after START")
        return value
