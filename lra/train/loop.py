"""The training loop: `run(config, workdir)` trains, evaluates, checkpoints, logs and writes results.json.

`run` reads as the recipe; each step of it is a function below over one `Run`, the run's state:

  setup(config, workdir)          the data, the model, the optimizer, the step functions; resumes a checkpoint
  train_until(run)                steps until the last step, a divergence or a stop signal
    evaluate_and_checkpoint(run)  at each epoch's end (or every eval_every_steps): val and test, best and latest
  write_results(run)              results.json (docs/results.md lists its fields)

Files in `workdir`: config.json (the resolved config and its provenance), metrics.jsonl (one JSON a log line),
results.json (written last, atomically: its presence marks the run done), checkpoints/{latest,best} (orbax),
run.lock (held while the run lives), wandb/ (when wandb is offline) and, for a forecaster, rollout.npy (the
autoregressive rollout's forecasts, (steps, examples) float32). A run started again in the same workdir resumes
from its latest checkpoint and ends with the same numbers as an uninterrupted one, however it was stopped; a
finished or diverged run returns its results at once.
"""

import dataclasses
import json
import os
import sys
import time

import jax
import numpy as np
from flax import nnx

import models
from configs.errors import check_at_least, check_choice
from inits import stability
from lra.errors import ConfigError
from lra.tasks import batching, get_task, task_names
from lra.tasks import data as data_lib
from lra.train import checkpoint, failpoints, metrics_log, optim, parallel, preemption, steps
from lra.train import progress as progress_lib
from lra.train import rollout as rollout_lib
from lra.train import workdir as workdir_lib

SPLITS = ("train", "val", "test")
METRIC_KEYS = {"accuracy": "accuracy", "mse": "loss"}  # a task's metric -> its key in `evaluate`'s result
ROLLOUT_FILE = "rollout.npy"
RESULTS_FILE = "results.json"


def run(config, workdir: str) -> dict:
  """Trains `config` in `workdir` (resuming if a checkpoint is there); returns the results dict.

  Raises:
    ConfigError: a config that cannot run, a workdir in use by a live run, or one that holds another config.
    DataError: missing or unreadable data.
    preemption.Preempted: SIGTERM or SIGUSR1 arrived; the latest checkpoint was written first.
  """
  parallel.maybe_initialize_distributed(config.distributed)  # before anything that starts a JAX backend
  validate_config(config)
  os.makedirs(workdir, exist_ok=True)
  with workdir_lib.RunLock(workdir, hold=parallel.is_main_process()):
    done = finished_results(config, workdir)
    if done is not None:
      return done
    r = setup(config, workdir)
    try:
      train_until(r)
    except BaseException:
      r.logger.close()  # metrics.jsonl and wandb end here; a resumed run appends to both
      raise
    finally:  # also on a signal or an error: let a checkpoint being written finish, so the next start reads it
      r.close()
    return write_results(r)


@dataclasses.dataclass
class Progress:
  """The loop's bookkeeping, saved as JSON beside each checkpoint: where the run is and its best evaluation."""
  epoch: int = 0
  step_in_epoch: int = 0
  wall_s: float = 0.0
  best_step: int | None = None
  best_val_metric: float | None = None
  test_metric: float | None = None
  test_seq_accuracy: float | None = None
  evals: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Run:
  """One run's state: what `setup` made, and what the loop advances (`state`, `step`, `progress`)."""
  config: object
  workdir: str
  main: bool                 # process 0: the only one that writes files, logs and shows progress
  provenance: dict
  prediction: dict | None    # inits.stability's divergence prediction (process 0)
  task: object
  splits: dict
  batches: dict              # train (shuffled, full batches), val and test
  total_steps: int
  model: nnx.Module          # the live module: evaluation reads its spectral radii, the rollout steps it
  mesh: object
  state: dict                # the train state pytree (lra/train/steps.py)
  train_fn: object
  eval_fn: object
  checkpoints: checkpoint.Checkpoints
  logger: metrics_log.MetricsLogger
  progress: Progress
  step: int                  # the train state's step, on the host
  started: float = dataclasses.field(default_factory=time.time)
  diverged_step: int | None = None
  bar: progress_lib.Progress | None = None

  @property
  def classifies(self) -> bool:
    """A cross-entropy task: it has accuracies to log (an MSE task's `correct` is always 0)."""
    return self.task.loss == "cross_entropy"

  def wall_s(self) -> float:
    return self.progress.wall_s + time.time() - self.started

  def close(self):
    if self.bar is not None:
      self.bar.close()
    self.checkpoints.close()


