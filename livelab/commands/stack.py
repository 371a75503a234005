"""`livelab stack serve`: the reference streaming and interaction stack (docs/protocol.md)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from livelab.clihelp import examples
from livelab.durations import duration_arg


class _DeprecatedHost(argparse.Action):
    """`--host`, the old spelling of `--publisher`: it stores the same value and says so once.
    Renamed because Locust's `--host` (and `livelab run --target`) means the URL under load."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: Any = None) -> None:
        print(
            "livelab stack serve: --host is deprecated (Locust's --host is the target URL); "
            f"use --publisher {values}",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, values)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "stack",
        help="the reference stack (system under test)",
        epilog=examples("livelab stack serve --port 0 --ready-file url.txt"),
    )
    sub = parser.add_subparsers(dest="stack_command", metavar="SUBCOMMAND")
    serve = sub.add_parser(
        "serve",
        help="serve WHIP/WHEP media and the live-room API",
        description="Serve the reference stack until SIGTERM/SIGINT. Prints "
        "'listening on http://HOST:PORT' once ready (--port 0 picks a free port). Durations: "
        "90, 90s, 2m, 1m30s, 1h, 500ms.",
        epilog=examples(
            "livelab stack serve --port 8080",
            "livelab stack serve --port 0 --publisher none --fault chat_delay_ms=800",
            "livelab stack serve --db ledger.sqlite --mini-peak-every 2m --announce-ahead 30s",
        ),
    )
    serve.add_argument("--port", type=int, default=8080, help="TCP port; 0 = any free port")
    serve.add_argument("--bind", default="127.0.0.1", help="address to bind (loopback)")
    serve.add_argument(
        "--allow-remote", action="store_true", help="allow binding a non-loopback address"
    )
    serve.add_argument("--db", default=":memory:", help="SQLite ledger file (:memory: = none)")
    serve.add_argument(
        "--publisher",
        default="synthetic",
        choices=["synthetic", "none"],
        help="who streams into the room: the synthetic barcode host, or none (you publish "
        "over WHIP yourself)",
    )
    serve.add_argument(
        "--host",
        dest="publisher",
        choices=["synthetic", "none"],
        action=_DeprecatedHost,
        default=argparse.SUPPRESS,
        help="deprecated spelling of --publisher",
    )
    serve.add_argument("--room", default="demo", help="room of the synthetic host")
    serve.add_argument(
        "--audio", action="store_true", help="the synthetic host also sends Opus audio"
    )
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="K=V",
        help="chat_delay_ms=800, error_rate=0.02, drop_ws=0.01, ledger_read_only=1 (repeatable)",
    )
    serve.add_argument(
        "--admin-token",
        default=os.environ.get("LIVELAB_ADMIN_TOKEN"),
        help="enables POST /admin/faults (default: $LIVELAB_ADMIN_TOKEN)",
    )
    serve.add_argument(
        "--secret",
        default=os.environ.get("LIVELAB_STACK_SECRET"),
        help="HMAC key for join tokens (default: $LIVELAB_STACK_SECRET, else random)",
    )
    serve.add_argument(
        "--mini-peak-every",
        type=duration_arg("--mini-peak-every"),
        default="15m",
        metavar="DURATION",
        help="period of the host's mini-peaks (lottery, flash deal, poll in turn)",
    )
    serve.add_argument(
        "--peaks",
        default=None,
        metavar="KIND@START+OPEN,…",
        help="fixed mini-peaks instead of the rotation, e.g. poll@30s+3m,flash_deal@2m+1m",
    )
    serve.add_argument(
        "--announce-ahead",
        type=duration_arg("--announce-ahead"),
        default=None,
        metavar="DURATION",
        help="countdown lead before each mini-peak (default: 90s, or half the period if shorter)",
    )
    serve.add_argument(
        "--think-time",
        type=duration_arg("--think-time"),
        default="3s",
        metavar="DURATION",
        help="how long the host takes to answer a question",
    )
    serve.add_argument(
        "--keyframe-interval",
        type=duration_arg("--keyframe-interval"),
        default="2s",
        metavar="DURATION",
        help="time between the synthetic host's keyframes",
    )
    serve.add_argument(
        "--token-ttl",
        type=duration_arg("--token-ttl"),
        default="1h",
        metavar="DURATION",
        help="lifetime of a join token",
    )
    serve.add_argument(
        "--rate-limit", type=float, default=20.0, metavar="N", help="client msg/s per socket"
    )
    serve.add_argument(
        "--batch-tick-ms",
        type=float,
        default=100.0,
        metavar="MS",
        help="how often batched deliveries go out, ms",
    )
    serve.add_argument(
        "--batch-threshold", type=int, default=50, metavar="N", help="batch above N viewers"
    )
    serve.add_argument(
        "--max-guests",
        type=int,
        default=2,
        help="co-host guests on air at once per room (0 = co-hosting off, at most 4)",
    )
    serve.add_argument(
        "--guest-timeout",
        type=duration_arg("--guest-timeout"),
        default="3s",
        metavar="DURATION",
        help="drop a co-host guest whose video stops this long (0.5s..4.5s)",
    )
    serve.add_argument("--stun", default=None, help="stun:HOST:PORT (default: no STUN)")
    serve.add_argument(
        "--ready-file", default=None, metavar="FILE", help="write the base URL here when ready"
    )
    serve.set_defaults(func=_serve)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from stack import StackOptions, parse_faults, parse_peaks
    from stack.serve import serve  # not re-exported by `stack`: it shares its module's name

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    every_s = args.mini_peak_every
    announce_s = min(90.0, every_s / 2) if args.announce_ahead is None else args.announce_ahead
    options = StackOptions(
        bind=args.bind,
        port=args.port,
        allow_remote=args.allow_remote,
        db=args.db,
        host=args.publisher,
        room=args.room,
        audio=args.audio,
        faults=parse_faults(args.fault),
        admin_token=args.admin_token,
        secret=args.secret,
        token_ttl_s=args.token_ttl,
        mini_peak_every_s=every_s,
        peaks=parse_peaks(args.peaks) if args.peaks else (),
        announce_ahead_s=announce_s,
        think_time_s=args.think_time,
        keyframe_interval_s=args.keyframe_interval,
        rate_limit_per_s=args.rate_limit,
        batch_tick_ms=args.batch_tick_ms,
        batch_threshold=args.batch_threshold,
        stun=args.stun,
        max_guests=args.max_guests,
        guest_timeout_s=args.guest_timeout,
    ).validate()
    asyncio.run(serve(options, ready_file=args.ready_file))
    return 0
