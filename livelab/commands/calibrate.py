"""`livelab calibrate`: measure each profile with Chromium viewers, fit the model's QoE laws."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from livelab.clihelp import examples
from livelab.durations import duration_arg
from livelab.errors import ConfigError, Problem, TargetError

# The profiles `make demo` puts viewers on (scenarios/demo.toml: ID, TH, SA, GB × wifi, 4g, 5g;
# its hour never reaches the 20:00 evening peak) and two inline paths that isolate loss and jitter.
DEFAULT_PROFILES = (
    "ID-wifi,ID-4g,ID-5g,TH-wifi,TH-4g,TH-5g,SA-wifi,SA-4g,SA-5g,GB-wifi,GB-4g,GB-5g,"
    "delay 50ms loss 2%,delay 40ms 15ms"
)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "calibrate",
        help="measure each profile with Chromium viewers and fit the model's QoE laws to it",
        description=(
            "Runs the media panel behind each profile in turn, with headless Chromium viewers as "
            "the reference and aiortc probes alongside, then fits the model's QoE laws "
            "(sim.qoe.QoeLaws) so that its per-profile g2g p50/p95, freeze ratio and first frame "
            "match the browsers. Writes the fitted laws, the measured table (with n), the "
            "target, the versions and the date to --out (TOML); the panel runs and "
            "measured.json go to --work."
        ),
        epilog=examples(
            "livelab calibrate --target stack --out calibration.toml",
            "livelab calibrate --target http://127.0.0.1:8080/whep/demo "
            '--profiles "ID-4g,GB-wifi" --browsers 4 --duration 60s --out calibration.toml',
            "livelab calibrate --refit --work calibration_runs --out calibration.toml",
        ),
    )
    p.add_argument(
        "--target",
        default="stack",
        metavar="URL",
        help="a WHEP endpoint on 127.0.0.1 (e.g. http://127.0.0.1:8080/whep/demo), or 'stack' "
        "to start the reference stack on a free loopback port for the run",
    )
    p.add_argument(
        "--profiles",
        default=DEFAULT_PROFILES,
        metavar="LIST",
        help="comma-separated profile names or inline tc netem specs, measured one by one",
    )
    p.add_argument("--out", required=True, metavar="FILE", help="the calibration file to write")
    p.add_argument(
        "--browsers",
        type=int,
        default=2,
        metavar="B",
        help="Chromium viewers per profile (about 2 per core at most; fewer on a busy machine)",
    )
    p.add_argument("--probes", type=int, default=1, metavar="K", help="probe viewers per profile")
    p.add_argument(
        "--duration",
        type=duration_arg("--duration"),
        default="30s",
        metavar="DURATION",
        help="panel run length per profile (joins in its first seconds)",
    )
    p.add_argument("--seed", type=int, default=1, help="panel seed (profile i uses seed + i)")
    p.add_argument(
        "--work",
        default=None,
        metavar="DIR",
        help="where the panel runs and measured.json go (default: --out's name + '_runs')",
    )
    p.add_argument(
        "--refit",
        action="store_true",
        help="do not measure: fit again from --work/measured.json (after a change of the laws)",
    )
    p.set_defaults(func=_run)


def _check(args: argparse.Namespace) -> None:
    problems = []
    if args.browsers < 1:
        problems.append(Problem("--browsers", "", args.browsers, "an integer ≥ 1 (the reference)"))
    if args.probes < 0:
        problems.append(Problem("--probes", "", args.probes, "an integer ≥ 0"))
    if not args.out.endswith(".toml"):
        problems.append(Problem("--out", "", args.out, "a file name ending in .toml"))
    if problems:
        raise ConfigError(problems)


def _profiles(text: str) -> list[str]:
    from netem_profiles import load_profile

    names = [p.strip() for p in text.split(",")]
    if not all(names):
        raise ConfigError([Problem("--profiles", "", text, "comma-separated, none empty")])
    if len(set(names)) != len(names):
        raise ConfigError([Problem("--profiles", "", text, "each profile once")])
    for name in names:
        load_profile(name)  # ProfileError names a bad one (exit 2)
    return names


def _measure(args: argparse.Namespace, work: Path, names: list[str]) -> dict[str, Any]:
    from loadgen.calibrate import measure_profile
    from loadgen.panel import check_target

    proc = None
    url = args.target
    if url == "stack":
        from stack import start_stack_process

        try:
            proc, base = start_stack_process(["--publisher", "synthetic", "--room", "demo"], 30.0)
        except (RuntimeError, TimeoutError) as exc:
            raise TargetError(f"could not start the reference stack: {exc}") from exc
        url = f"{base}/whep/demo"
        print(f"calibrate: reference stack on {base}", file=sys.stderr, flush=True)
    else:
        check_target(url, allow_remote=False, option="--target")
    rows = []
    try:
        for i, name in enumerate(names):
            print(
                f"calibrate: [{i + 1}/{len(names)}] {name}: {args.browsers} browsers + "
                f"{args.probes} probes for {args.duration:g} s",
                file=sys.stderr,
                flush=True,
            )
            row = measure_profile(
                url, name, index=i, browsers=args.browsers, probes=args.probes,
                duration_s=args.duration, seed=args.seed, work_dir=work,
            )  # fmt: skip
            rows.append(row.to_dict())
            g2g = f"{row.g2g_p50_ms or float('nan'):.0f}/{row.g2g_p95_ms or float('nan'):.0f}"
            first = row.first_frame_p50_ms or float("nan")
            print(
                f"calibrate: [{i + 1}/{len(names)}] {name}: g2g p50/p95 {g2g} ms "
                f"(n={row.n_frames} frames), freeze ratio {row.freeze_ratio or 0:.3f}, "
                f"first frame p50 {first:.0f} ms (n={row.n_viewers})"
                + ("" if row.valid else " [generator saturated: flagged]"),
                file=sys.stderr,
                flush=True,
            )
    finally:
        if proc is not None:
            from stack import stop_stack_process

            stop_stack_process(proc)
    from loadgen.calibrate import environment

    setup = {"browsers": args.browsers, "probes": args.probes, "duration_s": args.duration,
             "seed": args.seed}  # fmt: skip
    return {"command": shlex.join(["livelab", *sys.argv[1:]]),
            "target": args.target if args.target == "stack" else url, "setup": setup,
            "rows": rows, **environment()}  # fmt: skip


def _run(args: argparse.Namespace) -> int:
    _check(args)
    out = Path(args.out)
    work = Path(args.work) if args.work else out.with_name(out.stem + "_runs")
    measured_path = work / "measured.json"
    if args.refit:
        if not measured_path.is_file():
            raise ConfigError(
                [Problem("--refit", "--work", str(measured_path), "an earlier run's measured.json")]
            )
        measured = json.loads(measured_path.read_text(encoding="utf-8"))
    else:
        names = _profiles(args.profiles)
        work.mkdir(parents=True, exist_ok=True)
        measured = _measure(args, work, names)
        measured_path.write_text(json.dumps(measured, indent=1) + "\n", encoding="utf-8")
    from scenarios.calibration import write_calibration
    from sim.fit import fit_laws

    rows = [r for r in measured["rows"] if r.get("g2g_p50_ms") is not None]
    if not rows:
        raise TargetError(f"no profile got browser g2g samples; see {work}")
    from netem_profiles import load_profile

    profiles = {r["profile"]: load_profile(r["profile"]) for r in rows}
    laws, fit = fit_laws(rows, profiles)
    write_calibration(out, laws, fit, measured, command=shlex.join(["livelab", *sys.argv[1:]]))
    print(
        f"calibrate: fitted {len(rows)} profiles, worst error {fit['worst']:.0%} "
        f"(rms {fit['rms']:.0%}); wrote {out}"
    )
    return 0
