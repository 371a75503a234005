"""Reconnect storm (issue 12): 2,000 WebSocket viewers in one room, `kill -9` of the stack,
restart on the same port — every viewer reconnects by the viewers' own full-jitter backoff
(base 0.25 s, cap 4 s; `loadgen.backoff`), so all of them knock within 4 s of the restart; the
p95 must be inside that backoff window (the cap, from the stack being ready).

Reports: viewers back, reconnect time p50/p95/max from the restarted stack being ready, the
backoff window, private frames (welcome, pong, error) checked and how many reached the wrong
viewer (must be 0), and whether the stack survived. The machinery is `loadgen.chaos.storm`;
tests/reliability runs the same with 200 viewers.

    python -m benchmarks storm                      # 2,000 viewers, 2 client processes
    python -m benchmarks storm --viewers 500 --processes 1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from loadgen.chaos.storm import storm

RESULTS = Path("runs/bench/results.jsonl")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_storm")
    parser.add_argument("--viewers", type=int, default=2000, help="viewers in the room (2000)")
    parser.add_argument("--processes", type=int, default=2, help="client processes (2)")
    args = parser.parse_args(argv if argv is not None else [])
    print(f"  machine: {os.cpu_count()} CPUs, load avg {[round(x, 2) for x in os.getloadavg()]}")
    r = storm(args.viewers, args.processes)
    print(f"  viewers connected      {r.connected_before}/{r.viewers} in {r.processes} processes")
    print(f"  outage                 {r.outage_s:.2f} s (kill -9 -> restarted stack ready)")
    print(
        f"  back                   {r.back}/{r.viewers}; reconnect p50/p95/max "
        f"{r.reconnect_p50_s:.2f} / {r.reconnect_p95_s:.2f} / {r.reconnect_max_s:.2f} s "
        f"after ready ({r.within_window} within the {r.backoff_window_s:g} s backoff window; "
        f"p95 {'inside' if r.p95_in_window else 'OUTSIDE'} it)"
    )
    print(
        f"  private frames         {r.private_frames} checked, {r.foreign_frames} to the wrong "
        f"viewer (must be 0); {r.retries} refused attempts"
    )
    print(f"  stack survived         {r.stack_alive}; load avg at end {list(r.loadavg)}")
    print(f"  verdict                {'PASS' if r.ok else 'FAIL'}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"bench": "storm", "time": time.time(), **r.as_json()}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
