"""jsnn.methods: every method on three architectures (a spiking MLP, a conv net from jsnn.nn and a
zoo ResNet at tiny width), trained a few steps on digits by hand (nnx.Optimizer + nnx.jit, the
docs/methods.md step) and through the trainer; each method's parts are checked to be in effect;
compositions and their conflicts."""

from __future__ import annotations

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import jsnn
import jsnn.methods as M

from experiments.configs import digits, digits_mlp
from jsnn.models import SurrogateModuleNet, tet_resnet

pytestmark = pytest.mark.usefixtures("fast_compile")

T, B, EPOCHS, STEPS = 2, 16, 3, 1


class DenseModule(nnx.Module):
  """A dense surrogate module for the MLP: spikes [T, B, H] -> rate -> Linear -> [B, C]."""

  def __init__(self, cin: int, num_classes: int, *, rngs: nnx.Rngs):
    self.fc = jsnn.nn.Linear(cin, num_classes, rngs=rngs)

  def __call__(self, spikes):
    return self.fc(jnp.mean(spikes, axis=0))


ARCHS = {
    "mlp": (lambda rngs: digits_mlp.SpikingMLP(hidden=32, T=T, rngs=rngs), (64,), DenseModule),
    "conv": (lambda rngs: digits.DigitsConvNet(T=T, c1=4, c2=8, rngs=rngs), (8, 8, 1),
             digits.small_surrogate_module),
    "resnet": (lambda rngs: tet_resnet._ResNet19Tiny(num_classes=10, T=T, in_channels=1,
                                                     rngs=rngs), (8, 8, 1),
               digits.small_surrogate_module),
}


def _methods(module_factory):
  return {
      "sdt": M.sdt(),
      "tet": M.tet(lamb=1e-3),
      "clif": M.clif(),
      "adali": M.adali(neuron=jsnn.neurons.adali_if),
      "psg": M.psg(lr=0.1),
      "pda": M.compose(M.sdt(), M.pda(lam=1e-2)),
      "tit": M.compose(M.tet(), M.tit([(2, 1), (3, 2)])),
      "sml": M.sml(after=(1,), module_factory=module_factory),
  }


@functools.lru_cache(maxsize=None)
def _digits():
  from sklearn.datasets import load_digits
  d = load_digits()
  return (d.data / 16.0).astype(np.float32), d.target.astype(np.int32)


def _batches(shape, epoch):
  x, y = _digits()
  rs = np.random.RandomState(epoch)
  for _ in range(STEPS):
    idx = rs.choice(len(x), B, replace=False)
    yield x[idx].reshape((B,) + shape), y[idx]


def _train_by_hand(method, arch):
  """The hand-written step of docs/methods.md; returns what the checks need."""
  build, shape, _ = ARCHS[arch]
  model = method.prepare(build(nnx.Rngs(0)), rngs=nnx.Rngs(1))
  with jax.numpy_dtype_promotion("standard"):   # optax 0.2.8's Adam under strict promotion
    optimizer = nnx.Optimizer(model, method.wrap_optimizer(optax.adam(3e-3)), wrt=nnx.Param)
  traces = []

  @nnx.jit
  def train_step(model, optimizer, x, y, values):
    traces.append(1)

    def loss_fn(model):
      loss, logits = method.objective(model, x, y, values)
      return loss, logits

    (loss, logits), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
    with jax.numpy_dtype_promotion("standard"):
      optimizer.update(model, grads)
    return loss, logits

  params0 = jax.tree.map(jnp.copy, nnx.state(model, nnx.Param))
  record = {"loss": [], "T": [], "values": [], "traces": []}
  for epoch in range(EPOCHS):
    method.start_epoch(model, epoch)
    values = method.epoch_state(epoch, EPOCHS)
    for x, y in _batches(shape, epoch):
      loss, logits = train_step(model, optimizer, x, y, values)
      record["loss"].append(float(loss))
      record["T"].append(logits.shape[0])
    record["values"].append(values)
    record["traces"].append(len(traces))
  return model, params0, record


METHOD_NAMES = list(_methods(None))


@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("name", METHOD_NAMES)
def test_every_method_trains_by_hand_on_every_architecture(name, arch):
  method = _methods(ARCHS[arch][2])[name]
  model, params0, rec = _train_by_hand(method, arch)
  assert np.all(np.isfinite(rec["loss"])), rec["loss"]
  params = nnx.state(model, nnx.Param)
  layers = jsnn.nn.spiking_layers(model)
  if name == "clif":   # the CLIF neuron reached every spiking layer
    assert all(layer.step is jsnn.neurons.clif().step for _, layer in layers)
  if name == "adali":  # the window narrows over the epochs, one compilation
    w = [float(v.w_l) for v in rec["values"]]
    assert w[0] > w[-1] and rec["traces"] == [1, 1, 1]
    assert all(float(layer.spike_fn.w_l) == pytest.approx(w[-1]) for _, layer in layers)
  if name == "psg":    # every layer's learned shape moved and stays within the clip
    for path, layer in layers:
      rho0 = _at(params0, path)["sg"]["rho"][...]
      assert not np.allclose(layer.sg["rho"][...], rho0), path
      assert -8.0 <= float(layer.sg["rho"][...]) <= 8.0
  if name == "tit":    # T: 2 in epoch 0, then 3 (one compilation per stage)
    assert rec["T"] == [2, 3, 3] and rec["traces"] == [1, 2, 2]
  if name == "sml":    # the modules exist and train, accuracy is scored on o_snn [T, B, C]
    assert isinstance(model, SurrogateModuleNet)
    moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), params0["surrogate_blocks"],
                         params["surrogate_blocks"])
    assert any(jax.tree.leaves(moved))
  if name != "tit":
    assert rec["T"] == [T] * (EPOCHS * STEPS)


