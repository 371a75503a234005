"""`livelab panel`: real aiortc viewers pull a WHEP stream through network profiles."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from livelab.errors import ConfigError, Problem, TargetError

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration_s(text: str) -> float:
    """``"60s"``, ``"2m"``, ``"90"`` (seconds) → seconds; raises `ConfigError`."""
    m = _DURATION.match(text.strip())
    if not m or float(m.group(1)) <= 0:
        raise ConfigError([Problem("--duration", "", text, "a positive duration: 60s, 2m, 500ms")])
    return float(m.group(1)) * float(_UNIT_S[m.group(2)])


def register(sub: Any) -> None:
    p = sub.add_parser(
        "panel",
        help="run aiortc viewers against a WHEP endpoint through network profiles",
        description=(
            "N aiortc viewers pull the stream over WHEP, each behind its profile (impaired in "
            "user space), spread over several processes. Writes panel.json, "
            "panel_timeseries.csv and metrics.json into --out."
        ),
    )
    p.add_argument(
        "--whep",
        required=True,
        metavar="URL",
        help="WHEP endpoint, e.g. http://127.0.0.1:8080/whep/demo",
    )
    p.add_argument("--viewers", type=int, required=True, metavar="N")
    p.add_argument(
        "--profiles",
        default="delay 0ms",
        metavar="MIX",
        help='profile names or inline tc netem specs with weights: "ID-4g:0.5,delay 150ms 20ms '
        'loss 1%%:0.5" (default: a clean path)',
    )
    p.add_argument("--duration", default="60s", help="run length (joins spread over its start)")
    p.add_argument("--out", required=True, metavar="DIR")
    probes = p.add_mutually_exclusive_group()
    probes.add_argument(
        "--probes",
        type=int,
        metavar="K",
        help="decoding viewers (default 10%%, at least one per profile)",
    )
    probes.add_argument(
        "--probe-share", type=float, metavar="F", help="share of viewers that decode"
    )
    probes.add_argument(
        "--kinds",
        metavar="MIX",
        help='viewer kinds by share, e.g. "lite:0.8,probe:0.15,browser:0.05" (instead of '
        "--probes and --browsers)",
    )
    p.add_argument(
        "--browsers",
        type=int,
        metavar="B",
        help="headless Chromium viewers (default 0; see docs/viewers.md)",
    )
    p.add_argument(
        "--processes", type=int, metavar="P", help="panel processes (default: one per core)"
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--receiver",
        choices=("fixed", "stock"),
        default="fixed",
        help="probe receive path: the panel's fixed jitter buffer or aiortc's stock one",
    )
    p.add_argument(
        "--max-cpu",
        type=float,
        default=90.0,
        metavar="PCT",
        help="a process above this %% of one core for --cpu-sustain s marks the run invalid",
    )
    p.add_argument("--cpu-sustain", type=float, default=5.0, metavar="S")
    p.add_argument(
        "--max-lag",
        type=float,
        default=50.0,
        metavar="MS",
        help="loop lag p95 above this marks the run invalid",
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="permit a non-loopback target (prints what it will send where)",
    )
    p.set_defaults(func=_run)


def _kinds(args: argparse.Namespace, n_profiles: int) -> tuple[int, int]:
    """(probes, browsers) from --kinds, or --probes / --probe-share and --browsers."""
    from loadgen.panel.config import parse_kinds

    if args.kinds is not None:
        if args.browsers is not None:
            raise ConfigError([Problem("--browsers", "", args.browsers, "not with --kinds")])
        return parse_kinds(args.kinds, args.viewers)
    browsers = int(args.browsers or 0)
    if args.probes is not None:
        return int(args.probes), browsers
    share = 0.1 if args.probe_share is None else args.probe_share
    if not 0 <= share <= 1:
        raise ConfigError([Problem("--probe-share", "", share, "a fraction in [0, 1]")])
    probes = round(share * args.viewers)
    if share > 0 and args.probe_share is None:
        # By default every profile gets a g2g-measuring viewer when there are enough viewers.
        probes = max(probes, n_profiles - browsers)
    probes = max(1 if share > 0 else 0, probes)
    return int(min(probes, max(0, args.viewers - browsers))), browsers


def _run(args: argparse.Namespace) -> int:
    from loadgen.panel import HealthLimits, PanelConfig, parse_profiles, run_panel, write_outputs
    from loadgen.panel.config import LOCAL_HOSTS, assign_viewers, check_target, unmeasured_profiles

    profiles = parse_profiles(args.profiles)
    probes, browsers = _kinds(args, len(profiles))
    config = PanelConfig(
        whep_url=args.whep,
        viewers=args.viewers,
        profiles=profiles,
        duration_s=parse_duration_s(args.duration),
        probes=probes,
        browsers=browsers,
        processes=args.processes,
        seed=args.seed,
        receiver=args.receiver,
        health=HealthLimits(
            max_cpu_pct=args.max_cpu, sustain_s=args.cpu_sustain, max_lag_p95_ms=args.max_lag
        ),
        allow_remote=args.allow_remote,
    )
    host = check_target(config.whep_url, config.allow_remote)
    if host not in LOCAL_HOSTS:
        print(
            f"livelab panel: REMOTE target {host}: {config.viewers} WHEP POSTs to "
            f"{config.whep_url}, then WebRTC media (STUN checks, DTLS, RTCP feedback) to the "
            f"candidates its answers name, for {config.duration_s:g} s",
            file=sys.stderr,
        )

    unmeasured = unmeasured_profiles(config, assign_viewers(config))
    if unmeasured:
        print(
            f"livelab panel: no probe or browser viewer for {', '.join(unmeasured)}: these "
            f"profiles will have no g2g (use ≥ {len(profiles)} probes or browsers)",
            file=sys.stderr,
        )

    def progress(p: dict[str, Any]) -> None:
        print(
            f"  {p['elapsed_s']:5.0f} s  viewers watching {p['connected']:4d}  "
            f"frames {p['frames']}",
            file=sys.stderr,
            flush=True,
        )

    result = run_panel(config, progress)
    paths = write_outputs(result, args.out)
    ok = sum(1 for v in result.viewers if v.error is None)
    wrote = ", ".join(str(p) for p in paths.values())
    print(f"panel: {ok}/{config.viewers} viewers ok; wrote {wrote}")
    for note in result.notes:
        print(f"  note: {note}")
    if result.interrupted:
        return 130
    if not result.valid:
        notes = "; ".join(result.notes)
        raise TargetError(f"panel run invalid (generator saturated or failed): {notes}")
    if ok == 0:
        raise TargetError(f"no viewer could watch {config.whep_url}")
    return 0
