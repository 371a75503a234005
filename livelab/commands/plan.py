"""`livelab plan RUN_DIR --scale 1:200 --window peak --out DIR`: compile a model run into a plan."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from livelab.errors import ConfigError, Problem


def parse_scale(text: str) -> int:
    """'1:200' or '200' → 200 (one virtual viewer per 200 modelled); ConfigError otherwise."""
    raw = text.split(":", 1)[1] if text.startswith("1:") else text
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError([Problem("--scale", "", text, "1:N or N with N a whole number >= 1")])
    return value


def register(sub: Any) -> None:
    parser = sub.add_parser("plan", help="compile a model run directory into a load plan")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a `livelab simulate --out` directory")
    parser.add_argument("--scale", default=None, help="1:N — one virtual viewer per N (1:200)")
    parser.add_argument(
        "--window", default=None, help="peak (default), full, or START-END in s from stream start"
    )
    parser.add_argument("--window-s", type=float, default=None, help="peak window length, s (120)")
    parser.add_argument("--panel-viewers", type=int, default=None, help="media panel viewers (4)")
    parser.add_argument("--out", default=None, help="output directory (default RUN_DIR)")
    parser.set_defaults(func=_plan)


def _plan(args: argparse.Namespace) -> int:
    from loadgen.plan import compile_plan, read_model_run, save_plan
    from scenarios.load import Load

    run = read_model_run(args.run_dir)
    load = Load(**run.scenario.get("load", {}))
    plan = compile_plan(
        run,
        scale=parse_scale(args.scale) if args.scale else load.scale,
        window=args.window or load.window,
        window_s=args.window_s or load.window_s,
        panel_viewers=load.panel_viewers if args.panel_viewers is None else args.panel_viewers,
        probe_share=load.panel_probe_share,
        kinds=load.panel_kinds,
        max_duration_s=load.max_duration_s,
        source={"run_dir": str(Path(args.run_dir))},
    )
    out = Path(args.out or args.run_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = save_plan(plan, out / "plan.json")
    win = plan.window
    print(
        f"{path}: {len(plan.scripts)} virtual viewers (1:{plan.scale}), window "
        f"{win['start_s']:g}-{win['end_s']:g} s ({win['rule']}), peak {plan.peak_concurrency} "
        f"concurrent, {plan.action_count()} actions, panel {plan.panel.get('profiles', {})}"
    )
    return 0
