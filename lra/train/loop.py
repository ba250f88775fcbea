"""The training loop: `run(config, workdir)` trains, evaluates, checkpoints, logs and writes results.json.

Files in `workdir`: config.json (the resolved config), metrics.jsonl (one JSON a log line), results.json (the
summary: divergence, the best validation value of the task's metric (accuracy or MSE), the test value at that
evaluation, steps, wall time), checkpoints/{latest,best} (orbax), run.lock (held while the run lives), wandb/
(when wandb is offline) and, for a forecaster, rollout.npy (the autoregressive rollout's forecasts, (steps,
examples) float32); config.json and results.json carry the provenance. A run started again in the same
workdir resumes from its latest checkpoint and ends with the same numbers as an uninterrupted one, however it
was stopped; a finished or diverged run returns its results at once.
"""

import json
import os
import sys
import time

import jax
import numpy as np
from flax import nnx

import inits
import models
from configs.names import NORMS
from inits import theory
from lra.errors import ConfigError
from lra.tasks import batching, get_task, task_names
from lra.tasks import data as data_lib
from lra.train import checkpoint, failpoints, metrics_log, optim, parallel, preemption, steps, workdir as workdir_lib
from lra.train import progress as progress_lib
from lra.train import rollout as rollout_lib
from lra.train import task_steps
from models import classifier, heads
from models import scan as scan_lib

SPLITS = ("train", "val", "test")
ROLLOUT_FILE = "rollout.npy"


def validate_config(config) -> None:
  """Fails early, with the field to change, on names and combinations that cannot run.

  Raises:
    ConfigError: the message names the field and its valid values.
  """
  m = config.model
  if config.task not in task_names():
    raise ConfigError(f"config.task={config.task!r}; valid tasks: {task_names()}")
  if m.recurrence not in models.RECURRENCES:
    raise ConfigError(f"config.model.recurrence={m.recurrence!r}; valid: {list(models.RECURRENCES)}")
  if m.init not in inits.names():
    raise ConfigError(f"config.model.init={m.init!r}; valid initializers: {inits.names()}")
  if m.norm not in NORMS:
    raise ConfigError(f"config.model.norm={m.norm!r}; valid: {list(NORMS)}")
  if m.pooling not in heads.POOLINGS:
    raise ConfigError(f"config.model.pooling={m.pooling!r}; valid: {list(heads.POOLINGS)}")
  if m.scan != "auto":
    kind = "dense" if m.recurrence == "dense" else "diag"
    impls = scan_lib.DENSE_IMPLS if kind == "dense" else scan_lib.DIAG_IMPLS
    if m.scan not in impls:
      raise ConfigError(f"config.model.scan={m.scan!r}; valid for a {kind} recurrence: {['auto', *impls]}")
  if m.init == "rescaled_glorot" and theory.gamma_n(m.d_hidden) <= 0:
    raise ConfigError(
        f"config.model.init=rescaled_glorot needs config.model.d_hidden > 163 (gamma_n <= 0 at "
        f"d_hidden={m.d_hidden}, so c_n is undefined): raise d_hidden, or use "
        f"--config.model.init=calibrated_glorot, which works at any width")
  try:
    inits.get(m.init, **classifier.init_params(m))
  except ValueError as e:  # a parameter this initializer does not take, or a bad value
    raise ConfigError(f"config.model.init_params: {e}") from None
  for name, value in (("model.d_model", m.d_model), ("model.d_hidden", m.d_hidden),
                      ("model.n_layers", m.n_layers), ("train.batch_size", config.train.batch_size)):
    if value <= 0:
      raise ConfigError(f"config.{name}={value} must be positive")


def predict_divergence(config) -> dict:
  """inits.stability's prediction for this run's first recurrence steps (width, length, layers, init)."""
  from inits import stability  # imported here: it is only needed once a run starts
  m = config.model
  recurrence = "dense" if m.recurrence == "dense" else "diag"
  prediction = stability.predict(m.init, m.d_hidden, config.data.max_length, recurrence=recurrence,
                                 init_params=classifier.init_params(m), n_layers=m.n_layers)
  prediction["alternative"] = stability.stable_alternative(m.d_hidden, m.recurrence)
  return prediction


def _read_json(path):
  with open(path) as f:
    return json.load(f)


def _write_json(path, obj, kill_point=None):
  """Writes `obj` to `path` atomically: a run killed while writing leaves the old file (or none)."""
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(obj, f, indent=2, sort_keys=True)
  if kill_point:
    failpoints.kill_at(kill_point)
  os.replace(tmp, path)


