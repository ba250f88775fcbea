#!/usr/bin/env bash
# Table 2's rows for every other initializer on a 2-core CPU (the `:cpu` presets of copy, adding, forecast; 3 seeds):
#   diag:  orthogonal, truncated_glorot, s4d_lin, s4d_inv, hippo_n, spectral_glorot (radius 0.999),
#          calibrated_glorot (delta 0.05)
#   dense: orthogonal, truncated_glorot, spectral_glorot (radius 0.999), calibrated_glorot (delta 0.05)
# and the advised setting (`python -m inits.stability --advise` at n = 192, 2 layers, each task's length) where it
# is not one of those rows or of the default grid's (scripts/reproduce_cpu_tasks.sh): on the diagonal recurrence
# it is spectral_glorot 0.999 for all three tasks, on the dense one diag_uniform for copy and adding (a default
# row) and lru_ring 0.9-0.999 for forecast, which is run here. Then the table, its curves and the memory figure.
#
# Usage: scripts/reproduce_cpu_inits.sh [ROOT [extra scripts/sweep.py options...]]  (ROOT default:
# runs/table2_inits_cpu). Re-running resumes. Environment: SEEDS (default 0,1,2), PART (diag, dense or all, the
# default): two processes, `PART=diag ... & PART=dense ...`, share the 2 cores with one ROOT (each run holds its
# workdir's lock).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${1:-runs/table2_inits_cpu}"
shift || true
PART="${PART:-all}"
case "$PART" in all|diag|dense) ;; *) echo "reproduce_cpu_inits.sh: PART=$PART; valid: all, diag, dense" >&2; exit 2;; esac
start=$(date +%s)
status=0
# One sweep of reproduce_cpu_tasks.sh (SEEDS and TASKS pass through), without its table: the table is drawn once below.
tasks() { TABLE=0 scripts/reproduce_cpu_tasks.sh "$ROOT" "$@" || status=$?; }
if [[ $PART != dense ]]; then
  tasks --axis model.recurrence=diag --axis model.init=orthogonal,truncated_glorot,s4d_lin,s4d_inv,hippo_n "$@"
  tasks --axis model.recurrence=diag --axis model.init=spectral_glorot --axis model.init_params.radius=0.999 "$@"
  tasks --axis model.recurrence=diag --axis model.init=calibrated_glorot --axis model.init_params.delta=0.05 "$@"
fi
if [[ $PART != diag ]]; then
  tasks --axis model.recurrence=dense --axis model.init=orthogonal,truncated_glorot "$@"
  tasks --axis model.recurrence=dense --axis model.init=spectral_glorot --axis model.init_params.radius=0.999 "$@"
  tasks --axis model.recurrence=dense --axis model.init=calibrated_glorot --axis model.init_params.delta=0.05 "$@"
  TASKS=forecast tasks --axis model.recurrence=dense --axis model.init=lru_ring --axis model.init_params.r_min=0.9 \
    --axis model.init_params.r_max=0.999 "$@"
fi

case " $* " in *" --dry-run "*) exit "$status";; esac
python scripts/table2.py --root "$ROOT" --out "$ROOT/table2.md" --plot "$ROOT/table2.png" \
  --plot-rollouts "$ROOT/table2_rollouts.png" --plot-memory "$ROOT/table2_memory.png"
echo "reproduce_cpu_inits.sh: wall time $(( $(date +%s) - start )) s on $(nproc) cores," \
  "commit $(git rev-parse --short HEAD)"
exit "$status"
