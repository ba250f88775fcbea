"""Pathfinder and Path-X tasks: the official layout written and read back, the generated source, the 80/10/10
split, pixel scaling, and the one-line DataError / ConfigError of bad files and fields."""

import os
import runpy
import shutil

import numpy as np
import pytest

from configs import data as data_config
from lra.errors import ConfigError, DataError
from lra.tasks import get_task
from lra.tasks import pathfinder
from lra.tasks import pathfinder_gen as gen
from tests.lra.tiny import REPO

NUM = 20


@pytest.fixture(scope="module")
def official(tmp_path_factory):
  """20 Pathfinder-32 hard images (seed 0) written by make_pathfinder.py --format lra, and the generator's arrays."""
  out = tmp_path_factory.mktemp("lra")
  main = runpy.run_path(os.path.join(REPO, "scripts", "make_pathfinder.py"))["main"]
  main(["--resolution", "32", "--num", str(NUM), "--out", str(out), "--format", "lra", "--workers", "1"])
  arrays = gen.generate(gen.law(32, "hard"), 0, NUM, workers=1, progress=False)
  return out / "pathfinder32", arrays


def config(task="pathfinder", **fields):
  cfg = data_config.default_data_config(task)
  cfg.pathfinder.update(fields)
  return cfg


def test_lra_layout_rows_and_round_trip(official):
  root, arrays = official
  meta = root / "curv_contour_length_14" / "metadata" / "0.npy"
  rows = [line.split() for line in meta.read_text().splitlines()]
  assert len(rows) == NUM
  assert all(len(r) == len(pathfinder.OFFICIAL_FIELDS) + len(pathfinder.EXTRA_FIELDS) for r in rows)
  assert rows[3][:4] == ["imgs/0", "sample_3.png", "3", str(arrays["labels"][3])]
  assert rows[3][4:11] == ["1", "14", "4", "2", "0.5", "1", "1"]  # continuity .. n_paddle_contrasts
  markers = np.array([[float(v) for v in r[11:15]] for r in rows]).reshape(NUM, 2, 2)
  np.testing.assert_allclose(markers, arrays["markers"], atol=0.006)
  assert [int(r[15]) for r in rows] == [14] * NUM
  pixels, labels = pathfinder.read_raw(str(root), "hard", 32, progress=False)
  assert pixels.tobytes() == arrays["pixels"].tobytes() and labels.tolist() == arrays["labels"].tolist()


def test_raw_and_generated_sources_give_the_same_splits(official, tmp_path):
  root, arrays = official
  raw = get_task("pathfinder", config(source="raw", raw_dir=str(root)))
  cfg = config(source="generated", num_images=NUM, workers=1)
  cfg.cache_dir = str(tmp_path)
  generated = get_task("pathfinder", cfg)
  easy = config(source="generated", num_images=NUM, workers=1, difficulty="easy")
  easy.cache_dir = str(tmp_path)
  expected = gen.generate(gen.law(32, "easy"), 0, NUM, workers=1, progress=False)
  assert get_task("pathfinder", easy).images()[0].tobytes() == expected["pixels"].tobytes()
  seen = []
  for split, size in (("train", 16), ("val", 2), ("test", 2)):
    a, b = raw.load(split), generated.load(split)
    assert len(a) == size and a.inputs.shape == (size, 1024, 1) and a.inputs.tobytes() == b.inputs.tobytes()
    assert a.labels.tolist() == b.labels.tolist()
    seen.append(a.inputs.reshape(size, -1))
  assert sorted(map(bytes, np.concatenate(seen))) == sorted(map(bytes, arrays["pixels"].reshape(NUM, -1)))
  batch = raw.load("val").model_inputs(np.arange(2))
  np.testing.assert_allclose(batch, raw.load("val").inputs / 255.0)
  assert generated.load("test").info["source"].startswith("generated ")


def test_pixel_choices(official):
  root, arrays = official
  tokens = get_task("pathfinder", config(source="raw", raw_dir=str(root), pixels="tokens"))
  symmetric = get_task("pathfinder", config(source="raw", raw_dir=str(root), pixels="symmetric"))
  assert tokens.vocab_size == 256 and symmetric.vocab_size is None
  t = tokens.load("train").model_inputs(np.arange(3))
  s = symmetric.load("train").model_inputs(np.arange(3))
  assert t.dtype == np.int32 and t.shape == (3, 1024)
  np.testing.assert_allclose(s[..., 0], 2.0 * t / 255.0 - 1.0, atol=1e-6)


