"""Checkpoints of a run with orbax: the latest (for resuming) and the best on validation (for evaluation).

A checkpoint holds the train state pytree (step, parameters, model state such as BatchNorm statistics, optimizer
state) and a JSON of the loop's bookkeeping (epoch, position in the epoch, best validation accuracy so far,
elapsed wall time). The random state needs no saving: every step's key is `fold_in(seed key, step)`.

Orbax writes a checkpoint under `<step>.orbax-checkpoint-tmp` and renames it when complete, so a run killed while
writing leaves only that folder, which is never read: `restore` takes the newest complete checkpoint (and says
so), and the managers delete such folders when they open. A run resumed from an older checkpoint may reach a
step that already has a best checkpoint (written before the kill): saving that step again replaces it.
"""

import glob
import os

import jax
import orbax.checkpoint as ocp

from lra.train import failpoints

NAMES = ("latest", "best")
TMP_SUFFIX = ".orbax-checkpoint-tmp"


def partial_checkpoints(root: str) -> list[str]:
  """The half-written checkpoint folders under `root` (a run killed while writing them)."""
  return sorted(glob.glob(os.path.join(root, "*", f"*{TMP_SUFFIX}*")))


class Checkpoints:
  """`<workdir>/checkpoints/{latest,best}`, one step kept in each."""

  def __init__(self, workdir: str, echo=print):
    self.root = os.path.join(os.path.abspath(workdir), "checkpoints")
    self.partial = partial_checkpoints(self.root)
    for path in self.partial:
      echo(f"{workdir}: ignoring the half-written checkpoint {os.path.relpath(path, workdir)} (the run was killed "
           f"while writing it)")
    # Two managers, not one with a best_fn: a best_fn manager keeps steps by their metric and would delete the
    # newest checkpoint whenever it is not among the best, which a resume needs.
    options = ocp.CheckpointManagerOptions(max_to_keep=1, create=True, cleanup_tmp_directories=True)
    self.latest = ocp.CheckpointManager(os.path.join(self.root, "latest"), options=options)
    self.best = ocp.CheckpointManager(os.path.join(self.root, "best"), options=options)

  def directory(self, which: str) -> str:
    return os.path.join(self.root, which)

  def save(self, which: str, step: int, state, meta: dict):
    manager = self._manager(which)
    if step in manager.all_steps():
      manager.delete(step)
    failpoints.kill_while_writing(f"{which}_write", step, self.directory(which), f"{step}{TMP_SUFFIX}*")
    manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)),
                 force=True)
    # Wait for the write: the train step donates the state's buffers, and on CPU orbax's host copy can alias
    # them, so an asynchronous write could store values of later steps under this step's number.
    manager.wait_until_finished()

  def restore(self, which: str, like_state):
    """Returns (state, meta) of the newest checkpoint, shaped and sharded like `like_state`, or None."""
    manager = self._manager(which)
    step = manager.latest_step()
    if step is None:
      return None
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like_state)
    restored = manager.restore(
        step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()))
    return restored["state"], restored["meta"]

  def close(self):
    for manager in (self.latest, self.best):
      manager.wait_until_finished()
      manager.close()

  def _manager(self, which):
    if which not in NAMES:
      raise ValueError(f"checkpoint {which!r}: valid names are {list(NAMES)}")
    return getattr(self, which)
