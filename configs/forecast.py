"""Forecasting Mackey-Glass (tau 17) or a noisy multi-scale sum of sinusoids: a history, then H values (MSE).

  python train.py --config configs/forecast.py --workdir runs/forecast          # history 1024, horizon 720
  python train.py --config configs/forecast.py:cpu --workdir runs/forecast_cpu  # history 192, horizon 96
  python train.py --config configs/forecast.py:cpu --config.data.forecast.series=sinusoids

results.json has the test MSE, the persistence (last value) forecast's MSE and their ratio, and an
autoregressive rollout of `data.forecast.rollout_steps` steps: whether and when it leaves the bounded range.
"""

from configs import common


def get_config(arg: str = "paper"):
  arg = common.parse_arg(arg, preset="paper", recurrence="diag")
  c = common.base_config("forecast", arg)
  c.model.update(d_model=128, d_hidden=192, n_layers=4, dropout=0.0)
  c.optim.update(lr=1e-3, lr_factor=0.25, weight_decay=0.0, warmup_epochs=1.0)
  c.train.update(batch_size=64, epochs=20)
  if arg.preset == "cpu":  # an epoch is 50 steps at batch 64: 200 steps (timed in docs/table2_cpu.md)
    common.shrink_generated_for_cpu(c, epochs=4)
  return c
