"""livelab's own Locust options, and the `LOCUST_…` environment variable of each.

Helm charts and Locust's Kubernetes operator configure Locust by environment, so every
`--livelab-…` option can also come from `LOCUST_LIVELAB_…`, the way Locust's own options do
(`env_var=` of its configargparse parser); a command-line value wins over the environment.
Standard library only: the orchestrator and the tests read this without importing Locust.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LIVELAB_OPTIONS", "env_var"]

# (option, argparse keyword arguments); registered by `loadgen.locust.runtime`.
LIVELAB_OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--livelab-plan", {"default": "", "help": "plan.json to replay"}),
    ("--livelab-room", {"default": "demo", "help": "room to join"}),
    ("--livelab-out", {"default": "", "help": "directory for samples.json, live.json"}),
    ("--livelab-workers", {"type": int, "default": 1, "help": "workers sharing the plan"}),
    ("--livelab-relays", {"default": "", "help": "JSON profile → host:port for WS"}),
    ("--livelab-linger-s", {"type": float, "default": 5.0, "help": "wait for replies, s"}),
    ("--livelab-adapter", {"default": "", "help": "package.module:Class of the API"}),
)


def env_var(option: str) -> str:
    """`--livelab-plan` → `LOCUST_LIVELAB_PLAN`."""
    return "LOCUST_" + option.lstrip("-").replace("-", "_").upper()
