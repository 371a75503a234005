"""A locustfile for `benchmarks/bench_loadgen.py`: users that do WebSocket round trips back to
back through the same client code the viewers use (`ViewerClient`: receiver greenlet, waits,
`events.request.fire` per sample), counting round trips and this process's CPU time between
the first and the last one. Results go to `--bench-out` (JSON) at the end of the test."""

# mypy: disable-error-code="untyped-decorator,no-untyped-call"

from __future__ import annotations

import json
import time
from typing import Any

from gevent.event import Event
from locust import User, constant, events, task

from loadgen.locust.client import ViewerClient, _Wait
from loadgen.plan import Script

_STATE: dict[str, Any] = {"count": 0, "cpu0": None, "wall0": None, "cpu1": None, "wall1": None}
_SCRIPT = Script(id="bench", market="XX", access="wifi", profile="XX-wifi", referred=False,
                 carried=False, start_s=0.0, end_s=0.0, actions=())  # fmt: skip


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--bench-out", default="bench.json")
    parser.add_argument("--bench-room", default="demo")


class PingUser(User):
    """Join, connect, then ping → pong as fast as the server answers."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.pong = Event()
        self.pong_ok = True

        def report(metric: str, value_ms: float, ok: bool, error: str | None) -> None:
            self.environment.events.request.fire(
                request_type="WS", name=metric, response_time=value_ms, response_length=0,
                exception=RuntimeError(error) if not ok else None, context={},
            )  # fmt: skip
            if metric == "ws_rtt_ms":  # the ping's pong resolves this wait
                self.pong.set()

        opts = self.environment.parsed_options
        self.client = ViewerClient(self.environment.host or "", opts.bench_room, _SCRIPT, report)
        if not (self.client.join() and self.client.connect()):
            raise RuntimeError("benchmark user could not connect")

    @task
    def ping_loop(self) -> None:
        # One long task, as a viewer's session is: round trips back to back until the test ends.
        client = self.client
        while True:
            pid = client._id("b")
            self.pong.clear()
            client.waits[f"ping:{pid}"] = _Wait("ws_rtt_ms", client.clock(), pid)
            client._send({"type": "ping", "id": pid}, None, "ws_rtt_ms", pid)
            self.pong.wait()  # no timeout: a timer per round trip would be the harness's cost
            if _STATE["cpu0"] is None:
                _STATE["cpu0"], _STATE["wall0"] = time.process_time(), time.monotonic()
            else:
                _STATE["count"] += 1
                _STATE["cpu1"], _STATE["wall1"] = time.process_time(), time.monotonic()

    def on_stop(self) -> None:
        self.client.close(0.0, lambda: True)


@events.quitting.add_listener
def _write(environment: Any, **kwargs: Any) -> None:
    s = _STATE
    if s["cpu1"] is None:
        return
    result = {
        "count": s["count"],
        "cpu_s": s["cpu1"] - s["cpu0"],
        "wall_s": s["wall1"] - s["wall0"],
    }
    with open(environment.parsed_options.bench_out, "w") as fh:
        json.dump(result, fh)
