"""`livelab panel`: real aiortc viewers pull a WHEP (or Janus) stream through network profiles."""

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
        help="run aiortc viewers against a WHEP endpoint or Janus through network profiles",
        description=(
            "N aiortc viewers pull the stream over WHEP (or from a Janus Streaming mountpoint), "
            "each behind its profile (impaired in user space), spread over several processes. "
            "Writes panel.json, "
            "panel_timeseries.csv and metrics.json into --out."
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
        "--probes", type=int, metavar="K", help="decoding viewers (default 10%%, ≥1)"
    )
    probes.add_argument(
        "--probe-share", type=float, metavar="F", help="share of viewers that decode"
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
    p.add_argument(
        "--metrics-port",
        type=int,
        default=-1,
        metavar="PORT",
        help="serve live Prometheus metrics on 127.0.0.1:PORT while running (0: a free port, "
        "printed and written to --out/live_metrics.url; default -1: off)",
    )
    p.set_defaults(func=_run)


def _probes(args: argparse.Namespace) -> int:
    if args.probes is not None:
        return int(args.probes)
    share = 0.1 if args.probe_share is None else args.probe_share
    if not 0 <= share <= 1:
        raise ConfigError([Problem("--probe-share", "", share, "a fraction in [0, 1]")])
    return int(max(1 if share > 0 else 0, round(share * args.viewers)))


def _serve_live_metrics(port: int, out: str) -> Any:
    """A serving `PanelLiveMetrics` (its URL printed and announced in `out`), or None."""
    if port < 0:
        return None
    if port > 65535:
        raise ConfigError([Problem("--metrics-port", "", port, "-1 (off), 0 (free) or 1-65535")])
    from loadgen import live_endpoint
    from loadgen.panel.live_metrics import PanelLiveMetrics

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
    from loadgen.panel import HealthLimits, PanelConfig, parse_profiles, run_panel, write_outputs
    from loadgen.panel.config import LOCAL_HOSTS, check_target

    profiles = parse_profiles(args.profiles)
    config = PanelConfig(
        whep_url=args.whep,
        viewers=args.viewers,
        profiles=profiles,
        duration_s=parse_duration_s(args.duration),
        probes=_probes(args),
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
        from loadgen.panel.janus import JanusTarget

        janus = JanusTarget.is_janus(config.whep_url)
        signalling = "Janus HTTP API sessions" if janus else "WHEP POSTs"
        print(
            f"livelab panel: REMOTE target {host}: {config.viewers} {signalling} to "
            f"{config.whep_url}, then WebRTC media (STUN checks, DTLS, RTCP feedback) to the "
            f"candidates its answers name, for {config.duration_s:g} s",
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
