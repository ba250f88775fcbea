"""Tests for inits.cache.cached_file: computed once and read back, a cut file recomputed, a failed write warned."""

import json

import pytest

from inits import cache


def cached_json(path, calls):
  def compute():
    calls.append(1)
    return {"scale": 1.5}
  return cache.cached_file(path, compute, encode=lambda v: json.dumps(v).encode(), decode=json.loads)


def test_computed_once_then_read_from_the_file(tmp_path):
  calls, path = [], tmp_path / "sub" / "value.json"
  assert cached_json(path, calls) == {"scale": 1.5} and calls == [1]
  assert json.loads(path.read_text()) == {"scale": 1.5}
  assert [p.name for p in path.parent.iterdir()] == ["value.json"]  # no temporary file left behind
  assert cached_json(path, calls) == {"scale": 1.5} and calls == [1]


def test_a_file_that_does_not_decode_is_computed_again_and_replaced(tmp_path):
  calls, path = [], tmp_path / "value.json"
  path.write_text('{"scale": 1.')  # cut by a kill
  assert cached_json(path, calls) == {"scale": 1.5} and calls == [1]
  assert json.loads(path.read_text()) == {"scale": 1.5}


def test_a_failed_write_warns_and_still_returns_the_value(tmp_path):
  blocker = tmp_path / "not_a_folder"
  blocker.write_text("")
  calls = []
  with pytest.warns(UserWarning, match=r"could not write the cache file .*not_a_folder/value.json"):
    assert cached_json(blocker / "value.json", calls) == {"scale": 1.5}
  assert calls == [1]
