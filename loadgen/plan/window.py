"""Which stretch of the modelled stream a load run replays, in real time.

`--window peak` (the default) picks the `length_s`-second stretch whose score is highest, where
the score of a stretch is its mean concurrency divided by the best mean concurrency of any
stretch, plus its mean interaction message rate (chat, likes, votes, questions per second from
`timeseries.csv`) divided by the best mean message rate. A stretch that holds both the most
viewers and a mini-peak's message burst scores near 2. Candidate starts step by 10 s (the
time series' step); ties go to the earliest. `full` replays the whole stream; `START-END`
replays that range (seconds from the stream start).

A named mini-peak — `lottery_N`, `flash_deal_N`, `poll_N`, `cohost_N` (the N-th host event of
that kind, from 1) or `mini_peak_N` (the N-th of any kind) — replays the `length_s` seconds that
start `length_s / LEAD_FRACTION` before the event starts (the last countdown and the rush in), on
the 10-s grid, shifted to stay inside the stream. The mini-peak is where the model concentrates its
interactions: viewers present at a poll vote, a flash deal raises the purchase share, a lottery
the share rate, and mini-peaks hold viewers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from livelab.errors import ConfigError, PlanError, Problem

__all__ = [
    "EVENT_KINDS", "LEAD_FRACTION", "STEP_S", "Window", "choose_window",
    "concurrency_per_second", "event_window", "parse_window",
]  # fmt: skip

STEP_S = 10.0
# A named window opens 1/6 of its length before its event: 30 s of a 180-s window.
LEAD_FRACTION = 6.0
EVENT_KINDS = ("lottery", "flash_deal", "poll", "cohost", "mini_peak")
_NAMED = re.compile(r"^(lottery|flash_deal|poll|cohost|mini_peak)_([1-9][0-9]*)$")


@dataclass(frozen=True)
class Window:
    """[start_s, end_s) of the stream (s from stream start) and how it was chosen."""

    start_s: float
    end_s: float
    rule: str

    @property
    def length_s(self) -> float:
        return self.end_s - self.start_s


def concurrency_per_second(arrival_s: np.ndarray, leave_s: np.ndarray, seconds: int) -> np.ndarray:
    """Viewers present at t = 0, 1, …, seconds-1 (arrived at or before t, not yet left)."""
    t = np.arange(seconds, dtype=float)
    arrived = np.searchsorted(np.sort(arrival_s), t, side="right")
    left = np.searchsorted(np.sort(leave_s), t, side="right")
    return (arrived - left).astype(np.int64)


def _rate_per_second(ts: np.ndarray, rate: np.ndarray, seconds: int) -> np.ndarray:
    """Step function: the rate of the step holding second t (each step holds [t_s, t_s+10))."""
    if ts.size == 0:
        return np.zeros(seconds)
    idx = np.searchsorted(ts, np.arange(seconds, dtype=float), side="right") - 1
    out = np.where(idx >= 0, rate[np.clip(idx, 0, None)], 0.0)
    return np.asarray(out, dtype=float)


def parse_window(spec: str) -> tuple[str, float, float]:
    """("peak"|"full"|"range", start, end), or (event kind, N, 0) for a named mini-peak, from a
    `--window` value; ConfigError (exit 2) when malformed."""
    if spec in ("peak", "full"):
        return spec, 0.0, 0.0
    named = _NAMED.match(spec)
    if named:
        return named.group(1), float(named.group(2)), 0.0
    start_text, sep, end_text = spec.partition("-")
    try:
        start, end = float(start_text), float(end_text)
    except ValueError:
        start = end = -1.0
    if not sep or start < 0 or end <= start:
        raise ConfigError(
            [
                Problem(
                    "--window",
                    "",
                    spec,
                    "peak, full, START-END in s from stream start, or KIND_N with KIND one of "
                    f"{', '.join(EVENT_KINDS)} and N >= 1",
                )
            ]
        )
    return "range", start, end


def choose_window(
    spec: str,
    duration_s: float,
    arrival_s: np.ndarray,
    leave_s: np.ndarray,
    rate_t_s: np.ndarray,
    rate: np.ndarray,
    length_s: float = 120.0,
    events: Sequence[Mapping[str, Any]] = (),
) -> Window:
    """The window named by `spec` (see the module docstring for the rules); `events` are the
    model's host events (kind, start_s in s from stream start) for named mini-peaks."""
    kind, start, end = parse_window(spec)
    if kind in EVENT_KINDS:
        return event_window(kind, int(start), events, duration_s, length_s)
    if kind == "full":
        return Window(0.0, float(duration_s), "full")
    if kind == "range":
        if start >= duration_s:
            raise PlanError(f"--window {spec!r} starts after the stream ends ({duration_s:g} s)")
        return Window(start, min(end, float(duration_s)), f"range {spec}")
    if duration_s <= length_s:
        return Window(0.0, float(duration_s), "peak (stream shorter than the window: full)")
    seconds = int(np.ceil(duration_s))
    conc = concurrency_per_second(arrival_s, leave_s, seconds).astype(float)
    msgs = _rate_per_second(rate_t_s, rate, seconds)
    length = round(length_s)
    starts = np.arange(0, seconds - length + 1, int(STEP_S))
    csum_c = np.concatenate([[0.0], np.cumsum(conc)])
    csum_m = np.concatenate([[0.0], np.cumsum(msgs)])
    mean_c = (csum_c[starts + length] - csum_c[starts]) / length
    mean_m = (csum_m[starts + length] - csum_m[starts]) / length
    score = mean_c / mean_c.max() if mean_c.max() > 0 else np.zeros_like(mean_c)
    if mean_m.max() > 0:
        score = score + mean_m / mean_m.max()
    best = int(starts[int(np.argmax(score))])  # argmax takes the first maximum: earliest
    return Window(
        float(best),
        float(best + length),
        f"peak: {length} s maximising mean concurrency/best + mean message rate/best",
    )


def event_window(
    kind: str,
    n: int,
    events: Sequence[Mapping[str, Any]],
    duration_s: float,
    length_s: float,
) -> Window:
    """The `length_s` window around the `n`-th (from 1) host event of `kind` ("mini_peak": any
    kind); PlanError naming the events there are when there is no such event."""
    matching = sorted(
        (e for e in events if kind == "mini_peak" or e.get("kind") == kind),
        key=lambda e: float(e["start_s"]),
    )
    if n > len(matching):
        counts: dict[str, int] = {}
        for e in sorted(events, key=lambda e: float(e["start_s"])):
            counts[str(e.get("kind"))] = counts.get(str(e.get("kind")), 0) + 1
        have = ", ".join(f"{k}_1…{k}_{c}" if c > 1 else f"{k}_1" for k, c in counts.items())
        raise PlanError(
            f"--window {kind}_{n}: the model's stream has {len(matching)} "
            f"{'mini-peaks' if kind == 'mini_peak' else kind + ' events'}"
            f" (host events: {have or 'none'})"
        )
    event = matching[n - 1]
    at = float(event["start_s"])
    length = min(float(length_s), float(duration_s))
    lead = np.floor(length / LEAD_FRACTION / STEP_S) * STEP_S
    begin = min(max(at - lead, 0.0), float(duration_s) - length)
    return Window(
        float(begin),
        float(begin + length),
        f"{kind}_{n}: {length:g} s from {at - begin:g} s before the {event.get('kind')}"
        f" at {at:g} s",
    )
