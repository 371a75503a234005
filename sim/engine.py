"""The event loop: SimPy processes for the clock (queues), each market's arrivals and the host.

Order matters where load feeds back, so the model is event-driven at 10-s steps:

1. the `clock` process, at each step, releases the slots of viewers who left, computes every
   market's concurrency, the message rate it sends to the interaction service and that
   service's response time — when it is slow, watching viewers may leave
   (`MarketModel.overload`) — then fires the step's tick event;
2. each market's `arrivals` process (in market order, woken by the tick) takes the viewers who
   arrive in the step — its organic slots (a non-homogeneous Poisson process with the local daily
   cycle, the opening and the announcements, see `schedule`) and any invitees due now — and
   runs their joins against the edge's current state, their experience and their journeys as
   array operations (`sim.market`); invitees of this step's sharers go into the calendar of
   later steps (referral generations);
3. the `host` process announces, starts and ends mini-peaks (`host_log`); a co-host segment's
   guest is drawn before the run (`sim.cohost.with_guests`), so every journey knows the call.

Per-viewer draws that do not depend on load (arrival quantiles, access, path, behaviour
uniforms) are made up front for all organic slots of a market from named streams (`sim.rng`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy

from scenarios import Scenario
from sim.capacity import EdgeQueue, InteractionQueue
from sim.cohost import with_guests
from sim.market import MarketModel
from sim.result import SERIES, SimResult
from sim.rng import Streams
from sim.schedule import Grid, host_events

__all__ = ["run"]


def run(
    scenario: Scenario,
    replication: int,
    progress: Callable[[float], None] | None = None,
) -> SimResult:
    """Simulate one replication of `scenario` (see `sim.simulate`)."""
    streams = Streams(scenario.scenario.seed, replication)
    grid = Grid(scenario.stream.duration_min * 60.0)
    events = with_guests(scenario, host_events(scenario), streams)
    edge_of: dict[str, EdgeQueue] = {}
    edge_queues = []
    for edge in scenario.infra.edges:
        queue = EdgeQueue(edge, grid.n, grid.step_s)
        edge_queues.append(queue)
        for code in edge.markets:
            edge_of.setdefault(code, queue)
    models = []
    for i, market in enumerate(scenario.markets):
        queue = edge_of.get(market.code) or EdgeQueue(None, grid.n, grid.step_s)
        if market.code not in edge_of:
            edge_queues.append(queue)
        models.append(MarketModel(scenario, i, market, grid, events, streams, queue))
    interaction = InteractionQueue(
        scenario.infra.interaction_msgs_per_s, scenario.infra.interaction_base_ms, grid.step_s
    )
    series = {name: np.zeros((len(models), grid.n)) for name in SERIES}
    interaction_ms = np.zeros(grid.n)
    chat_rate = np.zeros((len(models), grid.n))  # per viewer, messages/s
    polls = [ev for ev in events if ev.kind == "poll"]
    # Below half load the response time is within one base time of idle: not worth a pass over
    # the watching viewers (the hazard is the change of lag since their join, ~0 there).
    unloaded_ms = 2.0 * scenario.infra.interaction_base_ms

    env = simpy.Environment()
    ticks = [env.event() for _ in range(grid.n)]
    host_log: list[tuple[float, str, str]] = []

    def clock() -> Generator[simpy.Event, Any, None]:
        for b in range(grid.n):
            for q in edge_queues:
                q.tick(b)
            conc = np.array([m.tick(b) for m in models])
            room = float(conc.sum())
            t_mid = (b + 0.5) * grid.step_s
            poll_s = sum(ev.end_s - ev.start_s for ev in polls if ev.start_s <= t_mid < ev.end_s)
            msgs = 0.0
            for i, m in enumerate(models):
                beh = m.behavior
                chat = (
                    beh.chat_per_min
                    / 60.0
                    * (max(room, beh.chat_room_ref) / beh.chat_room_ref) ** -beh.chat_room_exponent
                )
                chat_rate[i, b] = chat
                series["concurrent"][i, b] = conc[i]
                series["chat_per_s"][i, b] = conc[i] * chat
                series["likes_per_s"][i, b] = conc[i] * beh.like_per_min / 60.0
                series["questions_per_s"][i, b] = conc[i] * beh.question_per_hour / 3600.0
                series["votes_per_s"][i, b] = conc[i] * beh.vote_prob / poll_s if poll_s else 0.0
                msgs += (
                    series["chat_per_s"][i, b]
                    + series["likes_per_s"][i, b]
                    + series["questions_per_s"][i, b]
                    + series["votes_per_s"][i, b]
                )
            interaction_ms[b] = interaction.tick(msgs)
            if interaction_ms[b] > unloaded_ms:
                for m in models:
                    m.overload(b, float(interaction_ms[b]))
            ticks[b].succeed(b)
            if progress is not None and b % max(1, grid.n // 100) == 0:
                progress(b / grid.n)
            yield env.timeout(grid.step_s)

    def arrivals(m: MarketModel) -> Generator[simpy.Event, Any, None]:
        for b in range(grid.n):
            yield ticks[b]
            m.step(b, float(interaction_ms[b]))

    def host() -> Generator[simpy.Event, Any, None]:
        marks = sorted(
            [(ev.announce_s, 0, "announce", ev.kind) for ev in events]
            + [(ev.start_s, 1, "start", ev.kind) for ev in events]
            + [(ev.end_s, 2, "end", ev.kind) for ev in events]
        )
        for t, _, what, kind in marks:
            yield env.timeout(t - env.now)
            host_log.append((float(env.now), what, kind))

    env.process(clock())
    for m in models:
        env.process(arrivals(m))
    env.process(host())
    env.run(until=grid.duration_s + 1e-6)
    if progress is not None:
        progress(1.0)

    from sim.counts import finish  # local: keeps the engine's import graph flat

    viewers = finish(models, chat_rate, grid, events, streams)
    for i, m in enumerate(models):
        series["arrivals"][i] = m.arrivals
        orders = viewers["order_s"][(viewers["market"] == i) & viewers["ordered"]]
        hist = np.bincount(grid.bucket(orders), minlength=grid.n + 1)[: grid.n]
        series["orders_per_min"][i] = hist * (60.0 / grid.step_s)
    profiles = tuple(name for m in models for name in m.paths.names)
    system = {
        "interaction_ms": interaction_ms,
        "edge_utilisation": np.array([q.utilisation for q in edge_queues if q.edge]),
        "edge_egress_share": np.array([q.egress_share for q in edge_queues if q.edge]),
    }
    from sim.outcomes import outcomes

    result = SimResult(
        scenario_name=scenario.scenario.name,
        seed=scenario.scenario.seed,
        replication=replication,
        markets=tuple(m.code for m in scenario.markets),
        profiles=profiles,
        edges=tuple(q.edge.region for q in edge_queues if q.edge),
        step_s=grid.step_s,
        duration_s=grid.duration_s,
        viewers=viewers,
        series=series,
        system=system,
        host_events=tuple(events),
        host_log=tuple(host_log),
    )
    return SimResult(**{**result.__dict__, "outcomes": outcomes(result, scenario)})
