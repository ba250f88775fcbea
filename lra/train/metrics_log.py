"""Where a run's numbers go: `<workdir>/metrics.jsonl` (always) and wandb (online, offline or disabled).

wandb mode `auto` is online when an API key is configured (WANDB_API_KEY or a `wandb login` netrc entry) and
offline otherwise (the run is written under `<workdir>/wandb/` and can be uploaded later with `wandb sync`).
A WANDB_MODE environment variable wins over the config. A resumed run appends to the same wandb run (its id is
kept in `<workdir>/wandb_id.txt`) and first drops from `metrics.jsonl` the lines logged after its checkpoint
(and a last line cut short by a kill). Only process 0 of a multi-process run writes either.
"""

import json
import math
import os
import uuid

from lra import wandb_auth
from configs.errors import check_choice

WANDB_MODES = ("auto", "online", "offline", "disabled")


def resolve_wandb_mode(mode: str) -> str:
  """The mode wandb runs in: WANDB_MODE when set, else `config.wandb.mode` with `auto` resolved."""
  check_choice("wandb.mode", mode, WANDB_MODES)
  env_mode = os.environ.get("WANDB_MODE")
  if env_mode:
    return env_mode
  if mode != "auto":
    return mode
  if wandb_auth.api_key():
    return "online"
  return "offline"


def _jsonable(value):
  """Floats as numbers, non-finite ones as strings JSON can hold ("nan", "inf")."""
  value = float(value) if hasattr(value, "__float__") and not isinstance(value, (bool, int)) else value
  if isinstance(value, float) and not math.isfinite(value):
    return str(value)
  return value


def _logged_at_or_before(line: str, step: int) -> bool:
  """Whether a metrics.jsonl line is a whole record logged at or before `step` (a line cut by a kill is not)."""
  try:
    return json.loads(line)["step"] <= step
  except (json.JSONDecodeError, KeyError, TypeError):
    return False


class MetricsLogger:
  """Appends metric dicts to metrics.jsonl and to wandb; `resume_step` truncates lines logged after it."""

  def __init__(self, workdir: str, wandb_cfg, run_config: dict, *, resume_step: int | None = None,
               enabled: bool = True):
    self.path = os.path.join(workdir, "metrics.jsonl")
    self.enabled = enabled  # False on processes other than 0 of a multi-process run: they log nothing
    self.wandb_run = None
    if not enabled:
      return
    if resume_step is None:
      open(self.path, "w").close()
    elif os.path.exists(self.path):
      with open(self.path) as f:
        kept = [line for line in f if _logged_at_or_before(line, resume_step)]
      with open(self.path + ".tmp", "w") as f:
        f.writelines(kept)
      os.replace(self.path + ".tmp", self.path)
    self.mode = resolve_wandb_mode(wandb_cfg.mode)
    if self.mode != "disabled":
      import wandb  # imported only when used: it is slow to import
      id_path = os.path.join(workdir, "wandb_id.txt")
      if resume_step is not None and os.path.exists(id_path):
        run_id = open(id_path).read().strip()
      else:
        run_id = uuid.uuid4().hex[:8]
        with open(id_path, "w") as f:
          f.write(run_id)
      self.wandb_run = wandb.init(
          mode=self.mode, project=wandb_cfg.project, entity=wandb_cfg.entity, group=wandb_cfg.group,
          name=wandb_cfg.name or os.path.basename(os.path.abspath(workdir)), dir=workdir, id=run_id,
          resume="allow", config=run_config)

  def log(self, step: int, metrics: dict):
    if not self.enabled:
      return
    record = {"step": int(step), **{k: _jsonable(v) for k, v in metrics.items()}}
    with open(self.path, "a") as f:
      f.write(json.dumps(record) + "\n")
    if self.wandb_run is not None:
      self.wandb_run.log({k: float(v) if not isinstance(v, str) else v for k, v in metrics.items()}, step=int(step))

  def summary(self, results: dict):
    if self.wandb_run is not None:
      self.wandb_run.summary.update({k: v for k, v in results.items() if v is not None})

  def close(self):
    if self.wandb_run is not None:
      self.wandb_run.finish()
      self.wandb_run = None
