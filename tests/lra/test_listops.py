"""Tests of the ListOps generator, evaluator, tokenizer, TSV reader and cache."""

import os
import random

import numpy as np
import pytest

from configs import data as data_config
from lra.tasks import data
from lra.tasks import get_task
from lra.tasks import listops

SMALL = listops.GeneratorParams(num_train=60, num_val=15, num_test=15, min_tokens=20, max_tokens=120,
                                max_depth=6, max_args=10, seed=3)


def independent_value(expression: str) -> int:
  """A stack evaluator over the parenthesised text, with numpy reductions (independent of lra.tasks.listops)."""
  functions = {"[MIN": np.min, "[MAX": np.max, "[MED": lambda v: int(np.median(v)), "[SM": lambda v: np.sum(v) % 10}
  stack, result = [], None
  for token in expression.split():
    if token in ("(", ")"):
      continue
    if token.startswith("["):
      stack.append((token, []))
    elif token == "]":
      operator, values = stack.pop()
      value = int(functions[operator](np.array(values)))
      (stack[-1][1] if stack else [None]).append(value)
      result = value
    else:
      (stack[-1][1] if stack else [None]).append(int(token))
      result = int(token) if not stack else result
  assert not stack
  return result


def read_lines(path):
  with open(path, encoding="utf-8") as f:
    return f.read().splitlines()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("listops"))
  counts = listops.generate(SMALL, out, progress=False)
  return out, counts


def test_known_expressions():
  assert listops.evaluate("( ( ( [MAX 2 ) 9 ) ] )") == 9
  assert listops.evaluate("[MED 1 2 ]") == 1            # int(np.median([1, 2])) = int(1.5)
  assert listops.evaluate("[MED 3 8 1 ]") == 3
  assert listops.evaluate("[SM 7 8 9 ]") == 4
  assert listops.evaluate("[MIN 4 [MAX 1 6 ] 5 ]") == 4
  with pytest.raises(ValueError, match="unknown ListOps token"):
    listops.evaluate("[MAX 1 X ]")
  with pytest.raises(ValueError, match="ends early|without"):
    listops.evaluate("[MAX 1 2")


def test_same_seed_gives_byte_identical_files(generated, tmp_path):
  out, _ = generated
  listops.generate(SMALL, str(tmp_path / "again"), progress=False)
  for name in listops.SPLIT_FILES.values():
    with open(os.path.join(out, name), "rb") as a, open(tmp_path / "again" / name, "rb") as b:
      assert a.read() == b.read()
  other = listops.GeneratorParams(**{**SMALL.__dict__, "seed": 4})
  listops.generate(other, str(tmp_path / "other"), progress=False)
  assert read_lines(tmp_path / "other" / "basic_train.tsv") != read_lines(os.path.join(out, "basic_train.tsv"))


def test_files_are_lra_format_distinct_in_bounds_and_labelled_right(generated):
  out, counts = generated
  expressions = []
  for split, name in listops.SPLIT_FILES.items():
    lines = read_lines(os.path.join(out, name))
    assert lines[0] == "Source\tTarget"
    assert len(lines) - 1 == getattr(SMALL, f"num_{split}") == sum(counts[split])
    for line in lines[1:]:
      expression, label = line.split("\t")
      tokens = [t for t in expression.split() if t not in ("(", ")")]
      assert SMALL.min_tokens < len(tokens) < SMALL.max_tokens
      assert expression.count("(") == expression.count(")")
      assert int(label) == independent_value(expression) == listops.evaluate(expression)
      expressions.append(expression)
  assert len(set(expressions)) == len(expressions)  # distinct within and across splits


def test_generator_follows_the_lra_law():
  # Depth 2: the root is an operator with probability 0.25 and then has 2..max_args digit children.
  params = listops.GeneratorParams(min_tokens=0, max_tokens=10_000, max_depth=2, max_args=4)
  rnd = random.Random(0).random
  results = [listops.generate_expression(rnd, params) for _ in range(4000)]
  kept = [r for r in results if r is not None]  # min_tokens=0 < 1 token: all kept
  assert len(kept) == 4000
  operators = [r for r in kept if r[2] > 1]
  assert abs(len(operators) / 4000 - 0.25) < 0.03
  num_args = np.array([r[2] - 2 for r in operators])
  assert set(num_args) == {2, 3, 4}
  assert np.all(np.abs(np.bincount(num_args)[2:] / len(num_args) - 1 / 3) < 0.06)


def test_reader_round_trip_and_tokens(generated):
  out, _ = generated
  split = listops.read_tsv(os.path.join(out, "basic_val.tsv"), max_length=128)
  lines = read_lines(os.path.join(out, "basic_val.tsv"))[1:]
  assert split.inputs.shape == (SMALL.num_val, 128) and split.inputs.dtype == np.uint8
  for row, length, label, line in zip(split.inputs, split.lengths, split.labels, lines):
    expression, target = line.split("\t")
    tokens = [listops.VOCAB[i] for i in row[:length]]
    assert tokens == [t for t in expression.split() if t not in ("(", ")")]
    assert np.all(row[length:] == 0) and label == int(target)
  assert split.model_inputs(np.arange(2)).dtype == np.int32
  assert split.info["truncated"] == 0


