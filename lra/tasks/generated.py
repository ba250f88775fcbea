"""Generated tasks' shared pieces: the npz cache with checksums, the split loader and the one-line field checks.

A generated task writes each split once to `<cache_dir>/<task>/<hash of its parameters>/{train,val,test}.npz`
with a `checksums.json` manifest (as ListOps does), and reads it back when every checksum matches.
The task interface (head, loss, metric, baseline) is in lra/tasks/data.py.
"""

import json
import os

import numpy as np

from lra.tasks import data

SPLITS = ("train", "val", "test")


def _manifest_ok(out_dir: str, manifest_path: str) -> bool:
  if not os.path.exists(manifest_path):
    return False
  with open(manifest_path) as f:
    manifest = json.load(f)
  return all(os.path.exists(os.path.join(out_dir, f"{s}.npz")) and
             data.file_sha256(os.path.join(out_dir, f"{s}.npz")) == manifest["sha256"].get(f"{s}.npz")
             for s in SPLITS)


def ensure_cached(task: str, params: dict, version: int, cache_root: str, generate) -> str:
  """The folder of `task`'s cached splits, calling `generate() -> {split: {name: array}}` unless checksums match.

  Args:
    task: the task name (a folder under cache_root).
    params: every parameter the generated arrays depend on (JSON-able); its hash names the folder.
    version: the generator's version; bump when its output for given parameters changes.
    cache_root: config.data.cache_dir or the default.
    generate: returns the arrays of every split in SPLITS.
  """
  key = {**params, "generator_version": version}
  out_dir = os.path.join(cache_root, task, data.params_hash(key))
  manifest_path = os.path.join(out_dir, "checksums.json")
  if _manifest_ok(out_dir, manifest_path):
    return out_dir
  os.makedirs(out_dir, exist_ok=True)
  arrays = generate()
  for split in SPLITS:
    path = os.path.join(out_dir, f"{split}.npz")
    with open(path + ".tmp", "wb") as f:
      np.savez(f, **arrays[split])
    os.replace(path + ".tmp", path)
  manifest = {"params": params, "generator_version": version,
              "sha256": {f"{s}.npz": data.file_sha256(os.path.join(out_dir, f"{s}.npz")) for s in SPLITS}}
  with open(manifest_path + ".tmp", "w") as f:
    json.dump(manifest, f, indent=2, sort_keys=True)
  os.replace(manifest_path + ".tmp", manifest_path)
  return out_dir


def load_cached(out_dir: str, split: str) -> dict:
  """The arrays of one cached split."""
  data.check_choice("split", split, SPLITS)
  with np.load(os.path.join(out_dir, f"{split}.npz")) as f:
    return {k: f[k] for k in f.files}


def load_split(task, version: int, split: str, normalise=None) -> tuple[data.Split, dict]:
  """One split of a generated task whose sequences all have `task.max_length` steps, and every array cached for it.

  Args:
    task: has `name`, `data_cfg`, `max_length`, `params()` and `_generate()` (the arguments of `ensure_cached`).
    version: the task's generator version.
    split: one of SPLITS.
    normalise: the Split's `normalise`.
  """
  out_dir = ensure_cached(task.name, task.params(), version, data.cache_dir(task.data_cfg),
                          task._generate)  # noqa: SLF001 - the task's own generator
  arrays = load_cached(out_dir, split)
  lengths = np.full(len(arrays["labels"]), task.max_length, np.int32)
  info = {"source": f"generated {out_dir}", "val_from_test": False}
  return data.Split(arrays["inputs"], lengths, arrays["labels"], info, normalise), arrays
