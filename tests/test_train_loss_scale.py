"""float16 AMP: the loss-scaled model + ``dynamic_loss_scale`` reproduce ``GradScaler``'s rule."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jsnn import train
from jsnn.train import loss_scale as ls
from jsnn.train.step import optimizer_update


def test_scale_cotangent_is_identity_forward_and_scales_backward():
  x = jnp.arange(4.0)
  for fn in (ls.scale_cotangent, jax.jit(ls.scale_cotangent)):
    np.testing.assert_array_equal(fn(x, jnp.float32(8.0)), x)
    g = jax.grad(lambda v: jnp.sum(jnp.arange(4.0) * fn(v, jnp.float32(8.0))))(x)
    np.testing.assert_array_equal(g, 8.0 * jnp.arange(4.0))


def _loss(graphdef, params, x, y):
  model = train.merge_model(graphdef, params, {})
  return jnp.mean(jnp.square(model(x) - y))


def _run(model, tx, xs, ys):
  graphdef, params, _ = train.split_model(model)
  opt = tx.init(params)
  grad = jax.jit(jax.grad(functools.partial(_loss, graphdef)))
  for x, y in zip(xs, ys):
    params, opt = optimizer_update(tx, grad(params, x, y), opt, params)
  return params, opt


def test_loss_scaled_training_equals_plain_training_in_float32():
  xs = jax.random.normal(jax.random.key(0), (3, 8, 4))
  ys = jax.random.normal(jax.random.key(1), (3, 8, 2))
  plain, _ = _run(nnx.Linear(4, 2, rngs=nnx.Rngs(0)), optax.adamw(1e-2, weight_decay=0.1), xs, ys)
  scaled, state = _run(ls.LossScaledModel(nnx.Linear(4, 2, rngs=nnx.Rngs(0))),
                       ls.dynamic_loss_scale(optax.adamw(1e-2, weight_decay=0.1)), xs, ys)
  for k in ("kernel", "bias"):  # s = 2^16 is a power of two: unscaling is exact
    np.testing.assert_allclose(scaled["model"][k], plain[k], rtol=1e-6, atol=1e-7)
  assert float(scaled["loss_scale"]) == 2.0 ** 16 and int(state.good_steps) == 3


def _one_update(tx, grads, params, state):
  return optimizer_update(tx, grads, state, params)


def test_non_finite_gradients_skip_the_step_and_halve_the_scale():
  params = {"loss_scale": jnp.float32(1024.0), "w": jnp.ones((3,))}
  tx = ls.dynamic_loss_scale(optax.sgd(0.1, momentum=0.9), growth_interval=2)
  state = tx.init(params)
  p1, state1 = _one_update(tx, {"loss_scale": jnp.float32(0), "w": jnp.array([1024.0, 0, 0])},
                           params, state)
  np.testing.assert_allclose(p1["w"], [0.9, 1.0, 1.0], rtol=1e-6)   # unscaled gradient 1: lr 0.1
  assert float(p1["loss_scale"]) == 1024.0 and int(state1.good_steps) == 1
  p2, state2 = _one_update(tx, {"loss_scale": jnp.float32(0), "w": jnp.array([jnp.inf, 0, 0])},
                           p1, state1)
  np.testing.assert_array_equal(p2["w"], p1["w"])                     # skipped
  assert float(p2["loss_scale"]) == 512.0 and int(state2.good_steps) == 0
  jax.tree.map(np.testing.assert_array_equal, state2.inner, state1.inner)  # momentum kept
  p3, state3 = _one_update(tx, {"loss_scale": jnp.float32(0), "w": jnp.zeros(3)}, p2, state2)
  p4, state4 = _one_update(tx, {"loss_scale": jnp.float32(0), "w": jnp.zeros(3)}, p3, state3)
  assert float(p3["loss_scale"]) == 512.0 and float(p4["loss_scale"]) == 1024.0  # grows after 2
  assert int(state4.good_steps) == 0


def test_float16_cotangents_underflow_without_the_scale_and_not_with_it():
  x = jnp.ones((64, 4), jnp.float32)

  def grads(model):
    graphdef, params, _ = train.split_model(model)
    f = lambda p: 1e-8 * jnp.mean(train.merge_model(graphdef, p, {})(x).astype(jnp.float32))
    return jax.grad(f)(params)

  f16 = nnx.Linear(4, 2, dtype=jnp.float16, rngs=nnx.Rngs(0))
  ref = grads(nnx.Linear(4, 2, rngs=nnx.Rngs(0)))["kernel"]           # 1e-8 / 128 per output entry
  assert float(jnp.max(jnp.abs(grads(f16)["kernel"]))) == 0.0          # below float16's range
  scaled = grads(ls.LossScaledModel(nnx.Linear(4, 2, dtype=jnp.float16, rngs=nnx.Rngs(0))))
  np.testing.assert_allclose(scaled["model"]["kernel"] / 2.0 ** 16, ref, rtol=4e-3)  # float16 ulps


def test_errors_name_the_fix():
  tx = ls.dynamic_loss_scale(optax.sgd(0.1))
  with pytest.raises(ValueError, match="LossScaledModel"):
    tx.init({"w": jnp.ones(2)})
  with pytest.raises(ValueError, match="growth_interval"):
    ls.dynamic_loss_scale(optax.sgd(0.1), growth_interval=0)
  with pytest.raises(ValueError, match="init_scale"):
    ls.LossScaledModel(nnx.Linear(1, 1, rngs=nnx.Rngs(0)), init_scale=0.0)
