"""The run directory of `livelab simulate`: writer and reader.

Layout (later stages read these names):

- `metrics.json` — docs/design.md's one shape (`reports.metrics`); byte-identical for the same
  scenario and seed: no timestamps, no paths inside;
- `scenario.json` — the validated effective scenario (overrides and variant applied);
- `run.json` — kind `"simulate"`, version, seed, scenario hash, command line, replications and
  the creation time (the only wall-clock value of the directory);
- `timeseries.csv` — replication 0, per market, 10-s steps:
  `t_s,market,concurrent,arrivals,chat_per_s,likes_per_s,votes_per_s,questions_per_s,orders_per_min`;
- `viewers.npz` — replication 0's per-viewer arrays, one entry per arrival (`sim.result`
  documents units and dtypes): `market` (index into `markets`), `access` (into `access_names`:
  wifi, 4g, 5g), `profile` (into `profiles`, e.g. `ID-4g`, `ID-evening`), `arrival_s`,
  `start_s`, `leave_s` (s from the stream start), `watch_s`, `referred`, `generation`,
  `abandoned`, `failed`, `join_ms`, `startup_ms`, `g2g_latency_ms`, `chat_rtt_ms`, `answer_ms`,
  `order_ms`, `rebuffer_ratio`, `freeze_per_min`, `resolution`, `kbps`, `fps`, `rtt_ms`,
  `jitter_ms`, `loss`, `trusted`, `ordered`, `order_s`, `shared`, `share_s`, `returned`,
  `repurchased`, the counts `chats`, `likes`, `votes`, `questions`, `shares`, `orders`,
  `invites`, and `gmv` (USD);
- `events.json` — `{"events": [{"kind", "announce_s", "start_s", "end_s"}, ...]}`, seconds from
  the stream start;
- `summary.md` — the headline figures; `plots/*.png` — concurrency per market, retention curves,
  funnel, referral generations: `reports.plots_audience`, the same figures as `livelab report`.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from livelab.errors import ConfigError, Problem

__all__ = ["TIMESERIES_COLUMNS", "Run", "load_run", "write_run"]

TIMESERIES_COLUMNS = ("t_s", "market", "concurrent", "arrivals", "chat_per_s", "likes_per_s",
                      "votes_per_s", "questions_per_s", "orders_per_min")  # fmt: skip
ACCESS_NAMES = ("wifi", "4g", "5g")
_PLOT_FILES = {"referral": "referrals"}  # plot key → file stem in plots/, where they differ


@dataclass(frozen=True)
class Run:
    """A run directory read back. `timeseries` maps column → array (`market` as strings)."""

    path: Path
    metrics: dict[str, Any]
    scenario: dict[str, Any]
    run: dict[str, Any]
    timeseries: dict[str, np.ndarray]
    viewers: dict[str, np.ndarray]
    events: list[dict[str, Any]]
    summary: str
    plots: list[Path] = field(default_factory=list)


def write_run(
    out: str | Path,
    results: Sequence[Any],
    scenario: Any,
    doc: dict[str, Any],
    *,
    command: Sequence[str],
    version: str,
    scenario_hash: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    plots: bool = True,
) -> Path:
    """Write the run directory of `results` (a list of `sim.SimResult`) and return its path.

    `doc` is the metrics document (`sim.metrics_document`). `clock` gives the creation time
    recorded in `run.json`. Existing files of the same names are replaced.
    """
    from reports.metrics import dumps

    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    first = results[0]
    (path / "metrics.json").write_text(dumps(doc), "utf-8")
    effective = scenario.model_dump(mode="json", by_alias=True)
    (path / "scenario.json").write_text(json.dumps(effective, indent=2, sort_keys=True) + "\n")
    info = {
        "kind": "simulate",
        "version": version,
        "seed": scenario.scenario.seed,
        "scenario": scenario.scenario.name,
        "scenario_hash": scenario_hash,
        "replications": len(results),
        "command": list(command),
        "created_utc": clock().isoformat(),
    }
    (path / "run.json").write_text(json.dumps(info, indent=2) + "\n", "utf-8")
    (path / "timeseries.csv").write_text(_timeseries_csv(first), "utf-8")
    arrays = dict(first.viewers)
    arrays["markets"] = np.array(first.markets)
    arrays["profiles"] = np.array(first.profiles)
    arrays["access_names"] = np.array(ACCESS_NAMES)
    _savez(path / "viewers.npz", arrays)
    events = [
        {"kind": e.kind, "announce_s": e.announce_s, "start_s": e.start_s, "end_s": e.end_s}
        for e in first.host_events
    ]
    (path / "events.json").write_text(json.dumps({"events": events}, indent=2) + "\n", "utf-8")
    (path / "summary.md").write_text(_summary(doc, first, info), "utf-8")
    if plots:
        _plots(path / "plots", path)
    return path


def _savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """`np.savez_compressed` at deflate level 1: as small for these arrays, twice as fast."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, array in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asanyarray(array), allow_pickle=False)


