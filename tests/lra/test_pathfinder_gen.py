"""The Pathfinder generator against independent computations: flood fill on the thresholded image, label counts,
a linear probe on image statistics, byte-identical reruns."""

import numpy as np
import pytest
from scipy import ndimage

from lra.errors import ConfigError
from lra.tasks import pathfinder_gen as gen
from tools.pathfinder_report import probe

LIT = 0.1 * 255   # a pixel is lit at 10% of the image's maximum (every image is min-max scaled to 0-255)
# Gaps bridged by the flood fill: a contour's paddles are `margin` apart (1 px at 32 and 64 px: joined by the
# antialiasing; 2-3 px at 128 and 256 px: joined by dilating the lit pixels by one pixel).
DILATION = {32: 0, 64: 0, 128: 1, 256: 1}
COUNTS = {32: 24, 64: 4, 128: 4, 256: 2}    # images per resolution in the connectivity test


@pytest.fixture(scope="module")
def pf32():
  """160 images of Pathfinder-32 hard (seed 3): the statistics tests' sample."""
  return gen.generate(gen.law(32, "hard"), 3, 160, workers=1, progress=False)


def components(pixels: np.ndarray, dilation: int) -> np.ndarray:
  lit = pixels >= LIT
  if dilation:
    lit = ndimage.binary_dilation(lit, structure=np.ones((2 * dilation + 1,) * 2, bool))
  labels, _ = ndimage.label(lit, structure=np.ones((3, 3), bool))
  return labels


@pytest.mark.parametrize("resolution", sorted(COUNTS))
def test_markers_connected_exactly_in_positives(resolution):
  law = gen.law(resolution, "hard")
  arrays = gen.generate(law, 1, COUNTS[resolution], workers=1, progress=False)
  for pixels, label, markers in zip(arrays["pixels"], arrays["labels"], arrays["markers"]):
    labels = components(pixels, DILATION[resolution])
    first, second = (labels[r, c] for r, c in np.rint(markers).astype(int))
    assert first > 0 and second > 0, "a marker sits on an unlit pixel"
    assert (first == second) == bool(label), f"label {label} but the markers are {'' if first == second else 'not '}" \
                                             f"connected"
  assert set(arrays["labels"]) == {0, 1}


def test_markers_keep_apart_and_inside(pf32):
  """Two tips of one contour or of two contours: never closer than the reserved distance, in either class (so
  the distance between the markers does not give the label away)."""
  law = gen.law(32, "hard")
  distances = np.linalg.norm(pf32["markers"][:, 0] - pf32["markers"][:, 1], axis=-1)
  assert distances.min() >= law.clearance + 2 * law.marker_radius - 1.0 / gen.GRID
  assert np.all((pf32["markers"] >= law.marker_radius) & (pf32["markers"] <= law.resolution - 1 - law.marker_radius))


def test_paddle_counts(pf32):
  law = gen.law(32, "hard")
  assert (pf32["target_paddles"] == law.contour_length).all()
  placed = pf32["distractor_paddles"]
  assert ((placed == 0) | (placed == law.distractor_length)).all()
  assert placed.shape[1] == law.num_distractors == 20 // (14 // 3)
  assert (placed > 0).sum(1).mean() >= 2.0   # most distractors find room


def test_classes_balanced(pf32):
  n = len(pf32["labels"])
  positives = int(pf32["labels"].sum())
  assert abs(positives - n / 2) <= 3 * np.sqrt(n) / 2   # a fair coin: within 3 standard deviations


def image_statistics(pixels: np.ndarray) -> np.ndarray:
  """Per image: a 16-bin intensity histogram, the lit-pixel count, the mean and the maximum."""
  flat = pixels.reshape(len(pixels), -1).astype(np.float64)
  histograms = np.stack([np.histogram(row, bins=16, range=(0, 256))[0] for row in flat])
  return np.concatenate([histograms, (flat >= LIT).sum(1, keepdims=True), flat.mean(1, keepdims=True),
                         flat.max(1, keepdims=True)], 1)


def test_linear_probe_on_image_statistics_is_at_chance(pf32):
  features, labels = image_statistics(pf32["pixels"]), pf32["labels"]
  n = len(labels)
  accuracy = probe(features, labels)
  assert abs(accuracy - 0.5) <= 3 * np.sqrt(0.25 / n), accuracy
  # The same probe finds a statistic that carries the label: the test can fail.
  leaky = np.concatenate([features, labels[:, None] + np.random.default_rng(1).normal(0, 0.3, (n, 1))], 1)
  assert probe(leaky, labels) > 0.85


def test_same_seed_same_bytes_whatever_the_workers_and_chunks():
  law = gen.law(32, "easy")
  first = gen.generate(law, 7, 6, workers=1, chunk=4, progress=False)
  second = gen.generate(law, 7, 6, workers=2, chunk=1, progress=False)
  for key in first:
    assert first[key].tobytes() == second[key].tobytes(), key
  alone = gen.sample(law, 7, 4)
  assert alone.pixels.tobytes() == first["pixels"][4].tobytes()
  other = gen.generate(law, 8, 6, workers=1, progress=False)
  assert other["pixels"].tobytes() != first["pixels"].tobytes()


def test_difficulty_sets_the_contour_length():
  for difficulty, length in (("easy", 6), ("intermediate", 9), ("hard", 14)):
    s = gen.sample(gen.law(64, difficulty), 0, 0)
    assert s.target_paddles.tolist() == [length, length]
    assert s.pixels.shape == (64, 64) and s.pixels.dtype == np.uint8 and s.pixels.max() == 255


def test_bad_law_names_the_value():
  with pytest.raises(ConfigError, match=r"resolution=48; valid: \[32, 64, 128, 256\]"):
    gen.law(48)
  with pytest.raises(ConfigError, match=r"difficulty='medium'; valid: \['easy', 'intermediate', 'hard'\]"):
    gen.law(32, "medium")
  with pytest.raises(ConfigError, match=r"clearance=1.0 must exceed the largest margin 1"):
    gen.law(32, clearance=1.0)
