"""ListOps (LRA): length 2048, 10 classes; the paper's hyperparameters, a `:cpu` preset and its long variant.

  python train.py --config configs/listops.py --workdir runs/listops        # paper: 6 layers, d_model 256, n 192
  python train.py --config configs/listops.py:cpu --workdir runs/listops_cpu  # 2-core laptop, generated data:
      # about 5-6 min on 2 CPU cores, 39-41% test accuracy (majority class 20.6%)
  python train.py --config configs/listops.py:cpu,variant=long --workdir runs/listops_long  # 300-512 tokens
  python train.py --config configs/listops.py --config.model.recurrence=dense --config.model.init=glorot
"""

from configs import common

# `:cpu,variant=<name>`: "" is the `:cpu` preset itself; "long" its expressions of 300-512 tokens at length 512,
# where the sqrt(n) law bites at n = 192 (Glorot's predicted state growth ~1e8; scripts/reproduce_cpu_listops.sh).
VARIANTS = ("", "long")


def get_config(arg: str = "paper"):
  arg = common.parse_arg(arg, preset="paper", recurrence="diag", variant="")
  if arg.variant not in VARIANTS or (arg.variant and arg.preset != "cpu"):
    raise common.ConfigError(f"config arg variant={arg.variant!r}: valid: {[v for v in VARIANTS if v]}, with "
                             f"preset=cpu (got preset={arg.preset!r})")
  c = common.base_config("listops", arg)
  c.model.update(d_model=256, d_hidden=192, n_layers=6, dropout=0.0)
  c.optim.update(lr=1e-3, lr_factor=0.05, weight_decay=0.05, warmup_epochs=5.0)
  c.train.update(batch_size=32, epochs=50)
  c.data.max_length = 2048
  if arg.preset == "cpu":  # a small generated set of short expressions (50-200 tokens), length 256
    common.shrink_for_cpu(c, epochs=20, warmup_epochs=1.0, log_every_steps=20, ckpt_every_steps=500)
  if arg.variant == "long":  # the LRA law (depth 10) cut to 300-512 tokens; 157 steps an epoch at batch 32
    c.data.max_length = 512
    c.data.listops.update(num_train=5000, num_val=500, num_test=500, min_tokens=300, max_tokens=512, max_depth=10)
    c.train.epochs = 8
  return c
