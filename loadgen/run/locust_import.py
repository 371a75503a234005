"""A run directory from a Locust master's outputs (`livelab runs import`), so that `livelab gate`
and `livelab report` judge a run made elsewhere — on Kubernetes with Locust's Helm chart, say.

livelab's locustfile fires every measurement with the viewer's *market as the request type*
and the *metric as the name* (`join_ms`, `chat_rtt_ms`, …), so Locust's own outputs read per
market. Three sources, best first, per (market, metric):

1. `samples.json` (the master's `--livelab-out`): every sample exact, successes only — the
   same figures `livelab run` writes (`loadgen.run.measured.experience`), and generator health;
2. Locust's JSON (`--json` on stdout, or `--json-file PREFIX` → `PREFIX.json`): each entry's
   response-time histogram, merged across markets for the overall figures. Locust rounds a
   time to 2 significant figures above 100 ms and logs failed requests' times too;
3. Locust's CSV (`--csv PREFIX` → `PREFIX_stats.csv`): per-entry percentiles only, so overall
   percentiles exist only where one market measured the metric (percentiles do not add up).

`error_rate` is failures / requests over the livelab metrics, as in `livelab run`. Entries that
are not livelab metrics (another locustfile's URLs) are counted in a note and left out.
Times are milliseconds throughout.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from livelab.errors import ConfigError, Problem
from loadgen.locust.samples import METRICS, SampleBook, read_samples
from loadgen.run.measured import experience
from reports import distribution, dumps, new_document, scalar

__all__ = ["LocustEntry", "figures_from_entries", "import_locust", "read_csv", "read_json"]

_AGGREGATED = "Aggregated"


@dataclass(frozen=True)
class LocustEntry:
    """One row of Locust's stats: request type (market) × name (metric). Times in ms."""

    market: str
    metric: str
    requests: int
    failures: int
    mean_ms: float | None = None
    percentiles_ms: Mapping[float, float] = field(default_factory=dict)  # 0.95 → ms (CSV)
    histogram: Mapping[float, int] = field(default_factory=dict)  # rounded ms → count (JSON)


def _number(text: str, source: str, column: str) -> float | None:
    if text in ("", "N/A"):
        return None
    try:
        return float(text)
    except ValueError:
        raise ConfigError([Problem(source, column, text, "a number")]) from None


