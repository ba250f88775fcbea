#!/usr/bin/env bash
# A reduced Table 1 on a 2-core CPU in under an hour: the paper's configs (`:paper`) with the paper's recurrence
# widths (d_hidden 192 / 384 / 256) and sequence lengths (ListOps 2048, sCIFAR 1024 colour, IMDB 4096), on local
# data (ListOps generated at the LRA lengths, 500 < tokens < 2000; sCIFAR and IMDB from the small learnable
# fixtures of lra/tasks/fixtures.py, IMDB reviews 3-5 KB long), reduced to 2 layers, d_model 32, batch 8, few steps
# and 2 seeds. It shows the paper's qualitative result: the Glorot rows diverge (their hidden states overflow
# float32 over these lengths), the other rows train.
#
# Usage: scripts/reproduce_cpu.sh [ROOT [extra scripts/sweep.py options...]]   (ROOT default: runs/table1_cpu)
# Re-running resumes: finished and diverged runs are skipped. Environment: SEEDS (default 0,1), STEPS (default 20).
# Writes ROOT/table1.{md,tex,csv}; docs/table1_cpu.md records a run of it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${1:-runs/table1_cpu}"
shift || true
SEEDS="${SEEDS:-0,1}"
STEPS="${STEPS:-20}"
export JAX_PLATFORMS=cpu WANDB_MODE="${WANDB_MODE:-disabled}"
start=$(date +%s)

status=0
python scripts/sweep.py --root "$ROOT" --preset paper --seeds "$SEEDS" \
  --override model.n_layers=2 --override model.d_model=32 --override train.batch_size=8 \
  --override train.max_steps="$STEPS" --override optim.warmup_epochs=0.1 \
  --override listops:data.listops.num_train=800 --override listops:data.listops.num_val=100 \
  --override listops:data.listops.num_test=100 \
  --override scifar:data.scifar.source=fixture --override scifar:data.scifar.fixture_num_train=800 \
  --override scifar:data.scifar.fixture_num_test=100 \
  --override imdb:data.imdb.source=fixture --override imdb:data.imdb.fixture_num_train=800 \
  --override imdb:data.imdb.fixture_num_test=100 --override imdb:data.imdb.fixture_min_words=600 \
  --override imdb:data.imdb.fixture_max_words=800 \
  "$@" || status=$?  # a failed run: still print the table (it shows the run as missing), then fail

case " $* " in *" --dry-run "*) exit "$status";; esac
python scripts/table1.py --root "$ROOT" --seeds "$SEEDS"
echo "reproduce_cpu.sh: wall time $(( $(date +%s) - start )) s on $(nproc) cores, commit $(git rev-parse --short HEAD)"
exit "$status"
