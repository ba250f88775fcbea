"""One expensive run shared by every pytest-xdist worker of a session: the first worker to ask makes it, the others
wait for it and read its outputs (a module-scoped fixture alone runs once a worker)."""

import fcntl
import json
import os
import shutil


def run_once(tmp_path_factory, name, make):
  """`make(folder)`'s outputs in `folder`, made once a session; returns (folder, what `make` returned, as JSON).

  Args:
    tmp_path_factory: pytest's fixture; the folder sits beside the workers' own temporary folders.
    name: the run's folder name, unique in the session.
    make: writes its outputs into the empty folder it is given and returns a JSON-able record.
  """
  base = tmp_path_factory.getbasetemp()
  root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
  folder, done = root / name, root / f"{name}.json"
  with open(root / f"{name}.lock", "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if make raises
    if not done.exists():
      shutil.rmtree(folder, ignore_errors=True)
      folder.mkdir()
      done.write_text(json.dumps(make(folder), default=str))
  return folder, json.loads(done.read_text())
