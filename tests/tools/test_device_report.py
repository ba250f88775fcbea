"""tools/device_report.py: the device check's report from a work folder written here (no stage runs)."""

import json

from tools import device_report

PROV = dict(commit="0123456789abcdef", dirty=False, versions={"jax": "0.10.2", "flax": "0.12.8"}, platform="gpu",
            device_kind="NVIDIA H100 80GB HBM3", device_count=1, cpu_model="AMD EPYC 9654",
            gpu_model="NVIDIA H100 80GB HBM3")


def _write_rows(path, rows):
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_report_holds_every_stage_row_and_the_median_throughput(tmp_path):
  (tmp_path / "status.txt").write_text("scan_L2048_n192 ok 40\nstep_lru exit_1 12\ntrain stopped_at_budget 130\n")
  (tmp_path / "step_lru.log").write_text("compiling\nValueError: bad shape\n\n")
  (tmp_path / "train.log").write_text("")
  _write_rows(tmp_path / "scan.jsonl", [
      dict(kind="diag", length=2048, width=192, batch=32, impl="associative", auto="associative", seconds=0.01234,
           peak_mb=511.6, finite=True),
      dict(kind="dense", length=2048, width=192, batch=32, impl="doubling", error="timeout > 60 s")])
  _write_rows(tmp_path / "step.jsonl", [dict(recurrence="diag", n_layers=6, d_model=256, d_hidden=192, batch_size=32,
                                             length=2048, scan="auto", remat="none", compile_s=12.0, step_s=0.0512)])
  tokens = [1000.0, 52000.0, 48000.0, 50500.0]  # the first log step includes compiling
  _write_rows(tmp_path / "train" / "metrics.jsonl",
              [dict(step=20 * (i + 1), **{"train/tokens_per_s": t}) for i, t in enumerate(tokens)]
              + [dict(step=80, **{"val/accuracy": 0.2})])
  (tmp_path / "train" / "results.json").write_text(json.dumps(
      dict(steps=80, wall_s=131.25, diverged=False, test_metric=0.21)))

  lines = device_report.render(str(tmp_path), PROV, tiny=False, total_s=300).splitlines()
  assert lines[0] == "# Device check: NVIDIA H100 80GB HBM3"
  assert "Written by `scripts/device_check.sh` in 300 s." in lines
  assert "- device: 1 x NVIDIA H100 80GB HBM3 (gpu), host CPU AMD EPYC 9654" in lines
  assert "- commit: 0123456789ab" in lines and "- versions: jax 0.10.2, flax 0.12.8" in lines
  assert ("- stages (name, how it ended, seconds): scan_L2048_n192 ok 40; step_lru exit_1 12; "
          "train stopped_at_budget 130") in lines
  assert "- step_lru exit_1: `ValueError: bad shape`" in lines  # a failed stage's last line
  assert "- train stopped_at_budget: `(no output)`" in lines
  assert "| diag | 2048 | 192 | 32 | associative | associative | 0.0123 | 512 | True |" in lines
  assert "| dense | 2048 | 192 | 32 | doubling | | (timeout > 60 s) | | |" in lines
  assert "| diag | 6 | 256 | 192 | 32 | 2048 | auto | none | 12.000 | 0.051 |  |" in lines  # no peak_gb: blank
  steady = sorted(tokens[1:])[1]  # the median of the three after the first
  assert f"**{steady:,.0f} tokens/s** (median over the log steps after the first, which includes compilation)" in lines
  assert "tokens/s at each log step: 20: 1000, 40: 52000, 60: 48000, 80: 50500" in lines
  assert "steps 80, wall 131.2 s, diverged False, test accuracy 0.21" in lines


def test_a_tiny_cpu_report_without_training_says_so(tmp_path):
  (tmp_path / "status.txt").write_text("train exit_1 3\n")
  prov = dict(PROV, platform="cpu", device_kind="cpu", gpu_model=None, device_count=2)
  text = device_report.render(str(tmp_path), prov, tiny=True, total_s=5)
  assert text.startswith("# Device check: cpu (AMD EPYC 9654) (--tiny, CPU)\n")
  assert "no training metrics (see the train stage above)" in text and "steps " not in text
  assert "ListOps paper config (tiny)" in text
