"""Business outcomes of one replication, overall and per market (docs/design.md's vocabulary).

Definitions (all over arrivals = organic + referred viewers, unless said otherwise):

- `abandon_before_start`: share who left before the first frame (patience or failed join);
- `retention_3s` / `retention_30s` / `retention_5m`: share watching at least 3 s / 30 s / 5 min
  after their first frame;
- `watch_time_mean_s`: mean watch time, s (0 for those who never started);
- `interaction_rate`: share who chatted, liked, voted, asked, shared or ordered at least once;
- `chat_per_viewer_min`: comments per minute watched;
- `conversion_rate`: share who ordered; `orders`; `gmv` (USD);
- `referral_k`: accepted invitations per arrival (K = invites per viewer × conversion; invitees
  whose arrival would fall after the stream still count); `referred_share`: share of arrivals who
  came through an invite;
- `return_rate`: share who come back to a later stream of the series; `repurchase_rate`: share
  of buyers who buy again in a later stream (both 0 when `series_streams` = 1);
- `cac_blended`: acquisition cost per arrival, USD: organic at `cac_paid_usd`, referred at
  `cac_paid_usd × cac_referral_ratio`;
- `peak_concurrent`: the highest concurrency (per market: that market's);
- `cohost_retention_30s`, `cohost_conversion_rate`: only with co-host segments (`sim.cohost`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from scenarios import Scenario
from sim.cohost import business as cohost_business

if TYPE_CHECKING:
    from sim.result import SimResult

__all__ = ["SUM_COLUMNS", "business", "business_columns", "business_from_sums", "outcomes"]


def business(
    v: dict[str, NDArray[Any]],
    peak_concurrent: float,
    cac_paid: NDArray[np.float64],
    cac_ratio: NDArray[np.float64],
) -> dict[str, float]:
    """Business metrics of the viewers in `v` (see the module docstring).

    `cac_paid` and `cac_ratio` are per viewer (their market's behaviour).
    """
    n = int(v["arrival_s"].shape[0])
    if n == 0:
        return {"arrivals": 0.0, "peak_concurrent": float(peak_concurrent)}
    watch = v["watch_s"]
    started = ~v["abandoned"]
    interacted = (
        v["chats"] + v["likes"] + v["votes"] + v["questions"] + v["shares"] + v["orders"]
    ) > 0
    minutes = float(watch.sum()) / 60.0
    buyers = v["ordered"]
    referred = v["referred"]
    cost = np.where(referred, cac_paid * cac_ratio, cac_paid)
    return {
        "arrivals": float(n),
        "peak_concurrent": float(peak_concurrent),
        "abandon_before_start": float(np.mean(~started)),
        "retention_3s": float(np.mean(started & (watch >= 3.0))),
        "retention_30s": float(np.mean(started & (watch >= 30.0))),
        "retention_5m": float(np.mean(started & (watch >= 300.0))),
        "watch_time_mean_s": float(watch.mean()),
        "interaction_rate": float(np.mean(interacted)),
        "chat_per_viewer_min": float(v["chats"].sum()) / minutes if minutes > 0 else 0.0,
        "conversion_rate": float(np.mean(buyers)),
        "orders": float(v["orders"].sum()),
        "gmv": float(v["gmv"].sum()),
        "referral_k": float(v["invites"].sum()) / n,
        "referred_share": float(np.mean(referred)),
        "return_rate": float(np.mean(v["returned"])),
        "repurchase_rate": float(np.mean(v["repurchased"][buyers])) if buyers.any() else 0.0,
        "cac_blended": float(cost.mean()),
    }


SUM_COLUMNS = ("count", "not_started", "kept_3s", "kept_30s", "kept_5m", "watch_s",
               "interacted", "chats", "buyers", "orders", "gmv", "invites", "referred",
               "returned", "rebought", "cost")  # fmt: skip


def business_columns(
    v: dict[str, NDArray[Any]], cac_paid: NDArray[np.float64], cac_ratio: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Per viewer, the `SUM_COLUMNS` whose (weighted) sums give `business` (n × columns): a
    weighted figure is `business_from_sums(weight @ columns)`."""
    watch = v["watch_s"]
    started = ~v["abandoned"]
    interacted = (
        v["chats"] + v["likes"] + v["votes"] + v["questions"] + v["shares"] + v["orders"]
    ) > 0
    buyers = v["ordered"]
    cost = np.where(v["referred"], cac_paid * cac_ratio, cac_paid)
    cols = (np.ones(watch.shape[0]), ~started, started & (watch >= 3.0),
            started & (watch >= 30.0), started & (watch >= 300.0), watch, interacted,
            v["chats"], buyers, v["orders"], v["gmv"], v["invites"], v["referred"],
            v["returned"], v["repurchased"] & buyers, cost)  # fmt: skip
    return np.column_stack([np.asarray(c, dtype=np.float64) for c in cols])


def business_from_sums(sums: NDArray[np.float64]) -> dict[str, float]:
    """`business` from the (weighted) sums of `business_columns` (`peak_concurrent` left out:
    it comes from the run's series, not from the viewers' outcomes)."""
    s = dict(zip(SUM_COLUMNS, (float(x) for x in sums), strict=True))
    total = s["count"]
    if total <= 0:
        return {"arrivals": 0.0}
    minutes = s["watch_s"] / 60.0
    return {
        "arrivals": total,
        "abandon_before_start": s["not_started"] / total,
        "retention_3s": s["kept_3s"] / total,
        "retention_30s": s["kept_30s"] / total,
        "retention_5m": s["kept_5m"] / total,
        "watch_time_mean_s": s["watch_s"] / total,
        "interaction_rate": s["interacted"] / total,
        "chat_per_viewer_min": s["chats"] / minutes if minutes > 0 else 0.0,
        "conversion_rate": s["buyers"] / total,
        "orders": s["orders"],
        "gmv": s["gmv"],
        "referral_k": s["invites"] / total,
        "referred_share": s["referred"] / total,
        "return_rate": s["returned"] / total,
        "repurchase_rate": s["rebought"] / s["buyers"] if s["buyers"] > 0 else 0.0,
        "cac_blended": s["cost"] / total,
    }


def outcomes(result: SimResult, scenario: Scenario) -> dict[str, Any]:
    """`{"overall": {...}, "markets": {code: {...}}}` of `business` metrics."""
    v = result.viewers
    behaviors = [m.resolved_behavior() for m in scenario.markets]
    paid = np.array([b.cac_paid_usd for b in behaviors])[v["market"]]
    ratio = np.array([b.cac_referral_ratio for b in behaviors])[v["market"]]
    conc = result.series["concurrent"]
    events = result.host_events
    out: dict[str, Any] = {
        "overall": business(v, float(conc.sum(axis=0).max(initial=0.0)), paid, ratio),
        "markets": {},
    }
    out["overall"].update(cohost_business(v, events))
    # The viewers are in market order (`sim.counts.finish`), so a market is a slice: views, not
    # a copy of every array per market (that copy was the whole run's peak memory).
    bounds = np.searchsorted(v["market"], np.arange(len(result.markets) + 1), side="left")
    for i, code in enumerate(result.markets):
        sel = slice(int(bounds[i]), int(bounds[i + 1]))
        sub = {k: a[sel] for k, a in v.items()}
        out["markets"][code] = business(sub, float(conc[i].max(initial=0.0)), paid[sel], ratio[sel])
        out["markets"][code].update(cohost_business(sub, events))
    return out