def test_skip_list_and_bad_files(official, tmp_path):
  root, _ = official
  copy = tmp_path / "pathfinder32"
  shutil.copytree(root, copy)
  png = copy / "curv_contour_length_14" / "imgs" / "0" / "sample_5.png"
  png.write_bytes(b"")   # like the release's known empty PNG
  with pytest.raises(DataError, match=r"sample_5.png \(listed at .*metadata/0.npy:6\): cannot read the PNG") as e:
    pathfinder.read_raw(str(copy), "hard", 32, progress=False)
  assert "\n" not in str(e.value)
  skip = ("pathfinder32/curv_contour_length_14/imgs/0/sample_5.png",)
  pixels, _ = pathfinder.read_raw(str(copy), "hard", 32, skip, progress=False)
  assert len(pixels) == NUM - 1
  meta = copy / "curv_contour_length_14" / "metadata" / "0.npy"
  lines = meta.read_text().splitlines()
  lines[7] = "imgs/0 sample_7.png 7 yes"
  meta.write_text("\n".join(lines) + "\n")
  with pytest.raises(DataError, match=r"metadata/0.npy:8: expected 11 space-separated fields") as e:
    pathfinder.read_raw(str(copy), "hard", 32, skip, progress=False)
  assert "\n" not in str(e.value)
  with pytest.raises(DataError, match=r"no folder .*nowhere/curv_baseline/metadata; config.data.pathfinder.raw_dir"):
    pathfinder.read_raw(str(tmp_path / "nowhere"), "easy", 32)
  with pytest.raises(DataError, match=r"image of shape \(32, 32\), expected \(64, 64\)"):
    pathfinder.read_raw(str(root), "hard", 64, progress=False)


def test_bad_fields_name_the_fix():
  with pytest.raises(ConfigError, match=r"config.data.max_length=1024: pathfinder at resolution 64 has 4096 pixels"):
    get_task("pathfinder", config(resolution=64))
  with pytest.raises(ConfigError, match=r"config.data.pathfinder.resolution=32; valid: \[128, 256\]"):
    cfg = config("pathx", resolution=32)
    get_task("pathx", cfg)
  with pytest.raises(ConfigError, match=r"config.data.pathfinder.source='tfds'; valid: \['generated', 'raw'\]"):
    get_task("pathfinder", config(source="tfds"))
  with pytest.raises(ConfigError, match=r"difficulty='easy' names contours of 6 paddles, the law has 14"):
    pathfinder.make_set(gen.law(32, "hard"), 0, 2, "/nonexistent", fmt="lra", difficulty="easy")
  pathx = get_task("pathx", config("pathx"))
  assert pathx.max_length == 128 * 128 and pathx.law().resolution == 128


def test_make_pathfinder_cache_format(tmp_path):
  main = runpy.run_path(os.path.join(REPO, "scripts", "make_pathfinder.py"))["main"]
  main(["--resolution", "32", "--difficulty", "easy", "--num", "5", "--seed", "2", "--out", str(tmp_path),
        "--workers", "1"])
  arrays = pathfinder.read_shards(str(tmp_path))
  expected = gen.generate(gen.law(32, "easy"), 2, 5, workers=1, progress=False)
  assert sorted(arrays) == sorted(expected)
  assert all(arrays[k].tobytes() == expected[k].tobytes() for k in arrays)
  assert (tmp_path / "manifest.json").is_file()


def test_bench_and_report_scripts_run(tmp_path, capsys):
  bench = runpy.run_path(os.path.join(REPO, "scripts", "bench_pathfinder.py"))["main"]
  bench(["--workers", "1", "--num32", "3", "--num128", "1", "--serial", "2"])
  rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 32 |") or
          line.startswith("| 128 |")]
  assert len(rows) == 2 and all(len(row.split("|")) == 9 for row in rows)
  report = runpy.run_path(os.path.join(REPO, "scripts", "pathfinder_report.py"))
  table = report["statistics"](32, 12, seed=1, workers=1)
  assert "| flood fill agrees with the label (threshold 10%, dilation 0 px) | 12 / 12 |" in table
