"""Referral generations: invitees come after their referrers shared, one generation later."""

from __future__ import annotations

import numpy as np
from simkit import make

import sim


def test_generations_follow_shares_and_invitations() -> None:
    result = sim.simulate(make([("markets.ID.audience", 6000)], stream={"duration_min": 60}))
    v = result.viewers
    gens = v["generation"]
    assert gens.max() >= 2
    for g in range(1, int(gens.max()) + 1):
        parents = gens == g - 1
        children = gens == g
        # Every invitee of generation g was invited by a generation g-1 sharer, after its share.
        assert children.sum() <= v["invites"][parents].sum()
        assert v["arrival_s"][children].min() > np.nanmin(v["share_s"][parents & v["shared"]])
    assert (v["referred"] == (gens > 0)).all()
    k = result.outcomes["overall"]["referral_k"]
    assert k == v["invites"].sum() / result.n_viewers
    # Invitees arriving after the stream end count in K but not as arrivals.
    assert result.outcomes["overall"]["referred_share"] < k


def test_k_tracks_invites_times_conversion() -> None:
    def k(conversion: float) -> float:
        scenario = make([("markets.ID.audience", 6000),
                         ("markets.ID.behavior.invite_conversion", conversion)])  # fmt: skip
        return float(sim.simulate(scenario).outcomes["overall"]["referral_k"])

    low, high = k(0.1), k(0.4)
    assert high / low > 3.0  # K = invites per viewer × conversion (growth literature)


def test_referred_viewers_trust_sooner_and_convert_better() -> None:
    overrides = [("markets.ID.audience", 20000), ("markets.ID.behavior.invite_conversion", 0.6)]
    scenario = make(overrides, stream={"duration_min": 60})
    v = sim.simulate(scenario).viewers
    referred, organic = v["referred"], ~v["referred"]
    assert referred.sum() > 1000
    assert v["trusted"][referred].mean() > v["trusted"][organic].mean()
    assert v["ordered"][referred].mean() > v["ordered"][organic].mean()