def validate_config(config) -> None:
  """Fails early, with the field to change, on any value that cannot run: each part checks the fields it reads.

  Raises:
    ConfigError: one line naming the field and its valid values.
  """
  check_choice("task", config.task, task_names())
  models.check_config(config.model)
  optim.check_config(config.optim)
  metrics_log.resolve_wandb_mode(config.wandb.mode)
  train = config.train
  for field in ("batch_size", "epochs", "ckpt_every_steps", "log_every_steps"):
    check_at_least(f"train.{field}", train[field], 1)
  get_task(config.task, config.data)  # the task checks its data fields


def finished_results(config, workdir: str) -> dict | None:
  """The results of a run that already finished or diverged in `workdir` (None otherwise); a workdir that holds
  another config is a ConfigError."""
  workdir_lib.check_same_config(workdir, config.to_dict())
  path = os.path.join(workdir, RESULTS_FILE)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    previous = json.load(f)
  if not (previous.get("finished") or previous.get("diverged")):
    return None
  print(f"{workdir}: already {'diverged' if previous['diverged'] else 'finished'}; nothing to do")
  return previous


def predict_divergence(config) -> dict:
  """inits.stability's prediction for this run's first recurrence steps (width, length, layers, init); for a run
  predicted to diverge, with the advised initializer at this width and length (`stability.advise`'s pick), which
  the warning names. The advice ranks every initializer (minutes of Monte Carlo at paper widths, then cached), so
  a run predicted stable does not wait for it."""
  m = config.model
  recurrence = "dense" if m.recurrence == "dense" else "diag"
  prediction = stability.predict(m.init, m.d_hidden, config.data.max_length, recurrence=recurrence,
                                 init_params=models.init_params(m), n_layers=m.n_layers)
  prediction["advice"] = stability.advice_summary(stability.advise(
      m.d_hidden, config.data.max_length, m.recurrence, n_layers=m.n_layers)) if prediction["p_diverge"] > 0.5 else None
  return prediction


@failpoints.after("compile")
def setup(config, workdir: str) -> Run:
  """Everything a run needs before its first step, resumed from the latest checkpoint when there is one."""
  from lra import provenance  # imported here: it asks JAX for the devices, after distributed initialisation
  main = parallel.is_main_process()
  prov = provenance.collect()
  prediction = predict_divergence(config) if main else None
  if main:
    _write_json(os.path.join(workdir, workdir_lib.CONFIG_NAME), {**config.to_dict(), "provenance": prov})
    if prediction["p_diverge"] > 0.5:
      print(stability.divergence_warning(prediction), file=sys.stderr)
  mesh = parallel.make_mesh()
  try:
    parallel.check_batch_size(config.train.batch_size, mesh)
  except ValueError as e:
    raise ConfigError(str(e)) from None
  task, splits, batches = load_data(config)
  steps_per_epoch = len(batches["train"])
  total_steps = config.train.epochs * steps_per_epoch
  if config.train.max_steps > 0:
    total_steps = min(total_steps, config.train.max_steps)

  init_key, loop_key = jax.random.split(jax.random.key(config.seed))
  model = models.build(config.model, task, rngs=nnx.Rngs(params=init_key, dropout=init_key))
  tx = optim.make_optimizer(config.optim, nnx.state(model, nnx.Param), steps_per_epoch=steps_per_epoch,
                            total_steps=total_steps)
  graphdef, state = steps.init_state(model, tx)
  state = parallel.replicate(state, mesh)  # before the restore: orbax restores to the sharding of `state`
  train_fn = jax.jit(lambda s, b: steps.train_step(graphdef, tx, s, b, loop_key, loss=task.loss), donate_argnums=0)
  # Per-example outputs, replicated: every process reads the whole batch's (the batch is sharded over processes).
  eval_fn = jax.jit(lambda s, b: steps.eval_step(graphdef, s, b, loss=task.loss),
                    out_shardings=parallel.replicated(mesh))

  ckpts = checkpoint.Checkpoints(workdir, echo=print if main else lambda *_: None)
  restored = ckpts.restore("latest", state)
  progress = Progress()
  if restored is not None:
    state, meta = restored
    state = parallel.replicate(state, mesh)
    progress = Progress(**meta)
    if main:
      print(f"{workdir}: resuming at step {int(state['step'])} (epoch {progress.epoch}, batch "
            f"{progress.step_in_epoch})")
  logger = metrics_log.MetricsLogger(workdir, config.wandb, config.to_dict(), enabled=main,
                                     resume_step=int(state["step"]) if restored is not None else None)
  return Run(config=config, workdir=workdir, main=main, provenance=prov, prediction=prediction, task=task,
             splits=splits, batches=batches, total_steps=total_steps, model=model, mesh=mesh,
             state=state, step=int(state["step"]), train_fn=train_fn, eval_fn=eval_fn, checkpoints=ckpts,
             logger=logger, progress=progress)


