"""The autoregressive rollout of a trained forecaster, one jitted step at a time in the model's step mode.

From a test history, the model forecasts the next value at a horizon position (marker 1), and that forecast is
fed back as the next history value (marker 0), for `steps` steps. The rollout has left the bounded range at
the first step whose forecast is not finite or exceeds `bound` times the largest |value| of the standardised
series; results.json records whether and when, per run.
"""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx


def rollout(model, histories: np.ndarray, steps: int) -> np.ndarray:
  """Forecasts (steps, B) float32 fed back from `histories` (B, L) standardised values.

  Args:
    model: a models.heads.SequenceModel with inputs (value, horizon marker).
    histories: the history values the rollout starts from.
    steps: rollout length.
  """
  graphdef, state = nnx.split(model)

  @jax.jit
  def consume(state, carry, value):
    model = nnx.merge(graphdef, state)
    marker = jnp.zeros_like(value)
    carry, _ = model.step(carry, jnp.stack([value, marker], axis=-1))
    return carry

  @jax.jit
  def forecast_and_feed(state, carry):
    model = nnx.merge(graphdef, state)
    zeros = jnp.zeros((carry[0].shape[0],), jnp.float32)
    _, forecast = model.step(carry, jnp.stack([zeros, zeros + 1.0], axis=-1))  # a horizon position: forecast
    carry, _ = model.step(carry, jnp.stack([forecast, zeros], axis=-1))         # fed back as history
    return carry, forecast

  histories = jnp.asarray(histories, jnp.float32)
  carry = model.initial_state(histories.shape[0])
  for t in range(histories.shape[1]):
    carry = consume(state, carry, histories[:, t])
  out = np.zeros((steps, histories.shape[0]), np.float32)
  for t in range(steps):
    carry, forecast = forecast_and_feed(state, carry)
    out[t] = np.asarray(forecast)
  return out


def summarise(forecasts: np.ndarray, bound: float, max_abs_value: float) -> dict:
  """Whether and when (first step, 1-based) any rollout leaves |x| <= bound * max_abs_value or is not finite."""
  limit = bound * max_abs_value
  outside = ~np.isfinite(forecasts) | (np.abs(np.nan_to_num(forecasts, nan=np.inf)) > limit)
  steps_outside = np.flatnonzero(outside.any(axis=1))
  return {"rollout_steps": int(forecasts.shape[0]), "rollout_examples": int(forecasts.shape[1]),
          "rollout_bound": float(limit), "rollout_left_range": bool(steps_outside.size),
          "rollout_left_at_step": int(steps_outside[0]) + 1 if steps_outside.size else None,
          "rollout_max_abs": float(np.nanmax(np.abs(np.where(np.isfinite(forecasts), forecasts, np.nan))))
          if np.isfinite(forecasts).any() else None}
