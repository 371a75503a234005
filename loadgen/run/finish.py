"""The end of a run: measured experience + modelled business outcomes + the closed loop →
`metrics.json`, `run.json`, `panel.json`, and the report (`reports.write_report`, in-process).

Reads only the frozen `RunRecord` the orchestrator hands over, and the run directory's files
the children wrote; knows nothing of the orchestrator.
"""

from __future__ import annotations

import json
import shutil
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from livelab.errors import LabError
from loadgen.locust.samples import SampleBook, read_samples
from loadgen.run.abort import abort_notes
from loadgen.run.closed_loop import measured_qoe, scenario_with_qoe
from loadgen.run.closed_loop import unmeasured as unmeasured_profiles
from loadgen.run.locust_exit import exceptions_logged, locust_exit_verdict
from loadgen.run.loop_interval import MIN_SAMPLES, RESAMPLES, change_intervals
from loadgen.run.measured import experience
from loadgen.run.record import RunOutcome, RunRecord

__all__ = ["business", "finish", "validity", "write_run_info"]


def business(section: dict[str, Any]) -> dict[str, Any]:
    """The business metrics of a model metrics section."""
    from reports import BUSINESS

    return {k: v for k, v in section.items() if k in BUSINESS}


def _modelled_experience(section: dict[str, Any]) -> dict[str, Any]:
    from reports import EXPERIENCE

    return {k: v for k, v in section.items() if k in EXPERIENCE}


def validity(
    book: SampleBook,
    panel_metrics: dict[str, Any] | None,
    *,
    max_start_lag_ms: float,
    interrupted: bool,
) -> tuple[bool, list[str]]:
    """(valid, notes) of a run from its generator health (pure)."""
    notes: list[str] = []
    valid = True
    if interrupted:
        valid = False
        notes.append("interrupted before the plan ended: partial results")
    lag = float(book.notes.get("start_lag_p95_ms") or 0.0)
    if lag > max_start_lag_ms:
        valid = False
        notes.append(
            f"Locust start lag p95 {lag:.0f} ms > {max_start_lag_ms:.0f} ms: generator saturated"
        )
    if book.notes.get("cpu_warning"):
        valid = False
        cpu = float(book.notes.get("cpu_max", 0))
        notes.append(f"Locust CPU warning (max {cpu:.0f} %): generator saturated")
    if panel_metrics is not None and not panel_metrics.get("meta", {}).get("valid", True):
        valid = False
        notes += [f"media panel: {n}" for n in panel_metrics["meta"].get("notes", [])] or [
            "media panel invalid"
        ]
    if not book.rows:
        valid = False
        notes.append("no measurements were taken")
    return valid, notes


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    except (OSError, ValueError):
        return None


def _path_rtts(results: Any) -> dict[str, np.ndarray]:
    """Per model profile, the first replication's viewers' path RTTs, ms."""
    if not results:
        return {}
    first = results[0]
    viewers = first.viewers
    if "rtt_ms" not in viewers:
        return {}
    profile = np.asarray(viewers["profile"])
    rtt = np.asarray(viewers["rtt_ms"])
    return {name: rtt[profile == i] for i, name in enumerate(first.profiles)}


def _closed_loop(r: RunRecord, book: SampleBook, panel: Any, digest: str) -> dict[str, Any]:
    """The `with_measured_qoe` section: the model re-run with the measured experience per
    profile, each business figure's change against the modelled one with its 95 % interval
    (`loop_interval`), what was fed back and which profiles went unmeasured. Empty when
    nothing was measured."""
    import sim
    from livelab import __version__

    results = r.model_results
    profiles = list(results[0].profiles)
    qoe = measured_qoe(
        book,
        profiles,
        path_rtt_ms=_path_rtts(results),
        panel=panel,
        add_path=not r.scenario.load.ws_through_profile,
        host_delay_ms=r.scenario.stream.host_delay_ms if r.reference_stack else 0.0,
        seed=r.scenario.scenario.seed,
    )
    if not qoe:
        return {}
    again = scenario_with_qoe(r.scenario, qoe)
    rerun = sim.simulate_all(again)
    doc2 = sim.metrics_document(rerun, again, scenario_hash=digest, version=__version__)
    changes = change_intervals(results, rerun, again, qoe, seed=r.scenario.scenario.seed)
    section: dict[str, Any] = {
        "overall": _with_change(business(doc2["overall"]), changes.get("overall", {})),
        "markets": {
            m: _with_change(business(v), changes.get(m, {}))
            for m, v in doc2.get("markets", {}).items()
        },
        "fed_back": {p: {k: len(v) for k, v in f.items()} for p, f in qoe.items()},
        "interval": {
            "method": "paired percentile bootstrap over measured samples and replications",
            "resamples": RESAMPLES,
            "min_samples": MIN_SAMPLES,
        },
    }
    return section


