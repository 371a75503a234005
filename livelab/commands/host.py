"""`livelab host`: publish the barcode-stamped synthetic host into any stack (WHIP or plain RTP)."""

from __future__ import annotations

import argparse
import sys
from typing import Any
from urllib.parse import urlsplit

from livelab.clihelp import examples
from livelab.durations import duration_arg
from livelab.errors import ConfigError, Problem, TargetError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "host",
        help="publish the synthetic barcode host into any WHIP server or as plain RTP",
        description=(
            "Encode the synthetic host (360p15 VP8 with a capture-time barcode on every frame, "
            "optionally Opus) once and publish it: --whip URL into a WHIP server, or --rtp "
            "HOST:PORT as plain RTP over UDP (video on PORT, audio on PORT+2), e.g. into a "
            "Janus Streaming mountpoint. Runs for --duration or until interrupted. "
            "Viewers reading the barcode measure glass-to-glass latency through that stack."
        ),
        epilog=examples(
            "livelab host --whip http://127.0.0.1:8080/whip/demo --audio",
            "livelab host --rtp 127.0.0.1:5004 --duration 2m",
        ),
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--whip", metavar="URL", help="WHIP endpoint, e.g. http://H:P/whip/demo")
    where.add_argument("--rtp", metavar="HOST:PORT", help="plain RTP destination (UDP)")
    p.add_argument("--audio", action="store_true", help="also send Opus audio (a 1 s beep)")
    p.add_argument(
        "--video-pt", type=int, default=96, help="RTP payload type of VP8 (--rtp; default 96)"
    )
    p.add_argument(
        "--audio-pt", type=int, default=111, help="RTP payload type of Opus (--rtp; default 111)"
    )
    p.add_argument(
        "--keyframe-interval",
        type=duration_arg("--keyframe-interval"),
        default="2s",
        metavar="DURATION",
        help="time between periodic keyframes (default 2s)",
    )
    p.add_argument(
        "--duration",
        type=duration_arg("--duration"),
        default=None,
        metavar="DURATION",
        help="stop after this long, e.g. 90s or 1m30s (default: run until interrupted)",
    )
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="permit a non-loopback destination (prints what it will send where)",
    )
    p.set_defaults(func=_run)


def _check_pt(value: int, flag: str) -> int:
    if not 96 <= value <= 127:
        raise ConfigError([Problem("<command line>", flag, value, "a dynamic payload type 96-127")])
    return value


def _destination(args: argparse.Namespace) -> str:
    """Validate the destination; print a notice for a remote one. Returns a description."""
    from netem_profiles import netio

    if args.whip is not None:
        parts = urlsplit(args.whip)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                [Problem("<command line>", "--whip", args.whip, "an http(s)://HOST:PORT/… URL")]
            )
        netio.check_loopback(parts.hostname, "--whip", args.allow_remote)
        host = parts.hostname
        what = f"a WHIP POST to {args.whip}, then WebRTC media to the candidates its answer names"
    else:
        host, port = netio.parse_hostport(args.rtp, "--rtp")
        netio.check_loopback(host, "--rtp", args.allow_remote)
        what = f"RTP VP8 (pt {args.video_pt}) to {host}:{port} over UDP"
        if args.audio:
            what += f", RTP Opus (pt {args.audio_pt}) to {host}:{port + 2}"
    if not netio.is_loopback(host):
        print(f"livelab host: REMOTE destination {host}: {what}", file=sys.stderr, flush=True)
    return what


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    _check_pt(args.video_pt, "--video-pt")
    _check_pt(args.audio_pt, "--audio-pt")
    keyframe_s, duration_s = args.keyframe_interval, args.duration
    what = _destination(args)
    try:
        asyncio.run(_publish(args, keyframe_s, duration_s, what))
    except RuntimeError as exc:
        raise TargetError(f"host: {exc}") from None
    except OSError as exc:
        raise TargetError(f"host: cannot send ({exc})") from None
    return 0


async def _publish(
    args: argparse.Namespace, keyframe_s: float, duration_s: float | None, what: str
) -> None:
    import asyncio
    import signal

    from netem_profiles import netio
    from stack import HostStream, RtpSender, publish_whip

    until = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, until.set)
    if duration_s is not None:
        loop.call_later(duration_s, until.set)
    stream = HostStream(audio=args.audio, keyframe_interval_s=keyframe_s)
    if args.whip is not None:
        task = asyncio.ensure_future(publish_whip(args.whip, stream, until))
        print(f"host: publishing: {what}", flush=True)
        try:
            await task
        finally:
            await stream.stop()
        return
    host, port = netio.parse_hostport(args.rtp, "--rtp")
    sender = RtpSender(stream, host, port, video_pt=args.video_pt, audio_pt=args.audio_pt)
    sender.start()
    print(f"host: publishing: {what}", flush=True)
    try:
        await until.wait()
    finally:
        await sender.stop()
    v = sender.video_stats
    print(f"host: sent {v.frames} video frames in {v.packets} RTP packets", flush=True)
