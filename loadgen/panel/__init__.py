"""The aiortc media panel: real viewers pulling a WHEP (or Janus) stream through emulated networks.

Public API (used by `livelab panel` and the `livelab run` orchestrator):

* `PanelConfig` — what to run (frozen dataclass); `HealthLimits` — when a generator saturated;
* `run_panel(config, progress=None)` → `PanelResult` (blocking; Ctrl-C keeps partial results);
  `run_panel_async` — the same as a cancellable coroutine;
* `write_outputs(result, out_dir)` — panel.json, panel_timeseries.csv, metrics.json;
* `parse_profiles("ID-4g:0.5,delay 150ms:0.5")` — the ``--profiles`` mix;
* `WhepViewer` — a minimal viewer on the panel's receive path, for tests and benchmarks (loaded
  on first use: it imports aiortc).

Modules: `receiver` (the jitter-buffer fix, pure), `hook` (wires it into aiortc), `impair`
(profiles on the ICE datagrams), `viewer`, `signalling` (WHEP or Janus negotiation), `janus`
(Janus's HTTP API), `decode` (probe barcode reader), `freezes`,
`rtpstats`, `health`, `config`, `worker` (one process), `runner`, `aggregate`, `output`;
browser viewers: `browser_process` (headless Chromium over CDP), `browser_page` (the page the
panel serves), `browser_path` (relays between Chromium and the target), `browser_viewer`,
`whep_relay` (WHEP signalling through the profile); `live_metrics` (Prometheus);
`whep_viewer` (the test viewer).
"""

from typing import TYPE_CHECKING

from livelab.lazy import lazy_names
from loadgen.panel.config import (
    PanelConfig,
    assign_viewers,
    check_target,
    parse_kinds,
    parse_profiles,
    unmeasured_profiles,
)
from loadgen.panel.health import HealthLimits
from loadgen.panel.output import build_metrics, write_outputs
from loadgen.panel.runner import PanelResult, run_panel, run_panel_async

if TYPE_CHECKING:
    from loadgen.panel.janus import JanusTarget
    from loadgen.panel.live_metrics import PanelLiveMetrics
    from loadgen.panel.whep_viewer import WhepViewer

__all__ = [
    "HealthLimits",
    "JanusTarget",
    "PanelConfig",
    "PanelLiveMetrics",
    "PanelResult",
    "WhepViewer",
    "assign_viewers",
    "build_metrics",
    "check_target",
    "parse_kinds",
    "parse_profiles",
    "run_panel",
    "run_panel_async",
    "unmeasured_profiles",
    "write_outputs",
]

# Loaded on first use: they import aiortc, aiohttp or prometheus_client.
_HOME: dict[str, str] = {
    "JanusTarget": "janus",
    "PanelLiveMetrics": "live_metrics",
    "WhepViewer": "whep_viewer",
}

__getattr__, __dir__ = lazy_names(__name__, _HOME, __all__)
