"""The variable type of the recurrence's parameters, which the optimizer gives their own group."""

from flax import nnx


class RecurrentParam(nnx.Param):
  """A parameter of the recurrence (A, B, lambda, nu, theta, gamma): Adam at lr * lr_factor, no weight decay
  (lra/train/optim.py). Still an `nnx.Param`, so `nnx.split(model, nnx.Param, ...)` and `nnx.state(model,
  nnx.Param)` include it; C, D and every other parameter are plain `nnx.Param`s."""
