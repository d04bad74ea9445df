"""TIT, monitors, PDA ([R]), LSG / MPD-AGL / DS-ATGO widths, and input errors of jsnn.transforms.

AdaLi and PSG have their own files (`test_adali.py`, `test_psg.py`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jsnn import losses, neurons, transforms
from jsnn.surrogate import AsymmetricRectangle, Rectangle, Sigmoid

# --------------------------------------------------------------------------------------------- TIT
D, H, C = 8, 16, 2


def _mlp_logits(params, x_bd, T):
  """Tiny spiking MLP: input repeated over T -> Linear -> TET LIF -> Linear (per-step logits)."""
  x_tbd = jnp.broadcast_to(x_bd, (T,) + x_bd.shape)
  _, s = neurons.tet_lif()(jnp.einsum("tbd,dh->tbh", x_tbd, params["w1"]))
  return jnp.einsum("tbh,hc->tbc", s, params["w2"])


def _tit_problem():
  k1, k2, k3, k4 = jax.random.split(jax.random.key(3), 4)
  x_bd = jax.random.normal(k1, (32, D))
  labels = (x_bd @ jax.random.normal(k2, (D,)) > 0).astype(jnp.int32)
  params = {"w1": jax.random.normal(k3, (D, H)) * 0.7,
            "w2": jax.random.normal(k4, (H, C)) * 0.3}
  return params, x_bd, labels


def test_tit_params_from_T2_train_at_T4():
  params, x_bd, labels = _tit_problem()
  tx = optax.sgd(0.5, momentum=0.9)
  loss_fn = lambda p, T: losses.sdt(_mlp_logits(p, x_bd, T), labels)

  @functools.partial(jax.jit, static_argnums=2)
  def step(p, s, T):  # returns the loss *before* the update
    loss, g = jax.value_and_grad(loss_fn)(p, T)
    u, s = tx.update(g, s, p)
    return optax.apply_updates(p, u), s, loss

  log = []

  def train_epoch(state, T, epoch):
    p, s = state
    for i in range(8):
      p, s, loss = step(p, s, T)
      if i == 0:
        log.append((T, epoch, float(loss)))
    return p, s

  stage_ends = []
  p, s = transforms.time_inheritance_training(
      [(2, 3), (4, 3)], (params, tx.init(params)), train_epoch,
      on_stage_end=lambda st, i, stage: stage_ends.append((i, stage.T)) or st)
  assert [(T, e) for T, e, _ in log] == [(2, 0), (2, 1), (2, 2), (4, 3), (4, 4), (4, 5)]
  assert stage_ends == [(0, 2), (1, 4)]
  final_t4 = float(step(p, s, 4)[2])
  fresh_t4 = float(step(params, tx.init(params), 4)[2])
  start_t4 = log[3][2]  # T = 4 loss of the parameters inherited from the T = 2 stage
  assert final_t4 < start_t4 < fresh_t4
  assert log[2][2] < log[0][2]  # the T = 2 stage trained too
  assert list(transforms.tit_schedule([(2, 1), (4, 2)])) == [(0, 2, 0), (1, 4, 1), (1, 4, 2)]


# ---------------------------------------------------------------------------------------- monitors
def test_monitor_hand_count():
  s_tbn = np.zeros((2, 2, 3), np.float32)
  s_tbn[0, 0, 1] = s_tbn[1, 0, 1] = s_tbn[1, 1, 2] = 1.0  # 3 spikes of 12
  u_tbn = (np.arange(12, dtype=np.float32).reshape(2, 2, 3) - 4.0) / 4.0  # -1.0 .. 1.75
  stats = jax.jit(functools.partial(transforms.layer_stats, v_th=1.0, window=(-0.5, 0.5)))(
      s_tbn, u_tbn)
  assert float(stats.rate) == 0.25
  assert float(stats.mean) == pytest.approx(np.mean(u_tbn))
  assert float(stats.std) == pytest.approx(np.std(u_tbn), rel=1e-6)
  np.testing.assert_allclose(stats.quantiles, np.quantile(u_tbn, [0.25, 0.5, 0.75]), rtol=1e-6)
  # u in [0.5, 1.5]: 0.5, 0.75, 1.0, 1.25, 1.5
  assert float(stats.in_window) == pytest.approx(5 / 12)
  sg = AsymmetricRectangle(0.5, 0.5)
  by_sg = transforms.layer_stats(s_tbn, u_tbn, v_th=1.0, window=sg, quantiles=())
  assert float(by_sg.in_window) == pytest.approx(5 / 12) and by_sg.quantiles.shape == (0,)
  both = transforms.monitor_layers({"a": s_tbn, "b": s_tbn[:1]}, {"a": u_tbn, "b": u_tbn[:1]})
  assert float(both["a"].rate) == 0.25 and float(both["b"].rate) == pytest.approx(1 / 6)


def _monitored_loss(params, x_bd, labels, sg, *, monitor):
  x_tbd = jnp.broadcast_to(x_bd, (4,) + x_bd.shape)
  lif = neurons.adali_if(spike_fn=sg)
  cur = jnp.einsum("tbd,dh->tbh", x_tbd, params["w1"])
  if monitor:
    _, s, u = transforms.run_with_potentials(lif, cur)
    aux = transforms.layer_stats(s, u, v_th=1.0, window=sg)
  else:
    _, s = lif(cur)
    aux = None
  return losses.sdt(jnp.einsum("tbh,hc->tbc", s, params["w2"]), labels), aux


def test_monitors_do_not_change_loss_or_grads():
  params, x_bd, labels = _tit_problem()
  sg = transforms.adali_surrogate(10, 100)
  f = {m: jax.jit(jax.value_and_grad(functools.partial(_monitored_loss, monitor=m), has_aux=True))
       for m in (False, True)}
  (l0, _), g0 = f[False](params, x_bd, labels, sg)
  (l1, stats), g1 = f[True](params, x_bd, labels, sg)
  np.testing.assert_array_equal(l0, l1)
  for k in params:
    np.testing.assert_array_equal(g0[k], g1[k])
  assert 0.0 < float(stats.rate) < 1.0 and 0.0 < float(stats.in_window) <= 1.0


def test_run_with_potentials_records_pre_reset_potential():
  x_tbn = jax.random.uniform(jax.random.key(4), (5, 3, 4)) * 1.5
  lif = neurons.tet_lif()

  @jax.jit
  def f(x_tbn):
    _, s, u = transforms.run_with_potentials(lif, x_tbn)
    _, s_ref, post = lif.run_with_states(x_tbn)
    dens = transforms.compute_density(u, AsymmetricRectangle(0.5, 0.5), 1.0)
    stats = transforms.layer_stats(s, u, v_th=1.0, window=(-0.5, 0.5), quantiles=())
    return s, s_ref, (1.0 - s) * u, post.v, dens, stats.in_window

  s, s_ref, reset_u, post_v, dens, in_window = f(x_tbn)
  np.testing.assert_array_equal(s, s_ref)
  np.testing.assert_allclose(reset_u, post_v, atol=1e-6)  # hard reset: v = (1 - s) u
  assert float(in_window) == pytest.approx(float(dens))


# -------------------------------------------------------------------------------------------- PDA
def test_pda_penalty_matches_numpy():
  u1 = np.linspace(-2.0, 3.0, 24, dtype=np.float32).reshape(2, 3, 4)
  u2 = np.linspace(-1.0, 1.5, 12, dtype=np.float32).reshape(3, 2, 2)
  ref = lambda u, th, m: np.mean(np.maximum(-u, 0) ** 2) + np.mean(np.maximum(u - th - m, 0) ** 2)
  got = jax.jit(functools.partial(transforms.pda_penalty, margin=0.5, lam=1e-2))([u1, u2], 1.0)
  assert float(got) == pytest.approx(1e-2 * (ref(u1, 1.0, 0.5) + ref(u2, 1.0, 0.5)), rel=1e-6)
  per_layer = transforms.pda_penalty({"a": u1, "b": u2}, [1.0, 0.5], 0.0, lam=1.0)
  assert float(per_layer) == pytest.approx(ref(u1, 1.0, 0.0) + ref(u2, 0.5, 0.0), rel=1e-6)
  per_channel = transforms.pda_penalty(u1, jnp.array([0.5, 1.0, 1.5, 2.0]), 0.0, lam=1.0)
  th = np.array([0.5, 1.0, 1.5, 2.0], np.float32)
  assert float(per_channel) == pytest.approx(
      np.mean(np.maximum(-u1, 0) ** 2) + np.mean(np.maximum(u1 - th, 0) ** 2), rel=1e-6)
  g = jax.grad(lambda u: transforms.pda_penalty(u, 1.0, 0.5, lam=1.0))(jnp.asarray(u1))
  assert float(jnp.sum(jnp.abs(g))) > 0


def test_pda_shift_turns_floor_into_round():
  """IF with soft reset, constant input 0.4 for T = 4: 1.6 thresholds of charge.

  Starting at 0 fires floor(1.6) = 1 spike; starting at theta / 2 fires round(1.6) = 2.
  """
  neuron = neurons.adali_if()
  x_tbn = jnp.full((4, 1, 1), 0.4)
  _, plain = neuron(x_tbn)
  _, shifted = neuron(x_tbn, state=transforms.pda_init(neuron, x_tbn[0]))
  assert float(plain.sum()) == 1.0 and float(shifted.sum()) == 2.0
  clif_state = transforms.pda_init(neurons.clif(v_th=2.0), jnp.zeros((2, 3)), shift=0.25)
  np.testing.assert_array_equal(clif_state.v, 0.5)
  np.testing.assert_array_equal(clif_state.m, 0.0)
  d = transforms.pda_shift_state({"u": jnp.zeros((2, 3))}, jnp.array([1.0, 2.0, 4.0]), field="u")
  np.testing.assert_array_equal(d["u"], [[0.5, 1.0, 2.0]] * 2)


# ----------------------------------------------------------------------------------------- widths
def test_width_rules():
  assert float(transforms.lsg_width(0.2, 0.5)) == pytest.approx(np.sqrt(1.04))
  mpd = jax.jit(transforms.mpd_agl_width)
  assert float(mpd(1.0, 0.2, 0)) == pytest.approx(1.0)
  assert round(float(mpd(1.0, 0.2, 1)), 4) == 1.0198 == round(float(mpd(1.0, 0.2, 3)), 4)
  assert float(jax.grad(lambda g: mpd(g, 0.2, 1))(1.0)) == 0.0  # detached
  assert float(jax.grad(lambda b: transforms.lsg_width(b))(0.2)) == 0.0
  u = jnp.array([[0.0, 1.0], [2.0, 3.0]])
  assert float(transforms.ds_atgo_threshold(u)) == pytest.approx(1.5 + np.std([0, 1, 2, 3]))
  np.testing.assert_allclose(transforms.ds_atgo_threshold(u, axes=(0,)), [1.0 + 1.0, 2.0 + 1.0])
  assert float(transforms.ds_atgo_width(1.0)) == 1.0
  assert float(transforms.ds_atgo_width(1.5, 1.0, 2.0)) == pytest.approx(2 * (1 + np.tanh(0.5)))
  assert float(jax.grad(transforms.ds_atgo_width)(1.5)) == 0.0
  k = transforms.mpd_agl_width(1.0, 0.2, 0)
  assert float(Rectangle(width=k).surrogate_grad(jnp.array(0.49))) == pytest.approx(1.0)


# ------------------------------------------------------------------------------------- bad inputs
def test_errors_name_the_expected_value():
  with pytest.raises(ValueError, match=r"w_min must be > 0.0, got 0.0"):
    transforms.adali_width(3, 100, w_min=0.0)
  with pytest.raises(ValueError, match=r"w_max must be > 0.0"):
    transforms.adali_surrogate(3, 100, w_max=(1.5, -1.0))
  with pytest.raises(ValueError, match=r"w_l must be > 0.0"):
    transforms.compute_density(jnp.zeros(3), (0.0, 1.0))
  with pytest.raises(ValueError, match=r"expected a_max > a_min"):
    transforms.BoundedSigmoidMap(2.0, 1.0)
  with pytest.raises(ValueError, match=r"k must be > 0.0"):
    transforms.ds_atgo_width(1.0, k=-1.0)
  with pytest.raises(ValueError, match=r"lam \(λ_pda\) must be >= 0.0, got -0.1"):
    transforms.pda_penalty(jnp.zeros((2, 3)), 1.0, 0.5, lam=-0.1)
  with pytest.raises(ValueError, match=r"margin must be >= 0.0"):
    transforms.pda_penalty(jnp.zeros((2, 3)), 1.0, -0.5, lam=0.1)
  with pytest.raises(ValueError, match=r"\[T, B, \.\.\.\] \(rank >= 2\), got shape \(5,\)"):
    transforms.pda_penalty([jnp.zeros((2, 3)), jnp.zeros(5)], 1.0, 0.5, lam=0.1)
  with pytest.raises(ValueError, match=r"time-major \[T, B, \.\.\.\]"):
    transforms.layer_stats(jnp.zeros(4), jnp.zeros(4))
  with pytest.raises(ValueError, match=r"same time-major shape"):
    transforms.layer_stats(jnp.zeros((2, 3)), jnp.zeros((3, 2)))
  with pytest.raises(ValueError, match=r"expected one of \('log', 'linear', 'sqrt', 'null'\)"):
    transforms.adali_width(3, 100, kind="cosine")
  with pytest.raises(ValueError, match=r"expected one of \('code', 'formula'\)"):
    transforms.adali_width(3, 100, indexing="one-based")
  with pytest.raises(ValueError, match=r"epoch must be a 0-based integer in \[0, 100\)"):
    transforms.adali_width(100, 100)
  with pytest.raises(ValueError, match=r"integer T >= 1"):
    transforms.time_inheritance_training([(0, 3)], None, lambda s, T, e: s)
  with pytest.raises(ValueError, match=r"v_th has shape \(3,\); expected a scalar or a shape"):
    transforms.pda_penalty(jnp.zeros((2, 2, 4)), jnp.ones(3), 0.0, lam=1.0)
  with pytest.raises(ValueError, match=r"candidates must have shape \[K, \*a.shape\]"):
    transforms.surrogate_shape_search(lambda w, a: jnp.sum(w), jnp.ones(2), 1.0,
                                      candidates=jnp.ones((3, 2)))
  with pytest.raises(TypeError, match="window must be None"):
    transforms.layer_stats(jnp.zeros((2, 3)), jnp.zeros((2, 3)), window="rect")
  with pytest.raises(TypeError, match="Python numbers"):
    transforms.ParametricSurrogate(jnp.zeros(()), Sigmoid(jnp.array(4.0)), "alpha",
                                   transforms.SoftplusMap())