def test_truncation_is_counted(tmp_path):
  path = str(tmp_path / "t.tsv")
  listops.write_tsv(path, ["( ( ( [MAX 2 ) 9 ) ] )", "( [SM 1 ) ] )"], [9, 1])
  split = listops.read_tsv(path, max_length=3)
  assert split.lengths.tolist() == [3, 3] and split.info["truncated"] == 1
  assert split.inputs[0].tolist() == [listops.TOKEN_IDS[t] for t in ("[MAX", "2", "9")]


@pytest.mark.parametrize("bad_line, match", [
    ("( [MAX 2 ) ] )\t12", "label '12'"),
    ("( [MAX 2 ) ] )", "1 tab-separated"),
    ("( [MAX 2 ) X ] )\t2", "unknown ListOps token"),
    ("( [MAX 23 ) ] )\t2", "unknown ListOps token"),
])
def test_malformed_line_names_file_and_line(tmp_path, bad_line, match):
  path = tmp_path / "basic_train.tsv"
  path.write_text("Source\tTarget\n( [MIN 1 ) ] )\t1\n" + bad_line + "\n")
  with pytest.raises(data.DataFormatError, match=match) as error:
    listops.read_tsv(str(path), 16)
  assert f"{path}:3" in str(error.value)


def test_bad_header_and_unreadable_file(tmp_path):
  path = tmp_path / "x.tsv"
  path.write_text("expr\tlabel\n")
  with pytest.raises(data.DataFormatError, match=f"{path}:1"):
    listops.read_tsv(str(path), 16)
  path.write_bytes(b"Source\tTarget\n\xff\xfe\t1\n")
  with pytest.raises(data.DataFormatError, match=f"{path}:2: not UTF-8"):
    listops.read_tsv(str(path), 16)
  with pytest.raises(data.DataNotFoundError, match="nope.tsv"):
    listops.read_tsv(str(tmp_path / "nope.tsv"), 16)


def test_cache_is_reused_and_checked(tmp_path):
  params = listops.GeneratorParams(num_train=5, num_val=2, num_test=2, min_tokens=5, max_tokens=40, max_depth=4)
  out = listops.ensure_generated(params, str(tmp_path), progress=False)
  assert out.startswith(str(tmp_path / "listops"))
  train = os.path.join(out, "basic_train.tsv")
  stamp = os.stat(train).st_mtime_ns
  assert listops.ensure_generated(params, str(tmp_path), progress=False) == out
  assert os.stat(train).st_mtime_ns == stamp  # reused, not rewritten
  original = read_lines(train)
  with open(train, "a") as f:
    f.write("( [MAX 1 ) ] )\t1\n")  # tampered: checksum mismatch -> regenerated
  listops.ensure_generated(params, str(tmp_path), progress=False)
  assert read_lines(train) == original
  assert listops.generated_dir(params, "r") != listops.generated_dir(
      listops.GeneratorParams(**{**params.__dict__, "seed": 1}), "r")


def test_task_generated_and_raw(tmp_path, generated):
  cfg = data_config.default_data_config("listops")
  cfg.cache_dir = str(tmp_path)
  cfg.max_length = 64
  cfg.listops.update(num_train=8, num_val=3, num_test=3, min_tokens=10, max_tokens=60, max_depth=5)
  task = get_task("listops", cfg)
  assert (task.vocab_size, task.input_dim, task.num_classes, task.max_length) == (16, 1, 10, 64)
  splits = {s: task.load(s) for s in ("train", "val", "test")}
  assert [len(s) for s in splits.values()] == [8, 3, 3]
  assert not splits["val"].info["val_from_test"]
  cfg.listops.update(source="raw", raw_dir=generated[0])
  assert len(get_task("listops", cfg).load("test")) == SMALL.num_test
  cfg.listops.raw_dir = str(tmp_path)
  with pytest.raises(data.DataNotFoundError, match="raw_dir"):
    get_task("listops", cfg).load("train")
  with pytest.raises(ValueError, match="split='dev'"):
    get_task("listops", cfg).load("dev")
  cfg.listops.source = "official"
  with pytest.raises(ValueError, match="'generated', 'raw'"):
    get_task("listops", cfg)


def test_bad_parameters_and_names():
  with pytest.raises(ValueError, match="min_tokens"):
    listops.GeneratorParams(min_tokens=200, max_tokens=100)
  with pytest.raises(ValueError, match="lower min_tokens"):
    listops.GeneratorParams(min_tokens=500, max_tokens=2000, max_depth=3, max_args=3)
  with pytest.raises(ValueError, match="num_val"):
    listops.GeneratorParams(num_val=0)
  with pytest.raises(ValueError, match=r"config.task='nosuchtask'; valid: \[.*'listops'"):
    get_task("nosuchtask", data_config.default_data_config("listops"))
  with pytest.raises(ValueError, match="the tasks with data fields"):
    data_config.default_data_config("nosuchtask")


def test_cpu_preset_parameters_are_quick_and_valid():
  cpu = data_config.cpu_data_overrides("listops")["listops"]
  params = listops.GeneratorParams(**{k: v for k, v in cpu.items() if k != "source"})
  rnd = random.Random(0).random
  results = [listops.generate_expression(rnd, params) for _ in range(300)]
  assert sum(r is not None for r in results) > 10  # acceptance of the rejection sampler is > 3%
