"""Check `--adapter` / `[load] adapter` before the model runs and before any load starts.

The class is imported in a child interpreter (`python -m loadgen.locust.adapter_load`): a team's
adapter imports gevent or its own client libraries, and the orchestrator must stay free of them.
"""

from __future__ import annotations

import json
import subprocess
import sys

from livelab.errors import ConfigError, Problem

__all__ = ["CHECK_TIMEOUT_S", "check_adapter"]

CHECK_TIMEOUT_S = 60.0


def check_adapter(spec: str, source: str = "--adapter") -> None:
    """Return if `spec` names a complete adapter class; ConfigError (exit 2) naming it and
    what is wrong otherwise. `source` says where the spec came from, for the message."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "loadgen.locust.adapter_load", spec],
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        raise ConfigError(
            [Problem(source, "", spec, f"an adapter that imports within {CHECK_TIMEOUT_S:g} s")]
        ) from exc
    lines = proc.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else {}
    except ValueError:
        answer = {}
    if proc.returncode == 0 and answer.get("ok"):
        return
    reason = answer.get("error") or (proc.stderr.strip().splitlines() or ["no answer"])[-1]
    raise ConfigError(
        [Problem(source, "", spec, f"a loadable adapter class (docs/adapters.md): {reason}")]
    )
