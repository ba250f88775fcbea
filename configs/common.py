"""Pieces shared by the task configs: the `:arg` parser and the fields every run has.

A config file's `get_config(arg)` takes `arg` as `paper` (default), `cpu`, or `key=value` pairs
(`preset=cpu,recurrence=lru`). Only choices that change several fields go through `arg`; single fields are set
with `--config.model.init=glorot`-style flags.
"""

import inspect

import ml_collections
from ml_collections import config_dict

from configs import data
from configs.errors import ConfigError

PRESETS = ("paper", "cpu")  # the `:preset` of a task config


def parse_arg(arg: str, **defaults) -> ml_collections.ConfigDict:
  """Parses 'cpu' or 'preset=cpu,recurrence=lru' into a ConfigDict over `defaults` (big_vision style)."""
  parsed = ml_collections.ConfigDict(defaults)
  for i, item in enumerate(filter(None, (arg or "").split(","))):
    key, sep, value = item.partition("=")
    if not sep:
      if i > 0:
        raise ConfigError(f"config arg {arg!r}: only the first item may be a bare preset name, got {item!r}")
      key, value = "preset", item
    if key not in parsed:
      raise ConfigError(f"config arg {arg!r}: unknown key {key!r}; valid keys: {sorted(defaults)}")
    parsed[key] = type(defaults[key])(value)
  if parsed.preset not in PRESETS:
    raise ConfigError(f"config arg {arg!r}: unknown preset {parsed.preset!r}; valid presets: {list(PRESETS)}")
  return parsed


def _placeholder_type(param: str, defaults: list) -> type:
  """The type of the `init_params.<param>` placeholder, from the factories' defaults: float when they mix int and
  float, str when every default is None (a path such as cache_dir)."""
  kinds = {type(d) for d in defaults if d is not None}
  if kinds <= {int, float} and float in kinds:
    return float
  if len(kinds) > 1:
    names = sorted(k.__name__ for k in kinds)
    raise TypeError(f"config.model.init_params.{param}: the initializers' defaults have types {names}; a "
                    f"parameter shared by several initializers needs one type")
  return kinds.pop() if kinds else str


def init_param_defaults() -> dict[str, list]:
  """{parameter: [its default in each initializer that takes it]} over every initializer `inits` registers."""
  import inits  # here, not at module import: `import configs` stays free of JAX

  defaults: dict[str, list] = {}
  for name in inits.names():
    for param in inits.params_of(name):
      default = inspect.signature(inits._FACTORIES[name]).parameters[param].default  # noqa: SLF001
      defaults.setdefault(param, []).append(None if default is inspect.Parameter.empty else default)
  return defaults


def init_params_config() -> ml_collections.ConfigDict:
  """`config.model.init_params`: a None placeholder for each parameter of each registered initializer.

  Set one with `--config.model.init_params.<param>=value`; the set ones (not None) are passed as they are to
  `inits.get(config.model.init, **params)`, which names the parameters an initializer takes when it is given one
  it does not. An initializer added to `inits` appears here with no change to the configs.
  """
  return ml_collections.ConfigDict({
      param: config_dict.placeholder(_placeholder_type(param, defaults))
      for param, defaults in sorted(init_param_defaults().items())})


def base_config(task: str, arg) -> ml_collections.ConfigDict:
  """Every field of a run, with typed defaults; the task files set the paper's values."""
  c = ml_collections.ConfigDict()
  c.task = task
  c.seed = 0                        # the one seed: model init, dropout, data order
  c.distributed = False             # call jax.distributed.initialize() (multi-host, e.g. SLURM)

  c.model = ml_collections.ConfigDict()
  c.model.recurrence = arg.recurrence  # dense | diag | lru
  c.model.init = "lru_ring" if arg.recurrence == "lru" else "rescaled_glorot"  # a name in inits.names()
  c.model.init_params = init_params_config()  # every parameter of every initializer; None: the factory's default
  c.model.d_model = 256             # width of the residual stream
  c.model.d_hidden = 192            # the paper's n: width of the recurrence
  c.model.n_layers = 6
  c.model.norm = "batch"            # pre-norm: batch | layer (models.layer.NORMS)
  c.model.dropout = 0.0
  c.model.scan = "auto"             # a models.scan implementation, or auto (models/scan.py's per-platform choice)
  c.model.recurrent_layer_norm = False  # the rebuttal's "LN" rows: LayerNorm inside the recurrence
  c.model.bidirectional = False
  c.model.double_gelu = False       # the authors' code applies GELU twice (a quirk)
  c.model.pooling = "mean"          # sequence heads: mean over real positions | last real position
  c.model.remat = "auto"            # auto (states on CPU, none on GPU/TPU) | none | full | states | elementwise

  c.optim = ml_collections.ConfigDict()
  c.optim.lr = 1e-3                 # AdamW on non-recurrent parameters
  c.optim.lr_factor = 0.05          # recurrent parameters: Adam at lr * lr_factor, no weight decay
  c.optim.weight_decay = 0.05
  c.optim.warmup_epochs = 5.0
  c.optim.end_lr = 1e-7             # start of the warm-up and end of the cosine decay
  c.optim.clip_norm = 0.0           # global-norm clipping; 0 = off (the paper: off)

  c.train = ml_collections.ConfigDict()
  c.train.batch_size = 32           # global batch, split over all devices
  c.train.epochs = 50
  c.train.max_steps = -1            # > 0: stop after this many steps (then evaluate)
  c.train.eval_every_steps = 0      # 0: evaluate at the end of each epoch only
  c.train.ckpt_every_steps = 500    # latest checkpoint; also saved at every evaluation
  c.train.log_every_steps = 50      # training metrics to metrics.jsonl / wandb
  c.train.log_radius = True         # each layer's spectral radius in those lines too (dense: a host eigvals per
                                    # layer and log line); False: at evaluations only

  c.data = data.default_data_config(task)   # configs/data.py

  c.wandb = ml_collections.ConfigDict()
  c.wandb.mode = "auto"             # auto (online with an API key, else offline) | online | offline | disabled
  c.wandb.project = "glorot-lra"
  c.wandb.entity = config_dict.placeholder(str)
  c.wandb.name = config_dict.placeholder(str)  # default: the workdir's name
  c.wandb.group = config_dict.placeholder(str)
  return c


def shrink_for_cpu(c, *, epochs: int, warmup_epochs: float, log_every_steps: int, ckpt_every_steps: int):
  """The `:cpu` preset: the same task on its small local data (configs.data.cpu_data_overrides) with a 2-layer,
  d_model 64 model at the paper's recurrence width n = 192 (rescaled Glorot needs the width of
  inits.theory.rescaled_glorot_min_width())."""
  c.model.update(d_model=64, d_hidden=192, n_layers=2, dropout=0.0)
  c.train.update(batch_size=32, epochs=epochs, log_every_steps=log_every_steps, ckpt_every_steps=ckpt_every_steps)
  c.optim.update(lr=3e-3, lr_factor=0.25, warmup_epochs=warmup_epochs)
  c.data.update(data.cpu_data_overrides(c.task))


def shrink_generated_for_cpu(c, *, epochs: int):
  """The `:cpu` preset of the generated tasks (copy, adding, forecast): `shrink_for_cpu`'s, then batch 64, no
  weight decay and LayerNorm."""
  shrink_for_cpu(c, epochs=epochs, warmup_epochs=0.5, log_every_steps=25, ckpt_every_steps=200)
  c.train.batch_size = 64
  c.optim.weight_decay = 0.0
  c.model.norm = "layer"  # BatchNorm's running statistics lag the weights in runs of a few hundred steps
