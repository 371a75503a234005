"""The calibration file of `livelab calibrate`: fitted QoE laws and the measurement behind them.

Layout (TOML, docs/calibration.md):

* ``[calibration]``: ``command`` that wrote it, ``measured_by`` (the command that measured the
  table, the same unless the file was refitted with ``--refit``), ``target``, ``date_utc``,
  ``loadavg`` (1/5/15 min at the end of the measurement), ``cpus``, ``[calibration.versions]``
  (livelab, chromium, aiortc), ``[calibration.setup]`` (browsers, probes, seconds per profile,
  seed);
* ``[laws]``: one number per `sim.qoe.QoeLaws` field — what the model reads;
* ``[fit]``: how well the laws reproduce the table (``worst`` relative error, ``rms``);
* ``[[measured]]``: one row per profile — the browsers' g2g p50/p95 (ms), freeze ratio, first
  frame p50/p95 and join p50 (ms), with n (frames, viewers), the probes' figures beside them, and
  the model's figures at the fitted laws (``model_*``).

`read_laws` is what the scenario loader calls (``[model] calibration``, or `DEFAULT_CALIBRATION`
when the scenario names none): every problem is a `ScenarioError` naming the file and the field.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any

from livelab.errors import Problem, ScenarioError
from livelab.tomlfile import read_toml
from sim.qoe import LAW_BOUNDS

__all__ = [
    "DEFAULT_CALIBRATION",
    "LAW_BOUNDS",
    "read_calibration",
    "read_laws",
    "write_calibration",
]

DEFAULT_CALIBRATION = Path(__file__).parent / "data" / "calibration.toml"


def read_calibration(path: Path) -> dict[str, Any]:
    """The whole file as a table (ScenarioError naming the file if it is not TOML)."""
    return read_toml(path, ScenarioError)


def read_laws(path: Path, source: str = "[model] calibration") -> dict[str, float]:
    """The ``[laws]`` table of a calibration file, checked against `LAW_BOUNDS`.

    Raises `ScenarioError` with one problem per bad field (file ``path``, field ``laws.NAME``);
    `source` says where the path came from when the file itself cannot be read.
    """
    if not path.is_file():
        raise ScenarioError([Problem(source, "model.calibration", str(path), "an existing file")])
    data = read_calibration(path)
    laws = data.get("laws")
    file = str(path)
    if not isinstance(laws, dict):
        raise ScenarioError([Problem(file, "laws", laws, "a [laws] table of numbers")])
    problems = []
    out: dict[str, float] = {}
    for name, value in laws.items():
        if name not in LAW_BOUNDS:
            problems.append(Problem(file, f"laws.{name}", value, f"one of {', '.join(LAW_BOUNDS)}"))
            continue
        lo, hi = LAW_BOUNDS[name]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(float(value)) or not lo <= float(value) <= hi:
            problems.append(Problem(file, f"laws.{name}", value, f"a number in [{lo:g}, {hi:g}]"))
            continue
        out[name] = float(value)
    if problems:
        raise ScenarioError(problems)
    return out


def _clean(value: Any) -> Any:
    """TOML has no null and no NaN: drop None and NaN; floats to 4 decimals (readable, and far
    below what the measurement can tell apart)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if _keep(v)}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value if _keep(v)]
    if isinstance(value, float):
        return round(value, 4)
    return value


def _keep(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and not math.isfinite(value))


def write_calibration(
    out: Path, laws: dict[str, float], fit: dict[str, Any], measured: dict[str, Any], command: str
) -> None:
    """Write the calibration file (layout in the module docstring) to ``out``."""
    import tomli_w

    meta = {
        "command": command,
        "measured_by": measured.get("command", command),
        "target": measured.get("target"),
        "date_utc": measured.get("date_utc"),
        "loadavg": measured.get("loadavg"),
        "cpus": measured.get("cpus"),
        "versions": measured.get("versions", {}),
        "setup": measured.get("setup", {}),
    }
    doc = {
        "calibration": meta,
        "laws": laws,
        "fit": {k: v for k, v in fit.items() if k != "rows"},
        # run_dir is local to the machine that measured; the table stands without it.
        "measured": [{k: v for k, v in r.items() if k != "run_dir"} for r in fit["rows"]],
    }
    header = (
        "# QoE laws fitted by `livelab calibrate` to Chromium viewers, profile by profile\n"
        "# (docs/calibration.md). [laws] is what the model reads; [[measured]] is the browser\n"
        "# measurement they were fitted to (n = frames / viewers), with the model's figures.\n"
    )
    text = header + tomli_w.dumps(_clean(doc))
    tomllib.loads(text)  # what we write must read back
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
