"""Which stretch of the modelled stream a load run replays, in real time.

`--window peak` (the default) picks the `length_s`-second stretch whose score is highest, where
the score of a stretch is its mean concurrency divided by the best mean concurrency of any
stretch, plus its mean interaction message rate (chat, likes, votes, questions per second from
`timeseries.csv`) divided by the best mean message rate. A stretch that holds both the most
viewers and a mini-peak's message burst scores near 2. Candidate starts step by 10 s (the
time series' step); ties go to the earliest. `full` replays the whole stream; `START-END`
replays that range (seconds from the stream start).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from livelab.errors import ConfigError, PlanError, Problem

__all__ = ["STEP_S", "Window", "choose_window", "concurrency_per_second", "parse_window"]

STEP_S = 10.0


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
    """("peak"|"full"|"range", start, end) from a `--window` value; ConfigError (exit 2) when
    malformed."""
    if spec in ("peak", "full"):
        return spec, 0.0, 0.0
    start_text, sep, end_text = spec.partition("-")
    try:
        start, end = float(start_text), float(end_text)
    except ValueError:
        start = end = -1.0
    if not sep or start < 0 or end <= start:
        raise ConfigError(
            [Problem("--window", "", spec, "peak, full, or START-END in s from stream start")]
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
) -> Window:
    """The window named by `spec` (see the module docstring for the peak rule)."""
    kind, start, end = parse_window(spec)
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
