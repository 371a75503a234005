"""`livelab stack serve`: the reference streaming and interaction stack (docs/protocol.md)."""

from __future__ import annotations

import argparse
import os
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("stack", help="the reference stack (system under test)")
    sub = parser.add_subparsers(dest="stack_command", metavar="SUBCOMMAND")
    serve = sub.add_parser(
        "serve",
        help="serve WHIP/WHEP media and the live-room API",
        description="Serve the reference stack until SIGTERM/SIGINT. Prints "
        "'listening on http://HOST:PORT' once ready (--port 0 picks a free port).",
    )
    serve.add_argument("--port", type=int, default=8080, help="TCP port; 0 = any free port")
    serve.add_argument("--bind", default="127.0.0.1", help="address to bind (default loopback)")
    serve.add_argument(
        "--allow-remote", action="store_true", help="allow binding a non-loopback address"
    )
    serve.add_argument("--db", default=":memory:", help="SQLite ledger file (default in memory)")
    serve.add_argument("--host", default="synthetic", choices=["synthetic", "none"])
    serve.add_argument("--room", default="demo", help="room of the synthetic host")
    serve.add_argument(
        "--audio", action="store_true", help="the synthetic host also sends Opus audio"
    )
    serve.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="K=V",
        help="chat_delay_ms=800, error_rate=0.02, drop_ws=0.01 (repeatable)",
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
    serve.add_argument("--mini-peak-every", default="15m", metavar="DURATION")
    serve.add_argument(
        "--announce-ahead",
        default=None,
        metavar="DURATION",
        help="countdown lead before each mini-peak (default: 90s, or half the period if shorter)",
    )
    serve.add_argument("--think-time", default="3s", metavar="DURATION")
    serve.add_argument("--keyframe-interval", default="2s", metavar="DURATION")
    serve.add_argument("--token-ttl", default="1h", metavar="DURATION")
    serve.add_argument("--rate-limit", type=float, default=20.0, help="client msg/s per socket")
    serve.add_argument("--batch-tick-ms", type=float, default=100.0)
    serve.add_argument("--batch-threshold", type=int, default=50, help="batch above N viewers")
    serve.add_argument("--stun", default=None, help="stun:HOST:PORT (default: no STUN)")
    serve.add_argument("--ready-file", default=None, help="write the base URL here when ready")
    serve.set_defaults(func=_serve)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def _serve(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from stack import StackOptions, parse_duration, parse_faults
    from stack.serve import serve  # not re-exported by `stack`: it shares its module's name

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    every_s = parse_duration(args.mini_peak_every, "--mini-peak-every")
    if args.announce_ahead is None:
        announce_s = min(90.0, every_s / 2)
    else:
        announce_s = parse_duration(args.announce_ahead, "--announce-ahead")
    options = StackOptions(
        bind=args.bind,
        port=args.port,
        allow_remote=args.allow_remote,
        db=args.db,
        host=args.host,
        room=args.room,
        audio=args.audio,
        faults=parse_faults(args.fault),
        admin_token=args.admin_token,
        secret=args.secret,
        token_ttl_s=parse_duration(args.token_ttl, "--token-ttl"),
        mini_peak_every_s=every_s,
        announce_ahead_s=announce_s,
        think_time_s=parse_duration(args.think_time, "--think-time"),
        keyframe_interval_s=parse_duration(args.keyframe_interval, "--keyframe-interval"),
        rate_limit_per_s=args.rate_limit,
        batch_tick_ms=args.batch_tick_ms,
        batch_threshold=args.batch_threshold,
        stun=args.stun,
    ).validate()
    asyncio.run(serve(options, ready_file=args.ready_file))
    return 0
