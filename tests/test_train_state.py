"""jsnn.train pieces composed by hand (the notebook path): state, steps, optimiser, data, config.

Runs under the suite's strict dtype promotion (conftest), which optax 0.2.8's Adam would trip
without `jsnn.train.step.optimizer_update`'s promotion context.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from flax import nnx

import jsnn
import jsnn.methods
from experiments.configs import digits_mlp
from jsnn import train
from jsnn.train import config as train_config
from jsnn.train.sharding import fsdp_spec

METHOD = jsnn.methods.tet(lamb=1e-3)


pytestmark = pytest.mark.usefixtures("fast_compile")


def _model(**kw):
  return digits_mlp.SpikingMLP(hidden=kw.pop("hidden", 16), T=kw.pop("T", 2), rngs=nnx.Rngs(0),
                               **kw)


def _batch(n=32, seed=0):
  rng = np.random.default_rng(seed)
  return {"image": rng.uniform(0, 1, (n, 64)).astype(np.float32),
          "label": rng.integers(0, 10, n).astype(np.int32)}


def _jitted(graphdef, tx, loss_fn):
  return jax.jit(functools.partial(train.train_step, graphdef=graphdef, loss_fn=loss_fn, tx=tx),
                 donate_argnums=0)


def test_create_train_state_splits_params_and_batch_stats():
  graphdef, state = train.create_train_state(_model(), optax.adam(1e-3), rng=3)
  assert sorted(state.params) == ["bn1", "fc1", "fc2"]
  assert sorted(state.params["bn1"]) == ["bias", "scale"]
  assert sorted(state.model_state["bn1"]) == ["mean", "var"]
  assert int(state.step) == 0 and int(state.epoch) == 0 and state.method_state == {}
  assert jax.dtypes.issubdtype(state.rng.dtype, jax.dtypes.prng_key)
  leaves = jax.tree.leaves(state)
  assert all(isinstance(x, jax.Array) for x in leaves)


def test_train_step_updates_params_and_batchnorm_once_compiled():
  traces = []

  def loss_fn(model, batch, method_state, rng):
    traces.append(1)
    return METHOD.loss_fn()(model, batch, method_state, rng)

  graphdef, state = train.create_train_state(_model(), optax.adam(1e-2))
  step = _jitted(graphdef, optax.adam(1e-2), loss_fn)
  old_mean = np.asarray(state.model_state["bn1"]["mean"])
  old_kernel = np.asarray(state.params["fc1"]["kernel"])
  losses = []
  for i in range(4):
    state, metrics = step(state, _batch(seed=i))
    losses.append(float(metrics["loss"]))
  assert len(traces) == 1  # no retrace after the first step
  assert int(state.step) == 4
  assert sorted(metrics) == ["accuracy", "grad_norm", "loss"]
  assert np.all(np.isfinite(losses)) and float(metrics["grad_norm"]) > 0
  assert not np.allclose(state.model_state["bn1"]["mean"], old_mean)
  assert not np.allclose(state.params["fc1"]["kernel"], old_kernel)


def test_eval_step_uses_running_statistics_and_masks_padding():
  graphdef, state = train.create_train_state(_model(), optax.adam(1e-2))
  state, _ = _jitted(graphdef, optax.adam(1e-2), METHOD.loss_fn())(state, _batch())
  evaluate = jax.jit(functools.partial(train.eval_step, graphdef=graphdef,
                                       eval_fn=METHOD.eval_fn()))
  batch = _batch(12, seed=5)
  full = evaluate(state, batch)
  # Eval mode: one example's result does not depend on the rest of the batch (running stats).
  padded = {k: np.concatenate([v[:5], v[:1].repeat(7, 0)]) for k, v in batch.items()}
  padded["mask"] = np.array([1] * 5 + [0] * 7, np.float32)
  part = evaluate(state, padded)
  assert float(full["count"]) == 12 and float(part["count"]) == 5
  first5 = evaluate(state, {k: v[:5] for k, v in batch.items()})
  np.testing.assert_allclose(part["loss_sum"], first5["loss_sum"], rtol=1e-6)
  np.testing.assert_allclose(part["correct"], first5["correct"])
  # The per-example mean equals the batch loss of jsnn.losses.
  model = train.merge_model(graphdef, state.params, state.model_state)
  model.eval()
  logits = model(jnp.asarray(batch["image"]))
  np.testing.assert_allclose(full["loss_sum"] / 12, jsnn.losses.tet(logits, batch["label"], lamb=1e-3), rtol=1e-5)


def test_notebook_composition_trains_digits():
  """The README-style notebook recipe: create_train_state + jit(train_step) + eval_step."""
  data = digits_mlp.digits_data(ml_collections.ConfigDict(dict(batch_size=64, eval_batch_size=360)),
                                seed=0)
  model = digits_mlp.SpikingMLP(hidden=64, T=4, neuron="tet_lif", rngs=nnx.Rngs(0))
  tx = optax.adam(3e-3)
  graphdef, state = train.create_train_state(model, tx)
  step = jax.jit(functools.partial(train.train_step, graphdef=graphdef,
                                   loss_fn=METHOD.loss_fn(), tx=tx),
                 donate_argnums=0)
  evaluate = jax.jit(functools.partial(train.eval_step, graphdef=graphdef,
                                       eval_fn=METHOD.eval_fn()))
  it = data.train_iterator()
  for _ in range(3 * data.steps_per_epoch):
    state, metrics = step(state, next(it))
  sums = evaluate(state, next(iter(data.eval_batches())))
  assert float(sums["count"]) == 360
  assert float(sums["correct"] / sums["count"]) > 0.85


def test_method_state_is_traced_no_recompile_per_epoch():
  """AdaLi's widths change every epoch as method_state values; the step compiles once."""
  traces = []

  def loss_fn(model, batch, method_state, rng):
    traces.append(1)
    return method.loss_fn()(model, batch, method_state, rng)

  method = jsnn.methods.adali()
  sg = lambda e: method.epoch_state(e, 10)  # noqa: E731
  tx = optax.adam(1e-2)
  graphdef, state = train.create_train_state(method.prepare(_model(neuron="adali_if")), tx,
                                             method_state=sg(0))
  step = _jitted(graphdef, tx, loss_fn)
  for epoch in range(4):
    state = state.replace(method_state=sg(epoch), epoch=jnp.int32(epoch))
    state, _ = step(state, _batch(seed=epoch))
  assert len(traces) == 1
  np.testing.assert_allclose(state.method_state.w_l,
                             jsnn.transforms.adali_width(3, 10), rtol=1e-6)


