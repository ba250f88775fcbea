#!/usr/bin/env bash
# The GPU check, in under 10 minutes on one GPU: scripts/bench_scan.py at the paper sizes (ListOps L 2048 n 192
# B 32, sCIFAR L 1024 n 384 B 50, IMDB L 4096 n 256 B 32) for every scan implementation, scripts/bench_step.py
# for the three recurrences at the ListOps paper config and at the Path-X paper config (L 16,384, n 256, 6
# bidirectional layers, batch 32: does it fit, how fast), and 200 steps of train.py on the ListOps paper config
# (generated data: 6,400 training expressions, so 200 steps are one epoch) with its tokens per second. It prints
# the report (scripts/device_report.py) and writes it, titled with the device name, to docs/gpu.md (or --out FILE).
#
# Usage: scripts/device_check.sh [--tiny] [--out FILE] [--work DIR]
#   --tiny      tiny sizes on CPU, one scan implementation a kind, the stages side by side (what
#               tests/scripts/test_device_check.py runs); writes DIR/gpu.md unless --out is given, never docs/gpu.md
#   --out FILE  where the report goes (default docs/gpu.md; with --tiny, DIR/gpu.md)
#   --work DIR  the stages' logs, JSON rows and the training workdir (default: a new temporary folder)
# Each stage has a time budget (SCAN_S, STEP_S, PATHX_S, TRAIN_S seconds; 150, 45 a recurrence, 50 a recurrence,
# 120 by default): a stage
# that runs past it is stopped, and the report keeps what it measured and says so.
set -euo pipefail
cd "$(dirname "$0")/.."

TINY=0
OUT=""
WORK=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tiny) TINY=1; shift ;;
    --out) OUT="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    *) echo "device_check.sh: unknown argument '$1'; valid: --tiny, --out FILE, --work DIR" >&2; exit 2 ;;
  esac
done
WORK="${WORK:-$(mktemp -d -t device_check.XXXXXX)}"
mkdir -p "$WORK"
export WANDB_MODE=disabled
if [[ $TINY == 1 ]]; then
  export JAX_PLATFORMS=cpu
  export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.hugetlb=0}"  # set: train.py and bench_step.py do not re-exec
  OUT="${OUT:-$WORK/gpu.md}"
  SCAN_SIZES=("32 8 2")                      # L n B
  SCAN_ARGS=(--impls=sequential --reps=1 --cell_timeout_s=60)
  STEP_ARGS=(--steps=1 --config.model.n_layers=1 --config.model.d_model=8 --config.data.max_length=32
             --config.train.batch_size=2)
  PATHX_ARGS=(--steps=1 --config.model.n_layers=1 --config.model.d_model=8 --config.train.batch_size=2)
  PATHX_PRESET="preset=cpu,"                 # the length stays 16,384; the model is tiny
  TRAIN_ARGS=(--config.model.n_layers=1 --config.model.d_model=8 --config.data.max_length=48
              --config.train.batch_size=4 --config.train.max_steps=4 --config.train.log_every_steps=2
              --config.data.listops.num_train=16 --config.data.listops.num_val=4 --config.data.listops.num_test=4
              --config.data.listops.min_tokens=10 --config.data.listops.max_tokens=40
              --config.data.listops.max_depth=4)
  SCAN_S="${SCAN_S:-240}" STEP_S="${STEP_S:-240}" PATHX_S="${PATHX_S:-240}" TRAIN_S="${TRAIN_S:-240}"  # a safety net
else
  OUT="${OUT:-docs/gpu.md}"
  SCAN_SIZES=("2048 192 32" "1024 384 50" "4096 256 32")
  SCAN_ARGS=(--reps=3 --cell_timeout_s=60)
  STEP_ARGS=(--steps=5)
  PATHX_ARGS=(--steps=3)
  PATHX_PRESET=""
  TRAIN_ARGS=(--config.train.max_steps=200 --config.train.log_every_steps=20 --config.train.ckpt_every_steps=1000
              --config.data.listops.num_train=6400 --config.data.listops.num_val=320
              --config.data.listops.num_test=320)
  SCAN_S="${SCAN_S:-150}" STEP_S="${STEP_S:-45}" PATHX_S="${PATHX_S:-50}" TRAIN_S="${TRAIN_S:-120}"  # 555 s in all
fi
start=$(date +%s)
STATUS="$WORK/status.txt"
: > "$STATUS"

# run NAME SECONDS CMD...: runs CMD with a time budget, its output in $WORK/NAME.log; records how it ended.
run() {
  local name="$1" budget="$2"
  shift 2
  local t0 rc=0
  t0=$(date +%s)
  echo "== $name (budget ${budget} s): $*"
  timeout --kill-after=10 "$budget" "$@" > "$WORK/$name.log" 2>&1 || rc=$?
  local took=$(( $(date +%s) - t0 ))
  case $rc in
    0) echo "$name ok ${took}" >> "$STATUS" ;;
    124|137) echo "$name stopped_at_budget ${took}" >> "$STATUS" ;;
    *) echo "$name exit_$rc ${took}" >> "$STATUS"; tail -5 "$WORK/$name.log" >&2 ;;
  esac
  echo "   $name: exit $rc after ${took} s"
}

# stage ...: `run ...`; with --tiny in the background, as tiny timings mean nothing and 2 cores finish sooner.
stage() {
  if [[ $TINY == 1 ]]; then run "$@" & else run "$@"; fi
}

scan_deadline=$(( $(date +%s) + SCAN_S ))
for size in "${SCAN_SIZES[@]}"; do
  read -r L N B <<< "$size"
  left=$(( scan_deadline - $(date +%s) ))
  if (( left <= 0 )); then echo "scan_L${L}_n${N} skipped_no_budget 0" >> "$STATUS"; continue; fi
  stage "scan_L${L}_n${N}" "$left" python scripts/bench_scan.py --lengths="$L" --widths="$N" --batch="$B" \
    --json="$WORK/scan.jsonl" "${SCAN_ARGS[@]}"
done
for rec in diag dense lru; do
  stage "step_$rec" "$STEP_S" python scripts/bench_step.py --config "configs/listops.py:recurrence=$rec" \
    --json="$WORK/step.jsonl" "${STEP_ARGS[@]}"
done
for rec in diag lru dense; do
  stage "pathx_$rec" "$PATHX_S" python scripts/bench_step.py --config "configs/pathx.py:${PATHX_PRESET}recurrence=$rec" \
    --json="$WORK/pathx.jsonl" "${PATHX_ARGS[@]}"
done
if [[ $TINY == 1 ]]; then CONFIG="configs/listops.py:preset=cpu"; else CONFIG="configs/listops.py"; fi
rm -rf "$WORK/train"
stage train "$TRAIN_S" python train.py --config "$CONFIG" --workdir "$WORK/train" --config.wandb.mode=disabled \
  --config.data.cache_dir="$WORK/cache" "${TRAIN_ARGS[@]}"
wait

TINY_FLAG=()
if [[ $TINY == 1 ]]; then TINY_FLAG=(--tiny); fi
python scripts/device_report.py --work "$WORK" --out "$OUT" "${TINY_FLAG[@]}" --seconds "$(( $(date +%s) - start ))"
