"""Table 2 from fake results.json files: mean ± std over seeds, the divergence count, baselines, rollouts."""

import json

from tools import table2

PROV = {"commit": "abcdef0123", "dirty": False, "cpu_model": "Test CPU"}


def write(root, task, label, seed, **result):
  folder = root / task / label / f"seed{seed}"
  folder.mkdir(parents=True)
  (folder / "results.json").write_text(json.dumps({"task": task, "diverged": False, "provenance": PROV, **result}))


def test_cells_baselines_and_rollouts(tmp_path):
  write(tmp_path, "copy", "diag-diag_uniform", 0, test_metric=0.9, chance_accuracy=0.125)
  write(tmp_path, "copy", "diag-diag_uniform", 1, test_metric=0.7, chance_accuracy=0.125)
  write(tmp_path, "copy", "diag-glorot", 0, diverged=True, test_metric=None)
  write(tmp_path, "copy", "diag-glorot", 1, test_metric=0.2)
  write(tmp_path, "adding", "diag-glorot", 0, test_metric=0.04, constant_one_test_mse=0.17)
  write(tmp_path, "forecast", "diag-glorot", 0, test_mse_over_persistence=0.5, rollout_left_range=True,
        rollout_left_at_step=37, rollout_steps=4096)
  markdown = table2.to_markdown(table2.read_runs(str(tmp_path)))
  rows = {line.split(" | ")[0][2:]: line.split(" | ")[1:] for line in markdown.splitlines() if line.startswith("| ")}
  assert rows["diag-diag_uniform"][0] == "0.800 ± 0.100 (2 seeds)" and rows["diag-diag_uniform"][1] == "n/r"
  assert rows["diag-glorot"][:2] == ["– (1/2 div.)", "0.040 (1 seed)"]
  assert rows["diag-glorot"][2:] == ["0.500 (1 seed)", "1/1 left (from step 37) |"]
  assert rows["baseline"][:2] == ["chance 0.125", "constant 1 0.170"]
  assert "commits: abcdef0; CPU: Test CPU" in markdown
