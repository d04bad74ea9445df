"""The trainer with SML's surrogate-module models, which return ``[o_snn [T, B, C], o_1 [B, C], ...]``:
``jsnn.methods.sml()``'s ``loss_fn`` / ``eval_fn`` pass the whole list to the loss
(``jsnn.losses.sml``) and score ``o_snn``; the single-array path is unchanged."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import jsnn
import jsnn.methods
from jsnn import train
from jsnn.models import sml_resnet
from helpers import assert_close, assert_equal

pytestmark = pytest.mark.usefixtures("fast_compile")

T, B, C = 2, 6, 10


def _fixed_outputs(seed=0):
  rs = np.random.RandomState(seed)
  snn_tbc = rs.randn(T, B, C).astype(np.float32)
  sb_bc = rs.randn(B, C).astype(np.float32)
  labels = rs.randint(0, C, B).astype(np.int32)
  return snn_tbc, sb_bc, labels


def test_list_outputs_loss_and_accuracy_from_the_snn_head():
  snn_tbc, sb_bc, labels = _fixed_outputs()
  model = lambda x: [jnp.asarray(snn_tbc), jnp.asarray(sb_bc)]  # noqa: E731
  loss_fn = jax.jit(jsnn.methods.sml().loss_fn(), static_argnums=0)
  loss, aux = loss_fn(model, {"image": np.zeros((B, 1), np.float32), "label": labels}, {}, None)
  assert_close(loss, jsnn.losses.sml([snn_tbc, sb_bc], labels), atol=1e-7)
  expected_acc = np.mean(snn_tbc.mean(0).argmax(-1) == labels)  # the SNN's, not the module's
  assert_close(aux["accuracy"], expected_acc, atol=1e-7)


def test_list_outputs_eval_sums_per_example_losses_with_mask():
  snn_tbc, sb_bc, labels = _fixed_outputs(1)
  mask = np.array([1, 1, 0, 1, 1, 0], np.float32)
  model = lambda x: (jnp.asarray(snn_tbc), jnp.asarray(sb_bc))  # a tuple works too  # noqa: E731
  eval_fn = jax.jit(jsnn.methods.sml(lamb=0.5).eval_fn(), static_argnums=0)
  sums = eval_fn(model, {"image": np.zeros((B, 1), np.float32), "label": labels, "mask": mask}, {})
  per_example = [float(jsnn.losses.sml([snn_tbc[:, b:b + 1], sb_bc[b:b + 1]], labels[b:b + 1],
                                            lamb=0.5)) for b in range(B)]
  assert_close(sums["loss_sum"], np.dot(per_example, mask), atol=1e-5)
  hits = snn_tbc.mean(0).argmax(-1) == labels
  assert_close(sums["correct"], np.dot(hits, mask), atol=0)
  assert float(sums["count"]) == 4.0
  # Without padding, the mean of the per-example losses is the batch loss (SML's terms are batch means).
  full = eval_fn(model, {"image": np.zeros((B, 1), np.float32), "label": labels}, {})
  assert_close(full["loss_sum"] / B, jsnn.losses.sml([snn_tbc, sb_bc], labels, lamb=0.5),
               atol=1e-6)


def test_list_members_split_along_their_own_batch_axis():
  """A custom loss over ``[[T, B, C], [B, C], [T, B, C]]``: each member loses its batch axis."""
  snn_tbc, sb_bc, labels = _fixed_outputs(2)
  other_tbc = 0.5 * snn_tbc[::-1]

  def loss(outs, y):
    return (jsnn.losses.sdt(outs[0], y) + 2.0 * jsnn.losses.sdt(outs[1][None], y)
            + jsnn.losses.tet(outs[2], y))

  model = lambda x: [jnp.asarray(snn_tbc), jnp.asarray(sb_bc), jnp.asarray(other_tbc)]  # noqa: E731
  method = jsnn.methods.Method("custom", loss=loss, readout=lambda outs: outs[0])
  sums = jax.jit(method.eval_fn(), static_argnums=0)(
      model, {"image": np.zeros((B, 1), np.float32), "label": labels}, {})
  expected = sum(float(loss([snn_tbc[:, b:b + 1], sb_bc[b:b + 1], other_tbc[:, b:b + 1]],
                            labels[b:b + 1])) for b in range(B))
  assert_close(sums["loss_sum"], expected, atol=1e-5)


def test_single_array_path_unchanged():
  """The plain ``[T, B, C]`` path: same numbers as the loss and readout written out by hand."""
  snn_tbc, _, labels = _fixed_outputs(3)
  mask = np.array([1, 0, 1, 1, 1, 1], np.float32)
  model = lambda x: jnp.asarray(snn_tbc)  # noqa: E731
  batch = {"image": np.zeros((B, 1), np.float32), "label": labels, "mask": mask}
  loss, aux = jax.jit(jsnn.methods.tet(lamb=1e-3).loss_fn(), static_argnums=0)(
      model, batch, {}, None)
  assert_equal(loss, jax.jit(functools.partial(jsnn.losses.tet, lamb=1e-3))(snn_tbc, labels))
  assert_equal(aux["accuracy"], np.float32(np.mean(snn_tbc.mean(0).argmax(-1) == labels)))
  sums = jax.jit(jsnn.methods.tet(lamb=1e-3).eval_fn(), static_argnums=0)(
      model, batch, {})
  per_example = jax.vmap(lambda l, y: jsnn.losses.tet(l[:, None], y[None], lamb=1e-3),
                         in_axes=(1, 0))(snn_tbc, labels)
  assert_close(sums["loss_sum"], np.dot(np.asarray(per_example), mask), atol=1e-6)


def test_bad_list_outputs_name_the_expected_layout():
  snn_tbc, sb_bc, labels = _fixed_outputs()
  batch = {"image": np.zeros((B, 1), np.float32), "label": labels}
  with pytest.raises(ValueError, match=r"the model returned a list; set the method's readout"):
    jsnn.methods.tet().loss_fn()(lambda x: [snn_tbc, sb_bc], batch, {}, None)
  with pytest.raises(ValueError, match=r"expected time-major logits \[T, B, C\] from the model, "
                                       r"got shape \(6, 10\)"):
    jsnn.methods.Method("m", readout=lambda o: o[1]).loss_fn()(lambda x: [snn_tbc, sb_bc], batch,
                                                                {}, None)


def test_one_train_step_and_eval_on_an_sml_model():
  """SML's tiny ResNet-18 with two surrogate modules: a jitted train step moves the trunk and the
  modules (their gradient flows into the trunk), and eval returns finite sums."""
  model = sml_resnet._ResNet18SBTiny(num_classes=C, T=T, rngs=nnx.Rngs(0))
  rs = np.random.RandomState(0)
  batch = {"image": rs.rand(B, 16, 16, 3).astype(np.float32),
           "label": rs.randint(0, C, B).astype(np.int32)}
  outputs = model(batch["image"])
  assert isinstance(outputs, list) and len(outputs) == 3
  assert outputs[0].shape == (T, B, C) and all(o.shape == (B, C) for o in outputs[1:])
  graphdef, state = train.create_train_state(model, optax.sgd(0.1))
  loss_fn = jsnn.methods.sml().loss_fn()
  step = jax.jit(functools.partial(train.train_step, graphdef=graphdef, loss_fn=loss_fn,
                                   tx=optax.sgd(0.1)))
  new_state, metrics = step(state, batch)
  assert int(new_state.step) == 1 and np.isfinite(float(metrics["loss"]))
  assert 0.0 <= float(metrics["accuracy"]) <= 1.0 and float(metrics["grad_norm"]) > 0.0
  moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), state.params, new_state.params)
  flat = {jax.tree_util.keystr(k): v for k, v in jax.tree_util.tree_leaves_with_path(moved)}
  assert any(v for k, v in flat.items() if "surrogate_blocks" in k)      # module weights
  assert any(v for k, v in flat.items() if "surrogate_blocks" not in k)  # trunk weights
  eval_fn = jsnn.methods.sml().eval_fn()
  sums = jax.jit(functools.partial(train.eval_step, graphdef=graphdef, eval_fn=eval_fn))(
      new_state, {**batch, "mask": np.ones(B, np.float32)})
  assert float(sums["count"]) == B and np.isfinite(float(sums["loss_sum"]))
  assert 0.0 <= float(sums["correct"]) <= B
