"""The reference stack of a chaos run: one ledger file, one secret, one port, many lives.

`CrashingStack.start()` launches `livelab stack serve` (the command line of `livelab run`,
`loadgen.run.commands.stack_command`) in its own process group; `crash()` sends SIGKILL to that
group and starts it again at once on the same port, SQLite ledger and token secret, so the
viewers' tokens and Idempotency-Keys stay valid and only the crash itself is tested. Times are
epoch seconds (`clock`), comparable with the viewers' event log.
"""

from __future__ import annotations

import secrets
import signal
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from livelab.errors import RunError
from loadgen.run.commands import stack_command
from loadgen.run.procs import Children

__all__ = ["CrashingStack"]


class CrashingStack:
    """See the module docstring. `workdir` holds the ledger, the ready file and the logs."""

    def __init__(
        self,
        workdir: Path,
        *,
        room: str = "demo",
        every_s: float = 60.0,
        extra: tuple[str, ...] = (),
        media: bool = False,
        ready_timeout_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.workdir = workdir
        self.db = workdir / "stack_ledger.sqlite"
        self.secret = secrets.token_hex(16)
        self.ready = workdir / "logs" / "stack.ready"
        self.ready_timeout_s = ready_timeout_s
        self.clock = clock
        self.children = Children()
        self.lives = 0
        self.base_url = ""
        # No media host unless asked (`media`): a chaos run tests orders and sockets, and a
        # restart without the encoder is quicker, so the outage measures the stack itself.
        host = () if media else ("--publisher", "none")
        self.cmd = stack_command(
            self.ready, room=room, db=self.db, secret=self.secret, mini_peak_every_s=every_s,
            announce_ahead_s=every_s / 3.0, think_time_s=2.0, extra=(*host, *extra),
        )  # fmt: skip

    @property
    def port(self) -> int:
        return int(urlsplit(self.base_url).port or 0) if self.base_url else 0

    def start(self) -> float:
        """Start a life on the current port (any free one the first time); returns the epoch
        second it was ready. RunError if it exits or is not ready within the timeout."""
        cmd = list(self.cmd)
        cmd[cmd.index("--port") + 1] = str(self.port)
        self.ready.unlink(missing_ok=True)
        self.lives += 1
        child = self.children.start("stack", cmd, self.workdir / "logs" / f"stack-{self.lives}.log")
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            text = self.ready.read_text().strip() if self.ready.is_file() else ""
            if text:
                self.base_url = text
                return self.clock()
            if not child.running:
                raise RunError(f"the stack (life {self.lives}) exited before it was ready:\n"
                               f"{child.log_tail()}")  # fmt: skip
            time.sleep(0.02)
        raise RunError(f"the stack (life {self.lives}) was not ready within "
                       f"{self.ready_timeout_s:g} s")  # fmt: skip

    def crash(self) -> tuple[float, float]:
        """`kill -9` the stack's process group, then start it again: (killed_at, ready_at)."""
        killed_at = self.clock()
        self.children.stop("stack", signal.SIGKILL, timeout_s=5.0)
        return killed_at, self.start()

    def stop(self) -> None:
        """Graceful end (SIGTERM: the ledger checkpoints its WAL)."""
        self.children.stop_all(timeout_s=15.0)