def test_psg_surrogate_parameters_get_their_own_clipped_optimizer():
  cfg = digits_mlp.get_config("method=psg,hidden=16")
  method = jsnn.methods.psg()
  tx, _ = train.make_optimizer(cfg, steps_per_epoch=10, num_steps=100, wrap=method.wrap_optimizer)
  graphdef, state = train.create_train_state(method.prepare(_model()), tx)
  labels = jsnn.transforms.psg_label_fn(state.params)
  assert labels["sn"]["sg"]["rho"] == "surrogate" and labels["fc1"]["kernel"] == "default"
  rho0 = float(state.params["sn"]["sg"]["rho"])
  step = _jitted(graphdef, tx, method.loss_fn())
  for i in range(5):
    state, _ = step(state, _batch(seed=i))
  rho = float(state.params["sn"]["sg"]["rho"])
  assert rho != rho0 and -8.0 <= rho <= 8.0


def test_epoch_cosine_schedule_matches_pytorch_per_epoch_stepping():
  opt = dict(name="adam", lr=0.1, schedule="cosine", schedule_unit="epoch")
  schedule = train.make_schedule(opt, steps_per_epoch=10, num_steps=50)
  lrs = np.array([float(schedule(jnp.int32(s))) for s in range(50)])
  expected = [0.05 * (1 + np.cos(np.pi * e / 5)) for e in range(5)]
  np.testing.assert_allclose(lrs.reshape(5, 10), np.repeat(np.array(expected)[:, None], 10, 1),
                             rtol=1e-6)
  warm = train.make_schedule(dict(opt, schedule="warmup_cosine", warmup=2), 10, 50)
  np.testing.assert_allclose([float(warm(jnp.int32(s))) for s in (0, 10, 20)], [0.05, 0.1, 0.1],
                             rtol=1e-6)


def test_validate_config_lists_valid_names_and_checks_batch_divisibility():
  cfg = digits_mlp.get_config("method=tet")
  train.validate_config(cfg, num_devices=8)  # 64 and 360 split over 8 devices
  cfg.optimizer.name = "adamax"
  cfg.sharding.mode = "zero3"
  cfg.input.batch_size = 66
  with pytest.raises(ValueError) as e:
    train.validate_config(cfg, num_devices=8)
  msg = str(e.value)
  assert "optimizer.name='adamax' is unknown; valid: adam, adamw, sgd" in msg
  assert "sharding.mode='zero3' is unknown; valid: replicate, fsdp" in msg
  assert "input.batch_size=66 is not divisible by the number of devices (8)" in msg


