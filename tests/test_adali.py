"""AdaLi: surrogate closed forms (spec §1.8), mass, width schedule (§1.3), no retrace, density, auto
bounds ([R])."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jsnn import neurons, transforms
from jsnn.surrogate import AsymmetricRectangle

V_TH = 1.0


def _sg_grad(sg, v):
  """d spike / dv through the custom_vjp backward, at x = v - V_th (jitted)."""
  f = jax.jit(jax.vmap(jax.grad(lambda v, sg: sg(v - V_TH)), in_axes=(0, None)))
  return np.asarray(f(jnp.asarray(v), sg))


def test_closed_form_values(x64):
  sg = AsymmetricRectangle(1.5, 1.5, 0.5, 0.5)
  inside = np.array([-0.5, 0.0, 1.0, 2.0, 2.5])  # both window ends inclusive
  np.testing.assert_allclose(_sg_grad(sg, inside), 1 / 3, rtol=1e-12)
  np.testing.assert_array_equal(_sg_grad(sg, np.array([-0.5001, 2.5001])), 0.0)

  narrow = AsymmetricRectangle(0.3, 0.3, 0.5, 0.5)
  # Interior of [0.7, 1.3]. (The exact ends depend on the rounding of v - V_th, see the
  # AsymmetricRectangle docstring: 0.7 - 1.0 = -0.30000000000000004 in float64.)
  np.testing.assert_allclose(_sg_grad(narrow, np.array([0.7001, 0.9, 1.0, 1.2999])), 0.5 / 0.3,
                             rtol=1e-12)
  assert round(float(_sg_grad(narrow, np.array([1.0]))[0]), 5) == 1.66667

  asym = AsymmetricRectangle(1.0, 0.5, 0.6, 0.4)
  np.testing.assert_allclose(_sg_grad(asym, np.array([0.5, 1.0, 1.5, 1.5001])),
                             [0.6, 0.8, 0.8, 0.0], rtol=1e-12)
  np.testing.assert_allclose(asym.surrogate_grad(np.array([0.5, 1.0, 1.5, 1.5001]) - V_TH),
                             [0.6, 0.8, 0.8, 0.0], rtol=1e-12)


@pytest.mark.parametrize("alpha,beta", [(0.5, 0.5), (0.6, 0.4), (0.7, 0.5)])
def test_integral_is_alpha_plus_beta(x64, alpha, beta):
  sg = AsymmetricRectangle(1.0, 0.5, alpha, beta)
  h = 2.0**-12
  x = (np.arange(-3 * 4096, 3 * 4096) + 0.5) * h  # midpoints; the window edges fall on the grid
  assert np.sum(np.asarray(sg.surrogate_grad(x))) * h == pytest.approx(alpha + beta, abs=1e-12)
  ends = np.asarray(sg.smooth(np.array([-10.0, 10.0])))
  assert ends[1] - ends[0] == pytest.approx(alpha + beta, abs=1e-12)


TABLE = {  # spec §1.3, log schedule, W = 1.5, w_min = 0.3; columns n = 2 .. E - 1
    500: [1.2535, 0.8263, 0.5446, 0.4551, 0.3803, 0.3424, 0.3178, 0.3002],
    1000: [1.2763, 0.8772, 0.6029, 0.5130, 0.4365, 0.3971, 0.3714, 0.3001],
}


@pytest.mark.parametrize("total", [500, 1000])
def test_schedule_table(total):
  ns = [2, 10, 50, 100, 200, 300, 400, total - 1]
  code = [round(transforms.adali_width(n, total), 4) for n in ns]  # epoch i uses w(i), i >= 1
  formula = [round(transforms.adali_width(n - 1, total, indexing="formula"), 4) for n in ns]
  assert code == TABLE[total]
  assert formula == TABLE[total]
  b = np.log(0.3 / 1.5) / np.log(total)
  assert round(b, 5) == {500: -0.25898, 1000: -0.23299}[total]


def test_epoch_indexing_and_kinds():
  w = transforms.adali_width
  assert w(0, 500) == w(1, 500) == 1.5  # code: the update runs after each epoch
  assert w(2, 500) == pytest.approx(1.2535, abs=5e-5)
  assert w(0, 500, indexing="formula") == 1.5
  assert w(1, 500, indexing="formula") == pytest.approx(1.2535, abs=5e-5)
  assert w(499, 500, indexing="formula") == pytest.approx(0.3, abs=1e-12)
  assert w(499, 500, kind="linear", indexing="formula") == pytest.approx(0.3, abs=1e-12)
  assert round(w(499, 500, kind="sqrt", indexing="formula"), 4) == 0.3525  # code's sqrt(E-1)
  assert w(123, 500, kind="null") == 1.5
  assert isinstance(w(7, 500), float)


def test_adali_surrogate_fields():
  sg = transforms.adali_surrogate(100, 500, w_max=(1.5, 1.0), alpha=0.6, beta=0.4)
  assert isinstance(sg, AsymmetricRectangle)
  for leaf in jax.tree.leaves(sg):
    assert isinstance(leaf, jax.Array) and leaf.dtype == jnp.float32 and leaf.shape == ()
  assert float(sg.w_l) == pytest.approx(0.4551, abs=5e-5)
  assert float(sg.w_r) == pytest.approx(transforms.adali_width(100, 500, w_max=1.0), rel=1e-6)


def test_train_step_compiles_once_across_epochs():
  traces = []
  neuron = neurons.adali_if()
  tx = optax.sgd(0.1)

  @jax.jit
  def train_step(params, opt_state, sg, x_tbn, y_tbc):
    traces.append(1)  # runs only while tracing

    def loss_fn(p):
      _, s = neuron.replace(spike_fn=sg)(jnp.einsum("tbi,ih->tbh", x_tbn, p["w1"]))
      return jnp.mean((jnp.einsum("tbh,hc->tbc", s, p["w2"]) - y_tbc) ** 2)

    loss, g = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(g, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss, g

  k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
  params = {"w1": jax.random.normal(k1, (5, 8)), "w2": jax.random.normal(k2, (8, 3)) * 0.3}
  x = jax.random.uniform(k3, (4, 6, 5))
  y = jnp.ones((4, 6, 3))
  opt_state = tx.init(params)
  grads = []
  for epoch in (0, 1, 50, 200, 499):
    sg = transforms.adali_surrogate(epoch, 500)
    _, _, _, g = train_step(params, opt_state, sg, x, y)
    grads.append(np.asarray(g["w1"]))
  assert len(traces) == 1
  assert not np.array_equal(grads[0], grads[-1])  # the widths do reach the backward


def test_density_matches_nonzero_surrogate_gradient():
  v = jnp.linspace(-2.0, 4.0, 601)
  sg = transforms.adali_surrogate(300, 500, w_max=(1.5, 1.0))
  expected = np.mean(np.asarray(sg.surrogate_grad(v - V_TH)) != 0)
  dens = jax.jit(transforms.compute_density)(v, sg, V_TH)
  assert float(dens) == pytest.approx(expected, abs=1e-7)
  assert float(transforms.compute_density([v[:300], v[300:]], (sg.w_l, sg.w_r), V_TH)) == \
      pytest.approx(expected, abs=1e-7)
  dyadic = jnp.arange(-256, 512, dtype=jnp.float32) / 128  # window [0.5, 1.5] exactly on the grid
  assert float(transforms.compute_density(dyadic, (0.5, 0.5), V_TH)) == pytest.approx(129 / 768)


def test_fit_adali_bounds_reconstruction():
  v = np.arange(101) / 50.0  # 0.00 .. 2.00; Q_.25 = 0.5, Q_.75 = 1.5
  b = transforms.fit_adali_bounds(v, 1.0)
  assert (b.w_l, b.w_r) == pytest.approx((0.5, 0.5))
  assert b.alpha == pytest.approx(25 / 51) and b.alpha + b.beta == pytest.approx(1.0)
  floored = transforms.fit_adali_bounds(v, 1.0, w_min=0.6)
  assert (floored.w_l, floored.w_r) == (0.6, 0.6)
  skew = np.concatenate([np.linspace(0.0, 0.99, 300), np.linspace(1.0, 1.2, 100)])
  s = transforms.fit_adali_bounds(skew, 1.0, w_min=0.1)
  assert s.w_l > s.w_r and s.alpha > s.beta  # more mass below threshold -> more SG mass there
  dens = transforms.fit_adali_bounds(v, 1.0, target_density=0.5, w_min=0.01)
  assert dens.w_l == dens.w_r == pytest.approx(0.5)
