"""Long-horizon forecasting of generated series (Mackey-Glass, tau = 17; a noisy multi-scale sum of sinusoids).

A window is a history of L = max_length - H values followed by H horizon positions. Inputs (N, L + H, 2): the
series value (0 in the horizon) and a horizon marker (1 in the horizon); targets (N, H) float32, the next H
values, read at the H horizon positions. One long series is generated per task seed and cut chronologically
into train / val / test segments (no window of one split overlaps another's); values are standardised with the
train segment's mean and std. The persistence baseline predicts the last history value at every horizon step.

Mackey-Glass: dx/dt = beta x(t - tau) / (1 + x(t - tau)^10) - gamma x(t), beta 0.2, gamma 0.1, integrated by
RK4 with step `mg_dt` (the delayed value at a half step is the mean of its neighbours on the grid), from a
constant history drawn from the seed, sampled every `mg_sample_step` time units after a transient.
"""

import numpy as np

from lra.errors import ConfigError
from lra.tasks import data
from lra.tasks import generated

GENERATOR_VERSION = 1
SERIES = ("mackey_glass", "sinusoids")
MG_BETA, MG_GAMMA, MG_POWER = 0.2, 0.1, 10
MG_TRANSIENT = 500.0          # time units dropped before sampling (the attractor is reached by then)


def mackey_glass(num_samples: int, *, tau: float, dt: float, sample_step: float, x0: float,
                 transient: float = MG_TRANSIENT) -> np.ndarray:
  """`num_samples` values of the Mackey-Glass series, every `sample_step` time units from t = transient.

  The history x(t <= 0) is the constant x0. `tau` and `sample_step` must be multiples of `dt`.
  """
  delay, every = int(round(tau / dt)), int(round(sample_step / dt))
  if abs(delay * dt - tau) > 1e-9 or abs(every * dt - sample_step) > 1e-9 or delay < 1:
    raise ConfigError(f"config.data.forecast: mg_tau={tau} and mg_sample_step={sample_step} must be positive "
                      f"multiples of mg_dt={dt}")
  skip = int(round(transient / dt))
  total = skip + every * (num_samples - 1) + 1
  x = np.empty(delay + total)
  x[:delay + 1] = x0                       # x[delay] is x(0)

  def f(x_t, x_lag):
    return MG_BETA * x_lag / (1.0 + x_lag ** MG_POWER) - MG_GAMMA * x_t

  for i in range(delay, delay + total - 1):
    lag0, lag1 = x[i - delay], x[i - delay + 1]
    lag_half = 0.5 * (lag0 + lag1)
    xi = x[i]
    k1 = f(xi, lag0)
    k2 = f(xi + 0.5 * dt * k1, lag_half)
    k3 = f(xi + 0.5 * dt * k2, lag_half)
    k4 = f(xi + dt * k3, lag1)
    x[i + 1] = xi + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
  return x[delay + skip::every][:num_samples].copy()


def sinusoids(num_samples: int, *, periods, amplitudes, noise_std: float, rng: np.random.Generator) -> np.ndarray:
  """sum_k amplitudes[k] sin(2 pi t / periods[k] + phase_k) + noise_std * N(0, 1), phases uniform from `rng`."""
  t = np.arange(num_samples, dtype=np.float64)
  phases = rng.uniform(0.0, 2 * np.pi, len(periods))
  clean = sum(a * np.sin(2 * np.pi * t / p + phi) for a, p, phi in zip(amplitudes, periods, phases))
  return clean + noise_std * rng.standard_normal(num_samples)


