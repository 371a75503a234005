"""The run directory: its layout, and the one place that reads and writes its files.

Every stage goes through here: `livelab simulate` writes a model run (`write_run`), `livelab
run` writes its `model/`, `metrics.json` and `run.json` (`write_run`, `write_metrics`,
`write_info`), the plan compiler (`loadgen.plan.read_model_run`), reports and gates
(`reports.report_data.load_run`) read through `read_run_dir` and the readers below.

A model run (`livelab simulate --out DIR`):

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
- `summary.md` — the headline figures (`reports.model_summary`); `plots/*.png` — the audience
  figures (`reports.plots_audience.write_audience_plots`).

A load run (`livelab run --out DIR`) keeps its model run in `model/` (`model_dir`) and adds
`metrics.json` (measured + modelled), `run.json` (kind `"run"`), `plan.json`, `locust/`,
`panel/`, `panel.json`, `stack_metrics.prom` and `logs/` (`loadgen.run.orchestrator`).

The readers here are tolerant: a missing optional file gives an empty value, a malformed one
an empty value and a note in the caller's `notes` list. Only `metrics.json` is required.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from livelab.errors import ConfigError, Problem
from reports.metrics import dumps
from reports.model_summary import model_summary

__all__ = [
    "ACCESS_NAMES",
    "TIMESERIES_COLUMNS",
    "RunDir",
    "model_dir",
    "read_arrays",
    "read_events",
    "read_json",
    "read_metrics",
    "read_run_dir",
    "read_timeseries",
    "write_info",
    "write_metrics",
    "write_run",
]

TIMESERIES_COLUMNS = ("t_s", "market", "concurrent", "arrivals", "chat_per_s", "likes_per_s",
                      "votes_per_s", "questions_per_s", "orders_per_min")  # fmt: skip
ACCESS_NAMES = ("wifi", "4g", "5g")
Arrays = dict[str, npt.NDArray[Any]]


@dataclass(frozen=True)
class RunDir:
    """A run directory read back, file by file. `timeseries` maps column → array (`market`
    as strings); `viewers` holds the arrays of `viewers.npz` as stored (codes + names)."""

    path: Path
    metrics: dict[str, Any]
    scenario: dict[str, Any]
    run: dict[str, Any]
    timeseries: Arrays
    viewers: Arrays
    events: list[dict[str, Any]]
    summary: str
    plots: list[Path] = field(default_factory=list)
    notes: tuple[str, ...] = ()


# -- writing ----------------------------------------------------------------------------------


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
) -> Path:
    """Write the model run directory of `results` (a list of `sim.SimResult`), return its path.

    `doc` is the metrics document (`sim.metrics_document`). `clock` gives the creation time
    recorded in `run.json`. Existing files of the same names are replaced. Plots are drawn
    separately (`reports.plots_audience.write_audience_plots`).
    """
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    first = results[0]
    write_metrics(path, doc)
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
    write_info(path, info)
    (path / "timeseries.csv").write_text(_timeseries_csv(first), "utf-8")
    arrays = dict(first.viewers)
    arrays["markets"] = np.array(first.markets)
    arrays["profiles"] = np.array(first.profiles)
    arrays["access_names"] = np.array(ACCESS_NAMES)
    _savez(path / "viewers.npz", arrays)
    events = [e.as_dict() for e in first.host_events]
    (path / "events.json").write_text(json.dumps({"events": events}, indent=2) + "\n", "utf-8")
    (path / "summary.md").write_text(model_summary(doc, first, info), "utf-8")
    return path


def write_metrics(run_dir: Path, doc: dict[str, Any]) -> Path:
    """`metrics.json` of a run directory, in the one stable encoding (`reports.metrics.dumps`)."""
    path = run_dir / "metrics.json"
    path.write_text(dumps(doc), "utf-8")
    return path


def write_info(run_dir: Path, info: dict[str, Any]) -> Path:
    """`run.json`: what ran, where and when."""
    path = run_dir / "run.json"
    path.write_text(json.dumps(info, indent=2) + "\n", "utf-8")
    return path


def _savez(path: Path, arrays: dict[str, Any]) -> None:
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


# -- reading ----------------------------------------------------------------------------------


def model_dir(root: Path) -> Path:
    """Where a run directory keeps its model run: itself (`livelab simulate`) or `model/`
    (`livelab run`)."""
    return root if (root / "viewers.npz").exists() else root / "model"


def read_run_dir(path: str | Path) -> RunDir:
    """Read a run directory file by file (a load run's model files from `model/`).

    Raises `ConfigError` (exit 2) when it has no readable `metrics.json`.
    """
    where = Path(path)
    if not (where / "metrics.json").is_file():
        raise ConfigError(
            [Problem(str(where), "", str(where), "a run directory with metrics.json")]
        )
    notes: list[str] = []
    model = model_dir(where)

    def own_or_model(name: str) -> Path:
        return where / name if (where / name).exists() else model / name

    summary = where / "summary.md"
    return RunDir(
        path=where,
        metrics=read_metrics(where / "metrics.json"),
        scenario=read_json(own_or_model("scenario.json"), notes),
        run=read_json(where / "run.json", notes),
        timeseries=read_timeseries(own_or_model("timeseries.csv"), notes),
        viewers=read_arrays(model / "viewers.npz", notes),
        events=read_events(own_or_model("events.json"), notes),
        summary=summary.read_text("utf-8") if summary.is_file() else "",
        plots=sorted((where / "plots").glob("*.png")) if (where / "plots").is_dir() else [],
        notes=tuple(notes),
    )


def read_metrics(path: Path) -> dict[str, Any]:
    """Parse a `metrics.json`; raises `ConfigError` (exit 2) when absent or not a document."""
    try:
        doc = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError([Problem(str(path), "", str(path), "no such file")]) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(str(path), "", "<json>", f"not valid JSON: {exc}")]) from None
    if not isinstance(doc, dict) or "overall" not in doc:
        raise ConfigError([Problem(str(path), "", "<json>", "not a metrics.json document")])
    return doc


def read_json(path: Path, notes: list[str]) -> dict[str, Any]:
    """A JSON object file; `{}` when absent, `{}` and a note when unreadable; a non-object
    document comes back as `{"value": document}`."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        notes.append(f"{path.name} unreadable: {exc}")
        return {}
    return data if isinstance(data, dict) else {"value": data}


def read_arrays(path: Path, notes: list[str]) -> Arrays:
    """Every array in an `.npz` file; `{}` (with a note) when it is missing or unreadable."""
    if not path.exists():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: np.asarray(data[k]) for k in data.files}
    except (OSError, ValueError) as exc:
        notes.append(f"{path.name} unreadable: {exc}")
        return {}


