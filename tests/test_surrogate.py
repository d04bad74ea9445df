"""Closed forms, forward conventions, differentiable shape parameters, tracing and errors."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special

from helpers import maybe_jit
from jsnn import surrogate as S

GRID = (np.arange(401) - 200) / 100.0  # [-2, 2], GRID[200] == 0.0 exactly


def _h(x):
  return (x >= 0).astype(np.float64)


# Independent numpy (float64) closed forms of every backward, written from the papers'/
# SpikingJelly's formulas, not from jsnn. Each entry: (instance, closed-form derivative).
def _closed_forms():
  sig = lambda z: 1 / (1 + np.exp(-z))
  return {
      # Window edges are dyadic so that they are exact in float32 too (both ends are inclusive).
      "triangle": (S.Triangle(0.75), lambda x: np.maximum(0, 0.75 - np.abs(x)) / 0.75**2),
      "rectangle": (S.Rectangle(0.5), lambda x: (np.abs(x) <= 0.25) / 0.5),
      "dspike": (S.Dspike(2.5, 1.0), lambda x: 2.5 / (2 * np.tanh(2.5)) *
                 (1 - np.tanh(2.5 * x)**2) * (np.abs(x) <= 1.0)),
      "asymmetric_rectangle": (S.AsymmetricRectangle(1.0, 0.5, 0.6, 0.4), lambda x: np.where(
          x < 0, 0.6 / 1.0, 0.4 / 0.5) * ((x >= -1.0) & (x <= 0.5))),
      "sigmoid": (S.Sigmoid(4.0), lambda x: 4 * sig(4 * x) * (1 - sig(4 * x))),
      "atan": (S.ATan(2.0), lambda x: 1.0 / (1 + (math.pi / 2 * 2 * x)**2)),
      "piecewise_quadratic": (S.PiecewiseQuadratic(1.5), lambda x: np.where(
          np.abs(x) <= 1 / 1.5, 1.5 - 1.5**2 * np.abs(x), 0)),
      "piecewise_exp": (S.PiecewiseExp(2.5), lambda x: 2.5 / 2 * np.exp(-2.5 * np.abs(x))),
      "soft_sign": (S.SoftSign(2.0), lambda x: 1 / (2 * 2.0 * (1 / 2.0 + np.abs(x))**2)),
      "erf": (S.Erf(2.0), lambda x: 2.0 / np.sqrt(np.pi) * np.exp(-(2.0 * x)**2)),
      "super_spike": (S.SuperSpike(0.5), lambda x: 0.5 / (np.abs(x) + 1)**2),
      "nonzero_sign_log_abs": (S.NonzeroSignLogAbs(2.0), lambda x: 1 / (1 / 2.0 + np.abs(x))),
      "rect": (S.Rect(2.0), lambda x: 2.0 * (np.abs(x) < 0.25)),
      "q_pseudo_spike": (S.QPseudoSpike(3.0), lambda x: (1 + 2 / 2.0 * np.abs(x))**-3.0),
      "piecewise_leaky_relu": (S.PiecewiseLeakyReLU(0.5, 0.05), lambda x: np.where(
          np.abs(x) < 0.5, 1 / (2 * 0.5), 0.05)),
      "s2nn": (S.S2NN(4.0, 0.5), lambda x: np.where(
          x < 0, 4 * sig(4 * x) * (1 - sig(4 * x)), 0.5 / (np.maximum(x, 0) + 1))),
      "squarewave_fourier_series": (S.SquarewaveFourierSeries(5.0, n=4), lambda x: 4 / 5.0 * sum(
          np.cos((2 * i - 1) * 2 * np.pi / 5.0 * x) for i in range(1, 4))),
      "leaky_k_relu": (S.LeakyKReLU(0.1, 2.0), lambda x: np.where(x >= 0, 2.0, 0.1)),
      "log_tailed_relu": (S.LogTailedReLU(0.1), lambda x: np.where(
          x <= 0, 0.1, np.where(x <= 1, 1.0, 1 / np.maximum(x, 1)))),
      "fake_numerical_gradient": (S.FakeNumericalGradient(0.3), lambda x: np.where(
          x == 0, 0.3, np.minimum((2 * _h(x) - 1) / np.where(x == 0, 1, x), 0.3))),
      "deterministic_pass": (S.DeterministicPass(), lambda x: np.ones_like(x)),
      "multi_level_spike_count": (S.MultiLevelSpikeCount(2), lambda x: ((x >= 0) & (x <= 2)) *
                                  1.0),
  }


CLOSED = _closed_forms()


def test_every_family_has_a_closed_form():
  assert set(CLOSED) == set(S.FAMILIES)


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CLOSED))
def test_backward_equals_closed_form(name, dtype, jit, x64):
  sg, closed = CLOSED[name]
  x = jnp.asarray(GRID, dtype)
  g = maybe_jit(jax.grad(lambda v: jnp.sum(sg(v))), jit)(x)
  assert g.dtype == jnp.dtype(dtype)
  tol = dict(rtol=2e-6, atol=2e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
  np.testing.assert_allclose(g, closed(np.asarray(x, np.float64)), **tol)
  # The upstream gradient scales it.
  g3 = maybe_jit(jax.grad(lambda v: jnp.sum(3.0 * sg(v))), jit)(x)
  np.testing.assert_allclose(g3, 3 * np.asarray(g), rtol=1e-6)


UNIT_MASS = ["triangle", "rectangle", "dspike", "sigmoid", "atan", "piecewise_quadratic",
             "piecewise_exp", "soft_sign", "erf", "rect", "q_pseudo_spike"]


@pytest.mark.parametrize("name", UNIT_MASS + ["asymmetric_rectangle"])
def test_integral_of_backward(name, x64):
  """The surrogate integrates to 1 (AdaLi: alpha + beta): numerically over [-L, L] plus the
  analytic tail mass given by the primitive, which must run from 0 to 1."""
  sg, _ = CLOSED[name]
  lim = 40.0
  x = jnp.linspace(-lim, lim, 800_001, dtype=jnp.float64)
  inner = float(jnp.trapezoid(sg.surrogate_grad(x), x))
  ends = np.asarray(sg.smooth(jnp.asarray([-1e12, -lim, lim, 1e12], jnp.float64)))
  np.testing.assert_allclose(inner, ends[2] - ends[1], atol=2e-6)  # grad is the primitive's slope
  total = inner + (ends[1] - ends[0]) + (ends[3] - ends[2])
  expected = 1.0 if name in UNIT_MASS else float(sg.alpha + sg.beta)
  np.testing.assert_allclose(total, expected, atol=2e-6)
  np.testing.assert_allclose(ends[0], 0.0, atol=1e-9)


@pytest.mark.parametrize("name", sorted(set(CLOSED) - {"multi_level_spike_count"}))
def test_forward_convention_at_zero(name):
  sg, _ = CLOSED[name]
  x = jnp.asarray([-1e-7, 0.0, 1e-7], jnp.float32)
  out = np.asarray(sg(x))
  expected = [0, 0, 1] if sg.strict else [0, 1, 1]
  np.testing.assert_array_equal(out, expected)
  np.testing.assert_array_equal(sg(x, strict=not sg.strict)[1], 1.0 if sg.strict else 0.0)


def test_tet_triangle_is_strict_and_sml_dspike_is_not():
  zero = jnp.zeros((3,))
  np.testing.assert_array_equal(S.Triangle()(zero), 0.0)
  np.testing.assert_array_equal(S.Dspike()(zero), 1.0)
  np.testing.assert_array_equal(S.triangle(zero, 1.0, strict=False), 1.0)


def test_multi_level_spike_count_rounds_half_to_even():
  x = jnp.asarray([-1.0, 0.5, 1.5, 2.5, 3.5, 9.0])
  np.testing.assert_array_equal(S.MultiLevelSpikeCount(4)(x), [0, 0, 2, 2, 4, 4])


def test_functional_forms_match_classes():
  x = jnp.linspace(-1.0, 1.0, 11)
  np.testing.assert_array_equal(S.sigmoid(x, 5.0), S.Sigmoid(5.0)(x))
  g_f = jax.grad(lambda v: jnp.sum(S.dspike(v, 3.0)))(x)
  g_c = jax.grad(lambda v: jnp.sum(S.Dspike(3.0)(v)))(x)
  np.testing.assert_array_equal(g_f, g_c)
  assert S.by_name("Sigmoid", alpha=2.0) == S.Sigmoid(2.0)
  assert isinstance(S.by_name("asymmetric_rectangle"), S.AsymmetricRectangle)
  with pytest.raises(ValueError, match="unknown surrogate 'sigmod'.*sigmoid"):
    S.by_name("sigmod")


# --- differentiable shape parameters ------------------------------------------------------------

SHAPE_FAMILIES = {
    "sigmoid": (S.Sigmoid, 3.0),
    "atan": (S.ATan, 2.0),
    "dspike": (S.Dspike, 2.5),
    "triangle": (S.Triangle, 1.2),
    "rectangle": (S.Rectangle, 1.5),
}


def _two_layer_net(a, make_spike, x_tbi, w1, w2, g_tbo):
  """A 2-layer network of TET-style LIF neurons scanned over T; ``make_spike(a)`` gives the spike
  function of both layers (shape parameter ``a``: scalar or per hidden channel)."""

  def step(v, x):
    v1, v2 = v
    m1 = 0.5 * v1 + x @ w1
    s1 = make_spike(a)(m1 - 0.9)  # v_th = 0.9: a silent neuron (m = 0) is off every window edge
    m2 = 0.5 * v2 + s1 @ w2
    s2 = make_spike(a if jnp.ndim(a) == 0 else a[: w2.shape[1]])(m2 - 0.9)
    return ((1.0 - s1) * m1, (1.0 - s2) * m2), s2

  b = x_tbi.shape[1]
  v0 = (jnp.zeros((b, w1.shape[1])), jnp.zeros((b, w2.shape[1])))
  _, s_tbo = jax.lax.scan(step, v0, x_tbi)
  return jnp.sum(s_tbo * g_tbo)


def _net_data(dtype):
  rs = np.random.RandomState(0)
  t, b, i, h = 8, 5, 6, 4
  x = rs.randn(t, b, i) * 1.0 + 0.6
  w1 = rs.randn(i, h) * 0.8
  w2 = rs.randn(h, h) * 0.8
  g = rs.randn(t, b, h)
  return [jnp.asarray(v, dtype) for v in (x, w1, w2, g)]


@pytest.mark.parametrize("per_channel", [False, True], ids=["scalar", "per_channel"])
@pytest.mark.parametrize("name", sorted(SHAPE_FAMILIES))
def test_shape_gradient_matches_finite_differences_of_primitive_network(name, per_channel, x64):
  """jax.grad w.r.t. a family's shape parameter, through the smooth primitive network (the spike
  replaced by sigma_a), equals central finite differences of that network's loss."""
  cls, a0 = SHAPE_FAMILIES[name]
  x, w1, w2, g = _net_data(jnp.float64)
  a = jnp.full((4,), a0, jnp.float64) * jnp.asarray([1.0, 0.9, 1.1, 0.8]) if per_channel \
      else jnp.asarray(a0, jnp.float64)
  loss = lambda a: _two_layer_net(a, lambda p: cls(p).smooth, x, w1, w2, g)
  grad = jax.jit(jax.grad(loss))(a)
  eps = 1e-6
  flat = np.asarray(a).reshape(-1)
  fd = []
  for k in range(flat.size):
    e = np.zeros_like(flat)
    e[k] = eps
    up, dn = (jnp.asarray((flat + s * e).reshape(np.shape(a))) for s in (1, -1))
    fd.append((loss(up) - loss(dn)) / (2 * eps))
  np.testing.assert_allclose(np.asarray(grad).reshape(-1), fd, atol=1e-6, rtol=1e-6)
  assert np.all(np.abs(np.asarray(grad)) > 0)


