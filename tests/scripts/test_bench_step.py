"""scripts/bench_step.py on a tiny config: one Markdown row with the authors' ratio where they have one, the
JSON row, a profiler trace, the matmul floor and the step's HLO without source locations on request."""

import json
import os
import subprocess
import sys

from tests.lra.tiny import OVERRIDES, REPO


def test_bench_step_prints_a_row_writes_json_a_trace_the_matmul_floor_and_the_hlo(tmp_path):
  overrides = [f"--config.{key}={value}" for key, value in OVERRIDES.items() if key.startswith("model.")]
  cmd = [sys.executable, os.path.join(REPO, "scripts", "bench_step.py"), "--config", "configs/listops.py",
         *overrides, "--config.train.batch_size=4", "--config.data.max_length=32", "--steps=1",
         f"--json={tmp_path / 'rows.jsonl'}", f"--profile={tmp_path / 'profile'}", "--floor",
         f"--hlo={tmp_path / 'step.hlo'}"]
  proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300,
                        env={key: value for key, value in {**os.environ, "JAX_PLATFORMS": "cpu"}.items()
                             if key != "GLIBC_TUNABLES"})
  assert proc.returncode == 0, proc.stderr[-2000:]
  row = json.loads((tmp_path / "rows.jsonl").read_text().splitlines()[-1])
  assert row["n_layers"] == 1 and row["batch_size"] == 4 and row["length"] == 32
  assert row["remat"] == "states" and row["kernels"] == "cpu" and row["loss_finite"] and row["gflops_per_s"] > 0
  # The peaks hold at least the train state, grown from the process before the model was built.
  assert row["peak_gb"] > 0 and row["process_peak_gb"] > 0 and row["xla_temp_gb"] > 0, row
  assert row["huge_pages"]
  lines = proc.stdout.splitlines()
  assert sum(line.startswith("| listops | diag | 1 | 4 | 32 |") for line in lines) == 1, proc.stdout
  # The floor: the step's matmuls (the B and C projections, the GLU, their gradients), each timed alone.
  assert row["dot_floor_s"] == sum(d["ms"] for d in row["dots"]) / 1e3 > 0
  assert any(d["dot"].startswith("(128,16)x") for d in row["dots"]), row["dots"]  # B L = 4 * 32 token rows
  assert lines[-1].startswith("matmuls alone: ") and "half the authors' time" not in lines[-1]
  traces = [name for _, _, files in os.walk(tmp_path / "profile") for name in files]
  assert any(name.endswith("perfetto_trace.json.gz") for name in traces), traces
  hlo = (tmp_path / "step.hlo").read_text()
  assert "ENTRY" in hlo and " while(" in hlo  # the program, with the scans' loops
  assert "metadata=" not in hlo and "stack_frame_id" not in hlo and "source_file" not in hlo


def test_the_pathx_table_is_path_x_at_the_paper_size_for_each_recurrence():
  import importlib
  from tools import bench_step
  rows = bench_step.TABLES["pathx"]
  assert [config.split("recurrence=")[1] for config, _ in rows] == ["diag", "lru", "dense"]
  pathx = importlib.import_module("configs.pathx")
  for config, overrides in rows:
    c = pathx.get_config(config.split(":", 1)[1])
    assert not overrides and c.task == "pathx" and c.data.max_length == 128 ** 2 == 16384
    assert (c.model.d_hidden, c.model.n_layers, c.model.d_model, c.train.batch_size) == (256, 6, 128, 32)
  assert bench_step.AUTHORS.get(("pathx", "diag", 6, 32)) is None  # the authors' listops rows stay listops'
  assert bench_step._authors({"task": "listops", "recurrence": "diag", "n_layers": 6, "batch_size": 32}) == (19.5, 9.1)
