"""Live Prometheus metrics of the media panel, while it runs (`livelab panel --metrics-port`).

Each panel process keeps a `LiveTracker` over its viewers and sends what changed since its last
progress message (about once a second) with that message; the parent process folds every
process's changes into `PanelLiveMetrics` (`prometheus_client` metrics in a registry of its own)
and serves them on 127.0.0.1 with the library's HTTP server. Per network profile:

- `livelab_panel_viewers{profile}` — viewers watching now (a frame seen, not yet left);
- `livelab_panel_g2g_latency_ms{profile}` — glass-to-glass latency (probe viewers), ms;
- `livelab_panel_first_frame_ms{profile}` — join to first decodable frame, ms;
- `livelab_panel_frames_total`, `livelab_panel_freezes_total`, `livelab_panel_frozen_ms_total`
  and `livelab_panel_viewer_errors_total`, by profile; a freeze (the rule of
  `loadgen.panel.freezes`) counts once the frame that ends it arrives;

and generator health per panel process: `livelab_panel_cpu_percent{process}` (mean over the
report interval, % of one core) and `livelab_panel_loop_lag_ms{process}` (worst lag sample of the
interval). The final, exact figures are still panel.json's; these are for watching.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from loadgen import live_endpoint
from loadgen.panel.freezes import FreezeDetector
from stack import LAG_BUCKETS_MS

if TYPE_CHECKING:
    from loadgen.panel.viewer import ViewerRaw

__all__ = ["LiveTracker", "PanelLiveMetrics"]

PREFIX = "livelab_panel_"


@dataclass
class _Cursor:
    """How much of one viewer's measurements has been reported already."""

    frames: int = 0
    g2g: int = 0
    first_frame_sent: bool = False
    error_sent: bool = False
    freezes: FreezeDetector = field(default_factory=FreezeDetector)


class LiveTracker:
    """One panel process's view: `report` returns the changes since the previous call."""

    def __init__(self) -> None:
        self._cursors: dict[int, _Cursor] = {}
        self._health_seen = 0

    def report(
        self, raws: Sequence[ViewerRaw], cpu_pct: Sequence[float], lag_ms: Sequence[float]
    ) -> dict[str, Any]:
        """Per profile: viewers watching now, and new frames, freezes, frozen ms, g2g and
        first-frame samples (ms) and failed viewers since the last report; plus the mean CPU
        (%) and worst loop lag (ms) of the health samples taken since then (None if none)."""
        profiles: dict[str, dict[str, Any]] = {}
        for raw in raws:
            p = profiles.setdefault(
                raw.spec.profile,
                {"viewers": 0, "frames": 0, "freezes": 0, "frozen_ms": 0.0, "g2g_ms": [],
                 "first_frame_ms": [], "errors": 0},
            )  # fmt: skip
            cur = self._cursors.setdefault(raw.spec.index, _Cursor())
            if raw.frame_ms and not raw.end_ms:
                p["viewers"] += 1
            new_frames = raw.frame_ms[cur.frames :]
            cur.frames += len(new_frames)
            p["frames"] += len(new_frames)
            freezes, frozen = cur.freezes.count, cur.freezes.frozen_ms
            for t in new_frames:
                cur.freezes.add(t)
            p["freezes"] += cur.freezes.count - freezes
            p["frozen_ms"] += cur.freezes.frozen_ms - frozen
            new_g2g = raw.g2g[cur.g2g :]
            cur.g2g += len(new_g2g)
            p["g2g_ms"].extend(g for _, g in new_g2g)
            first = raw.phases.get("first_frame_ms")
            if first is not None and not cur.first_frame_sent:
                cur.first_frame_sent = True
                p["first_frame_ms"].append(float(first))
            if raw.error is not None and not cur.error_sent:
                cur.error_sent = True
                p["errors"] += 1
        n = min(len(cpu_pct), len(lag_ms))
        cpu = [c for c in cpu_pct[self._health_seen : n] if not math.isnan(c)]
        lag = list(lag_ms[self._health_seen : n])
        self._health_seen = n
        return {
            "profiles": profiles,
            "cpu_pct": sum(cpu) / len(cpu) if cpu else None,
            "lag_ms": max(lag) if lag else None,
        }


class PanelLiveMetrics:
    """The parent's metrics, fed by `update` with each process's report; `serve` exposes them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.viewers = Gauge(PREFIX + "viewers", "viewers watching now", ["profile"], registry=r)
        self.frames = Counter(PREFIX + "frames", "frames rendered", ["profile"], registry=r)
        self.freezes = Counter(PREFIX + "freezes", "freezes ended", ["profile"], registry=r)
        self.frozen_ms = Counter(
            PREFIX + "frozen_ms", "time spent frozen, ms (summed over viewers)", ["profile"],
            registry=r,
        )  # fmt: skip
        self.errors = Counter(
            PREFIX + "viewer_errors", "viewers that failed", ["profile"], registry=r
        )
        self.g2g = Histogram(
            PREFIX + "g2g_latency_ms", "glass-to-glass latency seen by probe viewers, ms",
            ["profile"], buckets=LAG_BUCKETS_MS, registry=r,
        )  # fmt: skip
        self.first_frame = Histogram(
            PREFIX + "first_frame_ms", "join to first decodable frame, ms", ["profile"],
            buckets=LAG_BUCKETS_MS, registry=r,
        )  # fmt: skip
        self.cpu = Gauge(
            PREFIX + "cpu_percent", "CPU of each panel process, % of one core", ["process"],
            registry=r,
        )  # fmt: skip
        self.lag = Gauge(
            PREFIX + "loop_lag_ms", "worst event-loop lag of each panel process in its last "
            "report interval, ms", ["process"], registry=r,
        )  # fmt: skip
        self._watching: dict[tuple[int, str], int] = {}
        self._lock = threading.Lock()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def update(self, process: int, report: dict[str, Any]) -> None:
        """Fold one process's `LiveTracker.report` in."""
        with self._lock:
            for profile, p in report.get("profiles", {}).items():
                self._watching[(process, profile)] = int(p["viewers"])
                self.viewers.labels(profile).set(
                    sum(n for (_, prof), n in self._watching.items() if prof == profile)
                )
                self.frames.labels(profile).inc(p["frames"])
                self.freezes.labels(profile).inc(p["freezes"])
                self.frozen_ms.labels(profile).inc(p["frozen_ms"])
                self.errors.labels(profile).inc(p["errors"])
                g2g = self.g2g.labels(profile)
                for value in p["g2g_ms"]:
                    g2g.observe(value)
                first = self.first_frame.labels(profile)
                for value in p["first_frame_ms"]:
                    first.observe(value)
            if report.get("cpu_pct") is not None:
                self.cpu.labels(str(process)).set(report["cpu_pct"])
            if report.get("lag_ms") is not None:
                self.lag.labels(str(process)).set(report["lag_ms"])

    def serve(self, port: int, host: str = "127.0.0.1") -> str:
        """Serve on `host:port` (0: a free port) from a daemon thread; returns the scrape URL."""
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        return live_endpoint.metrics_url(int(self._server.server_port), host)

    def close(self) -> None:
        """Stop serving (waits for the server thread, at most 5 s)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
