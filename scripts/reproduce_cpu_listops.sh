#!/usr/bin/env bash
# ListOps with accuracies on a 2-core CPU, where the sqrt(n) law bites: `configs/listops.py:cpu,variant=long`
# (2 layers, d_model 64, n = 192, batch 32; generated ListOps, the LRA law cut to 300 < tokens < 512, 5000 / 500 /
# 500 expressions, length 512; 8 epochs = 1,248 steps) for {dense, diag} x {glorot, glorot_half, rescaled_glorot,
# diag_uniform} plus the LRU ring, and per recurrence the setting `python -m inits.stability --advise` picks at this
# width, length and depth; 2 seeds; then the table (scripts/table1.py).
#
# Why this length: at n = 192 the predictor gives Glorot a state growth of ~6e8 at L = 512 (p_diverge 0.15 for 2
# layers at initialization), against rescaled Glorot's memory of 6 steps and Glorot/2's 3: the regime the issue
# asks about, at half the step of L = 1024 (p_diverge 0.7 there, but only 4 epochs in the same time).
# Sizing, by arithmetic from recorded timings (not from a run of this script):
#   - step: the `:cpu` preset (the same model and batch at length 256) trains 20 epochs x 156 steps in 5-6 min with
#     its evaluations (README, configs/listops.py): ~0.1 s a step. The step is linear in the length
#     (/work/shared/env.md's scan table; docs/bench_step.md), so ~0.21 s at 512; dense and diagonal take the same
#     time, the LRU ~1.2x (docs/bench_step.md, 2 layers, batch 8: 0.57 / 0.59 / 0.69 s).
#   - a run: 1,248 steps x 0.21 s = 262 s, + 8 evaluations of 1,000 expressions (~2 s each) + ~25 s start-up and
#     compilation (docs/table1_cpu.md: 8-33 s a diverged run) = ~300 s; the LRU ~350 s.
#   - the grid: 11 rows x 2 seeds = 22 runs: 20 x 300 s + 2 x 350 s = 6,700 s = 1.9 h on 2 cores, less for every run
#     that diverges; once: generating the 6,000 expressions (~30 s) and the advisor's predictions at n = 192 (a few
#     minutes the first time, cached under $GLOROT_LRA_CACHE after). EPOCHS=n scales the training part linearly.
#   - accuracy: the `:cpu` preset reaches 39-41% (majority 20.6%) after 3,120 steps on 50-200 tokens; 1,248 steps
#     on 300-512 tokens is the risk of this sizing: if the best rows stay near the majority class, raise EPOCHS
#     (each epoch adds ~35 s a run, ~13 min to the grid).
# Measured (docs/listops_cpu.md): with the script running twice in parallel on one ROOT (two runs at a time), a
# finished run takes 290-490 s and the 22 fit about 70 minutes of a free 2-core machine; the best rows reach 34%
# against a majority class of 16.0% on this test split.
#
# Usage: scripts/reproduce_cpu_listops.sh [ROOT [extra scripts/sweep.py options...]]  (ROOT default:
# runs/listops_cpu_long). Re-running resumes: finished and diverged runs are skipped. Environment: SEEDS (default
# 0,1), EPOCHS (default: the variant's 8). Writes ROOT/table1.{md,tex,csv}.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${1:-runs/listops_cpu_long}"
shift || true
SEEDS="${SEEDS:-0,1}"
PRESET="cpu,variant=long"
EPOCHS_OVERRIDE=()
if [ -n "${EPOCHS:-}" ]; then EPOCHS_OVERRIDE=(--override "train.epochs=$EPOCHS"); fi
export JAX_PLATFORMS=cpu WANDB_MODE="${WANDB_MODE:-disabled}"
# Every run of a recurrence shares one program (inits and seeds change values, not shapes): compile it once.
export JAX_COMPILATION_CACHE_DIR="${JAX_COMPILATION_CACHE_DIR:-$ROOT/.jax_cache}"
export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="${JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS:-0}"
start=$(date +%s)

# The advised setting's sweep axes for recurrence $1, at the preset's width, length and depth.
advised_axes() {
  python - "$1" "$PRESET" <<'PY'
import sys
from configs import listops
from inits import stability
c = listops.get_config(sys.argv[2])
pick = stability.advise(c.model.d_hidden, c.data.max_length, sys.argv[1], n_layers=c.model.n_layers)["pick"]
if pick is None:
  sys.exit(f"no initializer is predicted stable for {sys.argv[1]} at n={c.model.d_hidden}, L={c.data.max_length}")
print(sys.argv[1], pick["flags"], file=sys.stderr)
print(" ".join([f"--axis model.init={pick['init']}"]
               + [f"--axis model.init_params.{k}={v}" for k, v in sorted(pick["init_params"].items())]))
PY
}

status=0
sweep() { python scripts/sweep.py --root "$ROOT" --preset "$PRESET" --tasks listops --seeds "$SEEDS" \
  ${EPOCHS_OVERRIDE[@]+"${EPOCHS_OVERRIDE[@]}"} "$@" || status=$?; }
sweep "$@"  # Table 1's rows: {dense, diag} x {glorot, glorot_half, rescaled_glorot, diag_uniform} + the LRU ring
for recurrence in dense diag; do
  axes=$(advised_axes "$recurrence")
  # shellcheck disable=SC2086  # the axes are words
  sweep --axis "model.recurrence=$recurrence" $axes "$@"
done

case " $* " in *" --dry-run "*) exit "$status";; esac
python scripts/table1.py --root "$ROOT" --seeds "$SEEDS" --tasks listops --no-published  # the paper's ListOps is 2,048 long
echo "reproduce_cpu_listops.sh: wall time $(( $(date +%s) - start )) s on $(nproc) cores," \
  "commit $(git rev-parse --short HEAD)"
exit "$status"