@pytest.mark.parametrize("per_channel", [False, True], ids=["scalar", "per_channel"])
@pytest.mark.parametrize("name", sorted(SHAPE_FAMILIES))
def test_shape_gradient_of_spiking_network_is_straight_through_primitive(name, per_channel, x64):
  """In the spiking network the cotangent of ``a`` is the gradient of the straight-through network
  ``H(x) + sigma_a(x) - stop_gradient(sigma_a(x))``, built here without the custom_vjp."""
  cls, a0 = SHAPE_FAMILIES[name]
  x, w1, w2, g = _net_data(jnp.float64)
  a = jnp.full((4,), a0, jnp.float64) if per_channel else jnp.asarray(a0, jnp.float64)

  def straight_through(p):
    sg = cls(p)

    def spike(v):
      sigma = sg.smooth(v)
      return S.heaviside(v, sg.strict) + sigma - jax.lax.stop_gradient(sigma)

    return spike

  ours = jax.grad(lambda p: _two_layer_net(p, cls, x, w1, w2, g))(a)
  expected = jax.grad(lambda p: _two_layer_net(p, straight_through, x, w1, w2, g))(a)
  np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)
  assert ours.shape == a.shape
  stopped = jax.grad(lambda p: _two_layer_net(
      p, lambda q: cls(q, stop_gradient=True), x, w1, w2, g))(a)
  np.testing.assert_array_equal(stopped, np.zeros_like(a))


