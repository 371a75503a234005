"""`livelab panel`: real aiortc viewers pull a WHEP (or Janus) stream through network profiles."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from livelab.clihelp import examples
from livelab.durations import duration_arg
from livelab.errors import ConfigError, Problem, TargetError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "panel",
        help="run aiortc viewers against a WHEP endpoint or Janus through network profiles",
        description=(
            "N aiortc viewers pull the stream over WHEP (or from a Janus Streaming mountpoint), "
            "each behind its profile (impaired in user space), spread over several processes. "
            "Writes panel.json, "
            "panel_timeseries.csv and metrics.json into --out."
        ),
        epilog=examples(
            "livelab panel --whep http://127.0.0.1:8080/whep/demo --viewers 8 --out runs/panel",
            "livelab panel --whep http://127.0.0.1:8080/whep/demo --viewers 20 --duration 2m "
            '--profiles "ID-4g:0.5,GB-wifi:0.5" --out runs/panel',
            "livelab panel --whep http://127.0.0.1:8080/whep/demo --viewers 4 --cohosts 2 "
            '--probes 2 --profiles "delay 0ms,delay 100ms" --out runs/cohost',
        ),
    )
    p.add_argument(
        "--whep",
        "--media",
        dest="whep",
        required=True,
        metavar="URL",
        help="media target: a WHEP endpoint, e.g. http://127.0.0.1:8080/whep/demo, or a Janus "
        "Streaming mountpoint, janus+http://H:P/janus?mountpoint=ID (docs/targets.md)",
    )
    p.add_argument("--viewers", type=int, required=True, metavar="N", help="aiortc viewers")
    p.add_argument(
        "--profiles",
        default="delay 0ms",
        metavar="MIX",
        help='profile names or inline tc netem specs with weights: "ID-4g:0.5,delay 150ms 20ms '
        'loss 1%%:0.5" (default: a clean path)',
    )
    p.add_argument(
        "--duration",
        type=duration_arg("--duration"),
        default="60s",
        metavar="DURATION",
        help="run length, joins spread over its start (90, 90s, 2m, 1m30s)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="where the outputs go")
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
        "--cohosts",
        type=int,
        default=0,
        metavar="C",
        help="viewers that go on air with the host, one per profile first (reference stack "
        "only; docs/viewers.md)",
    )
    p.add_argument(
        "--processes", type=int, metavar="P", help="panel processes (default: one per core)"
    )
    p.add_argument("--seed", type=int, default=1, help="seed of the impairment and the joins")
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
    p.add_argument(
        "--cpu-sustain",
        type=duration_arg("--cpu-sustain"),
        default="5s",
        metavar="DURATION",
        help="how long a process may stay above --max-cpu",
    )
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
    p.add_argument(
        "--metrics-port",
        type=int,
        default=-1,
        metavar="PORT",
        help="serve live Prometheus metrics on 127.0.0.1:PORT while running (0: a free port, "
        "printed and written to --out/live_metrics.url; default -1: off)",
    )
    p.set_defaults(func=_run)


def _kinds(args: argparse.Namespace, n_profiles: int) -> tuple[int, int]:
    """(probes, browsers) from --kinds, or --probes / --probe-share and --browsers."""
    from loadgen.panel import parse_kinds

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


def _serve_live_metrics(port: int, out: str) -> Any:
    """A serving `PanelLiveMetrics` (its URL printed and announced in `out`), or None."""
    if port < 0:
        return None
    if port > 65535:
        raise ConfigError([Problem("--metrics-port", "", port, "-1 (off), 0 (free) or 1-65535")])
    from loadgen import live_endpoint
    from loadgen.panel import PanelLiveMetrics

    live = PanelLiveMetrics()
    try:
        url = live.serve(port)
    except OSError as exc:
        raise ConfigError(
            [Problem("--metrics-port", "", port, f"a free port on 127.0.0.1 ({exc.strerror})")]
        ) from None
    live_endpoint.announce(out, url)
    print(f"panel: live metrics on {url}", file=sys.stderr, flush=True)
    return live


def _run(args: argparse.Namespace) -> int:
    from loadgen.panel import (
        HealthLimits,
        PanelConfig,
        assign_viewers,
        check_target,
        parse_profiles,
        run_panel,
        unmeasured_profiles,
        write_outputs,
    )
    from netem_profiles import is_loopback

    profiles = parse_profiles(args.profiles)
    probes, browsers = _kinds(args, len(profiles))
    config = PanelConfig(
        whep_url=args.whep,
        viewers=args.viewers,
        profiles=profiles,
        duration_s=args.duration,
        probes=probes,
        browsers=browsers,
        cohosts=args.cohosts,
        processes=args.processes,
        seed=args.seed,
        receiver=args.receiver,
        health=HealthLimits(
            max_cpu_pct=args.max_cpu, sustain_s=args.cpu_sustain, max_lag_p95_ms=args.max_lag
        ),
        allow_remote=args.allow_remote,
    )
    host = check_target(config.whep_url, config.allow_remote)
    if not is_loopback(host):
        from loadgen.panel import JanusTarget

        janus = JanusTarget.is_janus(config.whep_url)
        signalling = "Janus HTTP API sessions" if janus else "WHEP POSTs"
        print(
            f"livelab panel: REMOTE target {host}: {config.viewers} {signalling} to "
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

    live = _serve_live_metrics(args.metrics_port, args.out)
    try:
        result = run_panel(config, progress, live=live.update if live else None)
    finally:
        if live is not None:
            live.close()
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
