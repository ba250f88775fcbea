"""The logic behind `scripts/` (each script parses its arguments and calls a module here): Figure 1, the stability
map, sweeps, tables, benchmarks, the device report, the compiled step's matmul floor. The library never imports it."""
