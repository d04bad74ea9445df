"""PSG ([R]): positivity maps, labels for optax.partition, clip_params, the shape-parameter gradient
against finite differences, bounds under Adam, and the FDG search (R2 / Dspike)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jsnn import losses, neurons, transforms
from jsnn.surrogate import Sigmoid, heaviside

T, B, D, H, C = 4, 8, 6, 12, 3
BOUNDS = transforms.BoundedSigmoidMap(0.5, 10.0)


def _data(dtype):
  k1, k2, k3, k4 = jax.random.split(jax.random.key(1), 4)
  params = {
      "w1": (jax.random.normal(k1, (D, H)) * 0.8).astype(dtype),
      "w2": (jax.random.normal(k2, (H, C)) * 0.8).astype(dtype),
      "sg": {"l1": BOUNDS.inverse(3.0, dtype), "l2": BOUNDS.inverse(5.0, dtype)},
  }
  x_bd = jax.random.uniform(k3, (B, D), dtype) * 2.0
  labels = jax.random.randint(k4, (B,), 0, C)
  return params, x_bd, labels


def _surrogate(rho):
  return transforms.ParametricSurrogate(rho, Sigmoid(), "alpha", BOUNDS)


def _net(params, x_bd, labels, layer):
  """Two spiking layers (TET LIF) on the input repeated over T; SDT loss on 4 * output spikes.

  `layer(name, x_tbn) -> (spikes, aux)` runs one LIF layer; returns `(loss, {name: aux})`.
  """
  x_tbd = jnp.broadcast_to(x_bd, (T, B, D))
  s1, aux1 = layer("l1", jnp.einsum("tbd,dh->tbh", x_tbd, params["w1"]))
  s2, aux2 = layer("l2", jnp.einsum("tbh,hc->tbc", s1, params["w2"]))
  return losses.sdt(4.0 * s2, labels), {"l1": aux1, "l2": aux2}


def _spiking_layer(params):
  def layer(name, x_tbn):
    lif = neurons.tet_lif(spike_fn=_surrogate(params["sg"][name]))
    _, s, u = transforms.run_with_potentials(lif, x_tbn)  # u: potential at firing time
    return s, u - lif.params.v_th

  return layer


def spiking_loss(params, x_bd, labels):
  return _net(params, x_bd, labels, _spiking_layer(params))[0]


def _smooth_layer(params, offsets):
  """Every spike replaced by its primitive: o_t = sg.smooth(x_t) + c_t, with frozen offsets c_t."""

  def layer(name, x_tbn):
    lif, sg = neurons.tet_lif(), _surrogate(params["sg"][name])

    def body(state, inp):
      x_t, c_t = inp
      return lif.step(state, x_t, params=lif.params, spike_fn=lambda z: sg.smooth(z) + c_t)

    _, s = jax.lax.scan(body, lif.init_state(x_tbn[0]), (x_tbn, offsets[name]))
    return s, None

  return layer


def test_shape_gradient_matches_finite_differences(x64):
  """d loss / d rho_l (surrogate backward) matches central differences of a smooth network.

  PSG R1 defines o = H(x) + sigma_a(x) - stop_gradient(sigma_a(x)), and jsnn's custom_vjp returns
  d loss / d a of exactly that. Its forward does not depend on a, so the spiking loss itself has
  zero finite differences. The finite differences are therefore taken on the network where every
  spike is replaced by the primitive sg.smooth plus a frozen per-neuron, per-step offset
  c_t = H(x0_t) - sg0.smooth(x0_t) (x0: the spiking run's inputs to the spike function, sg0: the
  surrogate at the evaluation point). At rho = rho0 that network has the spiking forward, and its
  derivatives in x and in a are h_a(x) and d sigma_a / d a: the surrogate's backward. Perturbations
  of 1e-6 in float64 then give the surrogate gradient up to O(eps^2).
  """
  params, x_bd, labels = _data(jnp.float64)
  (loss, xs0), grads = jax.jit(jax.value_and_grad(
      lambda p: _net(p, x_bd, labels, _spiking_layer(p)), has_aux=True))(params)
  offsets = {k: heaviside(x0, False) - _surrogate(params["sg"][k]).smooth(x0)
             for k, x0 in xs0.items()}

  @jax.jit
  def smooth_loss(rhos):
    p = {**params, "sg": rhos}
    return _net(p, x_bd, labels, _smooth_layer(p, offsets))[0]

  eps = 1e-6
  rho0 = params["sg"]
  np.testing.assert_allclose(smooth_loss(rho0), loss, rtol=1e-12)
  for name in ("l1", "l2"):
    shifted = lambda d: {**rho0, name: rho0[name] + d}
    fd = (smooth_loss(shifted(eps)) - smooth_loss(shifted(-eps))) / (2 * eps)
    g = float(grads["sg"][name])
    assert np.isfinite(g) and abs(g) > 1e-4, (name, g)
    np.testing.assert_allclose(g, float(fd), rtol=1e-6, err_msg=name)


def test_label_fn_finds_surrogate_leaves():
  params, _, _ = _data(jnp.float32)
  assert transforms.psg_label_fn(params) == {
      "w1": "default", "w2": "default", "sg": {"l1": "surrogate", "l2": "surrogate"}}
  tree = {"lif": neurons.tet_lif(spike_fn=Sigmoid(4.0)), "fc_sg": 1.0, "sgd_state": 2.0,
          "layers": [_surrogate(0.0)]}
  labels = transforms.psg_label_fn(tree)
  assert labels["lif"].spike_fn.alpha == "surrogate"  # inside a SurrogateSpike node
  assert labels["lif"].params.decay == labels["lif"].params.v_th == "default"
  assert labels["fc_sg"] == "surrogate" and labels["sgd_state"] == "default"
  assert labels["layers"][0].rho == "surrogate"

  class Net(nnx.Module):
    def __init__(self):
      self.fc = nnx.Linear(2, 3, rngs=nnx.Rngs(0))
      self.sg = nnx.Param(jnp.zeros(()))

  state = nnx.split(Net(), nnx.Param)[1]
  flat = jax.tree.leaves_with_path(transforms.psg_label_fn(state))
  by_path = {jax.tree_util.keystr(p): lab for p, lab in flat}
  assert [lab for p, lab in by_path.items() if "sg" in p] == ["surrogate"]
  assert {lab for p, lab in by_path.items() if "fc" in p} == {"default"}


def test_clip_params():
  tx = optax.chain(optax.sgd(1.0), transforms.clip_params(0.5, 2.0))
  p = {"a": jnp.array([1.0, 1.0, 1.0])}
  u, _ = tx.update({"a": jnp.array([-5.0, 0.25, 5.0])}, tx.init(p), p)
  np.testing.assert_allclose(optax.apply_updates(p, u)["a"], [2.0, 0.75, 0.5])
  with pytest.raises(ValueError, match="needs the current parameters"):
    tx.update(p, tx.init(p))
  with pytest.raises(ValueError, match="expected lo <= hi"):
    transforms.clip_params(2.0, 1.0)


def _train_500(params, loss_fn, tx, x_bd, labels, read):
  def step(carry, _):
    p, s = carry
    g = jax.grad(loss_fn)(p, x_bd, labels)
    u, s = tx.update(g, s, p)
    p = optax.apply_updates(p, u)
    return (p, s), read(p)

  run = jax.jit(lambda p: jax.lax.scan(step, (p, tx.init(p)), None, length=500)[1])
  # optax's Adam bias correction computes `decay ** count` (float ** int32), which strict dtype
  # promotion (tests/conftest.py) rejects; relax it for optax only while tracing.
  with jax.numpy_dtype_promotion("standard"):
    return np.asarray(run(params))


def test_bounded_map_keeps_shape_param_in_bounds_under_adam_lr1():
  params, x_bd, labels = _data(jnp.float32)
  tx = optax.partition({"surrogate": optax.adam(1.0), "default": optax.adam(1e-2)},
                       transforms.psg_label_fn)
  a = _train_500(params, spiking_loss, tx, x_bd, labels,
                 lambda p: jnp.stack([BOUNDS(p["sg"]["l1"]), BOUNDS(p["sg"]["l2"])]))
  assert np.all(np.isfinite(a))
  assert a.min() >= BOUNDS.a_min and a.max() <= BOUNDS.a_max
  assert np.abs(a - np.array([3.0, 5.0])).max() > 1.0  # it did move


def test_clamp_keeps_raw_shape_param_in_bounds_under_adam_lr1():
  params, x_bd, labels = _data(jnp.float32)
  params["sg"] = {"l1": jnp.array(3.0), "l2": jnp.array(5.0)}  # a itself, no map

  def loss_fn(p, x_bd, labels):
    def layer(name, x_tbn):
      return neurons.tet_lif(spike_fn=Sigmoid(p["sg"][name]))(x_tbn)[1], None

    return _net(p, x_bd, labels, layer)[0]

  tx = optax.partition({"surrogate": optax.chain(optax.adam(1.0), transforms.clip_params(1.0, 8.0)),
                        "default": optax.adam(1e-2)}, transforms.psg_label_fn)
  a = _train_500(params, loss_fn, tx, x_bd, labels, lambda p: jnp.stack(list(p["sg"].values())))
  assert a.min() >= 1.0 and a.max() <= 8.0
  assert np.abs(a - np.array([3.0, 5.0])).max() > 1.0


def _soft_layer(a_true, x_bd, v_hc, y_bc):
  """A layer whose forward is the smooth sigmoid(a_true * u) and whose backward is Sigmoid(a)'s.

  The finite-difference gradient sees the forward only, so the candidate a == a_true has a
  surrogate gradient equal to the FDG (cosine 1): the answer is known.
  """

  def loss_fn(w, a):
    u = x_bd @ w
    smooth = Sigmoid(a).smooth(u)
    o = jax.lax.stop_gradient(Sigmoid(a_true).smooth(u)) + smooth - jax.lax.stop_gradient(smooth)
    return jnp.mean((o @ v_hc - y_bc) ** 2)

  return loss_fn


@pytest.mark.parametrize("a_true,expected_index", [(6.0, 2), (2.0, 1), (4.0, 0)])
def test_search_picks_highest_cosine(x64, a_true, expected_index):
  k1, k2, k3, k4 = jax.random.split(jax.random.key(2), 4)
  x_bd = jax.random.normal(k1, (16, 4), jnp.float64)
  w = jax.random.normal(k2, (4, 5), jnp.float64) * 0.5
  v_hc = jax.random.normal(k3, (5, 2), jnp.float64)
  y_bc = jax.random.normal(k4, (16, 2), jnp.float64)
  loss_fn = _soft_layer(a_true, x_bd, v_hc, y_bc)
  search = jax.jit(functools.partial(transforms.surrogate_shape_search, loss_fn, delta=0.5,
                                     eps=1e-5))
  res = search(w, jnp.asarray(4.0, jnp.float64))  # candidates 4, 2, 6
  np.testing.assert_allclose(res.candidates, [4.0, 2.0, 6.0])
  assert int(res.index) == expected_index == int(np.argmax(res.cosines))
  assert float(res.value) == a_true
  assert float(res.cosines[expected_index]) == pytest.approx(1.0, abs=1e-8)
  assert np.all(np.asarray(res.cosines) < 1.0 + 1e-8)
  additive = transforms.surrogate_shape_search(loss_fn, w, jnp.asarray(4.0, jnp.float64),
                                               delta=2.0, relative=False, fd_grad=res.fd_grad)
  np.testing.assert_allclose(additive.candidates, [4.0, 2.0, 6.0])
  assert float(additive.value) == a_true


def test_parametric_surrogate_is_a_spike_fn():
  sg = transforms.parametric_surrogate(Sigmoid(), 4.0, positivity=BOUNDS, shape=(3,))
  assert sg.rho.shape == (3,)
  np.testing.assert_allclose(sg.value, [4.0, 4.0, 4.0], rtol=1e-6)
  x = jnp.linspace(-1.0, 1.0, 12).reshape(4, 3)
  np.testing.assert_array_equal(sg(x), Sigmoid(4.0)(x))
  soft = transforms.parametric_surrogate(Sigmoid(), 4.0)
  assert float(soft.value) == pytest.approx(4.0, rel=1e-6)
  with pytest.raises(ValueError, match="no shape parameter 'gamma'"):
    transforms.ParametricSurrogate(jnp.zeros(()), Sigmoid(), "gamma", BOUNDS)
  with pytest.raises(ValueError, match="a must be > 0.5"):
    BOUNDS.inverse(0.4)
