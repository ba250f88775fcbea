"""A seeded Pathfinder generator (the law of Linsley et al. 2018 that LRA's Pathfinder and Path-X were drawn from).

One image: label = a fair coin. Two target contours of `contour_length` paddles grow from two tails
`seed_distance` apart near the centre (the first tail at least 2 * seed_distance from the border). A paddle is a
segment of `paddle_length` and `paddle_thickness`; the next one starts `margin` beyond the previous head, so its
head lies on a circle of radius paddle_length + margin around it. Its direction is drawn among `num_turns`
candidate turns weighted by max(cos(min(continuity * |turn|, pi / 2)), 0) ** 2 times the free space ahead (0.05
plus the share of nine look-ahead points 1-3 steps on that are free); a candidate that would overlap (its centre
line closer than `clearance` to another contour or to this one's paddles before the previous, or off the image)
has weight 0. After `max_tries` draws with no free candidate the contour fails and the pair is drawn again.
The four tips of the targets are marker places: other contours keep a marker radius further from them, and a
target's head keeps clear of both origins. Then distractor contours of contour_length // 3 paddles start at free
places until `num_distractors` are placed, under 1% of the image is free, or 4 starts per distractor have failed.
Paddles are drawn antialiased (a PIL line at `supersample` times the resolution, Lanczos down-sampling), each
kind on its own layer, and the layers combined by maximum with their intensities. Two disc markers of
`marker_radius`: one on the origin tip of a random target, the other on the terminal tip of the same target
(label 1) or of the other one (label 0). Both classes hold two full targets, the same clutter and four reserved
tips, so only connectivity tells them apart.

Coordinates are (row, col) in pixels, pixel (r, c) centred at (r, c). Image `index` of a set with `seed` draws
from `np.random.SeedSequence(seed, spawn_key=(index,))`: the same image whatever the workers or their order.
"""

import dataclasses
import functools
import math
import multiprocessing
import os

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from lra.errors import ConfigError

RESOLUTIONS = (32, 64, 128, 256)
CONTOUR_LENGTHS = {"easy": 6, "intermediate": 9, "hard": 14}
# LRA's settings per resolution (the table); margins are (min, max), one drawn per image.
_LAW_TABLE = {
    32: dict(seed_distance=7, marker_radius=1.5, paddle_length=2.0, paddle_thickness=0.5, margin=(1, 1),
             continuity=1.0, distractor_budget=20, snake_contrast=2.0, paddle_contrast=0.75),
    64: dict(seed_distance=12, marker_radius=2.5, paddle_length=5.0, paddle_thickness=1.0, margin=(1, 1),
             continuity=1.8, distractor_budget=22, snake_contrast=0.8, paddle_contrast=1.0),
    128: dict(seed_distance=20, marker_radius=3.0, paddle_length=5.0, paddle_thickness=1.5, margin=(2, 3),
              continuity=1.8, distractor_budget=35, snake_contrast=0.9, paddle_contrast=1.0),
    256: dict(seed_distance=27, marker_radius=5.0, paddle_length=5.0, paddle_thickness=2.0, margin=(3, 3),
              continuity=1.8, distractor_budget=30, snake_contrast=1.0, paddle_contrast=1.0),
}
MIN_FREE_FRACTION = 0.01   # distractors stop once less of the image than this is free
MAX_PAIR_ATTEMPTS = 200    # target pairs drawn before the parameters are declared impossible
FREE_SPACE_FLOOR = 0.05    # weight of a candidate with no free look-ahead point, relative to 1 for all free
DISTRACTOR_TRIES = 4       # distractor starts tried per distractor wanted


