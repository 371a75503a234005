"""Stack configuration: one frozen dataclass, validated at the edge (CLI or `running_stack`)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from livelab.durations import parse_duration as _parse_duration
from livelab.errors import ConfigError, Problem
from netem_profiles import netio

__all__ = ["FAULT_KEYS", "StackOptions", "parse_duration", "parse_faults", "parse_peaks"]

# Fault name -> (lowest, highest) allowed value.
FAULT_KEYS: dict[str, tuple[float, float]] = {
    "chat_delay_ms": (0.0, 60_000.0),
    "error_rate": (0.0, 1.0),
    "drop_ws": (0.0, 1.0),
    "ledger_read_only": (0.0, 1.0),
}


def parse_duration(text: str, source: str = "--mini-peak-every") -> float:
    """'15m', '90s', '1m30s', '500ms', '2h' or a plain number of seconds → seconds (> 0).

    The lab's one duration syntax (`livelab.durations`); kept here under its old name."""
    return _parse_duration(text, source)


def parse_faults(items: list[str], source: str = "--fault") -> dict[str, float]:
    """['chat_delay_ms=800', 'error_rate=0.02'] → {'chat_delay_ms': 800.0, ...}."""
    faults: dict[str, float] = {}
    problems = []
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or key not in FAULT_KEYS:
            problems.append(Problem(source, key, item, f"one of {sorted(FAULT_KEYS)} as K=V"))
            continue
        lo, hi = FAULT_KEYS[key]
        try:
            value = float(raw)
        except ValueError:
            problems.append(Problem(source, key, raw, f"a number in [{lo:g}, {hi:g}]"))
            continue
        if not lo <= value <= hi:
            problems.append(Problem(source, key, value, f"a number in [{lo:g}, {hi:g}]"))
            continue
        faults[key] = value
    if problems:
        raise ConfigError(problems)
    return faults


# Guests a room may have on air at once, at most (each viewer's WHEP offer carries one video and
# one audio m-line per slot; past a handful that is a conference, not a co-host call).
MAX_GUESTS = 4

_PEAK = re.compile(r"^(lottery|flash_deal|poll)@([^+]+)\+(.+)$")


def parse_peaks(text: str, source: str = "--peaks") -> tuple[tuple[str, float, float], ...]:
    """'poll@30s+180s,flash_deal@5m+3m' → ((kind, at_s, open_s), …) sorted by start; the
    durations as `parse_duration` reads them (at 0 allowed: from the room's opening)."""
    peaks = []
    for item in (part.strip() for part in text.split(",") if part.strip()):
        match = _PEAK.match(item)
        if not match:
            allowed = "KIND@START+OPEN with KIND lottery, flash_deal or poll, e.g. poll@30s+3m"
            raise ConfigError([Problem(source, "", item, allowed)])
        at = match.group(2).strip()
        at_s = 0.0 if at.rstrip("ms") in ("0", "0.0") else parse_duration(at, source)
        peaks.append((match.group(1), at_s, parse_duration(match.group(3), source)))
    return tuple(sorted(peaks, key=lambda p: p[1]))


@dataclass(frozen=True)
class StackOptions:
    """Everything `livelab stack serve` can be told. Durations in seconds, rates per second."""

    bind: str = "127.0.0.1"
    port: int = 8080
    allow_remote: bool = False
    db: str = ":memory:"
    host: str = "synthetic"  # "synthetic" | "none"
    room: str = "demo"
    audio: bool = False
    faults: dict[str, float] = field(default_factory=dict)
    admin_token: str | None = None
    secret: str | None = None  # HMAC key for join tokens; random per process when None
    token_ttl_s: float = 3600.0
    mini_peak_every_s: float = 15 * 60.0
    peaks: tuple[tuple[str, float, float], ...] = ()  # fixed (kind, at_s, open_s) instead
    announce_ahead_s: float = 90.0
    think_time_s: float = 3.0
    rate_limit_per_s: float = 20.0
    max_frame_bytes: int = 4096
    batch_tick_ms: float = 100.0
    batch_threshold: int = 50  # rooms with more WS connections than this batch deliveries
    keyframe_interval_s: float = 2.0
    keyframe_min_interval_ms: float = 500.0
    stun: str | None = None
    fault_seed: int = 0
    # Co-host (连麦, docs/protocol.md "Co-host"): guests on air at once per room; a guest whose
    # video stops this long is dropped (a dead connection); an invitation's and an acceptance's
    # lifetimes (accept, then start publishing, within them).
    max_guests: int = 2
    guest_timeout_s: float = 3.0
    invite_ttl_s: float = 30.0
    publish_within_s: float = 15.0

    def validate(self) -> StackOptions:
        """Return self, or raise ConfigError naming every bad option."""
        problems: list[Problem] = []
        try:
            ipaddress.ip_address(self.bind)  # an address, not a name
            if not netio.is_loopback(self.bind) and not self.allow_remote:
                problems.append(
                    Problem("--bind", "", self.bind, "a loopback address, or add --allow-remote")
                )
        except ValueError:
            problems.append(Problem("--bind", "", self.bind, "an IP address, e.g. 127.0.0.1"))
        if not 0 <= self.port <= 65535:
            problems.append(Problem("--port", "", self.port, "0..65535 (0 = any free port)"))
        if self.host not in ("synthetic", "none"):
            problems.append(Problem("--publisher", "", self.host, "synthetic or none"))
        if not re.match(r"^[A-Za-z0-9_-]{1,64}$", self.room):
            problems.append(Problem("--room", "", self.room, "1-64 of [A-Za-z0-9_-]"))
        if self.rate_limit_per_s <= 0:
            problems.append(Problem("--rate-limit", "", self.rate_limit_per_s, "> 0 msg/s"))
        if not 0 <= self.max_guests <= MAX_GUESTS:
            problems.append(Problem("--max-guests", "", self.max_guests, f"0..{MAX_GUESTS}"))
        if not 0.5 <= self.guest_timeout_s <= 4.5:
            # ≤ 4.5 s: a dead guest must be dropped within 5 s (issue 14), checks included.
            problems.append(
                Problem("--guest-timeout", "", self.guest_timeout_s, "0.5..4.5 seconds")
            )
        if self.stun is not None and not self.stun.startswith("stun:"):
            problems.append(Problem("--stun", "", self.stun, "a stun:HOST:PORT URL"))
        if self.announce_ahead_s >= self.mini_peak_every_s:
            problems.append(
                Problem("--announce-ahead", "", self.announce_ahead_s, "< --mini-peak-every")
            )
        if self.faults.get("ledger_read_only", 0) and self.db == ":memory:":
            problems.append(
                Problem(
                    "--fault", "ledger_read_only", 1, "0 with the :memory: ledger, or --db PATH"
                )
            )
        if problems:
            raise ConfigError(problems)
        return self
