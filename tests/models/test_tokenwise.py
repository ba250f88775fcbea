"""models/tokenwise.py: the flattened matmul equals the einsum over (B, L, d), values and gradients, in float64."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.tokenwise import tokenwise_matmul


def test_tokenwise_matmul_equals_the_einsum_with_its_gradients():
  with jax.enable_x64(True):
    x = jax.random.normal(jax.random.key(0), (3, 7, 5), jnp.float64)
    kernel = jax.random.normal(jax.random.key(1), (5, 4), jnp.float64)
    weights = jax.random.normal(jax.random.key(2), (3, 7, 4), jnp.float64)
    got = jax.value_and_grad(lambda x, k: jnp.sum(tokenwise_matmul(x, k) * weights), argnums=(0, 1))(x, kernel)
    want = jax.value_and_grad(lambda x, k: jnp.sum(jnp.einsum("bld,de->ble", x, k) * weights),
                              argnums=(0, 1))(x, kernel)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
      np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12)
    assert tokenwise_matmul(x[0, 0], kernel).shape == (4,)


def test_tokenwise_matmul_names_mismatched_shapes():
  with pytest.raises(ValueError, match=r"x \(\.\.\., 5\) does not match kernel \(4, 3\) \(d_in, d_out\)"):
    tokenwise_matmul(jnp.ones((2, 5)), jnp.ones((4, 3)))