def load_data(config):
  """The task, its three splits, and their batches (train: shuffled full batches; val, test: every example)."""
  task = get_task(config.task, config.data)
  splits = {name: task.load(name) for name in SPLITS}
  batch_size = config.train.batch_size
  batches = {"train": batching.Batches(splits["train"], batch_size, seed=config.seed, shuffle=True, drop_last=True),
             **{name: batching.Batches(splits[name], batch_size, seed=config.seed, shuffle=False, drop_last=False)
                for name in ("val", "test")}}
  if len(batches["train"]) == 0:
    raise ConfigError(f"{config.task}: {len(splits['train'])} training examples are fewer than "
                      f"config.train.batch_size={batch_size}")
  return task, splits, batches


def train_until(r: Run) -> None:
  """Trains from `r.step` to the last step; stops early at a divergence (recorded in `r.diverged_step`).

  Raises:
    preemption.Preempted: a stop signal arrived (on any process); the latest checkpoint was written first.
  """
  cfg, p = r.config.train, r.progress
  r.bar = progress_lib.Progress(r.total_steps, initial=r.step, enabled=r.main, every_steps=cfg.log_every_steps,
                                desc=f"{r.config.task} {r.config.model.recurrence}/{r.config.model.init}")
  with preemption.StopSignals() as stop_signals:
    while r.step < r.total_steps:
      t_log, tokens = time.time(), 0.0
      for batch in r.batches["train"].epoch(p.epoch, start_step=p.step_in_epoch):
        metrics = jax.device_get(train_batch(r, batch))
        if not metrics["finite"]:
          r.diverged_step = r.step + 1
          r.logger.log(r.diverged_step, {"train/loss": metrics["loss"], "diverged": 1.0, **_state_stats(metrics),
                                         **spectral_radii(r)})  # the radii of the parameters that overflowed
          return
        r.step += 1
        p.step_in_epoch += 1
        tokens += float(metrics["tokens"])
        r.bar.update(r.step, epoch=p.epoch, loss=f"{metrics['loss']:.3f}",
                     **({"acc": f"{metrics['accuracy']:.3f}"} if r.classifies else {}))
        if r.step % cfg.log_every_steps == 0 or r.step == r.total_steps:
          log_training(r, metrics, tokens / max(time.time() - t_log, 1e-9))
          t_log, tokens = time.time(), 0.0
        end_of_epoch = p.step_in_epoch == len(r.batches["train"])
        if end_of_epoch:
          p.epoch, p.step_in_epoch = p.epoch + 1, 0
        if end_of_epoch or r.step == r.total_steps or (cfg.eval_every_steps > 0 and
                                                       r.step % cfg.eval_every_steps == 0):
          evaluate_and_checkpoint(r)
        elif r.step % cfg.ckpt_every_steps == 0:
          save_latest(r)
        if stop_signals.should_stop(jax.process_count()):
          save_latest(r)
          raise preemption.Preempted(
              f"{r.workdir}: stopped by {stop_signals.received or 'another process'} at step {r.step}; the latest "
              f"checkpoint is written: start the same command again to resume")
        if r.step >= r.total_steps:
          break
  save_latest(r)


