"""What `livelab run` was asked to do (`RunOptions`), what it did (`RunRecord`, frozen, built by
the orchestrator once the load has ended and handed to `loadgen.run.finish`) and what it gives
back (`RunOutcome`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["RunOptions", "RunOutcome", "RunRecord", "adapter_spec"]


@dataclass(frozen=True)
class RunOptions:
    """`livelab run` settings beyond the scenario's `[load]` section."""

    out: Path
    target: str | None = None
    allow_remote: bool = False
    workers: int | None = None  # None: the scenario's load.workers
    external_workers: int = 0  # --master: wait for this many `livelab run --worker`s
    master_port: int = 5557
    web: bool = False
    room: str = "demo"
    stack_args: tuple[str, ...] = ()  # e.g. ("--fault", "chat_delay_ms=800")
    panel: bool = True
    media: str | None = None  # the panel's media target (--media); None: TARGET/whep/ROOM
    report: bool = True
    live_display: bool | None = None
    adapter: str | None = None  # --adapter; None: the scenario's load.adapter


@dataclass(frozen=True)
class RunRecord:
    """One run as the orchestrator saw it, for the steps that write its results.

    `scenario` is the validated `scenarios.Scenario`; `model_results` the model's
    `sim.SimResult`s and `model_doc` their metrics document (empty when the run stopped before
    the model ran); `plan` the compiled `loadgen.plan.Plan` (None likewise); `base_url` the
    target that was loaded; `elapsed_s` seconds since the run started; `outages` the health
    monitor's `[start_s, end_s | None]` windows and `stack_restarts_s` when the reference stack
    was restarted, both in seconds of the run; `locust_rc` Locust's exit code (None: it did not
    run to an end); `notes` what went wrong along the way, in order; `generator_faults` the
    `loadgen.run.generator_faults.GeneratorFault`s (a Locust or panel process that died during
    the load).
    """

    scenario: Any
    options: RunOptions
    command: tuple[str, ...]
    base_url: str
    elapsed_s: float
    model_results: tuple[Any, ...] = ()
    model_doc: dict[str, Any] = field(default_factory=dict)
    plan: Any = None
    outages: tuple[tuple[float | None, ...], ...] = ()
    stack_restarts_s: tuple[float, ...] = ()
    locust_rc: int | None = None
    notes: tuple[str, ...] = ()
    generator_faults: tuple[Any, ...] = ()

    @property
    def adapter(self) -> str:
        """The interaction adapter, "package.module:Class"; "" for livelab's own protocol."""
        return adapter_spec(self.options, self.scenario.load)

    @property
    def out(self) -> Path:
        """The run directory."""
        return self.options.out

    @property
    def reference_stack(self) -> bool:
        """True when the run started (and loaded) its own reference stack."""
        return self.options.target is None


@dataclass
class RunOutcome:
    """What `run` returns: the run directory, its `metrics.json` document, whether Ctrl-C (or
    SIGTERM) cut it short, and the notes of `metrics.json`."""

    out: Path
    metrics: dict[str, Any]
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)


def adapter_spec(options: RunOptions, load: Any) -> str:
    """`--adapter` if given, else the scenario's `[load] adapter` ("": livelab's own protocol)."""
    return options.adapter if options.adapter is not None else str(load.adapter)
