"""Benchmarks of the reference stack (issue 3).

(a) Interaction: 2,000 WebSocket viewers in one room of one server process, 100 chat messages/s
    in → p95 delivery lag (client send → every sampled viewer's receive; target ≤ 250 ms) and
    deliveries per second per server core.
(b) Media: server CPU per WHEP viewer at 360p15 (target ≥ 200 viewers on one core), measured with
    lightweight viewers (real aiortc peer connections that reassemble but do not decode) in their
    own processes; and glass-to-glass p50 on loopback read from the barcode by real decoding
    aiortc viewers (target ≤ 60 ms).

The server always runs in its own process (`livelab stack serve`); clients in other processes.
`python -m benchmarks stack` runs both at full size; `python -m benchmarks.bench_stack ws
--viewers 500` or `... media --levels 0,50,100` runs one, smaller.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from benchmarks.stack_common import conditions, raise_fd_limit, record
from benchmarks.stack_media import bench_media
from benchmarks.stack_ws import bench_ws


# ------------------------------------------------------------------------------------- driver
def _report_ws(r: dict[str, Any]) -> None:
    print(f"  viewers connected        {r['viewers']} (one server process)")
    print(f"  chat in                  {r['chat_in_per_s']} msg/s")
    print(
        f"  delivery lag p50/p95/p99 {r['lag_p50_ms']} / {r['lag_p95_ms']} / {r['lag_p99_ms']} ms"
        f" client send -> viewer receive (target p95 <= 250 ms; {r['lag_samples']} samples)"
    )
    print(
        f"  server-side lag          p50 <= {r['server_lag_p50_bucket_ms']} ms, p95 <= "
        f"{r['server_lag_p95_bucket_ms']} ms; one fan-out (write to every socket) p50 <= "
        f"{r['server_fanout_p50_bucket_ms']} ms, p95 <= {r['server_fanout_p95_bucket_ms']} ms"
    )
    print(
        f"  deliveries               {r['deliveries_per_s']}/s; server CPU "
        f"{r['server_cpu_cores']} cores -> {r['deliveries_per_s_per_core']} deliveries/s per core"
    )
    print(
        f"  client CPU               {r['client_cpu_s_total']} s over the run in "
        f"{r['client_processes']} processes; load avg at end {r['loadavg_end']}"
    )


def _report_media(r: dict[str, Any]) -> None:
    print(
        f"  server CPU per viewer  {r['cpu_per_viewer_pct_core']} % of a core"
        f" + fixed {r['idle_cpu_pct_core']} % (encoder) -> {r['viewers_per_core']} viewers per"
        f" core (target >= 200; fitted on levels {r['fitted_levels']}, those with full delivery)"
    )
    print(
        f"  g2g p50 (stock aiortc viewer)      {r['g2g_stock_p50_ms']} ms   (target <= 60 ms;"
        " includes aiortc's one-frame jitter-buffer hold, 67 ms at 15 fps)"
    )
    print(
        f"  g2g p50/p95 (panel receive path)   {r['g2g_marker_p50_ms']} / {r['g2g_marker_p95_ms']}"
        f" ms; {r['g2g_frames']} frames, {r['g2g_unreadable']} unreadable"
    )
    print(f"  first frame after offer            {r['first_frame_ms']} ms")
    if "g2g_under_load" in r:
        print(f"  g2g under load                     {r['g2g_under_load']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_stack")
    parser.add_argument("which", nargs="?", choices=["ws", "media", "all"], default="all")
    parser.add_argument("--viewers", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--levels", default="1,50,100,150,200")
    args = parser.parse_args(argv if argv is not None else [])
    fds = raise_fd_limit()
    cond = conditions()
    print(f"  machine: {cond['cpus']} CPUs, load avg {cond['loadavg']}, open-files limit {fds}")
    if args.which in ("ws", "all"):
        print("-- (a) WebSocket fan-out", flush=True)
        r = bench_ws(args.viewers, args.rate, args.duration)
        _report_ws(r)
        record("stack_ws", {**r, **cond})
    if args.which in ("media", "all"):
        print("-- (b) WHEP media", flush=True)
        levels = tuple(int(x) for x in args.levels.split(","))
        r = bench_media(levels)
        _report_media(r)
        record("stack_media", {**r, **cond})


if __name__ == "__main__":
    main(sys.argv[1:])