def test_families_without_primitive_give_zero_shape_gradient():
  x = jnp.linspace(-1.0, 1.0, 9)
  for cls in (S.SuperSpike, S.FakeNumericalGradient):
    g = jax.grad(lambda a: jnp.sum(cls(a)(x) * x))(0.7)
    assert g == 0.0
    with pytest.raises(TypeError, match="no smooth primitive"):
      cls(0.7).smooth(x)


def test_new_shape_values_do_not_retrace():
  traces = 0

  @jax.jit
  def step(sg, x):
    nonlocal traces
    traces += 1
    return jax.grad(lambda v, s: jnp.sum(s(v) * v), argnums=(0, 1))(x, sg)

  x = jnp.linspace(-1.0, 1.0, 7)
  for alpha in (1.0, 2.5, 4.0):
    step(S.Sigmoid(alpha), x)
  for width in (jnp.float32(0.5), jnp.float32(1.5), jnp.float32(0.3)):
    step(S.AsymmetricRectangle(width, width), x)
  assert traces == 2  # one per family (different pytree structure), none per value


def test_vmap_over_shape_parameters():
  x = jnp.linspace(-1.0, 1.0, 21)
  alphas = jnp.asarray([1.0, 2.0, 4.0])
  loss = lambda a: jnp.sum(S.Sigmoid(a)(x) * x)
  grads = jax.vmap(jax.grad(loss))(alphas)
  expected = jnp.stack([jax.grad(loss)(a) for a in alphas])
  np.testing.assert_allclose(grads, expected, rtol=1e-6)
  dx = jax.vmap(lambda a: jax.grad(lambda v: jnp.sum(S.Sigmoid(a)(v)))(x))(alphas)
  np.testing.assert_allclose(dx[2], S.Sigmoid(4.0).surrogate_grad(x), rtol=1e-6)


