"""Measure one capacity step against a real target: Locust viewers (+ an optional media panel).

`LocustTarget(base_url, out_dir, rates=…, mix=…)` is a `measure(audience) -> StepResult`
callable for `search_knee`. Each call builds a step plan (`loadgen.capacity.steps`) and replays
it with the `livelab run` building blocks: its locustfile, command lines (`loadgen.run.commands`,
one Locust process or a master with local workers) and process groups (`loadgen.run.procs`),
so Locust and aiortc never share a process and no child outlives a step. It then reads the
exact samples Locust wrote (`samples.json`). With `panel_viewers > 0`, a
media panel of that many aiortc WHEP viewers watches during the step, in this process, and adds
`g2g_latency_ms`, `first_frame_ms` and `freeze_ratio` figures.

Figures of a step (gate keys): `METRIC.p50/.p95/.p99` in ms for every sampled metric
(`join_ms`, `ws_connect_ms`, `chat_rtt_ms`, `vote_ack_ms`, `order_ms`, `answer_ms`),
`error_rate` (failed / all samples, a fraction) and `msgs_per_s` (the interaction messages
the step offered, messages/s). A step is invalid — the generator, not the target, was the
limit — when Locust warned about its CPU, its CPU passed `max_cpu_percent`, actions ran late by
more than `max_action_lag_ms` (p95) once the whole audience was on, fewer than 90 % of the
viewers even tried to join, the full audience was on for less than half the hold, or the panel
marked itself invalid. Latencies other than joins are judged from the moment the last viewer
joined (`full_audience_s` says for how long); `start_lag_ms.p95` is reported, not judged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livelab.errors import RunError
from loadgen.capacity.search import StepResult
from loadgen.capacity.steps import LEAD_S, ramp_for, step_plan
from loadgen.locust.samples import METRICS, percentile, read_samples
from loadgen.media_target import media_url
from loadgen.plan import save_plan
from loadgen.run import Children, LocustSpec, locust_commands
from netem_profiles import free_port

__all__ = ["LocustTarget", "StepSettings", "step_figures"]

_MESSAGES = ("chat", "like", "vote", "question")


@dataclass(frozen=True)
class StepSettings:
    """How each step runs. Durations in s; `max_cpu_percent` of one core."""

    duration_s: float = 20.0  # the hold at full audience, after the lead-in and the ramp
    ramp_s: float = 5.0  # at least; longer for large steps (joins ≤ 50/s, `ramp_for`)
    room: str = "demo"
    media: str | None = None  # the panel's media target (--media); None: the target's WHEP
    allow_remote_media: bool = False  # --allow-remote: a non-loopback --media is permitted
    linger_s: float = 2.0
    workers: int = 0  # local Locust worker processes under a master; 0 = one Locust process
    panel_viewers: int = 0
    panel_probes: int = 1
    max_cpu_percent: float = 90.0
    max_action_lag_ms: float = 1000.0
    grace_s: float = 90.0  # beyond the plan's own length before Locust is killed


_JOINING = ("join_ms", "ws_connect_ms")


def step_figures(
    rows: list[tuple[str, str, str, float, bool, float]], hold_from_s: float = 0.0
) -> dict[str, float | None]:
    """p50/p95/p99 of successful samples per metric, and the error rate over all samples.

    Joins and WebSocket connects count whenever they happen (they happen in the ramp); every
    other metric only from samples taken at `hold_from_s` or later (plan time, s), when the
    whole audience is on.
    """
    out: dict[str, float | None] = {}
    total = failed = 0
    for metric in METRICS:
        mine = [r for r in rows if r[0] == metric and (metric in _JOINING or r[5] >= hold_from_s)]
        ok = [r[3] for r in mine if r[4]]
        bad = sum(1 for r in mine if not r[4])
        total += len(ok) + bad
        failed += bad
        for q in (50, 95, 99):
            out[f"{metric}.p{q}"] = percentile(ok, q) if ok else None
    out["error_rate"] = failed / total if total else None
    return out


class LocustTarget:
    """`measure(audience)` against `base_url`; step outputs go to `out_dir/step-NNNNNN/`.

    `rates`: actions per viewer per second (`chat`, `like`, `vote`, `question`, `order`);
    `mix`: profile label (`{MARKET}-{access}`) → share. `log` receives one line per step.
    """

    def __init__(
        self,
        base_url: str,
        out_dir: Path,
        *,
        rates: Mapping[str, float],
        mix: Mapping[str, float],
        settings: StepSettings = StepSettings(),
        seed: int = 1,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.out_dir = out_dir
        self.rates = dict(rates)
        self.mix = dict(mix)
        self.settings = settings
        self.seed = seed
        self.log = log or (lambda _line: None)

    def __call__(self, audience: int) -> StepResult:
        s = self.settings
        step_dir = self.out_dir / f"step-{audience:06d}"
        step_dir.mkdir(parents=True, exist_ok=True)
        ramp = ramp_for(audience, s.ramp_s)
        plan = step_plan(
            audience,
            hold_s=s.duration_s,
            rates=self.rates,
            seed=self.seed,
            ramp_s=ramp,
            lead_s=LEAD_S,
            mix=self.mix,
        )
        save_plan(plan, step_dir / "plan.json")
        hold_from = LEAD_S + ramp
        offered = sum(
            1 for sc in plan.scripts for t, k in sc.actions if k in _MESSAGES and t >= hold_from
        )
        self.log(
            f"step {audience} viewers: joins over {ramp:.0f} s, then {s.duration_s:g} s at "
            f"{offered / s.duration_s:.1f} messages/s"
        )
        started = time.monotonic()
        children = Children()
        spec = LocustSpec(
            host=self.base_url,
            plan=step_dir / "plan.json",
            out=step_dir,
            room=s.room,
            workers=s.workers,
            master_port=free_port() if s.workers else 5557,
            linger_s=s.linger_s,
        )
        panel: dict[str, Any] | None = None
        try:
            for name, cmd in locust_commands(spec).items():
                children.start(name, cmd, step_dir / f"{name}.log")
            if s.panel_viewers > 0:
                panel = self._panel(step_dir, plan.duration_s)
            code = children.wait("locust", plan.duration_s + s.grace_s)
            if code is None:
                raise RunError(f"Locust step {audience} did not finish; see {step_dir}")
        finally:
            children.stop_all()
        samples = step_dir / "samples.json"
        if not samples.is_file():
            tail = (step_dir / "locust.log").read_text(errors="replace")[-2000:]
            raise RunError(
                f"Locust (exit code {code}) wrote no samples for step {audience}; "
                f"log {step_dir / 'locust.log'} ends:\n{tail}"
            )
        book = read_samples(samples)
        # Judge from the moment the whole audience had joined (Locust may spawn late), and
        # say so when that leaves less than half of the planned hold.
        joined = [r[5] for r in book.rows if r[0] == "join_ms"]
        full_from = max([hold_from, *joined])
        figures = step_figures(book.rows, full_from)
        figures["msgs_per_s"] = offered / s.duration_s
        figures["full_audience_s"] = round(plan.duration_s - full_from, 2)
        lags = [r[3] for r in book.rows if r[0] == "start_lag_ms"]
        figures["start_lag_ms.p95"] = percentile(lags, 95) if lags else None
        notes = self._health_notes(book.rows, book.notes, audience, full_from)
        if plan.duration_s - full_from < 0.5 * s.duration_s:
            notes.append(
                f"the full audience was on for {plan.duration_s - full_from:.1f} s only "
                f"(planned {s.duration_s:g} s): the generator could not start viewers in time"
            )
        if panel is not None:
            figures.update(panel["figures"])
            notes += panel["notes"]
        requests = sum(1 for r in book.rows if r[0] in METRICS)
        return StepResult(
            audience=audience,
            figures=figures,
            duration_s=round(time.monotonic() - started, 2),
            requests=requests,
            valid=not notes,
            notes=tuple(notes),
        )

    def _health_notes(
        self,
        rows: list[tuple[str, str, str, float, bool, float]],
        notes: Mapping[str, Any],
        audience: int,
        full_from: float,
    ) -> list[str]:
        """Why the generator, not the target, limited this step (empty when it did not).

        Start lag during the ramp is not judged: Locust raises its user count once a second,
        so joins start up to a few seconds late without any overload; how late *actions* run
        once everyone is on (`action_lag_ms`) is the sign of a saturated generator.
        """
        s = self.settings
        out = []
        if notes.get("cpu_warning"):
            out.append("Locust warned that its CPU was saturated")
        cpu = float(notes.get("cpu_max", 0.0) or 0.0)
        if cpu > s.max_cpu_percent:
            out.append(f"Locust CPU peaked at {cpu:.0f} % (> {s.max_cpu_percent:.0f} %)")
        lags = [r[3] for r in rows if r[0] == "action_lag_ms" and r[5] >= full_from]
        lag = percentile(lags, 95) if lags else 0.0
        if lag > s.max_action_lag_ms:
            out.append(f"action lag p95 {lag:.0f} ms (> {s.max_action_lag_ms:.0f} ms)")
        joins = sum(1 for r in rows if r[0] == "join_ms")
        if joins < 0.9 * audience:
            out.append(f"only {joins} of {audience} viewers tried to join")
        return out

    def _panel(self, step_dir: Path, duration_s: float) -> dict[str, Any]:
        from loadgen.panel import PanelConfig, build_metrics, run_panel, write_outputs

        s = self.settings
        config = PanelConfig(
            whep_url=media_url(self.base_url, s.room, s.media),
            allow_remote=s.allow_remote_media,
            viewers=s.panel_viewers,
            duration_s=max(duration_s - 1.0, 1.0),
            probes=min(s.panel_probes, s.panel_viewers),
            processes=1,
            seed=self.seed,
        )
        result = run_panel(config)
        write_outputs(result, step_dir / "panel")
        doc = build_metrics(result)
        overall = doc.get("overall", {})
        figures: dict[str, float | None] = {}
        for metric in ("g2g_latency_ms", "first_frame_ms"):
            entry = overall.get(metric, {})
            for q in ("p50", "p95", "p99"):
                figures[f"{metric}.{q}"] = entry.get(q)
        freeze = overall.get("freeze_ratio", {})
        figures["freeze_ratio.mean"] = freeze.get("mean", freeze.get("value"))
        figures["freeze_ratio.p95"] = freeze.get("p95")
        notes = [] if result.valid else [f"media panel invalid: {'; '.join(result.notes)}"]
        return {"figures": figures, "notes": notes}
