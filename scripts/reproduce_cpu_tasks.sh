#!/usr/bin/env bash
# Table 2 on a 2-core CPU: copy, adding and forecast (the `:cpu` presets: 2 layers, d_model 64, n 192, batch 64;
# copy 200 blanks / 300 steps, adding length 128 / 500 steps, forecast history 192 + horizon 96 / 200 steps,
# all lengths > 8 sqrt(192)) for
# {dense, diag} x {glorot, glorot_half, rescaled_glorot, diag_uniform} plus the LRU, 3 seeds; then the table.
#
# Usage: scripts/reproduce_cpu_tasks.sh [ROOT [extra scripts/sweep.py options...]]  (ROOT default: runs/table2_cpu)
# Re-running resumes: finished and diverged runs are skipped. Environment: SEEDS (default 0,1,2), TASKS (default
# copy,adding,forecast), TABLE (0: no table at the end, for scripts that draw it once). A subset: e.g.
# --axis model.recurrence=diag --axis model.init=glorot,diag_uniform.
# Writes ROOT/table2.md, ROOT/table2.png (validation curves), ROOT/table2_rollouts.png (forecast rollouts) and
# ROOT/table2_memory.png (memory at initialization against copy accuracy and forecast ratio);
# docs/table2_cpu.md records what was run of it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${1:-runs/table2_cpu}"
shift || true
SEEDS="${SEEDS:-0,1,2}"
TASKS="${TASKS:-copy,adding,forecast}"
export JAX_PLATFORMS=cpu WANDB_MODE="${WANDB_MODE:-disabled}"
# The 81 runs share 9 programs (3 tasks x 3 recurrences; inits and seeds change values, not shapes): with JAX's
# persistent cache, small programs included, each is compiled once instead of once a run.
export JAX_COMPILATION_CACHE_DIR="${JAX_COMPILATION_CACHE_DIR:-$ROOT/.jax_cache}"
export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="${JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS:-0}"
export JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="${JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES:-0}"
start=$(date +%s)

status=0
python scripts/sweep.py --root "$ROOT" --preset cpu --tasks "$TASKS" --seeds "$SEEDS" "$@" || status=$?

case " $* " in *" --dry-run "*) exit "$status";; esac
if [[ "${TABLE:-1}" == 0 ]]; then exit "$status"; fi
python scripts/table2.py --root "$ROOT" --out "$ROOT/table2.md" --plot "$ROOT/table2.png" \
  --plot-rollouts "$ROOT/table2_rollouts.png" --plot-memory "$ROOT/table2_memory.png"
echo "reproduce_cpu_tasks.sh: wall time $(( $(date +%s) - start )) s on $(nproc) cores," \
  "commit $(git rev-parse --short HEAD)"
exit "$status"