@dataclasses.dataclass(frozen=True)
class Law:
  """Every parameter of the generator; `law(resolution, difficulty)` fills in LRA's values.

  Attributes:
    resolution: image side in pixels.
    contour_length: paddles of each target contour (6 / 9 / 14: easy / intermediate / hard).
    seed_distance: distance between the two targets' tails (pixels).
    marker_radius: radius of the two disc markers.
    paddle_length, paddle_thickness: a paddle's segment.
    margin: (min, max) gap between consecutive paddles of a contour; one integer drawn per image.
    continuity: the turn weight's sharpness: turns beyond pi / (2 * continuity) have weight 0.
    distractor_budget: distractor contours = distractor_budget // distractor_length.
    target_intensity, distractor_intensity, marker_intensity: each layer's level before scaling.
    minmax_scale: True: each image min-max scaled to 0-255; False: intensity 1 is 255 (clipped above).
    clearance: least distance between the centre lines of two contours (a marker's disc keeps marker_radius
      more); the gap within a contour is `margin`, so clearance > margin keeps contours apart at the thresholds
      that join a contour's paddles.
    supersample: drawing scale before the Lanczos down-sampling.
    num_turns: candidate directions per paddle.
    max_tries: draws of candidates before a contour fails.
  """
  resolution: int
  contour_length: int
  seed_distance: float
  marker_radius: float
  paddle_length: float
  paddle_thickness: float
  margin: tuple[int, int]
  continuity: float
  distractor_budget: int
  target_intensity: float
  distractor_intensity: float
  marker_intensity: float = 1.0
  minmax_scale: bool = True
  clearance: float = 0.0
  supersample: int = 2
  num_turns: int = 16
  max_tries: int = 3

  def __post_init__(self):
    if self.resolution < 16:
      raise ConfigError(f"pathfinder resolution={self.resolution} must be >= 16")
    if self.contour_length < 1:
      raise ConfigError(f"pathfinder contour_length={self.contour_length} must be >= 1")
    if not 0 <= self.margin[0] <= self.margin[1]:
      raise ConfigError(f"pathfinder margin={self.margin} must be (min, max) with 0 <= min <= max")
    if self.clearance <= self.margin[1]:
      raise ConfigError(f"pathfinder clearance={self.clearance} must exceed the largest margin {self.margin[1]} "
                        f"(contours would touch where a contour's own paddles do)")

  @property
  def distractor_length(self) -> int:
    return max(self.contour_length // 3, 1)

  @property
  def num_distractors(self) -> int:
    return self.distractor_budget // self.distractor_length


def default_clearance(resolution: int) -> float:
  """The clearance of `law`: the largest margin plus the paddle thickness plus 1.5 pixels of antialiasing blur."""
  row = _LAW_TABLE[resolution]
  return row["margin"][1] + row["paddle_thickness"] + 1.5


def law(resolution: int, difficulty: str = "hard", **overrides) -> Law:
  """LRA's law at `resolution` (32, 64, 128, 256) and `difficulty` (easy, intermediate, hard), with `overrides`.

  Intensities as the original code reads: targets paddle_contrast * snake_contrast, distractors snake_contrast,
  markers 1, each image min-max scaled.

  Raises:
    ConfigError: an unknown resolution or difficulty.
  """
  if resolution not in _LAW_TABLE:
    raise ConfigError(f"pathfinder resolution={resolution!r}; valid: {list(RESOLUTIONS)}")
  if difficulty not in CONTOUR_LENGTHS:
    raise ConfigError(f"pathfinder difficulty={difficulty!r}; valid: {list(CONTOUR_LENGTHS)}")
  row = dict(_LAW_TABLE[resolution])
  snake, paddle = row.pop("snake_contrast"), row.pop("paddle_contrast")
  fields = dict(row, resolution=resolution, contour_length=CONTOUR_LENGTHS[difficulty],
                target_intensity=paddle * snake, distractor_intensity=snake,
                clearance=default_clearance(resolution))
  fields.update(overrides)
  return Law(**fields)


@dataclasses.dataclass
class Sample:
  """One generated image.

  Attributes:
    pixels: (resolution, resolution) uint8.
    label: 1 when the markers sit on the two tips of one contour, else 0.
    markers: (2, 2) float32 centres (row, col) of marker 1 (an origin tip) and marker 2.
    target_paddles: (2,) paddles of the marked target and of the other target.
    distractor_paddles: (k,) paddles of each distractor contour placed.
    margin: the gap between consecutive paddles drawn for this image.
  """
  pixels: np.ndarray
  label: int
  markers: np.ndarray
  target_paddles: np.ndarray
  distractor_paddles: np.ndarray
  margin: int


GRID = 2                   # occupancy cells per pixel (a candidate is checked at points 1 / GRID apart)


class _Occupancy:
  """A boolean grid of GRID cells per pixel over the image and a band of `pad` pixels around it: True where a
  stamped paddle or disc is closer than its radius, and outside the allowed part of the image.

  Points up to `pad` pixels off the image index the band directly, so a lookup needs no bounds check.
  """

  def __init__(self, resolution: int, pad: int, border: float | None):
    self.pad = pad
    size = (resolution + 2 * pad) * GRID
    self.cells = np.zeros((size, size), bool)
    if border is not None:  # block cell centres outside [border, resolution - 1 - border]
      centres = (np.arange(size) + 0.5) / GRID - 0.5 - pad
      outside = (centres < border) | (centres > resolution - 1 - border)
      self.cells[outside, :] = True
      self.cells[:, outside] = True

  def copy(self) -> "_Occupancy":
    other = _Occupancy.__new__(_Occupancy)
    other.pad, other.cells = self.pad, self.cells.copy()
    return other

  def distances(self, a, b, radius: float):
    """(window, distances of the window's cell centres to the segment [a, b]) within `radius` of it."""
    size, shift = len(self.cells), 0.5 + self.pad
    a_row, a_col, b_row, b_col = float(a[0]), float(a[1]), float(b[0]), float(b[1])
    lo_row = max(math.floor((min(a_row, b_row) - radius + shift) * GRID), 0)
    lo_col = max(math.floor((min(a_col, b_col) - radius + shift) * GRID), 0)
    hi_row = min(math.ceil((max(a_row, b_row) + radius + shift) * GRID) + 1, size)
    hi_col = min(math.ceil((max(a_col, b_col) + radius + shift) * GRID) + 1, size)
    rows = ((np.arange(lo_row, hi_row) + 0.5) * (1.0 / GRID) - (shift + a_row))[:, None]
    cols = ((np.arange(lo_col, hi_col) + 0.5) * (1.0 / GRID) - (shift + a_col))[None, :]
    d_row, d_col = b_row - a_row, b_col - a_col
    t = np.clip((rows * d_row + cols * d_col) * (1.0 / max(d_row * d_row + d_col * d_col, 1e-12)), 0.0, 1.0)
    window = (slice(lo_row, hi_row), slice(lo_col, hi_col))
    return window, np.sqrt((rows - t * d_row) ** 2 + (cols - t * d_col) ** 2)

  def stamp_segment(self, a, b, radius: float):
    window, distance = self.distances(a, b, radius)
    self.cells[window] |= distance < radius

  def stamp_disc(self, centre, radius: float):
    self.stamp_segment(centre, centre, radius)

  def hit(self, points, other: "_Occupancy | None" = None) -> np.ndarray:
    """Whether each point (..., 2) (row, col pixels, at most `pad` off the image) lies in a True cell (of this
    grid or of `other`, a grid of the same size: the cell indices are computed once)."""
    index = ((points + (0.5 + self.pad)) * GRID).astype(int)
    rows, cols = index[..., 0], index[..., 1]
    return self.cells[rows, cols] if other is None else self.cells[rows, cols] | other.cells[rows, cols]

  def flat_to_point(self, cells: np.ndarray, jitter: np.ndarray) -> np.ndarray:
    """(row, col) pixels of flat cell indices, placed at `jitter` (in [0, 1) per axis) inside each cell."""
    rows, cols = np.divmod(cells, len(self.cells))
    return (np.stack([rows, cols], -1) + jitter) / GRID - 0.5 - self.pad


class _Canvas:
  """The committed contours of one image: `near` (within clearance of a paddle or of clearance + marker_radius of
  a reserved tip; or too close to the border for a paddle) and `wide` (marker_radius further, and too close to the
  border for a marker: where a marker may not sit)."""

  def __init__(self, p: Law):
    self.p = p
    self.pad = int(math.ceil(4 * (p.margin[1] + p.paddle_length))) + 2
    self.near = _Occupancy(p.resolution, self.pad, p.paddle_thickness / 2 + 1.0)
    self.wide = _Occupancy(p.resolution, self.pad, p.marker_radius + 0.5)

  def commit(self, starts, ends):
    wide = self.p.clearance + self.p.marker_radius
    for a, b in zip(starts, ends):
      window, distance = self.wide.distances(a, b, wide)
      self.near.cells[window] |= distance < self.p.clearance
      self.wide.cells[window] |= distance < wide

  def reserve_tip(self, point):
    self.near.stamp_disc(point, self.p.clearance + self.p.marker_radius)
    self.wide.stamp_disc(point, self.p.clearance + 2 * self.p.marker_radius)


@functools.lru_cache(maxsize=64)
def _grow_constants(paddle_length: float, continuity: float, num_turns: int, margin: int) -> tuple:
  """What `_grow` computes from the law alone, once per law and margin: the sample points along a paddle, the
  largest turn, the candidate turns and their spacing, the directions of a first paddle, the look-ahead fan and
  its reach. The arrays are shared: read only."""
  steps = np.linspace(0.0, 1.0, int(math.ceil(paddle_length * GRID)) + 1)[None, :, None]
  max_turn = math.pi / (2 * continuity)
  base_turns = np.linspace(-max_turn, max_turn, num_turns)
  turn_spacing = 2 * max_turn / num_turns
  around = 2 * math.pi / num_turns * np.arange(num_turns)
  fan = np.repeat([-max_turn / 2, 0.0, max_turn / 2], 3)[:, None]   # (9, 1) look-ahead directions
  reach = np.tile([1.0, 2.0, 3.0], 3)[:, None, None] * (margin + paddle_length)
  for array in (steps, base_turns, around, fan, reach):
    array.flags.writeable = False
  return steps, max_turn, base_turns, turn_spacing, around, fan, reach


def _grow(rng, canvas: _Canvas, tail, num: int, margin: int, *, marked: bool, near=None, wide=None):
  """Grows one contour of `num` paddles from `tail`; returns (starts, ends) or None when it fails.

  A candidate paddle is free where its centre line avoids `near` (the other contours and the border;
  `canvas.near` unless given) and this contour's paddles before the previous one; the head of a `marked`
  contour's last paddle (a marker's place) also avoids `wide` (`canvas.wide` unless given).
  """
  p = canvas.p
  near = canvas.near if near is None else near
  wide = canvas.wide if wide is None else wide
  own = _Occupancy(p.resolution, canvas.pad, None)
  starts, ends = [], []
  head, angle = np.asarray(tail, float), None
  steps, max_turn, base_turns, turn_spacing, around, fan, reach = _grow_constants(
      p.paddle_length, p.continuity, p.num_turns, margin)
  for i in range(num):
    gap = 0.0 if i == 0 else float(margin)
    chosen = None
    for _ in range(p.max_tries):
      if angle is None:
        directions = rng.uniform(0, 2 * math.pi) + around
        turn_weight = 1.0
      else:
        turns = base_turns + rng.uniform(-0.5, 0.5) * turn_spacing
        turn_weight = np.cos(np.minimum(p.continuity * np.abs(turns), math.pi / 2)) ** 2
        directions = angle + turns
      unit = np.empty((len(directions), 2))                               # (K, 2) as (row, col)
      unit[:, 0], unit[:, 1] = np.sin(directions), np.cos(directions)
      a = head + gap * unit
      b = a + p.paddle_length * unit
      points = a[:, None] + steps * (b - a)[:, None]                      # (K, P, 2)
      blocked = near.hit(points, own).any(-1)
      if marked and i == num - 1:
        blocked |= wide.hit(b)
      # Free space ahead: the share of look-ahead heads 1-3 steps on (straight, and half the largest turn either
      # way) clear of the border and of other paddles; it bends contours away from both early.
      ahead_directions = directions[None] + fan
      ahead = np.empty(ahead_directions.shape + (2,))
      ahead[..., 0], ahead[..., 1] = np.sin(ahead_directions), np.cos(ahead_directions)
      ahead = b[None] + reach * ahead
      free_space = (FREE_SPACE_FLOOR + 1.0) - near.hit(ahead, own).sum(0) * (1.0 / len(fan))
      weights = np.where(blocked, 0.0, turn_weight * free_space)
      cumulative = np.cumsum(weights)
      if cumulative[-1] > 0:
        k = min(int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right")), len(weights) - 1)
        chosen = a[k], b[k], directions[k]
        break
    if chosen is None:
      return None
    if starts:  # the previous paddle now counts: the next one must keep clear of it
      own.stamp_segment(starts[-1], ends[-1], p.clearance)
    starts.append(chosen[0])
    ends.append(chosen[1])
    head, angle = chosen[1], chosen[2]
  return np.asarray(starts), np.asarray(ends)


def _targets(rng, p: Law, margin: int):
  """(canvas, [(starts, ends) of target 0, of target 1]) with both targets complete and their tips reserved."""
  res, sd = p.resolution, p.seed_distance
  for _ in range(MAX_PAIR_ATTEMPTS):
    canvas = _Canvas(p)
    tail0 = rng.uniform(2 * sd, res - 1 - 2 * sd, size=2)
    phi = rng.uniform(0, 2 * math.pi)
    tail1 = tail0 + sd * np.array([math.sin(phi), math.cos(phi)])
    # Both origins are marker places: no contour comes near the other's, and no head (a marker place) comes near
    # either, so two markers never touch and their distance does not give the label away.
    near, wide = canvas.near.copy(), canvas.wide.copy()
    near.stamp_disc(tail1, p.clearance + p.marker_radius)
    for tail in (tail0, tail1):
      wide.stamp_disc(tail, p.clearance + 2 * p.marker_radius)
    first = _grow(rng, canvas, tail0, p.contour_length, margin, marked=True, near=near, wide=wide)
    if first is None:
      continue
    canvas.commit(*first)
    canvas.reserve_tip(first[0][0])
    canvas.reserve_tip(first[1][-1])
    wide = canvas.wide.copy()
    wide.stamp_disc(tail1, p.clearance + 2 * p.marker_radius)
    second = _grow(rng, canvas, tail1, p.contour_length, margin, marked=True, wide=wide)
    if second is None:
      continue
    canvas.commit(*second)
    canvas.reserve_tip(second[0][0])
    canvas.reserve_tip(second[1][-1])
    return canvas, [first, second]
  raise RuntimeError(f"pathfinder: no target pair fits after {MAX_PAIR_ATTEMPTS} attempts with {p}; lower "
                     f"contour_length, clearance or seed_distance")


def _distractors(rng, canvas: _Canvas, margin: int) -> list:
  """Distractor contours until `num_distractors` are placed, under 1% of the image is free, or the tries run out.

  A distractor starts at a random cell clear of `wide` (room to grow), or of `near` when none is.
  """
  p = canvas.p
  placed = []
  image_cells = (p.resolution * GRID) ** 2
  for _ in range(DISTRACTOR_TRIES * max(p.num_distractors, 1)):
    if len(placed) >= p.num_distractors:
      break
    free = np.flatnonzero(~canvas.near.cells)
    if len(free) < MIN_FREE_FRACTION * image_cells:
      break
    roomy = np.flatnonzero(~canvas.wide.cells)
    cells = roomy if len(roomy) else free
    tail = canvas.near.flat_to_point(cells[rng.integers(len(cells))], rng.uniform(0, 1, size=2))
    contour = _grow(rng, canvas, tail, p.distractor_length, margin, marked=False)
    if contour is not None:
      canvas.commit(*contour)
      placed.append(contour)
  return placed


def _layer(p: Law, segments, discs) -> np.ndarray:
  """One antialiased layer in [0, 1]: segments (starts, ends) and discs (centres) drawn at supersample scale."""
  s, res = p.supersample, p.resolution
  image = Image.new("L", (res * s, res * s), 0)
  draw = ImageDraw.Draw(image)
  width = max(1, int(round(p.paddle_thickness * s)))

  def hi(point):  # (row, col) in pixels -> PIL (x, y) in high-resolution pixel indices
    return ((point[1] + 0.5) * s - 0.5, (point[0] + 0.5) * s - 0.5)

  for starts, ends in segments:
    for a, b in zip(starts, ends):
      draw.line([hi(a), hi(b)], fill=255, width=width)
  radius = p.marker_radius * s
  for centre in discs:
    x, y = hi(centre)
    draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=255)
  small = image.convert("F").resize((res, res), Image.Resampling.LANCZOS)
  return np.clip(np.asarray(small, np.float32) / 255.0, 0.0, 1.0)


def render(p: Law, targets, distractors, markers) -> np.ndarray:
  """The uint8 image: the three layers combined by maximum with their intensities, then scaled."""
  image = np.maximum(np.maximum(_layer(p, targets, []) * p.target_intensity,
                                _layer(p, distractors, []) * p.distractor_intensity),
                     _layer(p, [], markers) * p.marker_intensity)
  if p.minmax_scale:
    low, high = float(image.min()), float(image.max())
    image = (image - low) / max(high - low, 1e-12)
  return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def sample(p: Law, seed: int, index: int) -> Sample:
  """Image `index` of the set drawn with `seed` (its own SeedSequence child: order- and worker-independent)."""
  rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))
  label = int(rng.integers(2))
  margin = int(rng.integers(p.margin[0], p.margin[1] + 1))
  canvas, targets = _targets(rng, p, margin)
  distractors = _distractors(rng, canvas, margin)
  marked = int(rng.integers(2))
  other = marked if label else 1 - marked
  markers = np.stack([targets[marked][0][0], targets[other][1][-1]])
  pixels = render(p, targets, distractors, markers)
  return Sample(pixels=pixels, label=label, markers=markers.astype(np.float32),
                target_paddles=np.array([len(targets[marked][0]), len(targets[1 - marked][0])], np.int32),
                distractor_paddles=np.array([len(c[0]) for c in distractors], np.int32), margin=margin)


