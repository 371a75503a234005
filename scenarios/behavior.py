"""Viewer-behaviour parameters: presets per market group, overridable per market.

A market's behaviour is its preset (`sea`, `me` or `west`, see `presets.toml` beside this file,
each value with its source) with the market's `[markets.behavior]` table laid over it. The model
reads only the resolved `Behavior`; it never hard-codes a behavioural number.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

__all__ = ["PRESETS", "Behavior", "BehaviorOverrides", "PresetName", "preset", "preset_for_market"]

PresetName = Literal["sea", "me", "west"]
PRESETS: tuple[PresetName, ...] = ("sea", "me", "west")

# Market code → preset for markets that name none (docs/design.md "Markets and their character").
_MARKET_PRESET: dict[str, PresetName] = {
    "ID": "sea", "TH": "sea", "VN": "sea", "MY": "sea", "PH": "sea",
    "SA": "me", "AE": "me",
    "GB": "west", "DE": "west", "US-E": "west", "US-W": "west", "BR": "west",
}  # fmt: skip


Probability = Annotated[float, Field(ge=0, le=1)]
INCENTIVES = ("interest", "social", "honour")


class Behavior(BaseModel):
    """Resolved behaviour of one market's viewers. Units in each field's description."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    passby_s: float = Field(ge=0.5, le=60, description="pass-by swipe decision time, s")
    passby_leave: float = Field(ge=0, le=1, description="share who swipe away at pass-by, fraction")
    decision_window_s: float = Field(ge=1, le=600, description="first-impression window, s")
    decision_leave: float = Field(ge=0, le=1, description="share leaving in the window, fraction")
    session_median_min: float = Field(gt=0, le=600, description="median stay of stayers, min")
    session_tail_alpha: float = Field(gt=0.5, le=5, description="power-law tail index")
    mobile_patience: float = Field(ge=0.5, le=2, description="startup patience multiplier, 4G/5G")
    chat_per_min: float = Field(ge=0, le=60, description="comments per viewer-minute, small room")
    chat_room_exponent: float = Field(ge=0, le=1, description="per-viewer chat ∝ room^-x")
    like_per_min: float = Field(ge=0, le=600, description="hearts per viewer-minute")
    vote_prob: float = Field(ge=0, le=1, description="chance a present viewer votes in a poll")
    question_per_hour: float = Field(ge=0, le=60, description="questions per viewer-hour")
    purchase_prob: float = Field(ge=0, le=1, description="base chance a trusting viewer buys")
    trust_min: float = Field(gt=0, le=600, description="minutes of watching to build trust")
    aov_usd: float = Field(gt=0, le=100000, description="average order value, USD")
    payment_success: float = Field(ge=0, le=1, description="payment success, fraction")
    share_prob: dict[Literal["interest", "social", "honour"], Probability] = Field(
        description="chance a viewer shares, per incentive mode (all three modes)"
    )
    invites_per_share: float = Field(ge=0, le=100, description="invites sent per share")
    invite_conversion: float = Field(ge=0, le=1, description="invite → arrival, fraction")
    invitee_delay_min: float = Field(ge=0, le=600, description="mean invitee arrival delay, min")
    referred_trust_boost: float = Field(ge=1, le=5, description="trust multiplier, referred")
    return_prob: float = Field(ge=0, le=1, description="chance to return to the next stream")
    repurchase_prob: float = Field(ge=0, le=1, description="chance a buyer buys again next stream")
    localized_boost: float = Field(ge=1, le=3, description="retention/conversion × if localised")
    mini_peak_stay_boost: float = Field(ge=1, le=5, description="stay hazard ÷ around a mini-peak")
    announce_arrival_boost: float = Field(ge=1, le=10, description="arrival rate × announced")
    cac_paid_usd: float = Field(ge=0, le=10000, description="paid acquisition cost per viewer, USD")
    cac_referral_ratio: float = Field(ge=0, le=1, description="referred CAC ÷ paid CAC")
    # Quality of experience → behaviour.
    startup_onset_s: float = Field(ge=0, le=60, description="startup delay before anyone quits, s")
    startup_abandon_per_s: float = Field(
        ge=0, le=1, description="extra share quitting per second of startup past the onset"
    )
    failed_start_return_pp: float = Field(
        ge=0, le=1, description="return chance lost after a failed start, fraction points"
    )
    rebuffer_watch_loss: float = Field(
        ge=0, le=1, description="share of watch time lost per 1 % rebuffering"
    )
    hd_watch_bonus: float = Field(ge=0, le=2, description="extra watch time at HD, fraction")
    hd_min_height: float = Field(ge=144, le=2160, description="smallest HD height, px")
    interactive_ms: float = Field(
        ge=0, le=60_000, description="host-behind-chat lag that still feels interactive, ms"
    )
    latency_leave_per_s: float = Field(
        ge=0, le=1, description="extra share leaving the decision window per s of lag over that"
    )
    cliff_start_ms: float = Field(ge=0, le=60_000, description="lag where the cliff begins, ms")
    cliff_full_ms: float = Field(ge=0, le=60_000, description="lag of the full cliff, ms")
    cliff_leave: float = Field(
        ge=0, le=1, description="extra share leaving the decision window at the full cliff"
    )
    # Arrivals.
    daily_peak_hour: float = Field(ge=0, lt=24, description="local hour of peak arrivals")
    daily_amplitude: float = Field(ge=0, lt=1, description="daily cycle: rate × (1 ± a)")
    opening_boost: float = Field(ge=0, le=100, description="extra arrival rate at stream start, ×")
    opening_decay_min: float = Field(gt=0, le=600, description="decay of that boost, min")
    # Interaction, commerce, referral, series.
    chat_room_ref: float = Field(ge=1, le=1e7, description="room size where chat starts to fall")
    aov_sigma: float = Field(ge=0, le=3, description="log-sd of order value")
    lottery_share_boost: float = Field(
        ge=1, le=10, description="share chance × when present at a lottery"
    )
    flash_deal_buy_boost: float = Field(
        ge=1, le=10, description="purchase chance × when present at a flash deal"
    )
    untrusted_return_factor: float = Field(
        ge=0, le=1, description="return chance × for viewers who never built trust"
    )
    referred_churn_cut: float = Field(ge=0, le=1, description="referred churn lower by, fraction")
    referred_value_boost: float = Field(ge=1, le=5, description="referred order value ×")
    # Co-host (连麦) segments: a guest of the viewer's own market, and the call's latency.
    cohost_trust_boost: float = Field(
        ge=1, le=5, description="trust builds × faster for own-market viewers present at a co-host"
    )
    cohost_buy_boost: float = Field(
        ge=1, le=10, description="purchase chance × for own-market viewers present at a co-host"
    )
    cohost_lag_leave_per_s: float = Field(
        ge=0,
        le=1,
        description="extra share leaving per s of co-host round trip over interactive_ms",
    )

    @field_validator("share_prob")
    @classmethod
    def _every_mode(cls, value: dict[str, float]) -> dict[str, float]:
        missing = [mode for mode in INCENTIVES if mode not in value]
        if missing:
            raise ValueError(f"needs a share chance for every incentive mode; missing {missing}")
        return value


