"""Pathfinder and Path-X: the generated sets (npz shards, cached) and the official LRA layout, read and written.

Official layout, one resolution folder `pathfinder<res>/` (`raw_dir`) holding `curv_baseline`,
`curv_contour_length_9`, `curv_contour_length_14` (easy / intermediate / hard), each with `imgs/<N>/sample_<M>.png`
(grayscale res x res) and `metadata/<N>.npy`, a TEXT file of space-separated rows
`imgs/<N> sample_<M>.png <index> <label> <continuity> <contour_length> <distractor_length> <paddle_length>
<paddle_thickness> <paddle_margin> <n_paddle_contrasts>`; our writer appends `marker1_row marker1_col marker2_row
marker2_col target_paddles other_target_paddles distractor_contours distractor_paddles` (readers of the official
format ignore them). Both sources give every image of the chosen difficulty, less the skip list, split 80/10/10 by
a permutation drawn from `config.data.split_seed`. A sequence is the image row by row: (res * res, 1) values
(`pixels=unit`: x / 255, S4 and LRA; `symmetric`: 2 x / 255 - 1, S5) or (res * res,) tokens 0..255 (`tokens`).
"""

import dataclasses
import functools
import json
import os

import numpy as np
from PIL import Image
from tqdm import tqdm

from lra.errors import ConfigError
from lra.tasks import data
from lra.tasks import pathfinder_gen as gen

NUM_CLASSES = 2
DIFFICULTY_FOLDERS = {"easy": "curv_baseline", "intermediate": "curv_contour_length_9",
                      "hard": "curv_contour_length_14"}
OFFICIAL_FIELDS = ("folder", "file", "index", "label", "continuity", "contour_length", "distractor_length",
                   "paddle_length", "paddle_thickness", "paddle_margin", "n_paddle_contrasts")
EXTRA_FIELDS = ("marker1_row", "marker1_col", "marker2_row", "marker2_col", "target_paddles",
                "other_target_paddles", "distractor_contours", "distractor_paddles")
IMAGES_PER_FOLDER = 1000
SPLIT_FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}
PIXELS = ("unit", "symmetric", "tokens")
SOURCES = ("generated", "raw")
SHARD_SIZE = 10_000
GENERATOR_VERSION = 1      # bump when the generator's output for given parameters changes
RAW_WHAT = ("the resolution's folder of the LRA release (lra_release/lra_release/pathfinder<res>/, holding "
            "curv_baseline, curv_contour_length_9, curv_contour_length_14)")


def _number(value) -> str:
  """A metadata number as the official rows write it: integers bare, other floats in their shortest form."""
  value = float(value)
  return str(int(value)) if value.is_integer() else repr(value)


