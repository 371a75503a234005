"""Child processes of a run, each in its own process group, so every one of them (and its own
children: Locust workers, panel processes) can be stopped as a whole and none is orphaned."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Child", "Children"]


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Children:
    """The processes a run started, by name; `stop_all` ends them, newest first."""

    items: dict[str, Child] = field(default_factory=dict)

    def start(
        self, name: str, cmd: Sequence[str], log_path: Path, env: dict[str, str] | None = None
    ) -> Child:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                list(cmd),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # own process group: Ctrl-C reaches us, we stop them
            )
        child = Child(name, proc, log_path)
        self.items[name] = child
        return child

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout_s: float = 10.0) -> int | None:
        """Signal the child's group, wait up to `timeout_s`, then SIGKILL the group."""
        child = self.items.get(name)
        if child is None:
            return None
        if child.running:
            child.signal_group(sig)
            try:
                child.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                child.signal_group(signal.SIGKILL)
                child.proc.wait(timeout=10)
        # Whatever the leader left behind in its group goes too.
        child.signal_group(signal.SIGKILL)
        return child.proc.returncode

    def stop_all(self, timeout_s: float = 10.0) -> None:
        for name in reversed(list(self.items)):
            self.stop(name, timeout_s=timeout_s)

    def wait(self, name: str, timeout_s: float) -> int | None:
        """Exit code, or None if still running after `timeout_s`."""
        child = self.items[name]
        deadline = time.monotonic() + timeout_s
        while child.running and time.monotonic() < deadline:
            time.sleep(0.1)
        return child.proc.poll()
