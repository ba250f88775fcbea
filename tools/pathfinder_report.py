"""The figure and statistics of docs/pathfinder.md (`python scripts/pathfinder_report.py`): a grid of generated
samples at each resolution (positives beside negatives), and, over a larger sample, the label balance, lit pixels
by class, a linear probe on image statistics, and the flood-fill check of the tests.
"""

import matplotlib
import numpy as np
from scipy import ndimage

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after the backend choice

from lra.tasks import pathfinder_gen as gen  # noqa: E402

LIT = 0.1 * 255
DILATION = {32: 0, 64: 0, 128: 1, 256: 1}


def sample_grid(out_png: str, per_class: int = 3, seed: int = 0) -> None:
  """One row per resolution: `per_class` positives, then `per_class` negatives, markers' centres dotted."""
  fig, axes = plt.subplots(len(gen.RESOLUTIONS), 2 * per_class, figsize=(2 * per_class * 1.6, 4 * 1.75))
  for row, resolution in enumerate(gen.RESOLUTIONS):
    law = gen.law(resolution, "hard")
    found = {0: [], 1: []}
    index = 0
    while min(len(v) for v in found.values()) < per_class:
      s = gen.sample(law, seed, index)
      if len(found[s.label]) < per_class:
        found[s.label].append(s)
      index += 1
    for col, s in enumerate(found[1] + found[0]):
      ax = axes[row, col]
      ax.imshow(s.pixels, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
      ax.set_xticks([])
      ax.set_yticks([])
      if row == 0:
        ax.set_title("positive" if col < per_class else "negative", fontsize=9)
      if col == 0:
        ax.set_ylabel(f"{resolution} px", fontsize=9)
  fig.suptitle("Generated Pathfinder, hard (14 paddles); seed 0", fontsize=10)
  fig.tight_layout()
  fig.savefig(out_png, dpi=110)
  plt.close(fig)


def probe(features: np.ndarray, labels: np.ndarray, folds: int = 5) -> float:
  """5-fold accuracy of a ridge least-squares linear classifier on standardised features."""
  x = (features - features.mean(0)) / (features.std(0) + 1e-9)
  x = np.concatenate([x, np.ones((len(x), 1))], 1)
  y = 2.0 * labels - 1.0
  order = np.random.default_rng(0).permutation(len(y))
  correct = 0
  for fold in np.array_split(order, folds):
    train = np.setdiff1d(order, fold)
    w = np.linalg.solve(x[train].T @ x[train] + 1e-3 * np.eye(x.shape[1]), x[train].T @ y[train])
    correct += int(((x[fold] @ w > 0) == (y[fold] > 0)).sum())
  return correct / len(y)


def statistics(resolution: int, num: int, seed: int, workers: int = 0) -> str:
  arrays = gen.generate(gen.law(resolution, "hard"), seed, num, workers=workers)
  pixels, labels = arrays["pixels"], arrays["labels"]
  flat = pixels.reshape(num, -1).astype(np.float64)
  lit = (flat >= LIT).sum(1)
  histograms = np.stack([np.histogram(r, bins=16, range=(0, 256))[0] for r in flat])
  features = np.concatenate([histograms, lit[:, None], flat.mean(1, keepdims=True)], 1)
  agree = 0
  for image, label, markers in zip(pixels, labels, arrays["markers"]):
    mask = image >= LIT
    if DILATION[resolution]:
      mask = ndimage.binary_dilation(mask, np.ones((2 * DILATION[resolution] + 1,) * 2, bool))
    components, _ = ndimage.label(mask, np.ones((3, 3), bool))
    a, b = (components[r, c] for r, c in np.rint(markers).astype(int))
    agree += a > 0 and b > 0 and (a == b) == bool(label)
  distractors = (arrays["distractor_paddles"] > 0).sum(1)
  distance = np.linalg.norm(arrays["markers"][:, 0] - arrays["markers"][:, 1], axis=-1)
  # The best single threshold on the markers' distance, chosen on these images (an optimistic bound).
  by_distance = max(max(((distance > t) == labels).mean(), ((distance <= t) == labels).mean())
                    for t in np.unique(distance))
  band = 3 * np.sqrt(0.25 / num)
  return "\n".join([
      f"| {resolution} px, {num} images (seed {seed}) | |",
      "|---|---|",
      f"| positives | {int(labels.sum())} ({labels.mean():.3f}) |",
      f"| lit pixels (>= 10% of max), positives / negatives | {lit[labels == 1].mean():.1f} / "
      f"{lit[labels == 0].mean():.1f} |",
      f"| mean intensity, positives / negatives | {flat[labels == 1].mean():.2f} / {flat[labels == 0].mean():.2f} |",
      f"| distractor contours placed (of {gen.law(resolution, 'hard').num_distractors}) | {distractors.mean():.2f} |",
      f"| linear probe (16-bin histogram, lit count, mean), 5-fold accuracy | {probe(features, labels):.3f} "
      f"(chance 0.5 +- {band:.3f} at 3 sigma) |",
      f"| distance between the markers (px), positives / negatives | {distance[labels == 1].mean():.1f} / "
      f"{distance[labels == 0].mean():.1f} |",
      f"| best threshold on that distance, accuracy on these images | {by_distance:.3f} |",
      f"| flood fill agrees with the label (threshold 10%, dilation {DILATION[resolution]} px) | {agree} / {num} |"])