def read_csv(path: str | Path) -> list[LocustEntry]:
    """Entries of a Locust `PREFIX_stats.csv` (the `Aggregated` row is left out).

    Raises `ConfigError` naming the file and column when it is not Locust's stats CSV."""
    source = str(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise ConfigError([Problem(source, "", str(path), f"unreadable: {exc}")]) from None
    need = ("Type", "Name", "Request Count", "Failure Count", "Average Response Time")
    missing = [c for c in need if rows and c not in rows[0]]
    if missing or not rows:
        raise ConfigError(
            [Problem(source, "header", missing or "empty", "Locust's --csv PREFIX_stats.csv")]
        )
    entries = []
    for row in rows:
        if row["Name"] == _AGGREGATED:
            continue
        percentiles = {}
        for column, text in row.items():
            if column.endswith("%"):
                value = _number(text, source, column)
                if value is not None:
                    percentiles[float(column[:-1]) / 100.0] = value
        entries.append(
            LocustEntry(
                market=row["Type"],
                metric=row["Name"],
                requests=int(_number(row["Request Count"], source, "Request Count") or 0),
                failures=int(_number(row["Failure Count"], source, "Failure Count") or 0),
                mean_ms=_number(row["Average Response Time"], source, "Average Response Time"),
                percentiles_ms=percentiles,
            )
        )
    return entries


def read_json(path: str | Path) -> list[LocustEntry]:
    """Entries of Locust's `--json` / `--json-file` output (a list of stats entries)."""
    source = str(path)
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError([Problem(source, "", str(path), f"not JSON: {exc}")]) from None
    if not isinstance(data, list):
        raise ConfigError([Problem(source, "", type(data).__name__, "Locust's --json list")])
    entries = []
    for k, item in enumerate(data):
        try:
            histogram = {float(t): int(n) for t, n in (item.get("response_times") or {}).items()}
            requests = int(item["num_requests"])
            total = float(item.get("total_response_time") or 0.0)
            entries.append(
                LocustEntry(
                    market=str(item["method"]),
                    metric=str(item["name"]),
                    requests=requests,
                    failures=int(item.get("num_failures") or 0),
                    mean_ms=total / requests if requests else None,
                    histogram=histogram,
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(
                [Problem(source, f"[{k}]", exc, "an entry with method, name, num_requests")]
            ) from None
    return entries


def _from_histogram(entries: Sequence[LocustEntry]) -> dict[str, Any]:
    times = np.array([t for e in entries for t in e.histogram], dtype=float)
    counts = np.array([n for e in entries for n in e.histogram.values()], dtype=np.int64)
    return distribution(np.repeat(times, counts))


def _from_percentiles(entry: LocustEntry) -> dict[str, Any]:
    p = entry.percentiles_ms
    return {"p50": p.get(0.5), "p95": p.get(0.95), "p99": p.get(0.99),
            "mean": entry.mean_ms, "n": entry.requests}  # fmt: skip


def _figures(entries: Sequence[LocustEntry]) -> dict[str, Any]:
    """Distributions per metric and `error_rate` of the entries of one scope."""
    out: dict[str, Any] = {}
    for metric in METRICS:
        mine = [e for e in entries if e.metric == metric and e.requests > 0]
        if not mine:
            continue
        if all(e.histogram for e in mine):
            out[metric] = _from_histogram(mine)
        elif len(mine) == 1:
            out[metric] = _from_percentiles(mine[0])
    requests = sum(e.requests for e in entries)
    if requests:
        out["error_rate"] = scalar(sum(e.failures for e in entries) / requests)
        out["requests"] = scalar(requests)
    return out


def figures_from_entries(entries: Iterable[LocustEntry]) -> dict[str, Any]:
    """{"overall", "markets"} of measured experience from Locust's stats entries (pure)."""
    ours = [e for e in entries if e.metric in METRICS]
    markets = sorted({e.market for e in ours})
    return {
        "overall": _figures(ours),
        "markets": {m: _figures([e for e in ours if e.market == m]) for m in markets},
    }


def import_locust(
    out: str | Path,
    *,
    csv_prefix: str | None = None,
    json_file: str | Path | None = None,
    samples: str | Path | None = None,
    max_start_lag_ms: float = 2000.0,
    version: str = "",
) -> dict[str, Any]:
    """Write `metrics.json`, `run.json` and `locust/` (copies of the inputs) into `out`.

    With `samples`, the run is invalid when the start lag p95 passes `max_start_lag_ms` (the
    scenario's `load.max_start_lag_s`, 2 s by default) or Locust warned about its CPU.

    Returns the metrics document. Raises `ConfigError` (exit 2) when no input is given or an
    input is not what Locust writes."""
    from loadgen.run.finish import validity

    if not (csv_prefix or json_file or samples):
        raise ConfigError([Problem("livelab runs import", "", None, "give --csv, --json or "
                                   "--samples (Locust master outputs)")])  # fmt: skip
    where = Path(out)
    (where / "locust").mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    sources: dict[str, str] = {}
    entries: list[LocustEntry] = []
    if json_file:
        entries = read_json(json_file)
        sources["json"] = str(json_file)
        shutil.copyfile(json_file, where / "locust" / "stats.json")
    csv_entries: list[LocustEntry] = []
    if csv_prefix:
        csv_path = Path(f"{csv_prefix}_stats.csv")
        csv_entries = read_csv(csv_path)
        sources["csv"] = str(csv_path)
        for suffix in ("_stats.csv", "_failures.csv", "_exceptions.csv", "_stats_history.csv"):
            if Path(f"{csv_prefix}{suffix}").is_file():
                shutil.copyfile(f"{csv_prefix}{suffix}", where / "locust" / f"stats{suffix}")
    entries = entries or csv_entries
    other = sorted({e.metric for e in entries if e.metric not in METRICS})
    if other:
        notes.append(f"{len(other)} Locust entries are not livelab metrics and were left out")
    measured = figures_from_entries(entries)
    book = SampleBook()
    if samples:
        book = read_samples(samples)
        sources["samples"] = str(samples)
        shutil.copyfile(samples, where / "locust" / "samples.json")
        markets = sorted({r[1] for r in book.rows} | set(measured["markets"]))
        exact = experience(book, markets)
        measured["overall"].update(exact["overall"])
        for m, figs in exact["markets"].items():
            measured["markets"].setdefault(m, {}).update(figs)
        measured["profiles"] = exact["profiles"]
        valid, health = validity(book, None, max_start_lag_ms=max_start_lag_ms, interrupted=False)
        notes += health
    else:
        valid = bool(entries)
        notes.append("generator health unknown: no samples.json (the master's --livelab-out)")
        if json_file:
            notes.append("distributions from Locust's histograms: rounded to 2 significant "
                         "figures above 100 ms, failed requests' times included")  # fmt: skip
        elif csv_prefix:
            notes.append("distributions from Locust's CSV percentiles: overall percentiles "
                         "only where one market measured the metric")  # fmt: skip
        if not entries:
            notes.append("no measurements were taken")
    doc = new_document({"kind": "import", "version": version, "valid": valid, "notes": notes,
                        "sources": sources, "generator": dict(book.notes)})  # fmt: skip
    doc["overall"] = measured["overall"]
    doc["markets"] = {m: v for m, v in measured["markets"].items() if v}
    doc["profiles"] = measured.get("profiles", {})
    (where / "metrics.json").write_text(dumps(doc), "utf-8")
    info = {"kind": "import", "version": version, "sources": sources, "valid": valid,
            "notes": notes}  # fmt: skip
    (where / "run.json").write_text(json.dumps(info, indent=2) + "\n", "utf-8")
    return doc
