"""Zero-cost defaults (issue #16): specialisations that change speed, never a bit of the result."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jsnn import neurons as N
from jsnn.neurons._run import exact_div


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64])
@pytest.mark.parametrize("b", [2.0, 0.5, 4.0, 1.0, np.array([[2.0, 8.0, 0.25]], np.float32)],
                         ids=["2", "0.5", "4", "1", "per_channel"])
def test_exact_div_power_of_two_is_bitwise_division(b, dtype):
  """A concrete power-of-two divisor becomes a multiplication by its (exact) reciprocal: bitwise
  the true division it replaces (``a / (b + 0·a)``, which XLA cannot rewrite), eager and jitted,
  large and tiny values included; and the correctly rounded quotient for normal results."""
  with jax.enable_x64(dtype == jnp.float64):
    tiny = float(jnp.finfo(dtype).tiny)
    a = (jax.random.normal(jax.random.key(0), (64, 3), jnp.float32) * 1e3).astype(dtype)
    a = jnp.concatenate([a] + [jnp.full((1, 3), v, dtype) for v in (
        tiny, tiny * 3, float(jnp.finfo(dtype).max) / 2)])   # finite (inf·0 is NaN, inf/2 inf)
    bb = jnp.asarray(b, dtype)
    true_div = lambda a, b: a / (b + a * 0)
    for got, want in [(exact_div(a, bb), true_div(a, bb)),
                      (jax.jit(lambda a: exact_div(a, jnp.asarray(b, dtype)))(a),
                       jax.jit(true_div)(a, bb))]:
      assert got.dtype == a.dtype
      np.testing.assert_array_equal(np.asarray(got, np.float64), np.asarray(want, np.float64))
    with np.errstate(over="ignore"):
      quotient = np.asarray(a, np.float64) / np.asarray(b, np.float64)
    normal = (np.abs(quotient) >= tiny) & (np.abs(quotient) <= float(jnp.finfo(dtype).max))
    with np.errstate(over="ignore"):
      rounded = np.asarray(jnp.asarray(np.where(normal, quotient, 0.0), dtype))
    np.testing.assert_array_equal(np.asarray(exact_div(a, bb), np.float64)[normal],
                                  np.asarray(rounded, np.float64)[normal])


def test_exact_div_keeps_true_division_otherwise():
  a = jax.random.normal(jax.random.key(1), (1000,))
  jaxpr = lambda f, *args: str(jax.make_jaxpr(f)(*args))
  assert "div" not in jaxpr(lambda a: exact_div(a, np.float32(2.0)), a)
  assert "div" in jaxpr(lambda a: exact_div(a, np.float32(1.7)), a)           # not a power of 2
  assert "div" in jaxpr(lambda a, b: exact_div(a, b), a, jnp.asarray(2.0))     # traced
  out = exact_div(a, jnp.asarray(1.7))
  np.testing.assert_array_equal(np.asarray(out),
                                np.asarray(jnp.asarray(np.asarray(a, np.float64) / np.float32(1.7),
                                                       jnp.float32)))


@pytest.mark.parametrize("make", [
    N.sj_lif, functools.partial(N.sj_lif, decay_input=False, v_reset=None), N.clif],
    ids=["sj_lif", "sj_lif_no_decay_soft", "clif"])
def test_default_tau_compiles_without_division(make):
  """SpikingJelly's / CLIF's default tau = 2 with constants closed over (as in a model): the
  jitted gradient has fewer divisions than with tau traced (true division; those left are the
  sigmoids'), and the same values bit for bit."""
  x = jax.random.normal(jax.random.key(2), (8, 4, 16)) + 0.5
  neuron = make()
  f = jax.jit(jax.grad(lambda x: jnp.sum(neuron(x)[1] * jnp.cos(x))))
  traced = jax.jit(jax.grad(lambda x, n: jnp.sum(n(x)[1] * jnp.cos(x))))
  divides = lambda f, *a: f.lower(x, *a).compile().as_text().count(" divide(")
  assert divides(f) < divides(traced, neuron)
  np.testing.assert_array_equal(np.asarray(f(x)), np.asarray(traced(x, neuron)))