def read_events(path: Path, notes: list[str]) -> list[dict[str, Any]]:
    """The host events of `events.json` (a list, or `{"events": [...]}`), as stored."""
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        notes.append(f"events.json unreadable: {exc}")
        return []
    items = data.get("events", []) if isinstance(data, dict) else data
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def read_timeseries(path: Path, notes: list[str]) -> Arrays:
    """`timeseries.csv` as column → array: numbers where every cell parses (empty → NaN),
    strings otherwise. `t`, `time_s` or `t_sec` stand in for a missing `t_s`; a file without
    any time column is ignored with a note."""
    if not path.exists():
        return {}
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        notes.append(f"timeseries.csv unreadable: {exc}")
        return {}
    if not rows:
        return {}
    columns: Arrays = {}
    for name in rows[0]:
        raw = [row.get(name) or "" for row in rows]
        try:
            columns[name] = np.array([float(v) if v != "" else math.nan for v in raw])
        except ValueError:
            columns[name] = np.array(raw, dtype=str)
    if "t_s" not in columns:
        for alt in ("t", "time_s", "t_sec"):
            if alt in columns:
                columns["t_s"] = columns[alt]
                break
    if "t_s" not in columns:
        notes.append("timeseries.csv has no t_s column; ignored")
        return {}
    return columns
