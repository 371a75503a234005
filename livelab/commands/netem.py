"""`livelab netem udp-relay|tcp-relay`: impairing relays driven by a network profile."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from livelab.clihelp import examples
from livelab.durations import duration_arg


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "netem",
        help="impair real traffic with a network profile",
        epilog=examples(
            "livelab netem udp-relay --profile ID-4g --listen 127.0.0.1:0 --to 127.0.0.1:5004"
        ),
    )
    sub = parser.add_subparsers(dest="netem_command", metavar="ACTION", required=True)
    for kind, helptext in (
        ("udp-relay", "relay UDP datagrams through a profile (delay, jitter, loss, rate, …)"),
        (
            "tcp-relay",
            "relay TCP connections through a profile (delay, jitter, bandwidth; loss as RTO)",
        ),
    ):
        p = sub.add_parser(
            kind,
            help=helptext,
            epilog=examples(
                f"livelab netem {kind} --profile ID-4g --listen 127.0.0.1:0 --to 127.0.0.1:8080",
                f"livelab netem {kind} --profile 'delay 100ms 20ms loss 1%' --listen "
                "127.0.0.1:9000 --to 127.0.0.1:8080 --duration 2m --stats-every 10s",
            ),
        )
        p.add_argument("--profile", required=True, help="profile name, MARKET-LASTMILE or tc spec")
        p.add_argument("--origin", default="hk", help="origin for MARKET-LASTMILE (hk, hangzhou)")
        p.add_argument(
            "--listen", required=True, metavar="HOST:PORT", help="where to listen (port 0: any)"
        )
        p.add_argument(
            "--to", required=True, dest="target", metavar="HOST:PORT", help="where to relay to"
        )
        p.add_argument("--seed", type=int, default=None, help="seed for reproducible impairment")
        p.add_argument(
            "--duration",
            type=duration_arg("--duration"),
            default=None,
            metavar="DURATION",
            help="stop after this long (90, 90s, 2m, 1m30s; default: until SIGINT/SIGTERM)",
        )
        p.add_argument(
            "--stats-every",
            type=duration_arg("--stats-every", allow_zero=True),
            default="0",
            metavar="DURATION",
            help="print stats this often (0: off)",
        )
        p.add_argument(
            "--allow-remote", action="store_true", help="allow non-loopback --listen/--to"
        )
        p.add_argument(
            "--realtime",
            action="store_true",
            help="run with SCHED_FIFO priority (root/CAP_SYS_NICE) so a busy machine's run "
            "queue does not delay timed sends",
        )
        p.add_argument(
            "--slice-us",
            type=_slice_us,
            default=100,
            metavar="MICROSECONDS",
            help="at normal priority, ask the kernel (EEVDF, Linux >= 6.12) for time slices this "
            "short, so a woken relay preempts CPU hogs instead of queueing behind them; "
            "100-100000, or 0 for the kernel's default slice",
        )
        p.set_defaults(func=_run, relay_kind=kind)


def _slice_us(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value != 0 and not 100 <= value <= 100_000:
        raise argparse.ArgumentTypeError(
            f"--slice-us {text!r}: an integer from 100 to 100000 (microseconds), or 0"
        )
    return value


def _stats_line(relay: Any) -> str:
    return "stats " + json.dumps(asdict(relay.stats), default=str)


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from netem_profiles import (
        TcpRelay,
        UdpRelay,
        check_loopback,
        load_profile,
        new_event_loop,
        parse_hostport,
        request_realtime,
        request_short_slice,
        set_timer_slack_ns,
    )

    listen = parse_hostport(args.listen, "--listen")
    target = parse_hostport(args.target, "--to")
    check_loopback(listen[0], "--listen", args.allow_remote)
    check_loopback(target[0], "--to", args.allow_remote)
    profile = load_profile(args.profile, origin=args.origin)
    if args.allow_remote:
        print(
            f"warning: relaying real traffic from {listen[0]}:{listen[1]} to "
            f"{target[0]}:{target[1]} through profile {profile.name!r}",
            file=sys.stderr,
        )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        relay: UdpRelay | TcpRelay
        if args.relay_kind == "udp-relay":
            relay = UdpRelay(profile, listen, target, rng=args.seed)
        else:
            relay = TcpRelay(profile, listen, target, rng=args.seed)
        host, port = await relay.start()
        print(
            f"{args.relay_kind} listening on {host}:{port} -> {target[0]}:{target[1]} "
            f"profile {profile.name!r} (rtt {profile.rtt_ms:g} ms)",
            flush=True,
        )
        deadline = None if args.duration is None else loop.time() + args.duration
        while not stop.is_set():
            timeout = args.stats_every or None
            if deadline is not None:
                left = deadline - loop.time()
                if left <= 0:
                    break
                timeout = min(timeout, left) if timeout else left
            try:
                await asyncio.wait_for(stop.wait(), timeout)
            except TimeoutError:
                if args.stats_every:
                    print(_stats_line(relay), flush=True)
        if isinstance(relay, UdpRelay):
            relay.close()
        else:
            await relay.close()
        print(_stats_line(relay), flush=True)

    set_timer_slack_ns(1000)
    realtime = args.realtime and request_realtime()
    if args.realtime and not realtime:
        print(
            "warning: --realtime refused (needs root or CAP_SYS_NICE); running normally",
            file=sys.stderr,
        )
    if args.slice_us and not realtime:
        got = request_short_slice(args.slice_us * 1000)
        if got != args.slice_us * 1000:
            print(
                f"note: the kernel kept its own time slice ({got} ns) instead of "
                f"{args.slice_us} µs (EEVDF custom slices need Linux >= 6.12)",
                file=sys.stderr,
            )
    loop = new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    return 0
