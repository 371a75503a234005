"""Network profiles as data, and user-space packet impairment with netem's semantics.

One `Profile` (per direction: delay, jitter and its distribution, correlation, random or
Gilbert-Elliott loss, duplication, reordering, rate, queue limit) feeds three consumers: the
model's per-viewer sampler (`sample_paths`), the user-space packet scheduler that impairs real
traffic (`ImpairmentScheduler` and the relays), and the kernel `tc` renderer (`render_tc`).
See docs/netem.md.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Public name → the module that defines it; loaded on first use so that importing one small
# module of the package (or the package itself) stays light.
_HOME: dict[str, str] = {
    "compose": "compose",
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
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
