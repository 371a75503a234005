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


def write_model_run(root: Path) -> Path:
    """A model-style run: metrics.json (with profiles and referral_k), viewers.npz, timeseries.

    Six viewers in ID (market 0) and four in GB (market 1), with known outcomes.
    """
    root.mkdir(parents=True, exist_ok=True)
    doc = new_document({"seed": 42, "scenario_hash": "h", "version": "test"})
    doc["overall"]["referral_k"] = scalar(0.25)
    doc["overall"]["retention_30s"] = scalar(0.5)
    doc["markets"]["ID"] = {
        "referral_k": scalar(0.4),
        "retention_30s": scalar(0.5, (0.4, 0.6)),
        "arrivals": scalar(6),
    }
    doc["markets"]["GB"] = {"referral_k": scalar(0.1), "arrivals": scalar(4)}
    doc["profiles"]["ID-4g"] = {
        "freeze_ratio": {"p50": 0.0, "p95": 0.08, "p99": 0.1, "mean": 0.02, "n": 6}
    }
    doc["profiles"]["GB-wifi"] = {"freeze_ratio": scalar(0.001)}
    (root / "metrics.json").write_text(dumps(doc), "utf-8")
    np.savez(
        root / "viewers.npz",
        market=np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1], dtype=np.int16),
        market_names=np.array(["ID", "GB"]),
        access=np.array([1, 1, 0, 0, 2, 1, 0, 0, 0, 1], dtype=np.int8),
        access_names=np.array(["wifi", "4g", "5g"]),
        arrival_s=np.array([0.0, 5, 10, 20, 40, 80, 0, 30, 60, 90]),
        watch_s=np.array([0.0, 2, 40, 400, 29.9, 30, 0, 100, 3, 5000]),
        abandoned=np.array([1, 0, 0, 0, 0, 0, 1, 0, 0, 0], dtype=bool),
        trusted=np.array([0, 0, 1, 1, 0, 1, 0, 1, 0, 1], dtype=bool),
        ordered=np.array([0, 0, 0, 1, 0, 1, 0, 0, 0, 1], dtype=bool),
        generation=np.array([0, 0, 0, 1, 1, 2, 0, 0, 0, 1], dtype=np.int16),
        chat_rtt_ms=np.array([np.nan, 100, 200, 300, 400, 500, np.nan, 150, 250, 350]),
        join_ms=np.array([900.0, 800, 700, 600, 500, 400, 300, 200, 100, 50]),
    )
    lines = ["t_s,market,concurrent,arrivals,chat_per_s"]
    for step in range(6):
        lines.append(f"{step * 10},ID,{step},{1},{0.5}")
        lines.append(f"{step * 10},GB,{2 * step},{1},{0.25}")
    (root / "timeseries.csv").write_text("\n".join(lines) + "\n", "utf-8")
    return root
