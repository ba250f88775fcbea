#!/usr/bin/env bash
# The GPU check, in under 8 minutes on one GPU: scripts/bench_scan.py at the paper sizes (ListOps L 2048 n 192
# B 32, sCIFAR L 1024 n 384 B 50, IMDB L 4096 n 256 B 32) for every scan implementation, scripts/bench_step.py
# for the three recurrences at the ListOps paper config, and 200 steps of train.py on the ListOps paper config
# (generated data: 6,400 training expressions, so 200 steps are one epoch) with its tokens per second. It prints
# the report and writes it, titled with the device name, to docs/gpu.md (or --out FILE).
#
# Usage: scripts/device_check.sh [--tiny] [--out FILE] [--work DIR]
#   --tiny      tiny sizes on CPU, one scan implementation a kind, the stages side by side (what
#               tests/scripts/test_device_check.py runs); writes DIR/gpu.md unless --out is given, never docs/gpu.md
#   --out FILE  where the report goes (default docs/gpu.md; with --tiny, DIR/gpu.md)
#   --work DIR  the stages' logs, JSON rows and the training workdir (default: a new temporary folder)
# Each stage has a time budget (SCAN_S, STEP_S, TRAIN_S seconds; 180, 45 a recurrence, 130 by default): a stage
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
  TRAIN_ARGS=(--config.model.n_layers=1 --config.model.d_model=8 --config.data.max_length=48
              --config.train.batch_size=4 --config.train.max_steps=4 --config.train.log_every_steps=2
              --config.data.listops.num_train=16 --config.data.listops.num_val=4 --config.data.listops.num_test=4
              --config.data.listops.min_tokens=10 --config.data.listops.max_tokens=40
              --config.data.listops.max_depth=4)
  SCAN_S="${SCAN_S:-240}" STEP_S="${STEP_S:-240}" TRAIN_S="${TRAIN_S:-240}"  # a loaded CPU: only a safety net
else
  OUT="${OUT:-docs/gpu.md}"
  SCAN_SIZES=("2048 192 32" "1024 384 50" "4096 256 32")
  SCAN_ARGS=(--reps=3 --cell_timeout_s=60)
  STEP_ARGS=(--steps=5)
  TRAIN_ARGS=(--config.train.max_steps=200 --config.train.log_every_steps=20 --config.train.ckpt_every_steps=1000
              --config.data.listops.num_train=6400 --config.data.listops.num_val=320
              --config.data.listops.num_test=320)
  SCAN_S="${SCAN_S:-180}" STEP_S="${STEP_S:-45}" TRAIN_S="${TRAIN_S:-130}"  # 445 s in all, + the report
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
if [[ $TINY == 1 ]]; then CONFIG="configs/listops.py:preset=cpu"; else CONFIG="configs/listops.py"; fi
rm -rf "$WORK/train"
stage train "$TRAIN_S" python train.py --config "$CONFIG" --workdir "$WORK/train" --config.wandb.mode=disabled \
  --config.data.cache_dir="$WORK/cache" "${TRAIN_ARGS[@]}"
wait

python - "$WORK" "$OUT" "$TINY" "$(( $(date +%s) - start ))" <<'EOF'
"""Renders the report from the stages' JSON rows, metrics.jsonl and results.json; prints it and writes it."""
import json
import os
import statistics
import sys

from lra import provenance

work, out, tiny, total_s = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])


def rows(name):
  path = os.path.join(work, name)
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


prov = provenance.collect()
device = prov["gpu_model"] or f"{prov['device_kind']} ({prov['cpu_model']})"
with open(os.path.join(work, "status.txt")) as f:
  status = [line.split() for line in f if line.strip()]
lines = [f"# Device check: {device}" + (" (--tiny, CPU)" if tiny else ""), "",
         "Written by `scripts/device_check.sh" + (" --tiny" if tiny else "") + f"` in {total_s} s.", "",
         f"- device: {provenance.describe_devices(prov)}, host CPU {prov['cpu_model']}",
         f"- commit: {provenance.describe_commit(prov)}",
         "- versions: " + ", ".join(f"{k} {v}" for k, v in prov["versions"].items()),
         "- stages (name, how it ended, seconds): " + "; ".join(" ".join(s) for s in status)]
for name, how, _ in status:
  log = os.path.join(work, f"{name}.log")
  if how != "ok" and os.path.exists(log):
    with open(log) as f:
      last = [line.strip() for line in f if line.strip()][-1:] or ["(no output)"]
    lines.append(f"- {name} {how}: `{last[0][:200]}`")
lines.append("")

lines += ["## Scans (`scripts/bench_scan.py`): forward + backward seconds / peak MB", "",
          "| kind | L | n | B | impl | auto | seconds | peak MB | finite |", "|---|---|---|---|---|---|---|---|---|"]
for r in rows("scan.jsonl"):
  if "error" in r:
    lines.append(f"| {r['kind']} | {r['length']} | {r['width']} | {r['batch']} | {r['impl']} | | "
                 f"({r['error'][:60]}) | | |")
  else:
    lines.append(f"| {r['kind']} | {r['length']} | {r['width']} | {r['batch']} | {r['impl']} | {r.get('auto', '')} "
                 f"| {r['seconds']:.4f} | {r['peak_mb']:.0f} | {r['finite']} |")

lines += ["", "## Training step (`scripts/bench_step.py`), ListOps paper config" + (" (tiny)" if tiny else ""), "",
          "| recurrence | layers | d_model | n | batch | L | scan | remat | compile s | step s | peak GB |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]
for r in rows("step.jsonl"):
  keys = ("recurrence", "n_layers", "d_model", "d_hidden", "batch_size", "length", "scan", "remat")
  cells = [str(r.get(k, "")) for k in keys]
  cells += [f"{r[k]:.3f}" if isinstance(r.get(k), (int, float)) else "" for k in ("compile_s", "step_s", "peak_gb")]
  lines.append("| " + " | ".join(cells) + " |")

lines += ["", "## train.py, ListOps paper config" + (" (tiny)" if tiny else ", 200 steps"), ""]
metrics = [m for m in rows(os.path.join("train", "metrics.jsonl")) if "train/tokens_per_s" in m]
results_path = os.path.join(work, "train", "results.json")
if metrics:
  lines.append("tokens/s at each log step: " + ", ".join(f"{m['step']}: {m['train/tokens_per_s']:.0f}"
                                                        for m in metrics))
  steady = [m["train/tokens_per_s"] for m in metrics[1:]] or [metrics[0]["train/tokens_per_s"]]
  lines.append(f"\n**{statistics.median(steady):,.0f} tokens/s** (median over the log steps after the first, "
               f"which includes compilation)")
else:
  lines.append("no training metrics (see the train stage above)")
if os.path.exists(results_path):
  with open(results_path) as f:
    res = json.load(f)
  lines.append(f"\nsteps {res['steps']}, wall {res['wall_s']:.1f} s, diverged {res['diverged']}, "
               f"test accuracy {res['test_accuracy']}")
text = "\n".join(lines) + "\n"
os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
with open(out, "w") as f:
  f.write(text)
print(text)
print(f"wrote {out}; logs in {work}")
EOF
