"""Tests of scripts/device_check.sh: its --tiny run on CPU writes the report of every stage from the files the stages
wrote (tools/device_report.py's own tests check the rendering), and bad flags fail."""

import json
import os
import re
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "scripts", "device_check.sh")


def test_unknown_argument_is_a_one_line_error():
  proc = subprocess.run([SCRIPT, "--gpu"], capture_output=True, text=True, timeout=30)
  assert proc.returncode == 2
  assert proc.stderr.strip() == "device_check.sh: unknown argument '--gpu'; valid: --tiny, --out FILE, --work DIR"


@pytest.mark.slow
def test_tiny_run_writes_every_stage_to_the_report(tmp_path):
  out, work = tmp_path / "gpu.md", tmp_path / "work"
  proc = subprocess.run([SCRIPT, "--tiny", "--out", str(out), "--work", str(work)], capture_output=True, text=True,
                        timeout=300, env=dict(os.environ, JAX_PLATFORMS="cpu"))
  assert proc.returncode == 0, proc.stderr[-2000:]
  report = out.read_text()
  assert report in proc.stdout  # printed, then written
  assert report.startswith("# Device check: cpu (") and "(--tiny, CPU)" in report.splitlines()[0]
  stages = re.search(r"- stages \(name, how it ended, seconds\): (.*)", report).group(1)
  names = {s.split()[0]: s.split()[1] for s in stages.split("; ")}
  assert names == {"scan_L32_n8": "ok", "step_diag": "ok", "step_dense": "ok", "step_lru": "ok", "pathx_diag": "ok",
                   "pathx_lru": "ok", "pathx_dense": "ok", "train": "ok"}
  for kind in ("diag", "dense"):
    assert re.search(rf"^\| {kind} \| 32 \| 8 \| 2 \| sequential \| \w+ \| [0-9.]+ \| \d+ \| True \|$", report, re.M)
  for rec in ("diag", "dense", "lru"):
    assert re.search(rf"^\| {rec} \| 1 \| 8 \| 192 \| 2 \| 32 \| auto \| \w+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|$",
                     report, re.M)
  pathx = report.split("Path-X paper config (tiny)")[1]
  for rec in ("diag", "dense", "lru"):  # the Path-X rows keep the task's 16,384 steps at a tiny width
    assert re.search(rf"^\| {rec} \| 1 \| 8 \| 192 \| 2 \| 16384 \| auto \| \w+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|$",
                     pathx, re.M), pathx
  tokens = re.search(r"\*\*([0-9,]+) tokens/s\*\*", report)
  assert tokens and int(tokens.group(1).replace(",", "")) > 0
  results = json.loads((work / "train" / "results.json").read_text())
  assert results["steps"] == 4 and not results["diverged"]
  assert (f"steps 4, wall {results['wall_s']:.1f} s, diverged False, test accuracy {results['test_metric']}"
          in report)
  scan_rows = [json.loads(line) for line in (work / "scan.jsonl").read_text().splitlines()]
  assert [(r["kind"], r["impl"], r["length"], r["width"]) for r in scan_rows] == [
      ("diag", "sequential", 32, 8), ("dense", "sequential", 32, 8)]
