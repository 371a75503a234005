"""Command lines of the processes a run starts: the reference stack, Locust, the media panel."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "LocustSpec",
    "locust_commands",
    "locustfile_path",
    "panel_command",
    "relay_command",
    "stack_command",
]


def locustfile_path() -> Path:
    import loadgen.locust  # light package: no locust import here

    return Path(loadgen.locust.__file__).parent / "locustfile.py"


def stack_command(
    ready_file: Path,
    *,
    room: str,
    db: Path,
    secret: str,
    mini_peak_every_s: float,
    announce_ahead_s: float,
    think_time_s: float,
    port: int = 0,
    extra: tuple[str, ...] = (),
) -> list[str]:
    return [
        sys.executable, "-m", "livelab", "stack", "serve",
        "--port", str(port), "--ready-file", str(ready_file), "--room", room,
        "--publisher", "synthetic", "--db", str(db), "--secret", secret,
        "--mini-peak-every", f"{mini_peak_every_s:g}s",
        "--announce-ahead", f"{announce_ahead_s:g}s",
        "--think-time", f"{think_time_s:g}s",
        *extra,
    ]  # fmt: skip


@dataclass(frozen=True)
class LocustSpec:
    """How to run Locust for one plan. `workers` 0 = one local process; `external_workers`:
    a master that waits for that many workers started elsewhere (`livelab run --worker`)."""

    host: str
    plan: Path
    out: Path
    room: str = "demo"
    workers: int = 0
    external_workers: int = 0
    master_port: int = 5557
    web: bool = False
    web_port: int = 8089
    linger_s: float = 5.0
    stop_timeout_s: float = 15.0
    relays: Path | None = None
    abort: Path | None = None  # abortOnFail gates for the master (loadgen.run.abort)
    metrics_port: int = 0  # the master's live Prometheus metrics (0: a free port; -1: off)
    adapter: str = ""  # "package.module:Class" (loadgen.locust.adapter); "": livelab's protocol


def _common(spec: LocustSpec, workers: int) -> list[str]:
    args = [
        sys.executable, "-m", "locust", "-f", str(locustfile_path()),
        "--host", spec.host,
        "--livelab-plan", str(spec.plan), "--livelab-room", spec.room,
        "--livelab-workers", str(max(workers, 1)),
        "--livelab-linger-s", f"{spec.linger_s:g}",
        "--stop-timeout", f"{spec.stop_timeout_s:g}",
        "--loglevel", "INFO",
    ]  # fmt: skip
    if spec.relays is not None:
        args += ["--livelab-relays", str(spec.relays)]
    if spec.adapter:
        args += ["--livelab-adapter", spec.adapter]
    return args


def locust_commands(spec: LocustSpec) -> dict[str, list[str]]:
    """Name → command line: "locust" (local or master) and "locust-worker-K" per local worker."""
    workers = spec.workers or spec.external_workers
    main = [
        *_common(spec, workers),
        "--livelab-out", str(spec.out),
        "--csv", str(spec.out / "stats"), "--csv-full-history",
        "--json-file", str(spec.out / "stats"),
        "--html", str(spec.out / "report.html"),
        "--livelab-metrics-port", str(spec.metrics_port),
    ]  # fmt: skip
    if spec.abort is not None:
        main += ["--livelab-abort", str(spec.abort)]
    if spec.web:
        main += ["--autostart", "--autoquit", "10", "--web-host", "127.0.0.1",
                 "--web-port", str(spec.web_port)]  # fmt: skip
    else:
        main += ["--headless"]
    cmds: dict[str, list[str]] = {}
    if workers:
        main += ["--master", "--master-bind-host", "127.0.0.1" if spec.workers else "*",
                 "--master-bind-port", str(spec.master_port),
                 "--expect-workers", str(workers)]  # fmt: skip
    cmds["locust"] = main
    for k in range(spec.workers):
        cmds[f"locust-worker-{k}"] = [
            *_common(spec, workers),
            "--worker", "--master-host", "127.0.0.1", "--master-port", str(spec.master_port),
        ]  # fmt: skip
    return cmds


def panel_command(
    whep_url: str,
    profiles: dict[str, int],
    probes: int,
    duration_s: float,
    out: Path,
    *,
    seed: int,
    allow_remote: bool = False,
    metrics_port: int = 0,
    browsers: int = 0,
) -> list[str]:
    """`livelab panel` for the plan's panel; `metrics_port` for its live Prometheus metrics
    (0: a free port; -1: off)."""
    mix = ",".join(f"{name}:{count}" for name, count in sorted(profiles.items()))
    viewers = sum(profiles.values())
    cmd = [
        sys.executable, "-m", "livelab", "panel",
        "--whep", whep_url, "--viewers", str(viewers), "--profiles", mix,
        "--duration", f"{duration_s:g}s", "--out", str(out),
        "--probes", str(min(probes, viewers)), "--processes", "1", "--seed", str(seed),
        "--metrics-port", str(metrics_port),
    ]  # fmt: skip
    if allow_remote:
        cmd.append("--allow-remote")
    if browsers:
        cmd += ["--browsers", str(min(browsers, max(0, viewers - probes)))]
    return cmd


def relay_command(profile: str, target_hostport: str, *, origin: str, seed: int) -> list[str]:
    """`livelab netem tcp-relay` for one profile, listening on a free loopback port."""
    return [
        sys.executable, "-m", "livelab", "netem", "tcp-relay", "--profile", profile,
        "--origin", origin, "--listen", "127.0.0.1:0", "--to", target_hostport,
        "--seed", str(seed),
    ]  # fmt: skip
