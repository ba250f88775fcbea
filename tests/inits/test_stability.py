"""Tests for inits.stability: the state-norm formulas against naive float64 sums, the predictor against theory and
docs/fig1_table.md, bad input, and the command line."""

import json
import math
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import inits
from inits import stability

FIG1_TABLE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "fig1_table.csv"


@pytest.fixture(autouse=True)
def cache_dir(tmp_path_factory, monkeypatch):
  """Predictions cache under tmp (shared by the module's tests), never under ~/.cache."""
  monkeypatch.setenv("GLOROT_LRA_CACHE", str(tmp_path_factory.getbasetemp() / "stability_cache"))


def naive_trace(matrix, t):
  """sum_{s<t} ||A^s||_F^2 in float64 by repeated products."""
  total, power = 0.0, np.eye(matrix.shape[0])
  for _ in range(t):
    total += np.sum(power ** 2)
    power = matrix @ power
  return total


@pytest.mark.parametrize("scale", [0.7, 1.0, 1.3])
def test_doubling_matches_the_naive_sum(scale):
  n = 12
  matrix = scale * np.asarray(inits.get("glorot")(jax.random.key(1), (n, n)), np.float64)
  curve = stability.doubling_log_trace(matrix[None], doublings=7)[0]
  expected = [math.log(naive_trace(matrix, 2 ** j)) for j in range(8)]
  np.testing.assert_allclose(curve, expected, rtol=1e-5, atol=1e-5)


def test_normal_closed_form_matches_the_naive_sum():
  eigenvalues = np.array([[0.5, 0.99 * np.exp(0.3j), 1.0, np.exp(2j), 1.02 * np.exp(-1j)]])
  for t in (1, 2, 7, 100, 5000):
    naive = sum(np.sum(np.abs(eigenvalues) ** (2 * s)) for s in range(t))
    assert stability.normal_log_trace(eigenvalues, [t])[0, 0] == pytest.approx(math.log(naive), rel=1e-9)


@pytest.mark.parametrize("name", sorted(stability.NORMAL_INITS))
def test_normal_inits_give_normal_matrices(name):
  matrix = np.asarray(inits.get(name)(jax.random.key(2), (12, 12)), np.float64)
  np.testing.assert_allclose(matrix @ matrix.T, matrix.T @ matrix, atol=1e-5)
  curve = stability.doubling_log_trace(matrix[None], doublings=6)[0]
  closed = stability.normal_log_trace(np.linalg.eigvals(matrix)[None], 2 ** np.arange(7))[0]
  np.testing.assert_allclose(curve, closed, rtol=1e-4)


def test_p_radius_above_1_agrees_with_figure_1_monte_carlo():
  import csv
  with open(FIG1_TABLE) as file:
    rows = {(int(r["n"]), r["init"]): r for r in csv.DictReader(file)}
  for name in ("glorot", "rescaled_glorot"):
    row = rows[(192, name)]
    predicted = stability.predict(name, 192, 2048, recurrence="diag", n_draws=64)
    figure_p, figure_se = float(row["mc_p"]), float(row["mc_se"])
    combined = math.sqrt(figure_se ** 2 + predicted["p_radius_above_1_se"] ** 2)
    # within 3 standard errors, plus one draw's worth where both Monte Carlos see (almost) no exceedance
    assert abs(predicted["p_radius_above_1"] - figure_p) <= 3 * combined + 1 / predicted["n_draws"], name


def test_predictions_follow_theory():
  glorot = stability.predict("glorot", 64, 1024, n_draws=16)
  assert glorot["p_radius_above_1"] > 0.8 and glorot["p_diverge"] > 0.5
  assert glorot["length_to_overflow"] < 4096 and math.isfinite(glorot["length_to_overflow"])
  short = stability.predict("glorot", 64, 64, n_draws=16)
  assert short["p_diverge"] == 0.0 and short["growth"] < glorot["growth"]
  two_layers = stability.predict("glorot", 64, 1024, n_draws=16, n_layers=2)
  assert two_layers["p_diverge"] == pytest.approx(1 - (1 - glorot["p_diverge_per_layer"]) ** 2)
  orthogonal = stability.predict("orthogonal", 16, 300, n_draws=4)
  assert orthogonal["growth"] == pytest.approx(math.sqrt(300), rel=1e-3)  # tr P_t = n t when every |l| = 1
  assert orthogonal["memory_length"] == math.inf and orthogonal["p_diverge"] == 0.0
  rescaled = stability.predict("rescaled_glorot", 192, 2048, recurrence="diag", n_draws=64)
  radius = rescaled["spectral_radius_quantiles"]["q50"]
  assert rescaled["memory_length"] == pytest.approx(-1 / math.log(radius)) and 4 < rescaled["memory_length"] < 9
  assert rescaled["p_diverge"] == 0.0 and rescaled["length_to_overflow"] == math.inf
  uniform = stability.predict("diag_uniform", 64, 1024, recurrence="diag", n_draws=16)
  assert uniform["memory_length"] > 10 * rescaled["memory_length"]  # slowest modes near 1: long memory