@failpoints.after("mid_step", step=lambda r: r.step + 1)
def train_batch(r: Run, batch) -> dict:
  """Dispatches one train step on `batch`; returns its metrics, still on the device (r.state advances only on a
  finite step)."""
  r.state, metrics = r.train_fn(r.state, parallel.shard_batch(batch, r.mesh))
  return metrics


def _state_stats(metrics: dict) -> dict:
  """The per-layer hidden-state statistics of a step's metrics, as train/<layer>/<stat>."""
  return {f"train/{k}": v for k, v in metrics.items() if "/" in k}


def spectral_radii(r: Run) -> dict:
  """Each layer's recurrence spectral radius at the current parameters, as layer_<i>/spectral_radius (host: the
  recurrent matrices are fetched, a few hundred kB at the paper's widths)."""
  nnx.update(r.model, r.state["params"], r.state["model_state"])
  return {f"layer_{i}/spectral_radius": radius for i, radius in enumerate(r.model.spectral_radii())}


def log_training(r: Run, metrics: dict, tokens_per_s: float) -> None:
  """The training metrics of the last step, with the learning rates its update used and (train.log_radius) the
  spectral radii it left: how far training moves the radius between evaluations, and whether it crosses 1."""
  rates = optim.learning_rates(r.state["opt_state"])  # fetches the two scalars, not the Adam state
  r.logger.log(r.step, {"train/loss": metrics["loss"],
                        **({"train/accuracy": metrics["accuracy"]} if r.classifies else {}),
                        "train/grad_norm": metrics["grad_norm"], "train/param_norm": metrics["param_norm"],
                        "train/tokens_per_s": tokens_per_s, "epoch": r.progress.epoch,
                        **{f"lr/{group}": rate for group, rate in rates.items()}, **_state_stats(metrics),
                        **(spectral_radii(r) if r.config.train.log_radius else {})})


def evaluate_and_checkpoint(r: Run) -> None:
  """Evaluates val and test, logs them, saves the best checkpoint on the task's metric, then the latest."""
  val, test = evaluate(r, "val"), evaluate(r, "test")
  metric, p = r.task.metric, r.progress
  record = {"val/loss": val["loss"], "test/loss": test["loss"], "epoch": p.epoch,
            **{f"val/{k}": v for k, v in val.items() if "/" in k}, **spectral_radii(r)}
  if r.classifies:
    record.update({f"{name}/{k}": result[k] for name, result in (("val", val), ("test", test))
                   for k in ("accuracy", "seq_accuracy") if k in result})
  r.logger.log(r.step, record)
  val_metric, test_metric = val[METRIC_KEYS[metric]], test[METRIC_KEYS[metric]]
  p.evals.append({"step": r.step, "val_metric": val_metric, "test_metric": test_metric})
  best_is_max = data_lib.METRICS[metric] == "max"
  if p.best_val_metric is None or (val_metric > p.best_val_metric if best_is_max else
                                   val_metric < p.best_val_metric):
    p.best_step, p.best_val_metric, p.test_metric = r.step, val_metric, test_metric
    p.test_seq_accuracy = test.get("seq_accuracy")
    save_best(r)
  r.bar.update(r.step, epoch=p.epoch, **{f"val_{metric}": f"{val_metric:.3f}"})
  save_latest(r)


@failpoints.after("eval", step=lambda r: r.step)
def evaluate(r: Run, split: str) -> dict:
  """The split's loss, accuracy and, for per-position heads, seq_accuracy (every position right), averaged over
  its examples; each layer's largest |h_t| over its batches and mean final state norm."""
  averages = nnx.MultiMetric(loss=nnx.metrics.Average("loss"), accuracy=nnx.metrics.Average("correct"),
                             seq_accuracy=nnx.metrics.Average("seq_correct"))
  maxima, norms = {}, {}
  for batch in r.batches[split].epoch(0):
    out = jax.device_get(r.eval_fn(r.state, parallel.shard_batch(batch, r.mesh)))
    averages.update(mask=out["weights"], **out)
    for k, v in out.items():
      if k.endswith("max_abs_h"):
        maxima[k] = max(maxima.get(k, 0.0), float(v))
      elif k.endswith("final_state_norm"):
        norms.setdefault(k, []).append(float(v))
  result = {k: float(v) for k, v in averages.compute().items()}
  if r.task.head != "per_position":
    del result["seq_accuracy"]
  return {**result, **maxima, **{k: float(np.mean(v)) for k, v in norms.items()}}


