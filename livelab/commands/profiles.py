"""`livelab profiles list|show|tc`: browse the network profiles and render them for `tc`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from livelab.clihelp import examples


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "profiles",
        help="list, show and render network profiles",
        epilog=examples("livelab profiles list", "livelab profiles show ID-4g"),
    )
    sub = parser.add_subparsers(dest="profiles_command", metavar="ACTION", required=True)

    p_list = sub.add_parser(
        "list", help="list the named profiles", epilog=examples("livelab profiles list")
    )
    p_list.set_defaults(func=_list)

    p_show = sub.add_parser(
        "show",
        help="show one profile (name, MARKET-LASTMILE or tc spec)",
        epilog=examples(
            "livelab profiles show ID-4g",
            "livelab profiles show SA-wifi --origin hangzhou --json",
            "livelab profiles show 'delay 100ms 20ms loss 1%'",
        ),
    )
    p_show.add_argument("name", help="profile name, MARKET-LASTMILE or inline tc netem spec")
    p_show.add_argument("--origin", default="hk", help="origin for MARKET-LASTMILE (hk, hangzhou)")
    p_show.add_argument("--json", action="store_true", help="print JSON")
    p_show.set_defaults(func=_show)

    p_check = sub.add_parser(
        "check",
        help="validate profile files (exit 2 when invalid)",
        epilog=examples("livelab profiles check netem_profiles/data/lastmile/4g.toml"),
    )
    p_check.add_argument("files", nargs="+", metavar="FILE", help="profile file (TOML)")
    p_check.set_defaults(func=_check)

    p_tc = sub.add_parser(
        "tc",
        help="print the equivalent tc qdisc commands",
        epilog=examples("livelab profiles tc ID-4g --dev eth0"),
    )
    p_tc.add_argument("name", help="profile name, MARKET-LASTMILE or inline tc netem spec")
    p_tc.add_argument("--dev", required=True, help="origin-side network interface, e.g. eth0")
    p_tc.add_argument("--origin", default="hk", help="origin for MARKET-LASTMILE (hk, hangzhou)")
    p_tc.add_argument("--ifb", default="ifb0", help="ifb device used for the up direction")
    p_tc.set_defaults(func=_tc)


def _list(args: argparse.Namespace) -> int:
    from netem_profiles import list_profiles, load_profile

    for name in list_profiles():
        profile = load_profile(name)
        print(f"{name:24} {profile.kind:9} rtt {profile.rtt_ms:7.1f} ms  {profile.description}")
    print("\nComposites: MARKET-LASTMILE (e.g. ID-4g, GB-wifi, US-E-5g, hangzhou-ID-slow-4g);")
    print("inline specs: 'delay 100ms 20ms distribution normal loss 1% rate 2mbit'.")
    return 0


def _direction_lines(label: str, d: Any) -> list[str]:
    rate = "unlimited" if d.rate_kbit is None else f"{d.rate_kbit:g} kbit/s"
    loss = (
        f"GE p={d.ge.p:g} r={d.ge.r:g} 1-h={d.ge.bad_loss:g} 1-k={d.ge.good_loss:g} "
        f"(mean {d.mean_loss * 100:.3g} %, burst {d.mean_burst_len:.3g} pkts)"
        if d.ge is not None
        else f"{d.loss * 100:.3g} % (corr {d.loss_corr * 100:.3g} %)"
    )
    return [
        f"{label}:",
        f"  delay      {d.delay_ms:g} ms, jitter {d.jitter_ms:g} ms {d.distribution} "
        f"(sd {d.delay_sd_ms:.3g} ms, corr {d.delay_corr * 100:.3g} %)",
        f"  loss       {loss}",
        f"  duplicate  {d.duplicate * 100:.3g} %   reorder {d.reorder * 100:.3g} % "
        f"(corr {d.reorder_corr * 100:.3g} %, gap {d.reorder_gap})",
        f"  rate       {rate}, queue limit {d.limit_pkts} packets",
    ]


def _show(args: argparse.Namespace) -> int:
    from netem_profiles import load_profile

    profile = load_profile(args.name, origin=args.origin)
    if args.json:
        print(json.dumps(profile.to_dict(), indent=2, default=str))
        return 0
    lines = [f"{profile.name} ({profile.kind}) — round trip {profile.rtt_ms:g} ms"]
    if profile.description:
        lines.append(f"  {profile.description}")
    lines.append(f"  source: {profile.source}")
    if profile.congested_hours:
        lines.append(f"  congested hours (local): {profile.congested_hours}")
    lines += _direction_lines("down (origin → viewer)", profile.down)
    lines += _direction_lines("up (viewer → origin)", profile.up)
    s = profile.spread
    lines.append(
        f"spread between viewers: rtt sd {s.rtt_sd_ms:g} ms, jitter cv {s.jitter_cv:g}, "
        f"loss cv {s.loss_cv:g}, bandwidth cv {s.bw_cv:g}"
    )
    print("\n".join(lines))
    return 0


def _check(args: argparse.Namespace) -> int:
    from livelab.errors import ProfileError
    from netem_profiles.loader import check_file

    problems = []
    for file in args.files:
        try:
            profiles = check_file(file)
        except ProfileError as exc:
            problems += exc.problems
            continue
        names = ", ".join(f"{p.name} (rtt {p.rtt_ms:g} ms)" for p in profiles)
        print(f"{file}: ok — {names}")
    if problems:
        raise ProfileError(problems)
    return 0


def _tc(args: argparse.Namespace) -> int:
    from netem_profiles import load_profile, render_tc

    print("\n".join(render_tc(load_profile(args.name, origin=args.origin), args.dev, ifb=args.ifb)))
    return 0