def _all_optional(model: type[BaseModel], name: str, doc: str) -> type[BaseModel]:
    """A model with every field of `model` optional, keeping each field's range checks."""
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        kind: Any = info.annotation
        if info.metadata:
            kind = Annotated[(kind, *info.metadata)]
        fields[field_name] = (kind | None, Field(None, description=info.description))
    optional: type[BaseModel] = create_model(
        name, __config__=model.model_config, __doc__=doc, **fields
    )
    return optional


if TYPE_CHECKING:  # the generated model's fields are those of Behavior, each optional

    class BehaviorOverrides(BaseModel):
        pass

else:
    BehaviorOverrides = _all_optional(
        Behavior,
        "BehaviorOverrides",
        "A market's `[markets.behavior]` table: any `Behavior` field, all optional, same ranges.",
    )


@cache
def _presets() -> dict[str, dict[str, Any]]:
    text = resources.files("scenarios").joinpath("presets.toml").read_text("utf-8")
    return tomllib.loads(text)


def preset(name: str) -> dict[str, Any]:
    """The raw values of preset `name` (a copy)."""
    return dict(_presets()[name])


def preset_for_market(code: str) -> PresetName:
    """Default preset for a market code; unknown codes get the conservative `west` preset."""
    return _MARKET_PRESET.get(code, "west")