class LraWriter:
  """Writes images in the official layout under `<root>/<difficulty folder>/` (imgs/<N>/sample_<M>.png and text
  metadata/<N>.npy rows, IMAGES_PER_FOLDER images a folder), in index order, one chunk at a time."""

  def __init__(self, root: str, law: gen.Law, difficulty: str):
    self.law = law
    self.base = os.path.join(root, DIFFICULTY_FOLDERS[difficulty])
    os.makedirs(os.path.join(self.base, "metadata"), exist_ok=True)
    for name in os.listdir(os.path.join(self.base, "metadata")):  # rows are appended: start from none
      os.remove(os.path.join(self.base, "metadata", name))

  def write(self, part: dict, start: int) -> None:
    p = self.law
    rows: dict[int, list[str]] = {}
    for offset in range(len(part["labels"])):
      folder, index = divmod(start + offset, IMAGES_PER_FOLDER)
      image_dir = os.path.join(self.base, "imgs", str(folder))
      if index == 0 or not os.path.isdir(image_dir):
        os.makedirs(image_dir, exist_ok=True)
      Image.fromarray(part["pixels"][offset]).save(os.path.join(image_dir, f"sample_{index}.png"))
      markers = part["markers"][offset]
      distractors = part["distractor_paddles"][offset]
      fields = [f"imgs/{folder}", f"sample_{index}.png", str(index), str(int(part["labels"][offset])),
                _number(p.continuity), str(p.contour_length), str(p.distractor_length), _number(p.paddle_length),
                _number(p.paddle_thickness), str(int(part["margins"][offset])), "1",
                *(f"{v:.2f}" for v in markers.reshape(-1)), *(str(int(v)) for v in part["target_paddles"][offset]),
                str(int((distractors > 0).sum())), str(int(distractors.sum()))]
      rows.setdefault(folder, []).append(" ".join(fields))
    for folder, lines in rows.items():
      with open(os.path.join(self.base, "metadata", f"{folder}.npy"), "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


class ShardWriter:
  """Writes images as npz shards `shard_<k>.npz` of SHARD_SIZE images (the project's cache format), then a
  `manifest.json` with the parameters, the label counts and each shard's sha256."""

  def __init__(self, out_dir: str, info: dict):
    self.out_dir, self.info = out_dir, info
    os.makedirs(out_dir, exist_ok=True)
    self.pending: list[dict] = []
    self.shards: list[str] = []
    self.label_counts = [0, 0]

  def write(self, part: dict, start: int) -> None:
    del start  # shards follow the order of the chunks
    self.pending.append(part)
    while sum(len(p["labels"]) for p in self.pending) >= SHARD_SIZE:
      self._flush(SHARD_SIZE)

  def _flush(self, size: int) -> None:
    merged = gen.concatenate(self.pending)
    shard = {k: v[:size] for k, v in merged.items()}
    rest = {k: v[size:] for k, v in merged.items()}
    self.pending = [rest] if len(rest["labels"]) else []
    name = f"shard_{len(self.shards):05d}.npz"
    path = os.path.join(self.out_dir, name)
    with open(path + ".tmp", "wb") as f:
      np.savez(f, **shard)
    os.replace(path + ".tmp", path)
    self.shards.append(name)
    self.label_counts[0] += int((shard["labels"] == 0).sum())
    self.label_counts[1] += int((shard["labels"] == 1).sum())

  def close(self) -> dict:
    if self.pending:
      self._flush(sum(len(p["labels"]) for p in self.pending))
    manifest = {**self.info, "label_counts": self.label_counts,
                "sha256": {name: data.file_sha256(os.path.join(self.out_dir, name)) for name in self.shards}}
    path = os.path.join(self.out_dir, "manifest.json")
    with open(path + ".tmp", "w") as f:
      json.dump(manifest, f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)
    return manifest


def make_set(law: gen.Law, seed: int, num: int, out_dir: str, *, fmt: str = "cache", difficulty: str = "hard",
             workers: int = 0, progress: bool = True) -> dict:
  """Generates images 0..num-1 of the set `seed` into `out_dir`: npz shards (`fmt="cache"`), or the official
  layout (`fmt="lra"`) under `out_dir/pathfinder<res>/<difficulty folder>/`. Returns the label counts etc.

  Raises:
    ConfigError: an unknown format, a count below 1, or (lra) a difficulty whose contour length is not the law's.
  """
  data.check_choice("pathfinder format", fmt, ("cache", "lra"))
  if num < 1:
    raise ConfigError(f"pathfinder: num={num} images must be >= 1")
  if fmt == "lra" and gen.CONTOUR_LENGTHS.get(difficulty) != law.contour_length:
    raise ConfigError(f"pathfinder: difficulty={difficulty!r} names contours of "
                      f"{gen.CONTOUR_LENGTHS.get(difficulty)} paddles, the law has {law.contour_length}; valid: "
                      f"{gen.CONTOUR_LENGTHS}")
  info = {"law": dataclasses.asdict(law), "seed": seed, "num": num, "generator_version": GENERATOR_VERSION}
  if fmt == "lra":
    writer = LraWriter(os.path.join(out_dir, f"pathfinder{law.resolution}"), law, difficulty)
  else:
    writer = ShardWriter(out_dir, info)
  counts = [0, 0]
  start = 0
  for part in gen.generate_range(law, seed, 0, num, workers=workers, progress=progress,
                                 desc=f"Pathfinder {law.resolution}px"):
    writer.write(part, start)
    start += len(part["labels"])
    counts[0] += int((part["labels"] == 0).sum())
    counts[1] += int((part["labels"] == 1).sum())
  if fmt == "cache":
    writer.close()
  return {**info, "label_counts": counts, "out_dir": out_dir}


def read_shards(out_dir: str) -> dict:
  """The arrays of every shard in `out_dir` (see `pathfinder_gen.stack`), concatenated in index order."""
  with open(os.path.join(out_dir, "manifest.json")) as f:
    names = sorted(json.load(f)["sha256"])
  parts = []
  for name in names:
    with np.load(os.path.join(out_dir, name)) as f:
      parts.append({k: f[k] for k in f.files})
  return gen.concatenate(parts)


def ensure_generated(law: gen.Law, seed: int, num: int, cache_root: str, *, workers: int = 0,
                     progress: bool = True) -> str:
  """The cache folder of a generated set, generating it unless every shard's checksum matches its manifest."""
  key = {"law": dataclasses.asdict(law), "seed": seed, "num": num, "generator_version": GENERATOR_VERSION}
  out_dir = os.path.join(cache_root, "pathfinder", data.params_hash(key))
  manifest_path = os.path.join(out_dir, "manifest.json")
  if os.path.exists(manifest_path):
    with open(manifest_path) as f:
      manifest = json.load(f)
    if all(os.path.exists(os.path.join(out_dir, n)) and data.file_sha256(os.path.join(out_dir, n)) == digest
           for n, digest in manifest["sha256"].items()):
      return out_dir
    print(f"Pathfinder cache {out_dir}: checksum mismatch, regenerating")
  for name in os.listdir(out_dir) if os.path.isdir(out_dir) else ():
    if name.startswith("shard_"):
      os.remove(os.path.join(out_dir, name))
  make_set(law, seed, num, out_dir, workers=workers, progress=progress)
  return out_dir


@dataclasses.dataclass
class RawRows:
  """The metadata rows of one difficulty: PNG paths, labels, and where each row was read (file:line)."""
  paths: list[str]
  labels: np.ndarray
  where: list[str]


def read_metadata(raw_dir: str, difficulty: str, resolution: int, skip=()) -> RawRows:
  """Every metadata row of `difficulty` in the resolution folder `raw_dir`, less the `skip` entries (paths such
  as `pathfinder32/curv_baseline/imgs/0/sample_172.png`), in folder then row order.

  Raises:
    DataNotFoundError: no such folder, or no metadata in it.
    DataFormatError: a malformed row (the message names the file and line).
  """
  base = os.path.join(raw_dir or "", DIFFICULTY_FOLDERS[difficulty])
  meta_dir = os.path.join(base, "metadata")
  if not raw_dir or not os.path.isdir(meta_dir):
    raise data.DataNotFoundError(f"Pathfinder: no folder {meta_dir}; config.data.pathfinder.raw_dir={raw_dir!r} "
                                 f"should be {RAW_WHAT}")
  names = [n for n in os.listdir(meta_dir) if n.endswith(".npy")]
  if not names:
    raise data.DataNotFoundError(f"Pathfinder: no metadata/<N>.npy files in {meta_dir}")
  names.sort(key=lambda n: (0, int(n[:-4])) if n[:-4].isdigit() else (1, n))
  prefix = f"pathfinder{resolution}/{DIFFICULTY_FOLDERS[difficulty]}/"
  skipped = set(skip)
  paths, labels, where = [], [], []
  for name in names:
    path = os.path.join(meta_dir, name)
    try:
      with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
      raise data.DataFormatError(f"{path}: cannot read as text ({e})") from None
    for line_number, line in enumerate(lines, start=1):
      fields = line.split()
      if not fields:
        continue
      if (len(fields) < len(OFFICIAL_FIELDS) or not fields[0].startswith("imgs/") or
          not fields[1].endswith(".png") or fields[3] not in ("0", "1")):
        raise data.DataFormatError(
            f"{path}:{line_number}: expected {len(OFFICIAL_FIELDS)} space-separated fields 'imgs/<N> "
            f"sample_<M>.png <index> <label 0|1> ...', got {line[:100]!r}")
      relative = f"{fields[0].rstrip('/')}/{fields[1]}"
      if prefix + relative in skipped:
        continue
      paths.append(os.path.join(base, relative))
      labels.append(int(fields[3]))
      where.append(f"{path}:{line_number}")
  return RawRows(paths, np.asarray(labels, np.int32), where)


def read_png(path: str, resolution: int, where: str) -> np.ndarray:
  """One grayscale PNG as (resolution, resolution) uint8.

  Raises:
    DataFormatError: unreadable, empty, or of another size (the message names the PNG and its metadata row).
  """
  try:
    with Image.open(path) as image:
      pixels = np.asarray(image.convert("L"))
  except (OSError, ValueError, SyntaxError) as e:
    raise data.DataFormatError(f"{path} (listed at {where}): cannot read the PNG ({type(e).__name__}: "
                               f"{str(e).splitlines()[0] if str(e) else ''})") from None
  if pixels.shape != (resolution, resolution):
    raise data.DataFormatError(f"{path} (listed at {where}): image of shape {pixels.shape}, expected "
                               f"({resolution}, {resolution}); is config.data.pathfinder.resolution right?")
  return pixels


def read_raw(raw_dir: str, difficulty: str, resolution: int, skip=(), *, progress: bool = True):
  """(pixels (N, res, res) uint8, labels (N,) int32) of every listed image of `difficulty`, less `skip`."""
  rows = read_metadata(raw_dir, difficulty, resolution, skip)
  pixels = np.zeros((len(rows.paths), resolution, resolution), np.uint8)
  for i, (path, where) in enumerate(tqdm(list(zip(rows.paths, rows.where)), desc="Pathfinder PNGs", unit="img",
                                         disable=not progress, mininterval=1.0)):
    pixels[i] = read_png(path, resolution, where)
  return pixels, rows.labels


def split_indices(n: int, split: str, seed: int) -> np.ndarray:
  """The sorted indices of `split` (80 / 10 / 10 of a permutation of range(n) drawn with `seed`)."""
  order = np.random.default_rng(seed).permutation(n)
  num_train = int(round(n * SPLIT_FRACTIONS["train"]))
  num_val = int(round(n * SPLIT_FRACTIONS["val"]))
  bounds = {"train": (0, num_train), "val": (num_train, num_train + num_val), "test": (num_train + num_val, n)}
  lo, hi = bounds[split]
  return np.sort(order[lo:hi])


def scale_pixels(pixels: np.ndarray, *, mode: str) -> np.ndarray:
  """uint8 pixels (..., 1) -> float32 x / 255 (`unit`) or 2 x / 255 - 1 (`symmetric`)."""
  x = pixels.astype(np.float32) * (1.0 / 255.0)
  return x if mode == "unit" else 2.0 * x - 1.0


class Pathfinder(data.Classification):
  """Pathfinder (LRA: 32 px, hard): 2 classes, sequences of resolution ** 2 pixels, row by row."""
  name = "pathfinder"
  num_classes = NUM_CLASSES
  resolutions = gen.RESOLUTIONS

  def __init__(self, data_cfg):
    cfg = data_cfg.pathfinder
    data.check_choice("pathfinder.source", cfg.source, SOURCES)
    data.check_choice("pathfinder.resolution", cfg.resolution, self.resolutions)
    data.check_choice("pathfinder.difficulty", cfg.difficulty, tuple(DIFFICULTY_FOLDERS))
    data.check_choice("pathfinder.pixels", cfg.pixels, PIXELS)
    data.check_at_least("pathfinder.num_images", cfg.num_images, 10, "an 80/10/10 split with an image in each")
    data.check_at_least("pathfinder.workers", cfg.workers, 0, "0: every core")
    length = int(cfg.resolution) ** 2
    if int(data_cfg.max_length) != length:
      raise ConfigError(f"config.data.max_length={data_cfg.max_length}: {self.name} at resolution "
                        f"{cfg.resolution} has {length} pixels; set --config.data.max_length={length} (or use "
                        f"the config arg :resolution={cfg.resolution})")
    self.data_cfg = data_cfg
    self.max_length = length
    self.input_dim = 1
    self.vocab_size = 256 if cfg.pixels == "tokens" else None
    self._all: tuple[np.ndarray, np.ndarray, str] | None = None

  def law(self) -> gen.Law:
    """The generator's law at the configured resolution and difficulty, with any intensity set in the config."""
    cfg = self.data_cfg.pathfinder
    overrides = {k: float(cfg[k]) for k in ("target_intensity", "distractor_intensity", "marker_intensity")
                 if cfg[k] is not None}
    return gen.law(int(cfg.resolution), cfg.difficulty, minmax_scale=bool(cfg.minmax_scale), **overrides)

  def images(self) -> tuple[np.ndarray, np.ndarray, str]:
    """(pixels (N, res, res) uint8, labels, where) of every image of the source, read once."""
    if self._all is None:
      cfg = self.data_cfg.pathfinder
      if cfg.source == "raw":
        pixels, labels = read_raw(cfg.raw_dir, cfg.difficulty, int(cfg.resolution), tuple(cfg.skip))
        self._all = (pixels, labels, f"raw {cfg.raw_dir}")
      else:
        if int(cfg.num_images) < 10:
          raise ConfigError(f"config.data.pathfinder.num_images={cfg.num_images} must be >= 10 (80/10/10 split)")
        out_dir = ensure_generated(self.law(), int(cfg.seed), int(cfg.num_images), data.cache_dir(self.data_cfg),
                                   workers=int(cfg.workers))
        arrays = read_shards(out_dir)
        self._all = (arrays["pixels"], arrays["labels"], f"generated {out_dir}")
    return self._all

  def load(self, split: str) -> data.Split:
    """The split: uint8 pixels (N, L, 1) values or (N, L) tokens, with its `normalise`."""
    data.check_choice("split", split, tuple(SPLIT_FRACTIONS))
    cfg = self.data_cfg.pathfinder
    pixels, labels, where = self.images()
    indices = split_indices(len(labels), split, int(self.data_cfg.split_seed))
    rows = pixels[indices].reshape(len(indices), self.max_length)
    if cfg.pixels == "tokens":
      inputs, normalise = rows, data.as_int32_tokens
    else:
      inputs, normalise = rows[..., None], functools.partial(scale_pixels, mode=cfg.pixels)
    info = {"source": where, "resolution": int(cfg.resolution), "difficulty": cfg.difficulty,
            "pixels": cfg.pixels, "val_from_test": False}
    return data.Split(np.ascontiguousarray(inputs), np.full(len(indices), self.max_length, np.int32),
                      labels[indices].astype(np.int32), info, normalise)


class PathX(Pathfinder):
  """Path-X (LRA: Pathfinder at 128 px, hard; 256 by the same field): 16,384 pixels a sequence."""
  name = "pathx"
  resolutions = (128, 256)