def evaluate(eval_fn, state, batches, mesh, step=None) -> dict:
  """Accuracy and loss weighted by example count over a whole split, plus hidden-state maxima.

  `mse` is the loss of an MSE task; `seq_accuracy` (per-position heads) the share of examples with every
  position right.
  """
  totals, stat_max, stat_sum, n_batches = {"correct": 0.0, "count": 0.0, "loss_sum": 0.0}, {}, {}, 0
  for batch in batches.epoch(0):
    out = jax.device_get(eval_fn(state, parallel.shard_batch(batch, mesh)))
    failpoints.kill_at("eval", step)
    for k in ("correct", "count", "loss_sum", "seq_correct"):
      if k in out:
        totals[k] = totals.get(k, 0.0) + float(out[k])
    for k, v in out.items():
      if k.endswith("max_abs_h"):
        stat_max[k] = max(stat_max.get(k, 0.0), float(v))
      elif k.endswith("final_state_norm"):
        stat_sum[k] = stat_sum.get(k, 0.0) + float(v)
    n_batches += 1
  count = max(totals["count"], 1.0)
  extra = {"seq_accuracy": totals["seq_correct"] / count} if "seq_correct" in totals else {}
  return {"accuracy": totals["correct"] / count, "loss": totals["loss_sum"] / count, "mse": totals["loss_sum"] / count,
          "count": totals["count"], **extra, **stat_max, **{k: v / max(n_batches, 1) for k, v in stat_sum.items()}}


def _forecast_results(config, task, model, state, splits, diverged_step) -> tuple[dict, np.ndarray | None]:
  """Forecast only: the history and horizon, and the autoregressive rollout (lra/train/rollout.py) from the final
  parameters: its summary for results.json and the forecasts (steps, examples); ({}, None) for other tasks."""
  if task.name != "forecast":
    return {}, None
  cfg = config.data.forecast
  out = {"history": task.history, "horizon": task.num_positions}
  if diverged_step is not None or cfg.rollout_steps == 0:
    return out, None
  nnx.update(model, state["params"], state["model_state"])
  test = splits["test"]
  starts = np.linspace(0, len(test) - 1, min(cfg.rollout_examples, len(test))).astype(int)
  forecasts = rollout_lib.rollout(model, test.inputs[starts, :task.history, 0], cfg.rollout_steps)
  return {**out, **rollout_lib.summarise(forecasts, cfg.rollout_bound, test.info["max_abs_value"])}, forecasts


def run(config, workdir: str) -> dict:
  """Trains `config` in `workdir` (resuming if a checkpoint is there); returns the results dict.

  Raises:
    ConfigError: a config that cannot run, a workdir in use by a live run, or one that holds another config.
    DataError: missing or unreadable data.
    preemption.Preempted: SIGTERM or SIGUSR1 arrived; the latest checkpoint was written first.
  """
  parallel.maybe_initialize_distributed(config.distributed)  # before anything that starts a JAX backend
  validate_config(config)
  main = parallel.is_main_process()
  os.makedirs(workdir, exist_ok=True)
  lock = workdir_lib.RunLock(workdir)
  if main:
    lock.acquire()
  try:
    return _run_locked(config, workdir, main)
  finally:
    lock.release()


