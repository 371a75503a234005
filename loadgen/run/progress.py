"""The run's progress display: phase, elapsed/remaining, users, panel viewers, live p95s.

A rich live table on a terminal; otherwise one plain line every `PLAIN_EVERY_S` seconds (CI logs).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Progress", "Status"]

PLAIN_EVERY_S = 10.0
_SHOWN = ("join_ms", "chat_rtt_ms", "answer_ms", "order_ms", "vote_ack_ms")


@dataclass
class Status:
    """What the display shows; the orchestrator updates it."""

    phase: str = "starting"
    elapsed_s: float = 0.0
    remaining_s: float | None = None
    users: int = 0
    active: int = 0
    scripts: int = 0
    started: int = 0
    panel_viewers: int = 0
    errors: int = 0
    samples: int = 0
    target_down: bool = False
    p95: dict[str, float] = field(default_factory=dict)

    def update_from_live(self, live: Mapping[str, Any]) -> None:
        self.users = int(live.get("users", 0))
        self.active = int(live.get("active", 0))
        self.scripts = int(live.get("scripts", 0))
        self.started = int(live.get("started", 0))
        self.errors = int(live.get("errors", 0))
        self.samples = int(live.get("samples", 0))
        self.p95 = dict(live.get("p95", {}))

    def line(self) -> str:
        left = "" if self.remaining_s is None else f", {self.remaining_s:.0f} s left"
        p95 = " ".join(
            f"{k.removesuffix('_ms')}={v:.0f}" for k, v in self.p95.items() if k in _SHOWN
        )
        down = " TARGET DOWN" if self.target_down else ""
        return (
            f"[{self.phase}] {self.elapsed_s:.0f} s{left} | users {self.users}, viewers "
            f"{self.active} active / {self.started} of {self.scripts} started, panel "
            f"{self.panel_viewers} | samples {self.samples}, errors {self.errors} | p95 ms: "
            f"{p95 or '-'}{down}"
        )


class Progress:
    """Context manager; call `refresh()` as often as you like."""

    def __init__(
        self,
        status: Status,
        clock: Callable[[], float],
        live: bool | None = None,
        console: Any = None,
    ) -> None:
        self.status = status
        self.clock = clock
        self.live = sys.stderr.isatty() if live is None else live
        self.console = console  # a rich Console; default: stderr
        self._rich: Any = None
        self._last_plain = -1e9

    def __enter__(self) -> Progress:
        if self.live:
            from rich.console import Console
            from rich.live import Live

            console = self.console or Console(stderr=True)
            self._rich = Live(self._table(), console=console, refresh_per_second=4)
            self._rich.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._rich is not None:
            self._rich.update(self._table())
            self._rich.__exit__(None, None, None)
            self._rich = None

    def _table(self) -> Any:
        from rich.table import Table

        s = self.status
        table = Table(title="livelab run", show_header=False, box=None)
        table.add_row("phase", s.phase + ("  [red]target down[/red]" if s.target_down else ""))
        left = "-" if s.remaining_s is None else f"{s.remaining_s:.0f} s"
        table.add_row("time", f"{s.elapsed_s:.0f} s elapsed, {left} remaining")
        table.add_row(
            "load", f"{s.users} Locust users, {s.active} viewers active, "
            f"{s.started}/{s.scripts} scripts started, {s.panel_viewers} panel viewers",
        )  # fmt: skip
        table.add_row("samples", f"{s.samples} ({s.errors} errors)")
        table.add_row(
            "p95", "  ".join(f"{k} {v:.1f}" for k, v in s.p95.items() if k in _SHOWN) or "-"
        )
        return table

    def refresh(self) -> None:
        if self._rich is not None:
            self._rich.update(self._table())
            return
        now = self.clock()
        if now - self._last_plain >= PLAIN_EVERY_S:
            self._last_plain = now
            print(self.status.line(), file=sys.stderr, flush=True)

    def say(self, text: str) -> None:
        """A message above the live display (or a plain line)."""
        if self._rich is not None:
            self._rich.console.print(text)
        else:
            print(text, file=sys.stderr, flush=True)