def _with_change(figures: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    return {k: {**v, "change": changes[k]} if k in changes else v for k, v in figures.items()}


def finish(r: RunRecord, *, interrupted: bool) -> RunOutcome:
    """Write `metrics.json`, `panel.json`, the report and `run.json` of the run `r`."""
    from livelab import __version__
    from reports import distribution, dumps, new_document, scalar
    from scenarios import scenario_hash

    out = r.out
    samples_path = out / "locust" / "samples.json"
    book = read_samples(samples_path) if samples_path.is_file() else SampleBook()
    panel_metrics = _read_json(out / "panel" / "metrics.json")
    panel = _read_json(out / "panel" / "panel.json")
    if panel is not None:
        shutil.copyfile(out / "panel" / "panel.json", out / "panel.json")
    load = r.scenario.load
    markets = [m.code for m in r.scenario.markets]
    measured = experience(book, markets, panel_metrics, panel)
    valid, notes = validity(
        book,
        panel_metrics,
        max_start_lag_ms=load.max_start_lag_s * 1000.0,
        interrupted=interrupted,
    )
    locust_ok, locust_note = locust_exit_verdict(
        r.locust_rc, exceptions_logged(out / "locust" / "stats_exceptions.csv")
    )
    valid, notes = valid and locust_ok, notes + ([locust_note] if locust_note else [])
    notes += abort_notes(book.notes)  # k6's abortOnFail stopped the load
    valid = valid and not r.generator_faults  # a generator died: not the plan's load
    notes += [f.note for f in r.generator_faults]
    outages = [list(o) for o in r.outages]
    notes += [
        f"target down from {a} s to {b if b is not None else 'the end'} s" for a, b in outages
    ]
    notes += [f"reference stack restarted at {t} s" for t in r.stack_restarts_s]
    notes += r.notes
    needing = (r.plan.panel.get("needing") if r.plan else None) or []
    unmeasured = unmeasured_profiles(needing, panel)
    if unmeasured:
        notes.append(
            f"closed loop: {len(unmeasured)} profile(s) with ≥ 5 % of the audience unmeasured "
            f"(fewer than 3 probe or browser viewers with ≥ 30 s of frames), model kept: "
            + ", ".join(unmeasured)
        )
    digest = scenario_hash(r.scenario)
    doc = new_document(
        {
            "kind": "run",
            "seed": r.scenario.scenario.seed,
            "scenario_hash": digest,
            "version": __version__,
            "valid": valid,
            "notes": notes,
            "target": r.base_url,
            "reference_stack": r.reference_stack,
            "scale": r.plan.scale if r.plan else None,
            "window": r.plan.window if r.plan else None,
            "outages": outages,
            "generator": dict(book.notes),
        }
    )
    model = r.model_doc or {"overall": {}, "markets": {}}
    doc["overall"] = {**business(model.get("overall", {})), **measured["overall"]}
    lags = book.values("start_lag_ms")
    if lags:
        doc["overall"]["start_lag_ms"] = distribution(lags)
    if book.notes:
        doc["overall"]["loadgen_cpu"] = scalar(float(book.notes.get("cpu_max", 0.0)))
    for m in markets:
        doc["markets"][m] = {
            **business(model.get("markets", {}).get(m, {})),
            **measured["markets"].get(m, {}),
        }
    doc["profiles"] = measured["profiles"]
    doc["model"] = {
        "overall": _modelled_experience(model.get("overall", {})),
        "markets": {m: _modelled_experience(v) for m, v in model.get("markets", {}).items()},
    }
    if not interrupted and r.model_results:
        loop = _closed_loop(r, book, panel, digest)
        if loop:
            loop["unmeasured"] = unmeasured
            doc["with_measured_qoe"] = loop
    (out / "metrics.json").write_text(dumps(doc))
    report = _report(out) if r.options.report and not interrupted else None
    write_run_info(r, report=str(report) if report else None, valid=valid)
    return RunOutcome(out=out, metrics=doc, interrupted=interrupted, notes=notes)


def write_run_info(
    r: RunRecord,
    error: str | None = None,
    wall_clock: Callable[[], float] = time.time,
    **extra: Any,
) -> None:
    """`run.json`: what ran, where, when (`wall_clock`, s since the epoch), what went wrong."""
    from livelab import __version__
    from reports import write_info

    info = {
        "kind": "run",
        "version": __version__,
        "scenario": r.scenario.scenario.name,
        "seed": r.scenario.scenario.seed,
        "command": list(r.command),
        "target": r.base_url or r.options.target,
        "reference_stack": r.reference_stack,
        "stack_args": list(r.options.stack_args),
        "adapter": r.adapter or None,  # None: livelab's own protocol
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(wall_clock())),
        "elapsed_s": round(r.elapsed_s, 2),
        "outages": [list(o) for o in r.outages],
        "stack_restarts_s": list(r.stack_restarts_s),
        "locust_exit": r.locust_rc,
        "notes": list(r.notes),
        "generator_faults": [f.as_json() for f in r.generator_faults],
        "error": error,
        **extra,
    }
    write_info(r.out, info)


def _report(out: Path) -> Path | None:
    """`report.html` and `summary.md` of the run directory, written in this process by
    `reports.write_report` and recorded in the run index, as `livelab report OUT` does; what it
    wrote goes to `logs/report.log`. None when the report could not be written."""
    from reports import RunIndex, default_index_path, write_report

    log = out / "logs" / "report.log"
    try:
        files = write_report(out)
    except Exception as exc:
        trace = "".join(traceback.format_exception(exc))
        log.write_text(f"livelab run: no report: {exc}\n{trace}")
        return None
    lines = [f"report: {files.html}", f"summary: {files.summary}", f"plots: {len(files.plots)}"]
    try:
        RunIndex(default_index_path()).record(out)
    except LabError as exc:  # the report stands even if the index cannot take it
        lines.append(f"not recorded in the run index: {exc}")
    log.write_text("\n".join(lines) + "\n")
    return files.html