def test_diag_growth_is_the_closed_form_of_its_eigenvalues():
  result = stability.predict("glorot_half", 32, 500, recurrence="diag", n_draws=4)
  eigenvalues = np.stack([np.asarray(inits.get("glorot_half")(k, (32,), jnp.complex64), np.complex128)
                          for k in jax.random.split(jax.random.key(0), 4)])
  rms = [math.sqrt(sum(np.sum(np.abs(e) ** (2 * s)) for s in range(500)) / 32) for e in eigenvalues]
  assert result["growth"] == pytest.approx(np.quantile(rms, 0.5, method="inverted_cdf"), rel=1e-6)


def test_rescaled_glorot_is_stable_where_glorot_is_not():
  assert stability.predict("glorot", 192, 2048, recurrence="diag", n_draws=64)["p_diverge"] > 0.5
  assert stability.predict("rescaled_glorot", 192, 2048, recurrence="diag", n_draws=64)["p_diverge"] == 0
  unset = dict(k=None, delta=None, half_of=None)  # config.model.init_params with nothing set
  assert stability.predict("glorot", 192, 2048, "diag", unset, n_draws=64)["init_params"] == {}


@pytest.mark.parametrize("kwargs, message", [
    (dict(init="xavier"), r"^unknown initializer 'xavier'; valid: glorot, glorot_half, .*hippo_n$"),
    (dict(n=0), r"^n must be an int >= 1 \(the recurrence width\), got n=0$"),
    (dict(length=0), r"^length must be an int >= 1 \(the sequence length\), got length=0$"),
    (dict(recurrence="lru"), r"^unknown recurrence 'lru'; valid: dense, diag$"),
    (dict(init_params={"radius": 0.9}), r"^initializer 'glorot' takes no parameter\(s\) \['radius'\]; valid: none$"),
    (dict(dtype="int8"), r"^unknown dtype 'int8'; valid: float32, float64, bfloat16, float16$"),
])
def test_bad_input_is_a_one_line_error_naming_the_valid_values(kwargs, message):
  args = dict(init="glorot", n=64, length=128) | kwargs
  with pytest.raises(ValueError, match=message):
    stability.predict(**args)


def test_command_line_prints_a_verdict_or_json(capsys):
  assert stability.main(["--init", "glorot", "--n", "64", "--length", "1024", "--draws", "16"]) == 0
  line = capsys.readouterr().out.strip()
  assert "\n" not in line and line.startswith("glorot (dense, n=64, L=1024, float32): DIVERGES, p_diverge=")
  assert stability.main(["--init", "spectral_glorot", "--param", "radius=0.9", "--n", "64", "--length", "1024",
                         "--recurrence", "diag", "--draws", "16", "--json"]) == 0
  result = json.loads(capsys.readouterr().out)
  assert result["p_diverge"] == 0.0 and result["spectral_radius_quantiles"]["q95"] == pytest.approx(0.9, rel=1e-5)
  assert stability.main(["--init", "glorot", "--n", "0", "--length", "8"]) == 2
  assert capsys.readouterr().err.strip() == "error: n must be an int >= 1 (the recurrence width), got n=0"


def test_advice_picks_the_longest_memory_within_the_budget_from_direct_predictions():
  n, length, layers, budget = 24, 512, 2, 0.05
  advice = stability.advise(n, length, "dense", n_layers=layers, budget=budget, n_draws=8)
  within, rows = [], {}
  for init, params in stability.advised_settings():
    try:
      direct = stability.predict(init, n, length, "dense", params, n_layers=layers, n_draws=8)
    except ValueError as error:
      rows[init, str(params)] = str(error)
      continue
    rows[init, str(params)] = direct
    if direct["p_diverge"] <= budget:
      within.append(direct)
  for row in advice["rows"]:
    direct = rows[row["init"], str(row["init_params"])]
    if row["applies"]:
      assert (row["p_diverge"], row["memory_length"], row["growth"]) == (
          direct["p_diverge"], direct["memory_length"], direct["growth"])
    else:
      assert row["reason"] == direct
  assert len(advice["rows"]) == len(rows) == len(stability.advised_settings())
  pick = advice["pick"]
  assert pick["p_diverge"] <= budget
  longest = max(min(r["memory_length"], length) for r in within)  # a memory past L remembers all of the sequence
  assert min(pick["memory_length"], length) == longest
  assert pick["growth"] == min(r["growth"] for r in within if min(r["memory_length"], length) == longest)
  assert pick["flags"] == stability.config_flags(pick["init"], pick["init_params"])
  glorot = next(r for r in advice["rows"] if r["init"] == "glorot")
  assert glorot["p_diverge"] > budget and not glorot["within_budget"]  # ranked, but never picked
  rescaled = next(r for r in advice["rows"] if r["init"] == "rescaled_glorot")
  assert not rescaled["applies"] and "calibrated_glorot" in rescaled["reason"]  # no c_n at n = 24


def test_config_flags_select_the_setting():
  assert stability.config_flags("lru_ring", {"r_min": 0.9, "r_max": 0.999}) == (
      "--config.model.init=lru_ring --config.model.init_params.r_max=0.999 --config.model.init_params.r_min=0.9")
  assert stability.config_flags("glorot") == "--config.model.init=glorot"


