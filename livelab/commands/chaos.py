"""`livelab chaos SCENARIO`: replay the scenario's load while killing the reference stack with
`kill -9`, and prove the ledger lost and duplicated nothing (docs/reliability.md).

Exit codes: 0 every must-be-zero count is zero, 1 one is not (or a process failed), 2 bad
input (scenario, --at, --kills).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from livelab.clihelp import examples
from livelab.commands.scenario import add_scenario_args, load_from_args
from livelab.errors import ConfigError, Problem


def register(sub: Any) -> None:
    p = sub.add_parser(
        "chaos",
        help="kill -9 the reference stack mid-load and check no acknowledged order is lost",
        description="Model and plan SCENARIO, start the reference stack on a file ledger, "
        "replay the plan with Locust viewers that retry each order (same Idempotency-Key) "
        "until acknowledged, kill -9 the stack at chosen moments and restart it each time on "
        "the same port and ledger, then check the ledger against every acknowledgement. "
        "Prints one row per kill (outage, viewers dropped and back, reconnect p50/p95) and the "
        "must-be-zero counts: orders lost, keys holding two rows, replays answered with another "
        "order. Writes chaos.json in the run directory. Everything runs on 127.0.0.1.",
        epilog=examples(
            "livelab chaos scenarios/ci_smoke.toml",
            "livelab chaos scenarios/ci_smoke.toml --kills 3",
            "livelab chaos scenarios/ci_smoke.toml --at 20s,45s --out runs/chaos",
        ),
    )
    add_scenario_args(p)
    p.add_argument(
        "--kills", type=int, metavar="N", default=None,
        help="number of kills: the window's first N lotteries and flash deals, the rest spread "
        "evenly (default: one at each lottery and flash deal; mid-window if it has none)",
    )  # fmt: skip
    p.add_argument(
        "--at", metavar="T,T,...", default=None,
        help="kill at these plan times instead, e.g. 30s,60s or 1m,90 (seconds from the "
        "start of the replayed window; default: see --kills)",
    )  # fmt: skip
    p.add_argument("--out", metavar="DIR",
                   help="run directory (default runs/chaos-<scenario>-<time>)")  # fmt: skip
    p.add_argument("--room", default="demo", help="room to join (default demo)")
    p.add_argument(
        "--orders-per-min", type=float, default=6.0, metavar="R",
        help="extra orders per viewer-minute on top of the model's few, so kills catch "
        "orders in flight (default 6; 0 = only the model's)",
    )  # fmt: skip
    p.add_argument(
        "--stack-arg", action="append", default=[], metavar="ARG",
        help="extra argument for the reference stack, repeatable, e.g. "
        "--stack-arg=--rate-limit=50 (default: none)",
    )  # fmt: skip
    p.set_defaults(func=_chaos)


def parse_moments(text: str) -> tuple[float, ...]:
    """'30s,60s' / '1m,90' → (30.0, 60.0) / (60.0, 90.0); ConfigError naming --at otherwise."""
    from livelab.durations import parse_duration

    return tuple(parse_duration(part, "--at") for part in text.split(",") if part.strip())


def _chaos(args: argparse.Namespace) -> int:
    from loadgen.chaos import ChaosOptions, render, run_chaos

    if args.kills is not None and args.kills < 1:
        raise ConfigError([Problem("--kills", "", args.kills, "a whole number >= 1")])
    if not 0 <= args.orders_per_min <= 600:
        raise ConfigError([Problem("--orders-per-min", "", args.orders_per_min, "0..600")])
    at = parse_moments(args.at) if args.at else ()
    scenario = load_from_args(args)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = Path(args.out or Path("runs") / f"chaos-{scenario.scenario.name}-{stamp}")
    options = ChaosOptions(out=out, kills=args.kills, at=at, room=args.room,
                           stack_args=tuple(args.stack_arg),
                           orders_per_min=args.orders_per_min)  # fmt: skip
    verdict = run_chaos(scenario, options, command=["livelab", *sys.argv[1:]])
    print(render(verdict))
    print(f"chaos.json: {out / 'chaos.json'}")
    return 0 if verdict.ok else 1
