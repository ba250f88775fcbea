"""The data fields of every task (`config.data`): their defaults, and the small local data of the `:cpu` presets.

    from configs import data
    cfg = data.default_data_config("imdb")                 # every field typed and commented
    cfg.update(data.cpu_data_overrides("imdb"))            # the `:cpu` preset's data

The readers in `lra/tasks/` read these fields and define none; docs/data.md explains each one.
"""

import ml_collections
from ml_collections import config_dict


# Each task's default length (pad / truncate to it): copy 2K + 1 + blanks; forecast history + horizon; (p)sMNIST
# 784 pixels; Pathfinder / Path-X resolution^2 pixels; Retrieval per document.
MAX_LENGTHS = {"listops": 2048, "scifar": 1024, "imdb": 4096, "copy": 1021, "adding": 1000, "forecast": 1744,
               "smnist": 784, "psmnist": 784, "pathfinder": 32 * 32, "pathx": 128 * 128, "retrieval": 4000}


def default_data_config(task: str) -> ml_collections.ConfigDict:
  """Every data field of `task`, typed and commented; the task configs start from it.

  Raises:
    ValueError: unknown task.
  """
  if task not in MAX_LENGTHS:
    raise ValueError(f"unknown task {task!r}; the tasks with data fields: {list(MAX_LENGTHS)}")
  c = ml_collections.ConfigDict()
  c.max_length = MAX_LENGTHS[task]
  c.data_dir = config_dict.placeholder(str)   # tfds data dir; None: $TFDS_DATA_DIR or ~/tensorflow_datasets
  c.cache_dir = config_dict.placeholder(str)  # generated tasks + fixtures; None: $GLOROT_LRA_CACHE/data
  c.val_fraction = 0.1                        # held-out share of train (scifar val_split=lra, imdb)
  c.split_seed = 0                            # seed of held-out draws: the same validation set for every run seed
  if task == "listops":
    c.listops = ml_collections.ConfigDict(dict(
        source="generated",                   # generated (our seeded generator, cached) | raw (official TSVs)
        raw_dir=config_dict.placeholder(str),  # folder with basic_{train,val,test}.tsv (lra_release/listops-1000)
        num_train=96_000,                     # distinct expressions per split (the LRA sizes)
        num_val=2_000,
        num_test=2_000,
        min_tokens=500,                       # keep expressions with min_tokens < tokens < max_tokens
        max_tokens=2000,
        max_depth=10,                         # nodes at this depth are digits
        max_args=10,                          # an operator has 2..max_args arguments
        seed=0,                               # generator seed (same seed -> byte-identical files)
    ))
  elif task == "scifar":
    c.scifar = ml_collections.ConfigDict(dict(
        source="auto",                        # auto (raw_dir if set, else tfds) | tfds | raw | fixture
        raw_dir=config_dict.placeholder(str),  # cifar-10-batches-py folder or cifar-10-python.tar.gz
        grayscale=False,                      # False: colour 1024 x 3 (the paper's code); True: LRA's 1024 x 1
        tokens=False,                         # grayscale only: pixels as tokens 0..255 (LRA) instead of values
        val_split="lra",                      # lra: train[:90%] / train[90%:] | code: a seeded 1% of train
        fixture_num_train=2000,               # source=fixture: size of the synthetic learnable set
        fixture_num_test=500,
        fixture_seed=0,
    ))
  elif task == "copy":
    c.copy = ml_collections.ConfigDict(dict(
        num_symbols=10,                       # K: symbols to remember, read back at the last K positions
        alphabet=8,                           # symbols drawn uniformly from 1..alphabet (chance 1/alphabet)
        num_train=64_000,                     # generated sequences per split
        num_val=2_000,
        num_test=2_000,
        seed=0,                               # generator seed (same seed -> the same cached arrays)
    ))
  elif task == "adding":
    c.adding = ml_collections.ConfigDict(dict(
        num_train=20_000,                     # generated sequences per split (max_length x 2 float32 each)
        num_val=2_000,
        num_test=2_000,
        seed=0,                               # generator seed
    ))
  elif task == "forecast":
    c.forecast = ml_collections.ConfigDict(dict(
        series="mackey_glass",                # mackey_glass | sinusoids
        horizon=720,                          # H: values to forecast; the history is max_length - H >= H
        stride=4,                             # steps between consecutive windows of a split
        num_train=10_000,                     # windows per split (chronological, disjoint segments)
        num_val=1_000,
        num_test=1_000,
        seed=0,                               # series seed (Mackey-Glass initial history; sinusoid phases, noise)
        mg_tau=17.0,                          # Mackey-Glass delay (17: the chaotic benchmark)
        mg_dt=0.1,                            # RK4 integration step; mg_tau and mg_sample_step are multiples of it
        mg_sample_step=1.0,                   # time units between samples
        periods=(16.0, 64.0, 256.0, 1024.0),  # sinusoids: one period (in samples) per component
        amplitudes=(1.0, 0.6, 0.4, 0.3),      # sinusoids: one amplitude per component
        noise_std=0.1,                        # sinusoids: Gaussian noise added to every sample
        rollout_steps=4096,                   # autoregressive rollout after training (0: none)
        rollout_examples=8,                   # test histories it starts from
        rollout_bound=10.0,                   # it has left the range once |x| > this x max |series| (standardised)
    ))
  elif task in ("pathfinder", "pathx"):
    c.pathfinder = ml_collections.ConfigDict(dict(
        source="generated",                   # generated (our seeded generator, cached) | raw (the official PNGs)
        raw_dir=config_dict.placeholder(str),  # the resolution's folder: lra_release/lra_release/pathfinder<res>/
        resolution=32 if task == "pathfinder" else 128,  # 32, 64, 128, 256 (pathx: 128, 256); max_length = res^2
        difficulty="hard",                    # easy | intermediate | hard: contours of 6 / 9 / 14 paddles
        pixels="unit",                        # unit (x / 255; S4, LRA) | symmetric (2 x / 255 - 1; S5) | tokens
        skip=("pathfinder32/curv_baseline/imgs/0/sample_172.png",),  # raw: listed images not read (empty PNG)
        num_images=200_000,                   # generated: images in all, split 80/10/10 as the raw ones
        seed=0,                               # generator seed (image i depends on seed and i only)
        workers=0,                            # generating processes; 0: every core
        target_intensity=config_dict.placeholder(float),      # None: the law's (docs/pathfinder.md)
        distractor_intensity=config_dict.placeholder(float),
        marker_intensity=config_dict.placeholder(float),
        minmax_scale=True,                    # each image min-max scaled to 0-255 (else intensity 1 is 255)
    ))
  elif task in ("smnist", "psmnist"):
    c.mnist = ml_collections.ConfigDict(dict(
        source="auto",                        # auto (raw_dir if set, else tfds) | tfds | raw | fixture
        raw_dir=config_dict.placeholder(str),  # folder with the four MNIST IDX files (optionally .gz)
        fixture_num_train=2000,               # source=fixture: size of the synthetic learnable set
        fixture_num_test=500,
        fixture_seed=0,
    ))
    if task == "psmnist":
      c.mnist.permutation_seed = 0            # the fixed pixel permutation (recorded in results.json)
  elif task == "retrieval":
    c.retrieval = ml_collections.ConfigDict(dict(
        source="raw",                         # raw (the official TSVs) | fixture (a small learnable set)
        raw_dir=config_dict.placeholder(str),  # folder with new_aan_pairs.{train,eval,test}.tsv (tsv_data)
        tokenizer="byte",                     # byte (id = byte + 1, vocab 257; LRA) | char (S4 / S5, + <eos>)
        char_min_freq=1,                      # char tokenizer: keep characters seen this often in train (S4: 1)
        fixture_num_train=2000,               # source=fixture: pairs per split and words a document
        fixture_num_val=200,
        fixture_num_test=500,
        fixture_min_words=20,
        fixture_max_words=100,
        fixture_seed=0,
    ))
  else:
    c.imdb = ml_collections.ConfigDict(dict(
        source="auto",                        # auto (raw_dir if set, else tfds) | tfds | raw | fixture
        raw_dir=config_dict.placeholder(str),  # the aclImdb/ folder
        tokenizer="byte",                     # byte (UTF-8, id = byte + 1, vocab 257; LRA) | char (the code's)
        char_min_freq=15,                     # char tokenizer: keep characters seen this often in train
        val_from_test=False,                  # True: validate on test (LRA / authors); flagged in results.json
        fixture_num_train=2000,               # source=fixture: size and review length of the synthetic set
        fixture_num_test=500,
        fixture_min_words=20,
        fixture_max_words=200,
        fixture_seed=0,
    ))
  return c


