"""Benchmarks for the speed and size targets the issues name (`make bench`).

Each `bench_*.py` module here defines `main() -> None`, which measures, prints its figures next
to the target, and appends a JSON line to `runs/bench/results.jsonl`. `python -m benchmarks`
runs them all; `python -m benchmarks sim` runs only `bench_sim.py`.
"""