def _run_locked(config, workdir, main):
  run_config = config.to_dict()
  workdir_lib.check_same_config(workdir, run_config)
  results_path = os.path.join(workdir, "results.json")
  if os.path.exists(results_path):
    previous = _read_json(results_path)
    if previous.get("finished") or previous.get("diverged"):
      print(f"{workdir}: already {'diverged' if previous['diverged'] else 'finished'}; nothing to do")
      return previous
  from lra import provenance  # imported here: it asks JAX for the devices, after distributed initialisation
  prov = provenance.collect()
  prediction = predict_divergence(config) if main else None
  if main:
    _write_json(os.path.join(workdir, workdir_lib.CONFIG_NAME), {**run_config, "provenance": prov})
    if prediction["p_diverge"] > 0.5:
      print(f"warning: {config.model.init} at d_hidden={config.model.d_hidden} and length "
            f"{config.data.max_length} is predicted to overflow float32 in its first steps (p_diverge="
            f"{prediction['p_diverge']:.2f}; python -m inits.stability); a stable alternative at this width: "
            f"--config.model.init={prediction['alternative']}", file=sys.stderr)
  mesh = parallel.make_mesh()
  try:
    parallel.check_batch_size(config.train.batch_size, mesh)
  except ValueError as e:
    raise ConfigError(str(e)) from None

  task = get_task(config.task, config.data)
  splits = {name: task.load(name) for name in SPLITS}
  train_batches = batching.Batches(splits["train"], config.train.batch_size, seed=config.seed, shuffle=True,
                                   drop_last=True)
  eval_batches = {name: batching.Batches(splits[name], config.train.batch_size, seed=config.seed, shuffle=False,
                                         drop_last=False) for name in ("val", "test")}
  steps_per_epoch = len(train_batches)
  if steps_per_epoch == 0:
    raise ConfigError(f"{config.task}: {len(splits['train'].labels)} training examples are fewer than "
                      f"config.train.batch_size={config.train.batch_size}")
  total_steps = config.train.epochs * steps_per_epoch
  if config.train.max_steps > 0:
    total_steps = min(total_steps, config.train.max_steps)

  init_key, loop_key = jax.random.split(jax.random.key(config.seed))
  model = heads.build(config.model, task, rngs=nnx.Rngs(params=init_key, dropout=init_key))
  tx = optim.make_optimizer(config.optim, nnx.state(model, nnx.Param), steps_per_epoch=steps_per_epoch,
                            total_steps=total_steps)
  lr_schedules = optim.learning_rate_schedules(config.optim, steps_per_epoch=steps_per_epoch,
                                               total_steps=total_steps)
  graphdef, state = steps.init_state(model, tx)
  state = parallel.replicate(state, mesh)

  ckpts = checkpoint.Checkpoints(workdir, echo=print if main else lambda *_: None)
  restored = ckpts.restore("latest", state)
  meta = {"epoch": 0, "step_in_epoch": 0, "best_val_accuracy": None, "test_accuracy": None, "best_step": None,
          "best_val_metric": None, "test_metric": None, "wall_s": 0.0, "evals": []}
  if restored is not None:
    state, meta = restored
    state = parallel.replicate(state, mesh)
    if main:
      print(f"{workdir}: resuming at step {int(state['step'])} (epoch {meta['epoch']}, "
            f"batch {meta['step_in_epoch']})")
  logger = metrics_log.MetricsLogger(workdir, config.wandb, run_config, enabled=main,
                                     resume_step=int(state["step"]) if restored is not None else None)

  if task.head == "classify":
    train_fn = jax.jit(lambda s, b: steps.train_step(graphdef, tx, s, b, loop_key), donate_argnums=0)
    eval_fn = jax.jit(lambda s, b: steps.eval_step(graphdef, s, b))
  else:  # per-task losses and metrics (lra/train/task_steps.py)
    train_fn = jax.jit(lambda s, b: task_steps.train_step(graphdef, tx, s, b, loop_key, loss=task.loss),
                       donate_argnums=0)
    eval_fn = jax.jit(lambda s, b: task_steps.eval_step(graphdef, s, b, loss=task.loss))
  better = {"max": lambda new, old: new > old, "min": lambda new, old: new < old}[data_lib.METRICS[task.metric]]
  classifies = task.loss == "cross_entropy"  # an MSE task has no accuracy to log (its `correct` is always 0)

  def save_latest():
    meta["wall_s"] = wall_before + time.time() - t_start
    if ckpts.latest.latest_step() != step:
      ckpts.save("latest", step, state, meta)

  def do_eval(step):
    val, test = (evaluate(eval_fn, state, eval_batches[n], mesh, step) for n in ("val", "test"))
    nnx.update(model, state["params"], state["model_state"])
    radii = model.spectral_radii()
    accuracies = {"val/accuracy": val["accuracy"], "test/accuracy": test["accuracy"]} if classifies else {}
    record = {**accuracies, "val/loss": val["loss"], "test/loss": test["loss"], "epoch": meta["epoch"],
              **{f"{n}/seq_accuracy": r["seq_accuracy"] for n, r in (("val", val), ("test", test))
                 if "seq_accuracy" in r and classifies},
              **{f"val/{k}": v for k, v in val.items() if "/" in k},
              **{f"layer_{i}/spectral_radius": r for i, r in enumerate(radii)}}
    logger.log(step, record)
    meta["evals"].append({"step": step, "val_accuracy": val["accuracy"], "test_accuracy": test["accuracy"],
                          "val_metric": val[task.metric], "test_metric": test[task.metric]})
    best = meta.setdefault("best_val_metric", meta["best_val_accuracy"])  # a checkpoint from before the metric
    if best is None or better(val[task.metric], best):  # the task's own metric: highest accuracy, lowest MSE
      meta.update(best_val_accuracy=val["accuracy"], test_accuracy=test["accuracy"], best_step=step,
                  best_val_metric=val[task.metric], test_metric=test[task.metric],
                  test_seq_accuracy=test.get("seq_accuracy"))
      ckpts.save("best", step, state, meta)
      failpoints.kill_at("between_checkpoints", step)
    return val, test

  step = int(state["step"])
  diverged_step, t_start, wall_before = None, time.time(), meta["wall_s"]
  bar = progress_lib.Progress(total_steps, initial=step, enabled=main, every_steps=config.train.log_every_steps,
                             desc=f"{config.task} {config.model.recurrence}/{config.model.init}")
  failpoints.kill_at("compile")
  try:
    with preemption.StopSignals() as stop_signals:
      while step < total_steps and diverged_step is None:
        t_log, tokens = time.time(), 0.0
        for batch in train_batches.epoch(meta["epoch"], start_step=meta["step_in_epoch"]):
          state, metrics = train_fn(state, parallel.shard_batch(batch, mesh))
          failpoints.kill_at("mid_step", step + 1)
          metrics = jax.device_get(metrics)
          if not metrics["finite"]:
            diverged_step = step + 1
            logger.log(diverged_step, {"train/loss": metrics["loss"], "diverged": 1.0,
                                       **{f"train/{k}": v for k, v in metrics.items() if "/" in k}})
            break
          step += 1
          meta["step_in_epoch"] += 1
          tokens += float(metrics["tokens"])
          bar.update(step, epoch=meta["epoch"], loss=f"{metrics['loss']:.3f}",
                     **({"acc": f"{metrics['accuracy']:.3f}"} if classifies else {}))
          if step % config.train.log_every_steps == 0 or step == total_steps:
            elapsed = time.time() - t_log
            logger.log(step, {"train/loss": metrics["loss"],
                              **({"train/accuracy": metrics["accuracy"]} if classifies else {}),
                              "train/grad_norm": metrics["grad_norm"], "train/param_norm": metrics["param_norm"],
                              "train/tokens_per_s": tokens / max(elapsed, 1e-9), "epoch": meta["epoch"],
                              **{f"lr/{g}": float(s(step - 1)) for g, s in lr_schedules.items()},
                              **{f"train/{k}": v for k, v in metrics.items() if "/" in k}})
            t_log, tokens = time.time(), 0.0
          end_of_epoch = meta["step_in_epoch"] == steps_per_epoch
          if end_of_epoch:
            meta["epoch"] += 1
            meta["step_in_epoch"] = 0
          if (end_of_epoch or step == total_steps or
              (config.train.eval_every_steps > 0 and step % config.train.eval_every_steps == 0)):
            val, _ = do_eval(step)
            bar.update(step, epoch=meta["epoch"], **{f"val_{task.metric}": f"{val[task.metric]:.3f}"})
            save_latest()
          elif step % config.train.ckpt_every_steps == 0:
            save_latest()
          if stop_signals.should_stop(jax.process_count()):
            save_latest()
            raise preemption.Preempted(
                f"{workdir}: stopped by {stop_signals.received or 'another process'} at step {step}; the latest "
                f"checkpoint is written: start the same command again to resume")
          if step >= total_steps:
            break
    meta["wall_s"] = wall_before + time.time() - t_start
    if diverged_step is None:
      save_latest()
  except BaseException:
    logger.close()
    raise
  finally:  # also on Ctrl-C, a signal or an error: let a checkpoint being written finish, so the next start reads it
    bar.close()
    ckpts.close()
  forecast, rollout_forecasts = _forecast_results(config, task, model, state, splits, diverged_step)
  results = {
      "task": config.task, "recurrence": config.model.recurrence, "init": config.model.init,
      "seed": config.seed, "d_model": config.model.d_model, "d_hidden": config.model.d_hidden,
      "n_layers": config.model.n_layers, "max_length": config.data.max_length,
      "recurrent_layer_norm": bool(config.model.recurrent_layer_norm),
      "diverged": diverged_step is not None, "diverged_step": diverged_step,
      "best_val_accuracy": meta["best_val_accuracy"] if classifies else None,
      "test_accuracy": meta["test_accuracy"] if classifies else None,
      "best_step": meta["best_step"], "steps": step, "total_steps": total_steps,
      "epochs_done": meta["epoch"], "wall_s": meta["wall_s"], "finished": True,
      "devices": jax.device_count(), "processes": jax.process_count(), "platform": jax.default_backend(),
      "val_from_test": bool(splits["val"].info.get("val_from_test", False)),
      "metric": task.metric, "best_val_metric": meta.get("best_val_metric"), "test_metric": meta.get("test_metric"),
      **({"test_seq_accuracy": meta.get("test_seq_accuracy")} if task.head == "per_position" and classifies
         else {}),
      **task.baseline(splits), **forecast,
      "predicted_p_diverge": prediction["p_diverge"] if prediction else None,
      "provenance": prov,
  }
  if "persistence_test_mse" in results and results["test_metric"] is not None:
    results["test_mse_over_persistence"] = results["test_metric"] / results["persistence_test_mse"]
  logger.summary(results)
  logger.close()
  if main:
    if rollout_forecasts is not None:  # before results.json, which marks the run finished
      np.save(os.path.join(workdir, ROLLOUT_FILE), rollout_forecasts)
    _write_json(results_path, results, kill_point="results_write")
    status = f"DIVERGED at step {diverged_step}" if results["diverged"] else (
        f"best val {task.metric} {results['best_val_metric']:.4f}, test at best val {results['test_metric']:.4f}")
    print(f"{workdir}: {status} ({step} steps, {results['wall_s']:.0f} s)")
  return results