def test_train_and_evaluate_validates_before_building_or_compiling(tmp_path):
  cfg = digits_mlp.get_config("method=tet,runlocal")
  cfg.optimizer.schedule = "onecycle"

  def factory(**_):
    raise AssertionError("the model must not be built for an invalid config")

  with pytest.raises(ValueError, match="optimizer.schedule='onecycle' is unknown"):
    train.train_and_evaluate(cfg, tmp_path, model_factory=factory, data=None,
                             loss_fn=None, eval_fn=None)
  assert not (tmp_path / "checkpoints").exists()


def test_array_data_resumes_exactly_and_splits_over_processes():
  x = np.arange(100, dtype=np.float32)[:, None]
  data = train.ArrayData({"x": x}, {"x": x}, batch_size=8, seed=1)
  it = data.train_iterator()
  seen = [next(it)["x"] for _ in range(17)]  # crosses the epoch boundary (12 steps/epoch)
  position = it.get_state()
  assert position == {"epoch": 1, "index": 5}
  rest = [next(it)["x"] for _ in range(10)]
  again = data.train_iterator(position)
  for expected in rest:
    np.testing.assert_array_equal(next(again)["x"], expected)
  assert len(np.unique(np.concatenate(seen[:12]))) == 96  # no repeats within an epoch
  halves = [train.ArrayData({"x": x}, {"x": x}, batch_size=8, seed=1, process_index=i,
                            process_count=2).train_iterator() for i in range(2)]
  np.testing.assert_array_equal(np.concatenate([next(h)["x"] for h in halves]),
                                next(data.train_iterator())["x"])


def _key_or_array(x):
  if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
    return np.asarray(jax.random.key_data(x))
  return np.asarray(x)


@pytest.mark.parametrize("model", ["digits_conv", "vggsnn"])
def test_sharded_init_equals_eager_init(model):
  """The jitted, sharded initialiser gives the eager values (within 8 ulp of each leaf's magnitude)."""
  from experiments.configs.digits import DigitsConvNet
  from jsnn.models import vggsnn

  factory = {"digits_conv": functools.partial(DigitsConvNet, T=2),
             "vggsnn": functools.partial(vggsnn.VGGSNN, num_classes=10, T=2)}[model]
  tx = optax.adam(1e-3)
  graphdef, eager = train.create_train_state(factory(rngs=nnx.Rngs(3)), tx, rng=3)
  mesh = train.make_mesh()
  graphdef2, sharded, shardings = train.create_sharded_train_state(
      factory, tx, shardings_fn=functools.partial(train.state_shardings, mesh=mesh, mode="fsdp"),
      seed=3)
  assert graphdef2 == graphdef
  assert jax.tree.structure(sharded) == jax.tree.structure(eager)
  for a, b, sh in zip(jax.tree.leaves(eager), jax.tree.leaves(sharded), jax.tree.leaves(shardings)):
    assert b.sharding.is_equivalent_to(sh, b.ndim)
    a, b = _key_or_array(a), _key_or_array(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    # The same threefry draws; XLA may fuse the scale of a uniform/normal draw into the jitted
    # initialiser (a multiply-add), so values may differ by a few ulp of the distribution's
    # magnitude (seen in CI depending on what the worker ran before). Integer leaves are exact.
    if np.issubdtype(a.dtype, np.floating) and a.size:
      ulp = np.finfo(a.dtype).eps * float(np.max(np.abs(a)))
      np.testing.assert_allclose(b, a, rtol=0, atol=8 * ulp)
    else:
      np.testing.assert_array_equal(a, b)


def test_fsdp_spec_shards_largest_divisible_axis():
  P = jax.sharding.PartitionSpec
  assert fsdp_spec((64, 128), 8) == P(None, "data")
  assert fsdp_spec((1280, 10), 8) == P("data")
  assert fsdp_spec((100, 30), 8) == P()          # nothing divisible
  assert fsdp_spec((16,), 8) == P()              # too small
  assert fsdp_spec((64, 128), 1) == P()


def test_config_getter_defaults():
  cfg = ml_collections.ConfigDict(dict(optimizer=dict(name="sgd", lr=0.1), input=dict(batch_size=8)))
  assert train_config.get(cfg, "optimizer.schedule") == "cosine"
  assert train_config.get(cfg, "sharding.mode") == "replicate"
  assert train_config.get(cfg, "optimizer.lr") == 0.1


@pytest.mark.parametrize("module", ["state", "sharding", "inputs", "workdir"])
def test_docstring_examples(module):
  import doctest
  import importlib
  if module == "inputs":
    pytest.importorskip("grain")  # IteratorData's example uses a grain dataset
  mod = importlib.import_module(f"jsnn.train.{module}")
  with jax.numpy_dtype_promotion("standard"):
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
  assert result.failed == 0 and result.attempted > 0
