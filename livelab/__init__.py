"""livelab: a simulation and load-testing lab for global live commerce.

This package holds the CLI and the thin pipeline that chains the stages; the domain lives in
`sim`, `netem_profiles`, `scenarios`, `loadgen`, `stack` and `reports`.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
