# mypy: disable-error-code="untyped-decorator,no-untyped-call"
"""Live Prometheus metrics of the load generator, served by the Locust master (or the one local
process) while the run goes on: `--livelab-metrics-port PORT` (0: a free port; -1, the default:
off). Workers serve nothing: their stats reach the master, which has the whole picture.

A collector reads Locust's own stats (request type = market, name = metric) and the livelab
runtime at each scrape, so nothing is counted twice and nothing is kept apart from them. Every
market of the plan and every metric of `loadgen.locust.samples.METRICS` has its series from the
first scrape on (zero until measured), as Prometheus asks of known label values:

- `livelab_loadgen_requests_total{market,metric}`, `livelab_loadgen_failures_total{...}`;
- one histogram per measured metric, `livelab_loadgen_<metric>{market}` in ms
  (`livelab_loadgen_chat_rtt_ms`, `…_join_ms`, `…_order_ms`, …). Its buckets come from Locust's
  response-time table, which keeps times over 100 ms rounded to two significant figures, so a
  value that close to a bucket bound may sit on the other side of it; `_sum` and `_count` are
  exact. Locust counts failed requests in the table too;
- `livelab_loadgen_users` (Locust users), `livelab_loadgen_viewers{market}` (scripts playing);
- generator health: `livelab_loadgen_cpu_percent{process}` (of one core),
  `livelab_loadgen_cpu_warning` (1 once Locust warned of a saturated CPU).

Served by gevent's WSGI server on 127.0.0.1 (Locust's own web UI uses the same), announced in
`--livelab-out`/live_metrics.url. Only imported inside Locust processes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from gevent.pywsgi import WSGIServer
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from loadgen import live_endpoint
from loadgen.locust.runtime import RUNTIME, Runtime
from loadgen.locust.samples import METRICS
from stack import Histogram

__all__ = ["LoadgenCollector", "serve"]

log = logging.getLogger(__name__)

PREFIX = "livelab_loadgen_"


class LoadgenCollector:
    """Metric families of one Locust process's view of the run (see the module docstring)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        env = self.runtime.env
        if env is None:
            return
        requests = CounterMetricFamily(
            PREFIX + "requests",
            "measurements reported, by market and metric",
            labels=["market", "metric"],
        )
        failures = CounterMetricFamily(
            PREFIX + "failures",
            "failed measurements, by market and metric",
            labels=["market", "metric"],
        )
        entries = env.stats.entries
        # Every (metric, market) of the plan has a series from the start, zero until measured,
        # so rates and quantiles exist before the first order or question of a market.
        plan = self.runtime.plan
        markets = {s.market for s in plan.scripts} if plan is not None else set()
        markets |= {market for _, market in entries}
        metrics = set(METRICS) | {metric for metric, _ in entries}
        latencies: list[HistogramMetricFamily] = []
        for metric in sorted(metrics):
            family = HistogramMetricFamily(
                PREFIX + metric, f"{metric} as Locust measured it, by market, ms", labels=["market"]
            )
            for market in sorted(markets):
                entry = entries.get((metric, market))
                hist = Histogram()
                done = failed = total_ms = 0.0
                if entry is not None:
                    for value_ms, count in entry.response_times.items():
                        hist.observe(float(value_ms), times=int(count))
                    done, failed = float(entry.num_requests), float(entry.num_failures)
                    total_ms = float(entry.total_response_time)
                requests.add_metric([market, metric], done)
                failures.add_metric([market, metric], failed)
                family.add_metric([market], hist.cumulative(), sum_value=total_ms)
            latencies.append(family)
        yield requests
        yield failures
        yield from latencies
        yield from self._users_and_health(env)

    def _users_and_health(self, env: Environment) -> Iterator[Metric]:
        statuses = self.runtime.statuses()
        users = GaugeMetricFamily(PREFIX + "users", "Locust users (viewer slots) running")
        users.add_metric([], float(getattr(env.runner, "user_count", 0) or 0))
        yield users
        viewers = GaugeMetricFamily(
            PREFIX + "viewers", "viewer scripts playing now, by market", labels=["market"]
        )
        plan = self.runtime.plan
        by_market = {s.market: 0 for s in plan.scripts} if plan is not None else {}
        for status in statuses.values():
            for market, n in dict(status.get("active_by_market", {})).items():
                by_market[market] = by_market.get(market, 0) + int(n)
        for market, n in sorted(by_market.items()):
            viewers.add_metric([market], float(n))
        yield viewers
        cpu = GaugeMetricFamily(
            PREFIX + "cpu_percent", "CPU of each Locust process playing scripts, % of one core",
            labels=["process"],
        )  # fmt: skip
        for name, status in sorted(statuses.items()):
            cpu.add_metric([name], float(status.get("cpu", 0.0)))
        yield cpu
        warned = any(bool(s.get("cpu_warning")) for s in statuses.values()) or bool(
            getattr(env.runner, "worker_cpu_warning_emitted", False)
        )
        warning = GaugeMetricFamily(
            PREFIX + "cpu_warning", "1 once Locust warned that a generator's CPU saturated"
        )
        warning.add_metric([], 1.0 if warned else 0.0)
        yield warning


def serve(runtime: Runtime, port: int, host: str = "127.0.0.1") -> WSGIServer:
    """Start serving `runtime`'s metrics on `host:port` (0: a free port) in a greenlet."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LoadgenCollector(runtime))
    server = WSGIServer((host, port), make_wsgi_app(registry), log=None)
    server.start()
    return server


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument(
        "--livelab-metrics-port",
        type=int,
        default=-1,
        help="serve live Prometheus metrics on 127.0.0.1:PORT (0: a free port; -1: off)",
    )


@events.init.add_listener
def _init(environment: Environment, **kwargs: Any) -> None:
    opts = environment.parsed_options
    port = int(getattr(opts, "livelab_metrics_port", -1))
    if port < 0 or isinstance(environment.runner, WorkerRunner):
        return
    server = serve(RUNTIME, port)
    url = live_endpoint.metrics_url(int(server.server_port))
    log.info("livelab: live metrics on %s", url)
    if RUNTIME.out is not None:
        live_endpoint.announce(RUNTIME.out, url)
