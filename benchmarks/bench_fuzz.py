"""Property-based fuzzing of the reference stack at 10,000 inputs (issue 12).

The strategies of `benchmarks.fuzz_inputs` (every WebSocket message type, every HTTP endpoint, raw
requests) against one real stack on 127.0.0.1:0, checked after each input by
`benchmarks.fuzz_harness` (no 5xx, no server error logged, WebSocket kept, ledger consistent); then
the whole-run invariants (server alive, every acknowledged order reads back and replays to the
same order, one ledger row per Idempotency-Key, a bystander's socket untouched). `make test`
runs the same with ~25 fixed-seed inputs per kind (tests/stack/test_stack_fuzz_hypothesis.py).

`python -m benchmarks fuzz` runs 10,000; `python -m benchmarks.bench_fuzz --total 2000 --seed 7`
runs another size or seed. Prints inputs per kind, time and every finding (the shrunk input),
and appends them to runs/bench/results.jsonl. Exit status 1 if anything was found.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from benchmarks.fuzz_inputs import HTTP_KINDS, WS_KINDS, http_inputs, raw_inputs, ws_inputs
from benchmarks.fuzz_live import LiveStack

RESULTS = Path("runs/bench/results.jsonl")
TOTAL = 10_000


def _kinds() -> list[tuple[str, st.SearchStrategy[Any]]]:
    return [
        *[(f"ws.{k}", ws_inputs(k)) for k in WS_KINDS],
        *[(f"http.{k}", http_inputs(k)) for k in HTTP_KINDS],
        ("raw", raw_inputs()),
    ]


def _fuzz_one(live: LiveStack, strategy: st.SearchStrategy[Any], n: int, rng_seed: int) -> None:
    @seed(rng_seed)
    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,  # a finding prints the blob that reproduces it with @reproduce_failure
    )
    @given(strategy)
    def check(inp: Any) -> None:
        live.send(inp)

    check()


def _describe(exc: BaseException) -> str:
    """The failures inside `exc` (hypothesis groups a flaky or multiple failure), one per line."""
    if isinstance(exc, BaseExceptionGroup):
        return "\n".join(_describe(inner) for inner in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"[:4000]


def run(total: int = TOTAL, rng_seed: int = 0) -> dict[str, Any]:
    """Fuzz with about `total` inputs split evenly over the kinds; figures and findings."""
    kinds = _kinds()
    per_kind = math.ceil(total / len(kinds))
    findings: list[dict[str, str]] = []
    seconds: dict[str, float] = {}
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="livelab-fuzz-") as tmp,
        LiveStack(str(Path(tmp) / "ledger.sqlite")) as live,
    ):
        set_hypothesis_home_dir(Path(tmp) / "hypothesis")  # its caches stay out of the checkout
        ledger: dict[str, int] = {}
        for name, strategy in kinds:
            t0 = time.monotonic()
            try:
                _fuzz_one(live, strategy, per_kind, rng_seed)
            except Exception as exc:  # a finding: record it and fuzz the other kinds
                findings.append({"kind": name, "finding": _describe(exc)})
            seconds[name] = round(time.monotonic() - t0, 2)
            try:  # after each kind, as the fixed-seed test does
                ledger = live.check_invariants()
            except Exception as exc:
                findings.append({"kind": f"{name} invariants", "finding": _describe(exc)})
        assert live.harness is not None  # inside `with`
        counts = Counter(live.harness.counts)
        outcomes = dict(sorted(live.harness.outcomes.items()))
        set_hypothesis_home_dir(None)
    per_kind_counts: Counter[str] = Counter()
    for label, n in counts.items():
        per_kind_counts["raw" if label.startswith("raw.") else label] += n
    return {
        "total_inputs": sum(counts.values()),
        "seed": rng_seed,
        "seconds": round(time.monotonic() - started, 1),
        "inputs_per_kind": dict(sorted(per_kind_counts.items())),
        "seconds_per_kind": seconds,
        "outcomes": outcomes,
        "findings": findings,
        **ledger,
        "cpus": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def _print(result: dict[str, Any]) -> None:
    print(f"{'kind':18} {'inputs':>7} {'seconds':>8}")
    for kind, n in result["inputs_per_kind"].items():
        print(f"{kind:18} {n:7d} {result['seconds_per_kind'].get(kind, 0.0):8.1f}")
    rate = result["total_inputs"] / max(result["seconds"], 1e-9)
    print(
        f"total {result['total_inputs']} inputs in {result['seconds']} s ({rate:.0f}/s), seed "
        f"{result['seed']}; {result.get('orders_acknowledged', '?')} orders acknowledged, "
        f"{result.get('ledger_rows', '?')} ledger rows; load average {result['loadavg']} "
        f"on {result['cpus']} CPUs"
    )
    print(f"findings: {len(result['findings'])}")
    for finding in result["findings"]:
        print(f"- {finding['kind']}: {finding['finding']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_fuzz")
    parser.add_argument("--total", type=int, default=TOTAL, help="inputs, split over the kinds")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed")
    args = parser.parse_args([] if argv is None else argv)
    result = run(args.total, args.seed)
    _print(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"bench": "fuzz", "time": time.time(), **result}) + "\n")
    return 1 if result["findings"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
