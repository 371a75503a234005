"""Network profiles as data, and user-space packet impairment with netem's semantics.

One `Profile` (per direction: delay, jitter and its distribution, correlation, random or
Gilbert-Elliott loss, duplication, reordering, rate, queue limit) feeds three consumers: the
model's per-viewer sampler (`sample_paths`), the user-space packet scheduler that impairs real
traffic (`ImpairmentScheduler` and the relays), and the kernel `tc` renderer (`render_tc`).
See docs/netem.md.
"""

from __future__ import annotations

from netem_profiles.compose import compose
from netem_profiles.loader import list_profiles, load_file, load_profile
from netem_profiles.model import Direction, GilbertElliott, Profile, ViewerSpread
from netem_profiles.sampler import PathSample, sample_paths
from netem_profiles.spec import parse_spec
from netem_profiles.tc import render_tc

__all__ = [
    "Direction",
    "GilbertElliott",
    "PathSample",
    "Profile",
    "ViewerSpread",
    "compose",
    "list_profiles",
    "load_file",
    "load_profile",
    "parse_spec",
    "render_tc",
    "sample_paths",
]
