"""Network profiles as data, and user-space packet impairment with netem's semantics.

One `Profile` (per direction: delay, jitter and its distribution, correlation, random or
Gilbert-Elliott loss, duplication, reordering, rate, queue limit) feeds three consumers: the
model's per-viewer sampler (`sample_paths`), the user-space packet scheduler that impairs real
traffic (`ImpairmentScheduler` and the relays), and the kernel `tc` renderer (`render_tc`).
See docs/netem.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from livelab.lazy import lazy_names

# Bound now, not lazily: the function shares its module's name, and importing the module
# `netem_profiles.compose` (as the loader does) would otherwise leave the module in its place.
from netem_profiles.compose import compose

if TYPE_CHECKING:
    from netem_profiles.datagram import ImpairedDatagramTransport, impair_endpoint
    from netem_profiles.loader import list_profiles, load_file, load_profile
    from netem_profiles.model import Direction, GilbertElliott, Profile, ViewerSpread
    from netem_profiles.netio import check_loopback, free_port, is_loopback, parse_hostport
    from netem_profiles.sampler import PathSample, sample_paths
    from netem_profiles.scheduler import ImpairmentScheduler
    from netem_profiles.spec import parse_spec
    from netem_profiles.tc import render_tc
    from netem_profiles.tcp_relay import TcpRelay
    from netem_profiles.timing import (
        new_event_loop,
        request_realtime,
        request_short_slice,
        set_timer_slack_ns,
    )
    from netem_profiles.udp_relay import UdpRelay

__all__ = [
    "Direction",
    "GilbertElliott",
    "ImpairedDatagramTransport",
    "ImpairmentScheduler",
    "PathSample",
    "Profile",
    "TcpRelay",
    "UdpRelay",
    "ViewerSpread",
    "check_loopback",
    "compose",
    "free_port",
    "impair_endpoint",
    "is_loopback",
    "list_profiles",
    "load_file",
    "load_profile",
    "new_event_loop",
    "parse_hostport",
    "parse_spec",
    "render_tc",
    "request_realtime",
    "request_short_slice",
    "sample_paths",
    "set_timer_slack_ns",
]

# Public name → the module that defines it; loaded on first use so that importing one small
# module of the package (or the package itself) stays light.
_HOME: dict[str, str] = {
    "list_profiles": "loader",
    "load_file": "loader",
    "load_profile": "loader",
    "Direction": "model",
    "GilbertElliott": "model",
    "Profile": "model",
    "ViewerSpread": "model",
    "PathSample": "sampler",
    "sample_paths": "sampler",
    "parse_spec": "spec",
    "render_tc": "tc",
    "check_loopback": "netio",
    "free_port": "netio",
    "is_loopback": "netio",
    "parse_hostport": "netio",
    "ImpairmentScheduler": "scheduler",
    "TcpRelay": "tcp_relay",
    "UdpRelay": "udp_relay",
    "ImpairedDatagramTransport": "datagram",
    "impair_endpoint": "datagram",
    "new_event_loop": "timing",
    "request_realtime": "timing",
    "request_short_slice": "timing",
    "set_timer_slack_ns": "timing",
}


__getattr__, __dir__ = lazy_names(__name__, _HOME, __all__)