def _timeseries_csv(result: Any) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(TIMESERIES_COLUMNS)
    times = result.times_s
    for i, code in enumerate(result.markets):
        columns = [result.series[name][i] for name in TIMESERIES_COLUMNS[2:]]
        for b, t in enumerate(times):
            writer.writerow([f"{t:g}", code, *(f"{c[b]:.6g}" for c in columns)])
    return buf.getvalue()


def _fmt(entry: dict[str, Any] | None, key: str = "value", pct: bool = False) -> str:
    if not entry or entry.get(key) is None:
        return "—"
    value = float(entry[key])
    text = f"{value:.1%}" if pct else f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    ci = entry.get("ci95")
    if ci and key == "value" and ci[0] is not None:
        lo, hi = (f"{c:.1%}" if pct else f"{c:,.4g}" for c in ci)
        text += f" [{lo}, {hi}]"
    return text


_PCT = {"abandon_before_start", "retention_3s", "retention_30s", "retention_5m",
        "interaction_rate", "conversion_rate", "referred_share", "return_rate",
        "repurchase_rate"}  # fmt: skip
_HEADLINE = ("arrivals", "peak_concurrent", "abandon_before_start", "retention_30s", "retention_5m",
             "watch_time_mean_s", "conversion_rate", "gmv", "referral_k")  # fmt: skip
_LATENCIES = ("first_frame_ms", "g2g_latency_ms", "chat_rtt_ms", "answer_ms")


def _summary(doc: dict[str, Any], result: Any, info: dict[str, Any]) -> str:
    lines = [
        f"# {info['scenario']} — simulated",
        "",
        f"Seed {info['seed']}, {info['replications']} replication(s), scenario hash "
        f"`{info['scenario_hash'][:12]}`, livelab {info['version']}. "
        f"{result.duration_s / 60:g} min stream, {len(result.host_events)} mini-peaks.",
        "",
        "| metric | overall | " + " | ".join(result.markets) + " |",
        "|---|---|" + "---|" * len(result.markets),
    ]
    for key in _HEADLINE:
        cells = [_fmt(doc["overall"].get(key), pct=key in _PCT)]
        cells += [_fmt(doc["markets"][c].get(key), pct=key in _PCT) for c in result.markets]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    for key in _LATENCIES:
        cells = [_fmt(doc["overall"].get(key), "p95")]
        cells += [_fmt(doc["markets"][c].get(key), "p95") for c in result.markets]
        lines.append(f"| {key} p95 | " + " | ".join(cells) + " |")
    lines += ["", "Files: metrics.json, timeseries.csv, viewers.npz, events.json, plots/.", ""]
    return "\n".join(lines)


def _plots(folder: Path, run_dir: Path) -> None:
    """The report's audience figures of the directory just written, read back like a report."""
    from reports.plots_audience import AUDIENCE_PLOTS
    from reports.plots_base import png_bytes
    from reports.report_data import load_run as load_run_data

    run = load_run_data(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for key, make in AUDIENCE_PLOTS.items():
        (folder / f"{_PLOT_FILES.get(key, key)}.png").write_bytes(png_bytes(make(run), dpi=100))


def load_run(path: str | Path) -> Run:
    """Read a run directory written by `write_run`. Raises `ConfigError` when it is not one."""
    where = Path(path)
    if not (where / "metrics.json").is_file():
        raise ConfigError(
            [Problem(str(where), "", str(where), "a run directory with metrics.json")]
        )
    metrics = json.loads((where / "metrics.json").read_text("utf-8"))

    def optional_json(name: str) -> Any:
        file = where / name
        return json.loads(file.read_text("utf-8")) if file.is_file() else {}

    timeseries: dict[str, np.ndarray] = {}
    ts = where / "timeseries.csv"
    if ts.is_file():
        with ts.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        for col in TIMESERIES_COLUMNS:
            values = [r[col] for r in rows]
            timeseries[col] = np.array(values) if col == "market" else np.array(values, float)
    viewers: dict[str, np.ndarray] = {}
    if (where / "viewers.npz").is_file():
        with np.load(where / "viewers.npz", allow_pickle=False) as data:
            viewers = {k: np.asarray(data[k]) for k in data.files}
    summary = (where / "summary.md").read_text("utf-8") if (where / "summary.md").is_file() else ""
    return Run(
        path=where,
        metrics=metrics,
        scenario=optional_json("scenario.json"),
        run=optional_json("run.json"),
        timeseries=timeseries,
        viewers=viewers,
        events=list(optional_json("events.json").get("events", [])),
        summary=summary,
        plots=sorted((where / "plots").glob("*.png")) if (where / "plots").is_dir() else [],
    )