def test_per_channel_parameter_broadcasts_and_reduces():
  x = jnp.asarray(np.random.RandomState(1).randn(3, 4), jnp.float32)
  alpha = jnp.asarray([1.0, 2.0, 3.0, 4.0])
  g_alpha = jax.grad(lambda a: jnp.sum(S.Sigmoid(a)(x)))(alpha)
  assert g_alpha.shape == (4,)
  per_col = [jax.grad(lambda a: jnp.sum(S.Sigmoid(a)(x[:, c])))(alpha[c]) for c in range(4)]
  np.testing.assert_allclose(g_alpha, per_col, rtol=1e-6)


def test_float64_parameters_in_a_float32_run_keep_the_input_dtype(x64):
  x = jnp.linspace(-1.0, 1.0, 5, dtype=jnp.float32)
  sg = S.Sigmoid(jnp.asarray(4.0, jnp.float64))
  assert sg(x).dtype == jnp.float32
  g = jax.grad(lambda s: jnp.sum(s(x)))(sg)
  assert g.alpha.dtype == jnp.float64


# --- errors ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [jnp.int32, jnp.bool_])
def test_integer_input_is_rejected(dtype):
  with pytest.raises(TypeError, match="floating-point input.*got dtype"):
    S.Sigmoid()(jnp.zeros((3,), dtype))


@pytest.mark.parametrize("make", [
    lambda: S.Triangle(0.0), lambda: S.Rectangle(-1.0), lambda: S.Dspike(2.5, r=0.0),
    lambda: S.AsymmetricRectangle(w_l=-0.1), lambda: S.Sigmoid(jnp.asarray([1.0, -1.0])),
    lambda: S.QPseudoSpike(1.0),
])
def test_non_positive_width_is_rejected(make):
  with pytest.raises(ValueError, match="must be > "):
    make()


def test_parameter_that_does_not_broadcast_is_rejected():
  with pytest.raises(ValueError, match=r"does not broadcast against the input of shape \(2, 3\)"):
    S.Sigmoid(jnp.ones((4,)))(jnp.zeros((2, 3)))
  with pytest.raises(ValueError, match="more axes than the input"):
    S.Sigmoid(jnp.ones((1, 2, 3)))(jnp.zeros((2, 3)))


def test_sj_version_is_validated():
  with pytest.raises(ValueError, match="sj_version must be one of"):
    S.PiecewiseLeakyReLU(sj_version="1.0")


def test_scipy_is_only_a_test_dependency_check():
  # Erf's primitive against scipy, a second independent reference for the float64 values.
  with jax.enable_x64(True):
    x = jnp.asarray(GRID)
    np.testing.assert_allclose(S.Erf(1.5).smooth(x), special.erfc(-1.5 * GRID) / 2, rtol=1e-14)