def test_the_lru_counts_an_eigenvalue_on_the_unit_circle_as_a_failure():
  """The LRU refuses |lambda| >= 1: orthogonal's unit-modulus eigenvalues pass the diagonal recurrence, not it."""
  lru = {(r["init"], str(r["init_params"])): r for r in stability.advise(24, 512, "lru", n_draws=8)["rows"]}
  diag = {(r["init"], str(r["init_params"])): r for r in stability.advise(24, 512, "diag", n_draws=8)["rows"]}
  eigenvalues, _ = stability.draws("orthogonal", 24, "diag", None, 8, 0)
  failing = np.mean(np.any(np.abs(eigenvalues.astype(np.complex64)) >= 1.0, axis=-1))
  assert lru["orthogonal", "{}"]["p_diverge"] == pytest.approx(failing) and failing > 0.5
  assert diag["orthogonal", "{}"]["p_diverge"] == 0.0
  assert lru["lru_ring", "{'r_min': 0.4, 'r_max': 0.9}"]["p_diverge"] == 0.0


@pytest.mark.parametrize("kwargs, message", [
    (dict(recurrence="s4"), r"^unknown recurrence 's4'; valid: dense, diag, lru$"),
    (dict(budget=0.0), r"^budget must lie in \(0, 1\) \(the largest p_diverge to accept\), got budget=0.0$"),
    (dict(budget=1), r"^budget must lie in \(0, 1\) \(the largest p_diverge to accept\), got budget=1$"),
    (dict(budget=-0.5), r"^budget must lie in \(0, 1\) .*got budget=-0.5$"),
    (dict(n_layers=0), r"^n_layers must be an int >= 1, got n_layers=0$"),
    (dict(n=0), r"^n must be an int >= 1 \(the recurrence width\), got n=0$"),
])
def test_advice_on_bad_input_is_a_one_line_error(kwargs, message):
  args = dict(n=16, length=64, recurrence="dense") | kwargs
  with pytest.raises(ValueError, match=message):
    stability.advise(**args)


def test_advise_command_prints_the_ranking_and_the_flags(capsys):
  argv = ["--advise", "--n", "24", "--length", "512", "--recurrence", "diag", "--n-layers", "2", "--draws", "8"]
  assert stability.main(argv) == 0
  lines = capsys.readouterr().out.strip().splitlines()
  pick = stability.advise(24, 512, "diag", n_layers=2, n_draws=8)["pick"]
  assert lines[-1].startswith(f"Advice: {pick['init']} (memory ") and lines[-1].endswith(f": {pick['flags']}")
  assert len(lines) == 2 + len(stability.advised_settings()) + 1
  assert stability.main(argv + ["--json"]) == 0
  assert json.loads(capsys.readouterr().out)["pick"] == pick
  assert stability.main(argv[:-2] + ["--budget", "1.5"]) == 2
  assert capsys.readouterr().err.strip() == (
      "error: budget must lie in (0, 1) (the largest p_diverge to accept), got budget=1.5")


def test_divergence_warning_names_the_advised_flags():
  prediction = stability.predict("glorot", 24, 512, n_draws=8)
  advice = stability.advice_summary(stability.advise(24, 512, "dense", n_draws=8))
  prediction["advice"] = advice
  text = stability.divergence_warning(prediction)
  assert "\n" not in text and text.startswith("warning: glorot at d_hidden=24 and length 512 is predicted to overflow")
  assert text.endswith(advice["flags"]) and advice["flags"].startswith("--config.model.init=")
  assert stability.divergence_warning({**prediction, "advice": None}).endswith("no initializer is predicted stable "
                                                                              "at this width and length")


def test_complex_calibrated_glorot_predicts_the_eigenvalues_a_diagonal_model_draws(tmp_path):
  params = dict(field="complex", delta=0.2, n_draws=200, cache_dir=str(tmp_path))
  eigenvalues, curves = stability.draws("calibrated_glorot", 16, "diag", params, 6, 0)
  init = inits.get("calibrated_glorot", **params)
  model_draws = [np.asarray(init(k, (16,), jnp.complex64)) for k in jax.random.split(jax.random.key(0), 6)]
  assert curves is None
  np.testing.assert_allclose(eigenvalues, np.stack(model_draws), rtol=1e-6)
  # Real conjugate pairs would be symmetric about the real axis; a complex draw's eigenvalues are not.
  assert not np.allclose(np.sort_complex(eigenvalues[0]), np.sort_complex(eigenvalues[0].conj()))
  result = stability.predict("calibrated_glorot", 16, 256, "diag", params, n_draws=64)
  assert abs(result["p_radius_above_1"] - 0.2) <= 3 * math.sqrt(0.2 * 0.8 / 64) + 0.2 * math.sqrt(0.8 / 200)
  with pytest.raises(ValueError, match=r"field='complex' .* \(the dense recurrence\); use field='real'"):
    stability.predict("calibrated_glorot", 16, 256, "dense", params, n_draws=8)
