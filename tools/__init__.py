"""Experiment and benchmark tooling used by `scripts/`: sweeps, tables, the compiled step's matmul floor."""