def windows(series: np.ndarray, num: int, history: int, horizon: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
  """Window i starts at i * stride: (inputs (num, history + horizon, 2) float32, targets (num, horizon) float32)."""
  starts = np.arange(num) * stride
  index = starts[:, None] + np.arange(history + horizon)[None, :]
  values = series[index]
  inputs = np.zeros((num, history + horizon, 2), np.float32)
  inputs[:, :history, 0] = values[:, :history]
  inputs[:, history:, 1] = 1.0
  return inputs, values[:, history:].astype(np.float32)


class Forecast:
  """Forecasting the next H values of a series: per-position regression of the H horizon positions."""
  name = "forecast"
  head = "per_position"
  loss = "mse"
  metric = "mse"
  vocab_size = None
  input_dim = 2
  num_outputs = 1
  num_classes = 1

  def __init__(self, data_cfg):
    cfg = data_cfg.forecast
    data.check_choice("forecast.series", cfg.series, SERIES)
    data.check_at_least("forecast.horizon", cfg.horizon, 1)
    history = int(data_cfg.max_length) - int(cfg.horizon)
    if cfg.horizon > history:
      raise ConfigError(f"config.data.forecast.horizon={cfg.horizon} must be <= the history "
                        f"max_length - horizon={history}: set config.data.max_length >= {2 * cfg.horizon}")
    for field in ("num_train", "num_val", "num_test", "stride", "rollout_examples"):
      data.check_at_least(f"forecast.{field}", cfg[field], 1)
    data.check_at_least("forecast.rollout_steps", cfg.rollout_steps, 0)
    for field in ("mg_tau", "mg_dt", "mg_sample_step", "rollout_bound"):
      if not cfg[field] > 0:
        raise ConfigError(f"config.data.forecast.{field}={cfg[field]} must be > 0")
    data.check_at_least("forecast.noise_std", cfg.noise_std, 0.0)
    if any(not p > 0 for p in cfg.periods):
      raise ConfigError(f"config.data.forecast.periods={tuple(cfg.periods)}: every period must be > 0")
    if len(cfg.periods) != len(cfg.amplitudes) or not cfg.periods:
      raise ConfigError(f"config.data.forecast.amplitudes={tuple(cfg.amplitudes)} needs one amplitude per period "
                        f"of config.data.forecast.periods={tuple(cfg.periods)} (at least one)")
    self.data_cfg = data_cfg
    self.max_length = int(data_cfg.max_length)
    self.history = history
    self.num_positions = int(cfg.horizon)

  def params(self) -> dict:
    cfg = self.data_cfg.forecast
    p = dict(series=cfg.series, history=self.history, horizon=self.num_positions, stride=int(cfg.stride),
             num_train=int(cfg.num_train), num_val=int(cfg.num_val), num_test=int(cfg.num_test), seed=int(cfg.seed))
    if cfg.series == "mackey_glass":
      p.update(mg_tau=float(cfg.mg_tau), mg_dt=float(cfg.mg_dt), mg_sample_step=float(cfg.mg_sample_step))
    else:
      p.update(periods=[float(v) for v in cfg.periods], amplitudes=[float(v) for v in cfg.amplitudes],
               noise_std=float(cfg.noise_std))
    return p

  def segment_length(self, num: int) -> int:
    return (num - 1) * int(self.data_cfg.forecast.stride) + self.max_length

  def series(self) -> tuple[np.ndarray, dict]:
    """The whole raw series (train, val, test segments in order) and where each segment starts."""
    p = self.params()
    lengths = [self.segment_length(p[f"num_{s}"]) for s in generated.SPLITS]
    total = sum(lengths)
    rng = np.random.default_rng(p["seed"])
    if p["series"] == "mackey_glass":
      x0 = 1.2 + 0.2 * rng.uniform(-1.0, 1.0)
      values = mackey_glass(total, tau=p["mg_tau"], dt=p["mg_dt"], sample_step=p["mg_sample_step"], x0=x0)
    else:
      values = sinusoids(total, periods=p["periods"], amplitudes=p["amplitudes"], noise_std=p["noise_std"], rng=rng)
    starts = dict(zip(generated.SPLITS, np.cumsum([0] + lengths[:-1]).tolist()))
    return values, {"starts": starts, "lengths": dict(zip(generated.SPLITS, lengths))}

  def _generate(self) -> dict:
    p = self.params()
    values, where = self.series()
    train = values[:where["lengths"]["train"]]
    mean, std = float(train.mean()), float(train.std())
    standard = (values - mean) / std
    out = {}
    for split in generated.SPLITS:
      segment = standard[where["starts"][split]:where["starts"][split] + where["lengths"][split]]
      inputs, targets = windows(segment, p[f"num_{split}"], self.history, self.num_positions, p["stride"])
      out[split] = {"inputs": inputs, "labels": targets, "mean": np.float64(mean), "std": np.float64(std),
                    "segment": segment.astype(np.float32)}
    return out

  def load(self, split: str) -> data.Split:
    out, arrays = generated.load_split(self, GENERATOR_VERSION, split)
    out.info.update(series=self.data_cfg.forecast.series, history=self.history, horizon=self.num_positions,
                    mean=float(arrays["mean"]), std=float(arrays["std"]),
                    max_abs_value=float(np.abs(arrays["segment"]).max()))
    return out

  def persistence(self, split: data.Split) -> np.ndarray:
    """The persistence forecast (N, H): the last history value at every horizon step."""
    last = split.inputs[:, self.history - 1, 0]
    return np.repeat(last[:, None], self.num_positions, axis=1)

  def baseline(self, splits: dict) -> dict:
    """The persistence and zero (the train mean) forecasts' test MSE, in standardised units."""
    test = splits["test"]
    return {"persistence_test_mse": float(np.mean((self.persistence(test) - test.labels) ** 2)),
            "zero_test_mse": float(np.mean(test.labels ** 2))}
