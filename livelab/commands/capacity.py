"""`livelab capacity SCENARIO`: measure one instance's knee, combine it with the forecast."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from livelab.clihelp import examples
from livelab.commands.scenario import add_scenario_args
from livelab.durations import duration_arg
from livelab.errors import ConfigError, Problem, TargetError
from loadgen.media_target import MEDIA_HELP

_LOCAL = {"127.0.0.1", "localhost", "::1"}


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "capacity",
        help="find the audience one stack instance holds, and plan instances and egress",
        description=(
            "Step the audience on one instance of the target (Locust viewers, optionally a "
            "media panel) until the scenario's gates break, then combine that knee with the "
            "model's forecast per edge region into a plan with headroom."
        ),
        epilog=examples(
            "livelab capacity scenarios/launch_sea_1111.toml --steps 50:800:x2 --step-duration 20s",
            "livelab capacity scenarios/launch_sea_1111.toml --knee 5000 --headroom 30% --json",
        ),
    )
    add_scenario_args(parser)
    parser.add_argument(
        "--target",
        metavar="URL",
        help="base URL of the stack (default: start the reference stack on loopback)",
    )
    parser.add_argument("--out", type=Path, help="output directory (default runs/capacity-NAME)")
    parser.add_argument(
        "--steps",
        default="50:1600:x2",
        help="audiences to try: 50,100,200 or START:STOP:xFACTOR or START:STOP:+STEP",
    )
    parser.add_argument(
        "--refine", type=int, default=2, metavar="N", help="bisection steps after a failure"
    )
    parser.add_argument(
        "--headroom", default="30%", help="capacity above the forecast peak (30%% or 0.3)"
    )
    parser.add_argument(
        "--step-duration",
        type=duration_arg("--step-duration"),
        default="20s",
        metavar="DURATION",
        help="time at full audience per step (90, 90s, 2m, 1m30s)",
    )
    parser.add_argument(
        "--ramp",
        type=duration_arg("--ramp"),
        default="5s",
        metavar="DURATION",
        help="time to join, at least (≤ 50 joins/s)",
    )
    parser.add_argument(
        "--panel-viewers", type=int, default=0, help="aiortc WHEP viewers during each step"
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="local Locust workers per step (0: one process)"
    )
    parser.add_argument("--room", default="demo", help="room to load")
    parser.add_argument("--media", metavar="URL", help=MEDIA_HELP)
    parser.add_argument(
        "--knee", type=int, help="skip the measurement: one instance holds this many viewers"
    )
    parser.add_argument(
        "--allow-remote", action="store_true", help="permit a non-loopback --target"
    )
    parser.add_argument(
        "--json", action="store_true", help="print a JSON summary on stdout (knee, plan, files)"
    )
    parser.set_defaults(func=_capacity)


def parse_headroom(text: str) -> float:
    """`"30%"` or `"0.3"` → 0.3. Raises `ConfigError` (exit 2) otherwise."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 10:
        raise ConfigError([Problem("--headroom", "", text, "a share such as 30% or 0.3")])
    return value


def _check_target(url: str, allow_remote: bool) -> None:
    host = urlsplit(url).hostname or ""
    if urlsplit(url).scheme not in ("http", "https") or not host:
        raise ConfigError([Problem("--target", "", url, "an http(s) URL")])
    if host not in _LOCAL and not allow_remote:
        raise ConfigError(
            [Problem("--target", "", url, "not loopback; add --allow-remote to load it")]
        )