def _sample_range(args) -> dict:
  p, seed, start, stop = args
  return stack([sample(p, seed, i) for i in range(start, stop)], p)


def stack(samples: list, p: Law) -> dict:
  """Samples as arrays: pixels (N, res, res) uint8, labels, markers (N, 2, 2), target_paddles (N, 2),
  distractor_paddles (N, num_distractors) zero-padded, margins."""
  dp = np.zeros((len(samples), max(p.num_distractors, 1)), np.int32)
  for i, s in enumerate(samples):
    dp[i, :len(s.distractor_paddles)] = s.distractor_paddles
  return {"pixels": np.stack([s.pixels for s in samples]) if samples else
          np.zeros((0, p.resolution, p.resolution), np.uint8),
          "labels": np.array([s.label for s in samples], np.int32),
          "markers": np.stack([s.markers for s in samples]) if samples else np.zeros((0, 2, 2), np.float32),
          "target_paddles": np.stack([s.target_paddles for s in samples]) if samples else np.zeros((0, 2), np.int32),
          "distractor_paddles": dp,
          "margins": np.array([s.margin for s in samples], np.int32)}


def concatenate(parts: list[dict]) -> dict:
  return {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}


def default_workers() -> int:
  """Every core this process may run on."""
  return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def generate_range(p: Law, seed: int, start: int, stop: int, *, workers: int = 0, chunk: int = 64,
                   progress: bool = True, desc: str = "Pathfinder"):
  """Yields the arrays (see `stack`) of images start..stop-1 in chunks, in order, drawn on `workers` processes.

  Args:
    workers: processes; 0: every core; 1: this process.
    chunk: images per task handed to a worker.
  """
  workers = workers or default_workers()
  bounds = [(i, min(i + chunk, stop)) for i in range(start, stop, chunk)]
  tasks = [(p, seed, a, b) for a, b in bounds]
  with tqdm(total=stop - start, desc=desc, unit="img", disable=not progress, mininterval=1.0) as bar:
    if workers == 1:
      for t in tasks:
        part = _sample_range(t)
        bar.update(len(part["labels"]))
        yield part
      return
    # spawn, not fork: the caller (train.py) may hold JAX threads, which a forked child could deadlock on.
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
      for part in pool.imap(_sample_range, tasks):
        bar.update(len(part["labels"]))
        yield part


def generate(p: Law, seed: int, num: int, **kwargs) -> dict:
  """The arrays (see `stack`) of images 0..num-1 of the set drawn with `seed`."""
  parts = list(generate_range(p, seed, 0, num, **kwargs))
  return concatenate(parts) if parts else stack([], p)