def save_latest(r: Run) -> None:
  r.progress.wall_s = r.wall_s()
  r.started = time.time()
  if r.checkpoints.latest.latest_step() != r.step:
    r.checkpoints.save("latest", r.step, r.state, dataclasses.asdict(r.progress))


@failpoints.after("between_checkpoints", step=lambda r: r.step)
def save_best(r: Run) -> None:
  r.checkpoints.save("best", r.step, r.state, dataclasses.asdict(r.progress))


def write_results(r: Run) -> dict:
  """results.json (and a forecaster's rollout.npy) from the finished run; docs/results.md lists the fields."""
  config, m, p = r.config, r.config.model, r.progress
  p.wall_s, r.started = r.wall_s(), time.time()
  forecast, forecasts = forecast_results(r)
  results = {
      "task": config.task, "recurrence": m.recurrence, "init": m.init, "init_params": models.init_params(m),
      "seed": config.seed, "d_model": m.d_model, "d_hidden": m.d_hidden, "n_layers": m.n_layers,
      "max_length": config.data.max_length, "recurrent_layer_norm": bool(m.recurrent_layer_norm),
      "finished": True, "diverged": r.diverged_step is not None, "diverged_step": r.diverged_step,
      "metric": r.task.metric, "best_val_metric": p.best_val_metric, "test_metric": p.test_metric,
      "best_step": p.best_step, "steps": r.step, "total_steps": r.total_steps, "epochs_done": p.epoch,
      "wall_s": p.wall_s, "devices": jax.device_count(), "processes": jax.process_count(),
      "platform": jax.default_backend(), "val_from_test": bool(r.splits["val"].info.get("val_from_test", False)),
      **({"test_seq_accuracy": p.test_seq_accuracy} if r.task.head == "per_position" and r.classifies else {}),
      **r.task.baseline(r.splits), **forecast,
      "predicted_p_diverge": r.prediction["p_diverge"] if r.prediction else None,
      "advised_init": r.prediction["advice"] if r.prediction else None,
      "provenance": r.provenance,
  }
  if "persistence_test_mse" in results and results["test_metric"] is not None:
    results["test_mse_over_persistence"] = results["test_metric"] / results["persistence_test_mse"]
  r.logger.summary(results)
  r.logger.close()
  if r.main:
    if forecasts is not None:  # before results.json, which marks the run finished
      np.save(os.path.join(r.workdir, ROLLOUT_FILE), forecasts)
    _write_json(os.path.join(r.workdir, RESULTS_FILE), results, kill_point="results_write")
    status = f"DIVERGED at step {r.diverged_step}" if results["diverged"] else (
        f"best val {r.task.metric} {p.best_val_metric:.4f}, test at best val {p.test_metric:.4f}")
    print(f"{r.workdir}: {status} ({r.step} steps, {p.wall_s:.0f} s)")
  return results


def forecast_results(r: Run) -> tuple[dict, np.ndarray | None]:
  """Forecast only: the history and horizon, and the autoregressive rollout (lra/train/rollout.py) from the final
  parameters: its summary for results.json and the forecasts (steps, examples); ({}, None) for other tasks."""
  if r.task.name != "forecast":
    return {}, None
  cfg = r.config.data.forecast
  out = {"history": r.task.history, "horizon": r.task.num_positions}
  if r.diverged_step is not None or cfg.rollout_steps == 0:
    return out, None
  nnx.update(r.model, r.state["params"], r.state["model_state"])
  test = r.splits["test"]
  starts = np.linspace(0, len(test) - 1, min(cfg.rollout_examples, len(test))).astype(int)
  forecasts = rollout_lib.rollout(r.model, test.inputs[starts, :r.task.history, 0], cfg.rollout_steps)
  return {**out, **rollout_lib.summarise(forecasts, cfg.rollout_bound, test.info["max_abs_value"])}, forecasts


def _write_json(path, obj, kill_point=None):
  """Writes `obj` to `path` atomically: a run killed while writing leaves the old file (or none)."""
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(obj, f, indent=2, sort_keys=True)
  if kill_point:
    failpoints.kill_at(kill_point)
  os.replace(tmp, path)
