"""`livelab plan RUN_DIR --scale 1:200 --window peak --out DIR`: compile a model run into a plan."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from livelab.clihelp import examples
from livelab.durations import duration_arg
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
    parser = sub.add_parser(
        "plan",
        help="compile a model run directory into a load plan",
        epilog=examples(
            "livelab plan runs/demo-model --scale 1:200 --window peak --out runs/demo-plan",
            "livelab plan runs/demo-model --window 600-720 --panel-viewers 8",
        ),
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a `livelab simulate --out` directory")
    parser.add_argument(
        "--scale",
        default=None,
        metavar="1:N",
        help="one virtual viewer per N modelled (default: the scenario's load.scale, 1:200)",
    )
    parser.add_argument(
        "--window",
        default=None,
        help="peak, full, START-END in s from stream start, or a mini-peak of the model's host:"
        " lottery_N, flash_deal_N, poll_N, cohost_N, mini_peak_N (default: load.window, peak)",
    )
    parser.add_argument(
        "--window-s",
        type=duration_arg("--window-s"),
        default=None,
        metavar="DURATION",
        help="peak or mini-peak window length (default: load.window_s, 120 s)",
    )
    parser.add_argument(
        "--actor-scale",
        default=None,
        metavar="1:N",
        help="one per N among viewers who order, ask or share in the window (default: --scale)",
    )
    parser.add_argument(
        "--panel-viewers",
        type=int,
        default=None,
        metavar="N",
        help="media panel viewers (default: load.panel_viewers, 4)",
    )
    parser.add_argument(
        "--out", default=None, metavar="DIR", help="output directory (default: RUN_DIR)"
    )
    parser.set_defaults(func=_plan)


def _plan(args: argparse.Namespace) -> int:
    from loadgen.plan import compile_plan, read_model_run, save_plan
    from scenarios import Load

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
        actor_scale=parse_scale(args.actor_scale) if args.actor_scale else load.actor_scale,
    )
    out = Path(args.out or args.run_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = save_plan(plan, out / "plan.json")
    win = plan.window
    actors = plan.sampling.get("actors")
    stratum = (
        f", {actors} of them commerce actors (1:{plan.sampling['actor_scale']})"
        if actors is not None
        else ""
    )
    print(
        f"{path}: {len(plan.scripts)} virtual viewers (1:{plan.scale}{stratum}), window "
        f"{win['start_s']:g}-{win['end_s']:g} s ({win['rule']}), peak {plan.peak_concurrency} "
        f"concurrent, {plan.action_count()} actions, panel {plan.panel.get('profiles', {})}"
    )
    return 0