def cpu_data_overrides(task: str) -> dict:
  """Suggested data fields of the `:cpu` presets: small, learnable in minutes on 2 cores, no download.

  Use as `c.data.update(cpu_data_overrides(task))`.
  """
  if task == "listops":
    return dict(max_length=256, listops=dict(
        source="generated", num_train=5000, num_val=500, num_test=500, min_tokens=50, max_tokens=200,
        max_depth=6, max_args=10, seed=0))  # the LRA law, shallower and shorter (docs/data.md)
  if task == "scifar":
    return dict(max_length=1024, scifar=dict(source="fixture", fixture_num_train=2000, fixture_num_test=500))
  if task == "imdb":
    return dict(max_length=1024, imdb=dict(source="fixture", fixture_num_train=2000, fixture_num_test=500,
                                          fixture_min_words=20, fixture_max_words=150))
  if task == "copy":  # K = 10 symbols after 200 blanks (> 8 sqrt(192)), an epoch of 100 steps at batch 64
    return dict(max_length=221, copy=dict(num_train=6400, num_val=512, num_test=512))
  if task == "adding":  # length 128 (> 8 sqrt(192))
    return dict(max_length=128, adding=dict(num_train=6400, num_val=512, num_test=512))
  if task == "forecast":  # a history of 192 (> 8 sqrt(192)) and a horizon of 96
    return dict(max_length=288, forecast=dict(horizon=96, num_train=3200, num_val=256, num_test=256,
                                              rollout_steps=4096, rollout_examples=8))
  # The resolution (and so max_length) stays the config arg's: `configs/pathfinder.py:preset=cpu,resolution=64`.
  if task == "pathfinder":  # 2,000 generated images (32 px: about a minute on 2 cores)
    return dict(pathfinder=dict(source="generated", num_images=2000))
  if task == "pathx":  # 200 generated images: 160 train, 20 val, 20 test
    return dict(pathfinder=dict(source="generated", num_images=200))
  if task in ("smnist", "psmnist"):
    return dict(max_length=784, mnist=dict(source="fixture", fixture_num_train=2000, fixture_num_test=500))
  if task == "retrieval":  # documents of 20-100 words (about 100-600 bytes), cut to 512
    return dict(max_length=512, retrieval=dict(source="fixture", fixture_num_train=2000, fixture_num_val=200,
                                               fixture_num_test=500, fixture_min_words=20, fixture_max_words=100))
  raise ValueError(f"unknown task {task!r}; the tasks with data fields: {list(MAX_LENGTHS)}")
