"""Run directories with known contents, written with the real metrics helpers (tests only)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from reports.metrics import distribution, dumps, new_document, replicated, scalar

GATED_SCENARIO = """
[scenario]
name = "gated"
seed = 7

[stream]
start_utc = "2026-11-11T12:00:00Z"
duration_min = 10

[[markets]]
code = "ID"
tz = "Asia/Jakarta"
audience = 1000
access = {{ wifi = 0.5, "4g" = 0.5 }}

[[markets]]
code = "GB"
tz = "Europe/London"
audience = 1000
access = {{ wifi = 1.0 }}

[gates]
{gates}
"""


def chat_samples(seed: int, shift_ms: float = 0.0, n: int = 400) -> dict[str, np.ndarray]:
    """chat_rtt_ms samples over 600 s in two markets; ~10 % are slow, 2 % are errors."""
    rng = np.random.default_rng(seed)
    t_s = np.sort(rng.uniform(0, 600, n))
    value = rng.gamma(4.0, 25.0, n) + shift_ms
    market = np.where(np.arange(n) % 2 == 0, "ID", "GB")
    ok = rng.uniform(size=n) > 0.02
    value[~ok] = np.nan
    return {"t_s": t_s, "value": value, "market": market, "ok": ok}


def write_run(
    root: Path,
    *,
    seed: int = 1,
    shift_ms: float = 0.0,
    valid: bool = True,
    retention: float = 0.6,
    arrivals: int = 2000,
    replications: list[float] | None = None,
    samples: bool = True,
) -> Path:
    """A run directory: metrics.json, samples.npz, events.json and timeseries.csv."""
    root.mkdir(parents=True, exist_ok=True)
    chat = chat_samples(seed, shift_ms)
    doc = new_document({"seed": seed, "scenario_hash": "x", "version": "test", "valid": valid})
    if not valid:
        doc["meta"]["notes"] = ["generator saturated: loadgen_cpu 0.97 > 0.90"]
    good = chat["ok"]
    doc["overall"]["chat_rtt_ms"] = distribution(chat["value"][good])
    doc["overall"]["retention_30s"] = (
        replicated(replications) if replications else scalar(retention)
    )
    doc["overall"]["arrivals"] = scalar(arrivals)
    doc["overall"]["error_rate"] = {"value": float((~good).mean()), "n": int(good.size)}
    if replications:
        doc["meta"]["replications"] = len(replications)
    for code in ("ID", "GB"):
        pick = good & (chat["market"] == code)
        doc["markets"][code] = {
            "chat_rtt_ms": distribution(chat["value"][pick]),
            "retention_30s": scalar(retention),
            "arrivals": scalar(arrivals / 2),
        }
    doc["profiles"]["ID-4g"] = {"g2g_latency_ms": distribution([200.0, 300.0, 400.0, 900.0])}
    doc["with_measured_qoe"] = {"overall": {"retention_30s": scalar(retention - 0.1)}}
    (root / "metrics.json").write_text(dumps(doc), "utf-8")
    if samples:
        np.savez(
            root / "samples.npz",
            **{f"chat_rtt_ms.{k}": v for k, v in chat.items()},
        )
    events = [
        {"kind": "lottery", "announce_s": 100.0, "start_s": 200.0, "end_s": 300.0},
        {"kind": "poll", "announce_s": 400.0, "start_s": 450.0, "end_s": 500.0},
    ]
    (root / "events.json").write_text(json.dumps({"events": events}), "utf-8")
    lines = ["t_s,market,concurrency,arrivals"]
    for step in range(60):
        for i, code in enumerate(("ID", "GB")):
            lines.append(f"{step * 10},{code},{100 + step * (i + 1)},{5 + i}")
    (root / "timeseries.csv").write_text("\n".join(lines) + "\n", "utf-8")
    return root


RunFactory = Callable[..., Path]