def _at(state, path):
  node = state
  for key in path.split("/"):
    node = node[int(key) if key.isdigit() else key]
  return node


@pytest.mark.parametrize("arch", list(ARCHS))
def test_pda_penalty_is_nonzero_and_has_a_gradient(arch):
  build, shape, _ = ARCHS[arch]
  method = M.pda(lam=1.0)
  model = method.prepare(build(nnx.Rngs(0)))
  x, _ = next(_batches(shape, 0))
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)

  def penalty(params):
    m = nnx.merge(graphdef, params, rest, copy=True)
    _, inter = method.outputs(m, x)
    return method.penalty(m, inter)

  value, grads = jax.jit(jax.value_and_grad(penalty))(params)
  assert float(value) > 0
  assert float(optax.tree.norm(grads)) > 0
  # the penalty is the sum over layers of jsnn.transforms.pda_penalty on the recorded potentials
  m = nnx.merge(graphdef, params, rest, copy=True)
  _, inter = method.outputs(m, x)
  potentials, thresholds = M.layer_potentials(m, inter)
  assert len(potentials) == len(jsnn.nn.spiking_layers(m))
  chex.assert_trees_all_close(value, jsnn.transforms.pda_penalty(potentials, thresholds, 0.5,
                                                                 lam=1.0), rtol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("name", METHOD_NAMES)
def test_every_method_trains_through_the_trainer(tmp_path, name, arch):
  from jsnn import train

  build, shape, factory = ARCHS[arch]
  method = _methods(factory)[name]
  x, y = _digits()
  x = x.reshape((-1,) + shape)
  data = train.ArrayData({"image": x[:96], "label": y[:96]}, {"image": x[96:128],
                                                              "label": y[96:128]},
                         batch_size=B, eval_batch_size=32)
  config = train.base_config()
  config.update(seed=0, num_epochs=EPOCHS, log_every_steps=2, progress=False, plot=False,
                async_checkpointing=False, log_firing_rates=False)
  config.input.batch_size = B
  config.optimizer.update(name="adam", lr=3e-3)
  tx, _ = train.make_optimizer(config, data.steps_per_epoch, EPOCHS * data.steps_per_epoch,
                               wrap=method.wrap_optimizer)
  state = train.train_and_evaluate(
      config, tmp_path, model_factory=lambda rngs: method.prepare(build(rngs), rngs=rngs),
      data=data, loss_fn=method.loss_fn(), eval_fn=method.eval_fn(),
      method_state_fn=(None if method.epoch_values is None
                       else lambda e: method.epoch_state(e, EPOCHS)),
      structure_fn=None if method.time_steps is None else method.start_epoch, tx=tx)
  assert int(state.step) == EPOCHS * data.steps_per_epoch
  leaves = jax.tree.leaves(state.params)
  assert all(bool(jnp.all(jnp.isfinite(v))) for v in leaves)
  if name == "adali":
    assert float(state.method_state.w_l) == pytest.approx(
        jsnn.transforms.adali_width(EPOCHS - 1, EPOCHS))
  if name == "psg":
    init = jsnn.transforms.BoundedSigmoidMap(1.0, 10.0).inverse(4.0)
    rhos = [v for p, v in jax.tree_util.tree_leaves_with_path(state.params)
            if "'rho'" in jax.tree_util.keystr(p)]
    assert rhos and all(float(r) != pytest.approx(float(init), abs=1e-6) for r in rhos)
  import json
  records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert all(np.isfinite(r["train_loss"]) for r in records)
  if name == "tit":
    assert [r.get("T") for r in records] == [2, 3, 3]


# -------------------------------------------------------------------------------------------
# composition
# -------------------------------------------------------------------------------------------
def test_compositions_that_make_sense():
  clif_tet = M.compose(M.clif().without("loss"), M.tet(lamb=1e-3))
  assert clif_tet.name == "clif+tet" and clif_tet.neuron is jsnn.neurons.clif
  psg_tet = M.compose(M.psg(), M.tet())
  assert psg_tet.learn_surrogate and psg_tet.optimizer is not None
  adali_sml = M.compose(M.adali(), M.sml(after=(1,)))
  assert adali_sml.epoch_values is not None and adali_sml.wrap_model is not None
  psg_pda = M.compose(M.psg(), M.pda())
  assert psg_pda.record == ("potential",)
  model = clif_tet.prepare(digits.DigitsConvNet(T=2, c1=4, c2=8, rngs=nnx.Rngs(0)))
  x, y = next(_batches((8, 8, 1), 0))
  loss, logits = clif_tet.objective(model, x, y)
  expected = jsnn.losses.tet(model(x), y, lamb=1e-3)
  chex.assert_trees_all_close(loss, expected, rtol=1e-6)
  assert logits.shape == (2, B, 10)


@pytest.mark.parametrize("methods, match", [
    ((M.clif(), M.tet()), r"'clif' and 'tet' both set the loss.*jsnn.methods.tet\(...\).without\('loss'\)"),
    ((M.adali(), M.psg()), r"'adali' and 'psg' both set the spike_fn"),
    ((M.clif(), M.adali(neuron=jsnn.neurons.adali_if)), r"'clif' and 'adali' both set the neuron"),
    ((M.sml(after=(1,)), M.tet()), r"'sml' and 'tet' both set the loss"),
    ((M.psg().without("spike_fn"), M.adali()), r"'adali' sets the surrogate's shape every epoch "
                                               r"while 'psg' learns it"),
])
def test_impossible_combinations_name_the_conflict(methods, match):
  with pytest.raises(ValueError, match=match):
    M.compose(*methods)


def test_model_side_conflicts_are_raised_before_compiling():
  with pytest.raises(ValueError, match="does not expose its stages"):
    M.sml(after=(1,)).prepare(nnx.Sequential(jsnn.nn.SpikingNeuron(jsnn.neurons.tet_lif)),
                              rngs=nnx.Rngs(0))
  with pytest.raises(ValueError, match=r"has parameters per time step.*norm='time_merged'"):
    from jsnn.models import preact_resnet
    M.tit([(2, 1), (4, 1)]).prepare(preact_resnet._ResNet18Tiny(num_classes=10, T=2,
                                                                rngs=nnx.Rngs(0)))
  with pytest.raises(ValueError, match="has no jsnn.nn.SpikingNeuron layer"):
    M.clif().prepare(nnx.Linear(2, 2, rngs=nnx.Rngs(0)))
  with pytest.raises(ValueError, match=r"unknown method 'stdp'; valid: sdt, tet, tit, sml"):
    M.from_config("stdp")
  with pytest.raises(ValueError, match=r"method 'clif': unknown argument\(s\) \['lambda'\]"):
    M.from_config("clif", {"lambda": 0.1})
  with pytest.raises(ValueError, match=r"must map each of \['clif', 'tet'\] to its arguments"):
    M.from_config("clif+tet", {"lamb": 0.1})
  with pytest.raises(ValueError, match=r"unknown part\(s\) \['losses'\]"):
    M.clif().without("losses")
  with pytest.raises(ValueError, match=r"method 'adali': unknown neuron preset 'lif2'; valid: "
                                       r"adali_if, adali_lif, clif"):
    M.adali(neuron="lif2").prepare(digits_mlp.SpikingMLP(hidden=8, T=2, rngs=nnx.Rngs(0)))
  with pytest.raises(ValueError, match=r"tit: the stages \[\(2, 0\)\] have no epochs"):
    M.tit([(2, 0)])


def test_from_config_composes_with_without():
  m = M.from_config("clif+tet", {"clif": {"without": ["loss"]}, "tet": {"lamb": 1e-3}})
  assert m.name == "clif+tet" and m.neuron is jsnn.neurons.clif


def test_labels_out_of_range_raise_under_jit_with_chexify():
  method = M.tet()
  model = digits.DigitsConvNet(T=2, c1=4, c2=8, rngs=nnx.Rngs(0))
  graphdef, state = nnx.split(model)
  x, y = next(_batches((8, 8, 1), 0))

  def loss(state, x, y):
    return method.objective(nnx.merge(graphdef, state, copy=True), x, y, check_labels=True)[0]

  checked = chex.chexify(jax.jit(loss), async_check=False)
  assert np.isfinite(float(checked(state, x, y)))
  with pytest.raises(Exception, match=r"labels must be class indices in \[0, 10\); got min \d, max 12"):
    checked(state, x, np.where(y == y.max(), 12, y).astype(np.int32))
  with pytest.raises(ValueError, match="Cannot abstractly evaluate a checkify.check"):
    jax.jit(loss)(state, x, y)   # a forgotten chexify is loud, not silent


class TestObjectiveVariants(chex.TestCase):
  """The objective is the same eager and jitted (chex.variants)."""

  @chex.variants(with_jit=True, without_jit=True)
  def test_objective_eager_and_jit(self):
    method = M.compose(M.sdt(), M.pda(lam=1e-2))
    model = method.prepare(digits_mlp.SpikingMLP(hidden=16, T=2, rngs=nnx.Rngs(0)))
    graphdef, state = nnx.split(model)
    x, y = next(_batches((64,), 0))

    @self.variant
    def loss(state, x, y):
      return method.objective(nnx.merge(graphdef, state, copy=True), x, y)[0]

    expected = jsnn.losses.sdt(model(x), y)
    out = loss(state, x, y)
    assert float(out) > float(expected)   # the penalty is added
    chex.assert_shape(out, ())