def _capacity(args: argparse.Namespace) -> int:
    import sim
    from livelab.commands.scenario import load_from_args
    from loadgen.capacity import limits_from_gates, parse_steps
    from reports import (
        Knee,
        capacity_figure,
        capacity_json,
        capacity_markdown,
        dumps,
        model_forecast,
        plan_capacity,
    )

    scenario = load_from_args(args)
    headroom = parse_headroom(args.headroom)
    try:
        steps = parse_steps(args.steps)
    except ValueError as exc:
        raise ConfigError([Problem("--steps", "", args.steps, str(exc))]) from None
    if args.workers < 0 or args.panel_viewers < 0:
        raise ConfigError([Problem("--workers/--panel-viewers", "", args.workers, "must be ≥ 0")])
    if args.knee is not None and args.knee < 1:
        raise ConfigError([Problem("--knee", "", args.knee, "must be ≥ 1")])
    if args.target:
        _check_target(args.target, args.allow_remote)
    if args.media:
        from loadgen.panel import check_target

        check_target(args.media, args.allow_remote, "--media")
    limits, skipped, defaulted = limits_from_gates(
        scenario.gates, media=args.panel_viewers > 0, source=args.scenario
    )
    out = args.out or Path("runs") / f"capacity-{scenario.scenario.name}"
    out.mkdir(parents=True, exist_ok=True)

    print("forecasting with the model (replication 0)…", file=sys.stderr)
    result = sim.simulate(scenario, replication=0)
    edges = {e.region: list(e.markets) for e in scenario.infra.edges}
    ladder = {r.height: r.kbps for r in scenario.stream.ladder}
    forecast = model_forecast(result, edges, ladder)

    curve_json: dict[str, Any] | None = None
    target = args.target or "the reference stack on 127.0.0.1"
    if args.knee is not None:
        knee = Knee(viewers=args.knee)
    else:
        limit_text = "; ".join(str(x) for x in limits)
        print(f"limits{' (defaults)' if defaulted else ''}: {limit_text}", file=sys.stderr)
        for line in skipped:
            print(f"  not applicable to a step: {line}", file=sys.stderr)
        curve = _measure(args, out, forecast, steps, limits, scenario.scenario.seed)
        curve_json = curve.to_json()
        if curve.knee is None:
            (out / "capacity.json").write_text(dumps({"curve": curve.to_json()}), "utf-8")
            print(
                f"livelab: even {min(steps)} viewers break the limits ({curve.reason}); "
                f"try smaller --steps. Curve in {out / 'capacity.json'}",
                file=sys.stderr,
            )
            if args.json:
                doc = {"knee": None, "reason": curve.reason}
                print(json.dumps({**doc, "files": {"capacity.json": str(out / "capacity.json")}}))
            return 1
        knee_step = next(s for s in curve.steps if s.audience == curve.knee)
        knee = Knee(viewers=curve.knee, msgs_per_s=knee_step.figures.get("msgs_per_s") or None)
    declared = {e.region: (e.max_viewers, e.egress_gbps) for e in scenario.infra.edges}
    plans = plan_capacity(forecast.regions, knee, headroom, declared)
    doc = capacity_json(
        curve=curve_json,
        knee=knee,
        measured=args.knee is None,
        forecasts=forecast.regions,
        plans=plans,
        markets=forecast.markets,
        meta={
            "scenario": scenario.scenario.name,
            "seed": scenario.scenario.seed,
            "headroom": headroom,
            "target": target,
            "limits_defaulted": defaulted,
            "gates_skipped": list(skipped),
            "step_rates_per_viewer_s": dict(forecast.rates),
            "market_kbps": dict(forecast.kbps),
        },
    )
    (out / "capacity.json").write_text(dumps(doc), "utf-8")
    (out / "capacity.md").write_text(capacity_markdown(doc), "utf-8")
    capacity_figure(curve_json, doc["plan"]).savefig(out / "capacity.png", dpi=110)
    files = {n: str(out / n) for n in ("capacity.md", "capacity.json", "capacity.png")}
    if args.json:
        summary = {"knee": doc.get("knee"), "plan": doc.get("plan"), "meta": doc.get("meta")}
        print(json.dumps({**summary, "files": files}, indent=2, default=str))
        return 0
    for p in plans:
        print(
            f"  {p.region:12s} peak {p.peak_concurrent:,.0f} viewers → {p.instances} "
            f"instances, {p.egress_gbps:.3g} Gbit/s egress (bound by {p.bound_by})"
            + ("; the declared edge is too small" if p.fits_edge is False else "")
        )
    print(
        f"knee {knee.viewers} viewers per instance; wrote {out / 'capacity.md'}, "
        f"{out / 'capacity.json'}, {out / 'capacity.png'}"
    )
    return 0


def _measure(
    args: argparse.Namespace, out: Path, forecast: Any, steps: list[int], limits: Any, seed: int
) -> Any:
    """Run the knee search against `--target` or a reference stack started here."""
    from loadgen.capacity import LocustTarget, StepSettings, search_knee

    settings = StepSettings(
        duration_s=args.step_duration,
        ramp_s=args.ramp,
        room=args.room,
        media=args.media,
        allow_remote_media=args.allow_remote,
        panel_viewers=args.panel_viewers,
        workers=args.workers,
    )
    mix = {f"{m}-wifi": share for m, share in forecast.mix.items() if share > 0}
    proc = None
    base_url = args.target
    if base_url is None:
        from stack import start_stack_process, stop_stack_process

        host = "synthetic" if args.panel_viewers > 0 else "none"
        try:
            proc, base_url = start_stack_process(["--publisher", host, "--room", args.room], 30.0)
        except (RuntimeError, TimeoutError) as exc:
            raise TargetError(f"could not start the reference stack: {exc}") from exc
        print(f"reference stack on {base_url}", file=sys.stderr)
    else:
        _reachable(base_url)
        if (urlsplit(base_url).hostname or "") not in _LOCAL:
            rate = sum(forecast.rates.get(k, 0.0) for k in ("chat", "like", "vote", "question"))
            top = max(steps)
            print(
                f"remote target {base_url}: up to {top} viewers (joins, WebSockets, about "
                f"{max(rate * top, 20 / args.step_duration):.0f} messages/s), {len(steps)} "
                f"steps of ≥ {args.step_duration + args.ramp + 2:g} s plus up to {args.refine} "
                "bisection steps",
                file=sys.stderr,
            )
    try:
        measure = LocustTarget(
            base_url,
            out / "steps",
            rates=forecast.rates,
            mix=mix,
            settings=settings,
            seed=seed,
            log=lambda line: print(line, file=sys.stderr),
        )

        def logged(audience: int) -> Any:
            step = measure(audience)
            p95 = step.figures.get("chat_rtt_ms.p95")
            print(
                f"  {audience:6d} viewers: chat p95 {p95 if p95 is None else round(p95)} ms, "
                f"errors {step.figures.get('error_rate')}, valid {step.valid}",
                file=sys.stderr,
            )
            return step

        curve = search_knee(logged, steps, limits, refine=max(args.refine, 0))
    finally:
        if proc is not None:
            stop_stack_process(proc)
    return curve


def _reachable(base_url: str) -> None:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{base_url.rstrip('/')}/healthz", timeout=5) as resp:
            if resp.status >= 400:
                raise TargetError(f"{base_url}/healthz answered {resp.status}")
    except (urllib.error.URLError, OSError) as exc:
        raise TargetError(f"target {base_url} unreachable: {exc}") from exc
