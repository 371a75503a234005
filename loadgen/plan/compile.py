"""Compile a model run into a load plan: sample the audience, cut the window, time the actions.

- Sampling keeps 1 viewer in `scale`: viewers sorted by (arrival, index), every `scale`-th one
  from a seeded offset. Systematic sampling keeps the arrival curve and the market and access
  mix; per-viewer behaviour (counts, stay, referral) is kept as the model drew it.
- A sampled viewer whose stay overlaps the window gets a script. Its counted actions are placed
  uniformly at random over its *whole* stay and those inside the window are kept, so a viewer
  replays the share of its behaviour that falls in the window. Votes go inside the host's poll
  windows when the stay overlaps one; a viewer's first order and first share happen when the
  model says they did (`order_s`, `share_s`), the others uniformly. Each viewer's draws come
  from its own RNG stream `default_rng([seed, PLAN_STREAM, viewer index])`, so adding a viewer
  never shifts another.
- Commerce actors: with `actor_scale` below `scale`, the modelled viewers whose script has an
  order, a question or a share inside the window (`ACTOR_KINDS`) are sampled apart, 1 in
  `actor_scale` by the same systematic rule (its own seeded offset), and added to the sample.
  The rare actions of the journey (orders are ~2 % of viewers) then yield enough measurements
  in a short window while the background audience stays at 1 in `scale`; `Plan.sampling` says
  how many scripts each stratum gave. Every script is still one modelled viewer, replayed as
  the model drew it.
- Co-host segments (the model's mini-peaks of kind "cohost", each with a guest of one market
  and access kind): one script of the guest's market that is present when the segment starts
  (in the window; a carried script counts) goes on air — `(t, "cohost")` at the segment start
  (or its connect, if later) and `(t, "cohost_leave")` at the segment end (or its leave). The
  guest's own access kind is preferred, then the script that stays longest, then the lowest id.
  `Plan.sampling` lists the assignments (`cohost`: segment start, guest market, profile,
  script id or None when no script of that market is present).
- Viewers already present when the window opens ("carried") join over the first
  `CARRY_SPREAD_S` seconds instead of all in the same instant. Actions come at least
  `CONNECT_S` after the join (the join and WebSocket connect must be done first).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from loadgen.plan.document import Plan, Script
from loadgen.plan.model_run import ACTION_COUNTS, ModelRun
from loadgen.plan.panel_plan import place_panel
from loadgen.plan.window import Window, choose_window, concurrency_per_second

__all__ = [
    "ACTOR_KINDS", "ACTOR_STREAM", "CARRY_SPREAD_S", "CONNECT_S", "PLAN_STREAM", "apportion",
    "compile_plan",
]  # fmt: skip

PLAN_STREAM = 0x504C414E  # "PLAN": this module's named RNG stream
ACTOR_STREAM = 0x41435452  # "ACTR": the commerce actors' sampling offset
ACTOR_KINDS = ("order", "question", "share")
CARRY_SPREAD_S = 5.0
CONNECT_S = 0.5


def apportion(total: int, weights: Mapping[str, float]) -> dict[str, int]:
    """Split `total` over `weights` by largest remainder (ties by name); zero entries dropped."""
    positive = {k: float(w) for k, w in weights.items() if w > 0}
    if total <= 0 or not positive:
        return {}
    mass = sum(positive.values())
    exact = {k: total * w / mass for k, w in positive.items()}
    counts = {k: int(np.floor(v)) for k, v in exact.items()}
    left = total - sum(counts.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - counts[k]), k))[:left]:
        counts[k] += 1
    return {k: v for k, v in sorted(counts.items()) if v > 0}


def _kind_counts(viewers: int, kinds: Mapping[str, float] | None) -> dict[str, int]:
    """Probe and browser counts from `[load] panel_kinds` (largest remainder); nothing without
    it, so a plan without kinds is unchanged (probes from the share)."""
    if not kinds:
        return {}
    counts = apportion(viewers, kinds)
    return {"probes": counts.get("probe", 0), "browsers": counts.get("browser", 0)}


def _systematic(
    arrival_s: np.ndarray, index: np.ndarray, scale: int, seed: int, stream: int
) -> np.ndarray:
    """Every `scale`-th of `index` in (arrival, index) order from a seeded offset, sorted."""
    order = index[np.lexsort((index, arrival_s[index]))]
    offset = int(np.random.default_rng([seed, stream]).integers(scale))
    return np.sort(order[offset::scale])


def _sample(run: ModelRun, scale: int, seed: int) -> np.ndarray:
    return _systematic(run.arrival_s, np.arange(run.n), scale, seed, PLAN_STREAM)


def _polls(run: ModelRun) -> list[tuple[float, float]]:
    return [
        (float(e["start_s"]), float(e["end_s"]))
        for e in run.events
        if e.get("kind") == "poll" and float(e["end_s"]) > float(e["start_s"])
    ]


def _action_times(
    rng: np.random.Generator,
    kind: str,
    count: int,
    stay: tuple[float, float],
    polls: list[tuple[float, float]],
) -> np.ndarray:
    lo, hi = stay
    if count <= 0:
        return np.zeros(0)
    if kind == "vote":
        spans = [(max(a, lo), min(b, hi)) for a, b in polls if min(b, hi) > max(a, lo)]
        if spans:
            pick = rng.integers(len(spans), size=count)
            starts = np.array([spans[i][0] for i in pick])
            ends = np.array([spans[i][1] for i in pick])
            return np.asarray(starts + rng.random(count) * (ends - starts))
    return np.asarray(lo + rng.random(count) * max(hi - lo, 0.0))


def _script(
    run: ModelRun, i: int, window: Window, seed: int, polls: list[tuple[float, float]]
) -> Script:
    w0, w1 = window.start_s, window.end_s
    arrival, leave = float(run.arrival_s[i]), float(run.leave_s[i])
    rng = np.random.default_rng([seed, PLAN_STREAM, i])
    carried = arrival < w0
    spread = min(CARRY_SPREAD_S, window.length_s / 2)
    start = float(rng.random() * spread) if carried else arrival - w0
    end = min(leave, w1) - w0
    end = max(end, start)
    actions: list[tuple[float, str]] = [(start, "join"), (start, "connect")]
    earliest = start + CONNECT_S
    for name, kind in ACTION_COUNTS.items():
        times = _action_times(rng, kind, int(run.counts[name][i]), (arrival, leave), polls)
        moment = float(run.moments[kind][i]) if kind in run.moments else float("nan")
        if times.size and np.isfinite(moment):
            times[0] = moment
        times = times[(times >= w0) & (times < w1)] - w0
        for t in times:
            t = max(float(t), earliest)
            if t < end:
                actions.append((t, kind))
    rank = {k: n for n, k in enumerate(("join", "connect", *ACTION_COUNTS.values()))}
    actions.sort(key=lambda a: (a[0], rank[a[1]]))
    actions.append((end, "leave"))
    orders = int(run.counts["orders"][i])
    price = round(100 * float(run.gmv[i]) / orders) if orders > 0 else 0
    market, access = str(run.market[i]), str(run.access[i])
    return Script(
        id=f"v{i:07d}",
        market=market,
        access=access,
        profile=f"{market}-{access}",
        referred=bool(run.referred[i]),
        carried=carried,
        start_s=round(start, 3),
        end_s=round(end, 3),
        actions=tuple((round(t, 3), k) for t, k in actions),
        order_cents=max(price, 0),
    )


def compile_plan(
    run: ModelRun,
    scale: int = 200,
    window: str = "peak",
    window_s: float = 120.0,
    panel_viewers: int = 0,
    probe_share: float = 0.5,
    max_duration_s: float | None = None,
    source: Mapping[str, Any] | None = None,
    actor_scale: int | None = None,
    kinds: Mapping[str, float] | None = None,
) -> Plan:
    """The load plan for `run` (see the module docstring). Deterministic for a given run.

    `scale`, `actor_scale`: one virtual viewer per N modelled (actors: see the docstring;
    None or >= `scale` means no separate stratum); `window_s`: length of a peak or mini-peak
    window, s."""
    seed = run.seed
    win = choose_window(
        window,
        run.duration_s,
        run.arrival_s,
        run.leave_s,
        *run.message_rate,
        length_s=window_s,
        events=run.events,
    )
    if max_duration_s is not None and win.length_s > max_duration_s:
        win = Window(win.start_s, win.start_s + max_duration_s, f"{win.rule}; capped")
    polls = _polls(run)
    chosen = _sample(run, scale, seed)
    overlap = (run.arrival_s[chosen] < win.end_s) & (run.leave_s[chosen] > win.start_s)
    scripts = {int(i): _script(run, int(i), win, seed, polls) for i in chosen[overlap]}
    sampling: dict[str, Any] = {"scale": scale, "sampled": len(scripts)}
    if actor_scale is not None and actor_scale < scale:
        extra = _actors(run, win, seed, polls, actor_scale, exclude=set(scripts))
        scripts.update(extra)
        sampling.update(actor_scale=actor_scale, actor_kinds=list(ACTOR_KINDS), actors=len(extra))
    kept = sorted(scripts.values(), key=lambda s: (s.start_s, s.id))
    kept, guests = _cohosts(kept, run.events, win)
    if guests:
        sampling["cohost"] = guests
    seconds = int(np.ceil(win.length_s))
    curve = concurrency_per_second(
        np.array([s.start_s for s in kept]), np.array([s.end_s for s in kept]), seconds
    )
    present = (run.arrival_s < win.end_s) & (run.leave_s > win.start_s)
    mix: dict[str, float] = {}
    for m, a in zip(run.market[present], run.access[present], strict=True):
        mix[f"{m}-{a}"] = mix.get(f"{m}-{a}", 0.0) + 1.0
    shift = ("announce_s", "start_s", "end_s")
    events = [
        {**e, **{k: float(e[k]) - win.start_s for k in shift if k in e}}
        for e in run.events
        if float(e.get("end_s", e.get("start_s", 0))) > win.start_s
        and float(e.get("start_s", 0)) < win.end_s
    ]
    probes = round(panel_viewers * probe_share)
    kind_counts = _kind_counts(panel_viewers, kinds)
    measuring = kind_counts["probes"] + kind_counts["browsers"] if kind_counts else probes
    placed = place_panel(panel_viewers, measuring, mix)
    return Plan(
        scale=scale,
        seed=seed,
        window={"start_s": win.start_s, "end_s": win.end_s, "rule": win.rule},
        duration_s=win.length_s,
        curve=tuple(int(c) for c in curve),
        scripts=tuple(kept),
        panel={
            "viewers": panel_viewers,
            "probes": probes,
            "profiles": placed.profiles,
            **kind_counts,
            "needing": list(placed.needing),
            "unserved": list(placed.unserved),
        },
        events=tuple(events),
        source=dict(source or {}),
        sampling=sampling,
    )


def _actors(
    run: ModelRun,
    win: Window,
    seed: int,
    polls: list[tuple[float, float]],
    actor_scale: int,
    exclude: set[int],
) -> dict[int, Script]:
    """Scripts of 1 in `actor_scale` of the viewers (not in `exclude`) whose script holds one
    of `ACTOR_KINDS` in the window."""
    present = np.flatnonzero((run.arrival_s < win.end_s) & (run.leave_s > win.start_s))
    scripts = {
        int(i): _script(run, int(i), win, seed, polls) for i in present if int(i) not in exclude
    }
    acting = np.array(
        [i for i, s in scripts.items() if any(k in ACTOR_KINDS for _, k in s.actions)],
        dtype=np.int64,
    )
    keep = _systematic(run.arrival_s, acting, actor_scale, seed, ACTOR_STREAM)
    return {int(i): scripts[int(i)] for i in keep}


def _cohosts(
    scripts: list[Script], events: list[dict[str, Any]], win: Window
) -> tuple[list[Script], list[dict[str, Any]]]:
    """`scripts` with the co-host actions of each segment in the window (see the docstring),
    and the assignments."""
    out = list(scripts)
    busy: set[str] = set()
    assigned = []
    for event in events:
        guest = event.get("guest")
        if event.get("kind") != "cohost" or not isinstance(guest, Mapping):
            continue
        start = float(event["start_s"]) - win.start_s
        end = min(float(event["end_s"]), win.end_s) - win.start_s
        if end <= 0 or start >= win.length_s:
            continue
        on_air = max(start, 0.0)
        market, access = str(guest.get("market")), str(guest.get("access", ""))
        # Present at the segment start (a carried viewer was, though it joins a few seconds
        # into the plan), and still there once connected.
        fits = [
            (k, s)
            for k, s in enumerate(out)
            if s.market == market and s.id not in busy and (s.start_s <= on_air or s.carried)
            and max(on_air, s.start_s + CONNECT_S) < s.end_s
        ]  # fmt: skip
        entry = {
            "start_s": start,
            "market": market,
            "profile": guest.get("profile"),
            "script": None,
        }
        if fits:
            k, chosen = min(fits, key=lambda ks: (ks[1].access != access, -ks[1].end_s, ks[1].id))
            t_on = max(on_air, chosen.start_s + CONNECT_S)
            t_off = max(t_on, min(end, chosen.end_s))
            actions = [a for a in chosen.actions if a[1] != "leave"]
            actions += [(round(t_on, 3), "cohost"), (round(t_off, 3), "cohost_leave")]
            rank = {"cohost": 0, "cohost_leave": 2}
            actions.sort(key=lambda a: (a[0], rank.get(a[1], 1)))
            leave = [a for a in chosen.actions if a[1] == "leave"]
            out[k] = replace(chosen, actions=(*actions, *leave))
            busy.add(chosen.id)
            entry["script"] = chosen.id
        assigned.append(entry)
    return out, assigned
