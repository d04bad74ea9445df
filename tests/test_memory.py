"""Memory-bounded BPTT and mixed precision (issue #8).

* ``residuals="minimal"``: the whole-scan ``custom_vjp`` gives plain autodiff's gradients (inputs,
  neuron constants and surrogate shape parameters) for every neuron of the LIF / IF family;
* models' ``remat`` (``"layer"``, ``"step"``, chunk size) and ``residuals`` give the plain path's
  gradients and BatchNorm statistics;
* memory, from XLA's compiled memory analysis (deterministic for a given jax/XLA build);
* ``dtype=jnp.bfloat16`` spikes agree with float32 on a ``conv_cifar``-like net at init.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jsnn
import jsnn.models
import jsnn.nn as jn
from jsnn import neurons as N
from jsnn import surrogate as S
from jsnn.models import preact_resnet, spiking_vgg, tet_resnet, vggsnn
from jsnn.models._common import ConvNorm


@pytest.fixture
def fast_compile_here():
  """Fewer XLA optimisations for the gradient-identity tests (both paths compile alike)."""
  old = jax.config.read("jax_disable_most_optimizations")
  jax.config.update("jax_disable_most_optimizations", True)
  yield
  jax.config.update("jax_disable_most_optimizations", old)


def _assert_trees_close(a, b, tol=1e-6):
  la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
  assert len(la) == len(lb)
  for x, y in zip(la, lb):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=tol, atol=tol)


# --- residuals="minimal" ----------------------------------------------------------------------

MINIMAL_NEURONS = {
    "tet_lif": N.tet_lif,
    "sml_lif_detach": functools.partial(N.sml_lif, detach_reset=True),
    "sj_lif_hard": N.sj_lif, "sj_lif_soft": functools.partial(N.sj_lif, v_reset=None),
    "sj_lif_hard_detach": functools.partial(N.sj_lif, detach_reset=True),
    "sj_lif_no_decay_input": functools.partial(N.sj_lif, decay_input=False, v_reset=None),
    "sj_lif_0.0.0.0.14": functools.partial(N.sj_lif, sj_version="0.0.0.0.14"),
    "sj_if_hard": N.sj_if, "sj_if_soft_detach": functools.partial(N.sj_if, v_reset=None,
                                                                   detach_reset=True),
    "adali_if": N.adali_if, "adali_lif": N.adali_lif, "sj_plif": N.sj_plif,
    "clif_lif": N.clif_lif, "clif": N.clif, "clif_plif": N.clif_plif,
}


def _neuron_grads(neuron, x, g, residuals):
  """Value and d/d(neuron, x) of a loss on spikes, the traced states and the final state."""

  def loss(neuron, x):
    final, spikes, states = neuron.run_with_states(x, residuals=residuals)
    c = jnp.asarray(0.1, x.dtype)
    return jnp.sum(spikes * g) + c * jnp.sum(states.v * g) + c * jnp.sum(final.v)

  return jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))(neuron, x)


def _inputs(dtype, t=8):
  x = (jax.random.normal(jax.random.key(2), (t, 3, 8)) + 0.6).astype(dtype)
  g = jax.random.normal(jax.random.key(3), (t, 3, 8)).astype(dtype)
  return x, g


@pytest.mark.usefixtures("fast_compile_here")
@pytest.mark.parametrize("name", list(MINIMAL_NEURONS))
def test_minimal_residuals_match_autodiff(name):
  neuron = MINIMAL_NEURONS[name]()
  x, g = _inputs(jnp.float32)
  ref = _neuron_grads(neuron, x, g, "default")
  out = _neuron_grads(neuron, x, g, "minimal")
  _assert_trees_close(out, ref)   # d/dx, d/d(tau, v_th, v_reset, w) and d/d(surrogate shape)


@pytest.mark.usefixtures("fast_compile_here")
@pytest.mark.parametrize("name", ["tet_lif", "sj_lif_hard", "adali_if", "sj_plif", "clif"])
def test_minimal_residuals_match_autodiff_f64(name, x64):
  neuron = MINIMAL_NEURONS[name]()
  x, g = _inputs(jnp.float64)
  _assert_trees_close(_neuron_grads(neuron, x, g, "minimal"),
                      _neuron_grads(neuron, x, g, "default"), tol=1e-12)


@pytest.mark.parametrize("spike_fn", [
    S.Triangle(gamma=0.7), S.Dspike(gamma=2.5), S.AsymmetricRectangle(), S.Sigmoid(alpha=3.0)],
    ids=lambda s: type(s).__name__)
@pytest.mark.usefixtures("fast_compile_here")
def test_minimal_residuals_any_surrogate_with_traced_shape(spike_fn):
  """The surrogate is an argument of the jitted grad, so its shape parameters are traced."""
  x, g = _inputs(jnp.float32)
  neuron = N.sj_if(v_reset=None, spike_fn=spike_fn)
  _assert_trees_close(_neuron_grads(neuron, x, g, "minimal"),
                      _neuron_grads(neuron, x, g, "default"))


def test_minimal_residuals_keep_less_than_autodiff():
  """Constants closed over (as in a model, so x is not saved for d/dtau): the backward keeps H
  only, XLA ~6 arrays of [T, B, N]; the gradients still match."""
  x, g = _inputs(jnp.float32, t=16)

  def grad_fn(residuals):
    return jax.jit(jax.grad(lambda x: jnp.sum(N.sj_lif()(x, residuals=residuals)[1] * g)))

  def temp_bytes(residuals):
    return grad_fn(residuals).lower(x).compile().memory_analysis().temp_size_in_bytes

  _assert_trees_close(grad_fn("minimal")(x), grad_fn("default")(x))
  assert temp_bytes("minimal") < 0.5 * temp_bytes("default")


def _custom_step(state, x):
  """A step that is not a registered neuron (plain function)."""
  v = 0.5 * state.v + x
  s = S.Sigmoid(4.0)(v - 1.0)
  return N.LIFState(v * (1.0 - s)), s


def test_minimal_residuals_reject_unsupported_neurons():
  state0 = N.LIFState(jnp.zeros((2, 3)))
  with pytest.raises(ValueError, match="residuals='minimal' supports the bound steps"):
    N.run(_custom_step, state0, jnp.zeros((4, 2, 3)), residuals="minimal")
  with pytest.raises(ValueError, match="needs remat=None"):
    N.tet_lif()(jnp.zeros((4, 2, 3)), residuals="minimal", remat="step")
  with pytest.raises(ValueError,
                     match=r"residuals must be one of \('auto', 'default', 'minimal'\)"):
    N.tet_lif()(jnp.zeros((4, 2, 3)), residuals="small")


def _spike_grad_fn(neuron, g, **kw):
  """Jitted ``d/dx Σ g·spikes`` with the neuron's constants closed over (as in a model)."""
  return jax.jit(jax.grad(lambda x: jnp.sum(neuron(x, **kw)[1] * g)))


@pytest.mark.parametrize("name", ["tet_lif", "sj_lif_hard", "sj_plif", "clif"])
def test_auto_residuals_is_minimal_and_bitwise_autodiff(name):
  """The default ``residuals="auto"`` picks the minimal-residual scan for registered neurons and
  gives plain autodiff's input gradient bit for bit under full XLA optimisation (constants closed
  over, as in a model), and keeps less."""
  neuron = MINIMAL_NEURONS[name]()
  x, g = _inputs(jnp.float32, t=16)
  auto, plain = _spike_grad_fn(neuron, g), _spike_grad_fn(neuron, g, residuals="default")
  np.testing.assert_array_equal(np.asarray(auto(x)), np.asarray(plain(x)))
  mem = lambda f: f.lower(x).compile().memory_analysis().temp_size_in_bytes
  minimal = _spike_grad_fn(neuron, g, residuals="minimal")
  assert mem(auto) == mem(minimal) < mem(plain)


def test_auto_residuals_falls_back_to_autodiff():
  """Custom steps, ``remat`` and a traced ``v_reset`` (summed in another order by the minimal
  backward) run plain autodiff under ``"auto"``; no error."""
  x, g = _inputs(jnp.float32)
  state0 = N.LIFState(jnp.zeros(x.shape[1:]))
  f = lambda residuals: jax.grad(
      lambda x: jnp.sum(N.run(_custom_step, state0, x, residuals=residuals)[1] * g))(x)
  np.testing.assert_array_equal(np.asarray(f("auto")), np.asarray(f("default")))
  neuron = N.sj_lif()
  np.testing.assert_array_equal(
      np.asarray(_spike_grad_fn(neuron, g, remat="step")(x)),
      np.asarray(_spike_grad_fn(neuron, g, remat="step", residuals="default")(x)))
  jaxpr = lambda r: str(jax.make_jaxpr(jax.grad(
      lambda v_r, x: jnp.sum(N.sj_lif(v_reset=v_r)(x, residuals=r)[1])))(0.0, x))
  assert jaxpr("auto") == jaxpr("default") != jaxpr("minimal")


# --- models: remat / residuals ----------------------------------------------------------------

# VGGSNN's layer pattern (conv -> BN -> LIF, average pools, a stride-2 conv), four layers.
_VGG4 = functools.partial(vggsnn.Model, cfg=((4, 1), (8, 1), "A", (8, 1), (16, 2)),
                          input_size=(16, 16))


_OPTION_KEYS = ("remat", "residuals", "dtype")


def _options(kw: dict) -> dict:
  """Memory options as the zoo's ``options=jsnn.models.Options(...)`` value."""
  opts = {k: kw.pop(k) for k in _OPTION_KEYS if k in kw}
  return dict(kw, options=jsnn.models.Options(**opts)) if opts else kw


def _model_grads(ctor, x, *, T=None, f64=False, **kw):
  model = ctor(num_classes=10, T=T or x.shape[0], rngs=nnx.Rngs(0), **_options(kw))
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)
  if f64:
    params, rest = jax.tree.map(
        lambda a: a.astype(jnp.float64) if jnp.issubdtype(a.dtype, jnp.floating) else a,
        (params, rest))
  y = jnp.arange(x.shape[-4]) % 10

  def loss(params, rest):
    m = nnx.merge(graphdef, params, rest, copy=True)
    return jsnn.losses.tet(m(x), y), nnx.state(m, nnx.BatchStat)

  return jax.jit(jax.value_and_grad(loss, has_aux=True))(params, rest)


@functools.lru_cache(maxsize=None)
def _vggsnn_reference(f64: bool):
  dtype = jnp.float64 if f64 else jnp.float32
  x = jax.random.normal(jax.random.key(1), (2, 2, 16, 16, 2), dtype)
  return x, _model_grads(_VGG4, x, f64=f64)


@pytest.mark.usefixtures("fast_compile_here")
@pytest.mark.parametrize("f64, remat", [
    (False, "layer"), (False, 2), (False, "minimal"), (True, "layer+minimal")])
def test_model_remat_gives_the_plain_gradients(remat, f64):
  kw = {"minimal": dict(residuals="minimal"),
        "layer+minimal": dict(remat="layer", residuals="minimal")}.get(remat, dict(remat=remat))
  with jax.enable_x64(f64):
    x, ref = _vggsnn_reference(f64)
    out = _model_grads(_VGG4, x, f64=f64, **kw)
    _assert_trees_close(out, ref, tol=1e-12 if f64 else 1e-6)   # loss, BN stats, grads


@pytest.mark.parametrize("ctor, x_shape, kw", [
    (tet_resnet._ResNet19Tiny, (2, 8, 8, 3), {}),                       # the ResNet engine
    (spiking_vgg.Model, (2, 2, 16, 16, 2),                            # CLIF; dropout RNG
     dict(dropout=0.3, cfg=((4, "M"), (8, 8, "M")), pool_size=2, input_size=(16, 16))),
], ids=["tet_resnet", "spiking_vgg"])
@pytest.mark.usefixtures("fast_compile_here")
def test_layer_remat_on_every_architecture(ctor, x_shape, kw):
  x = jax.random.normal(jax.random.key(1), x_shape)
  ctor = functools.partial(ctor, **kw)
  _assert_trees_close(_model_grads(ctor, x, T=2, remat="layer"), _model_grads(ctor, x, T=2))


def test_layer_remat_and_minimal_residuals_cut_peak_memory():
  """XLA's CPU scheduler hoists plain jax.checkpoint recomputation into the forward pass (no
  saving at all); the models' remat="layer" makes it wait for the cotangent. Minimal neuron
  residuals shrink the one layer's working set that remains."""

  def temp_bytes(**kw):
    model = _VGG4(num_classes=10, T=4, rngs=nnx.Rngs(0), **_options(kw))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    x = jnp.ones((4, 8, 16, 16, 2))

    def loss(params):
      return jnp.sum(nnx.merge(graphdef, params, rest, copy=True)(x))

    return jax.jit(jax.grad(loss)).lower(params).compile().memory_analysis().temp_size_in_bytes

  # Against plain autodiff (residuals="default"; the model default is "auto", i.e. minimal).
  # jax 0.10.2 on CPU: residuals="minimal" alone 0.63x, with remat="layer" 0.52x.
  assert temp_bytes(remat="layer", residuals="minimal") < 0.7 * temp_bytes(residuals="default")


def test_chunked_time_peak_memory_is_bounded_in_T():
  """A spiking layer with chunked time (k = 8): T = 64 peaks at most 2x T = 8 (plus the [T, B, N]
  input cotangent, which any BPTT must return)."""

  def temp_bytes(t):
    layer = jn.SpikingNeuron(N.sj_lif, remat=8)
    x = jnp.ones((t, 16, 512))
    f = jax.jit(jax.grad(lambda x: jnp.sum(layer(x))))
    return f.lower(x).compile().memory_analysis().temp_size_in_bytes

  assert temp_bytes(64) <= 2 * temp_bytes(8) + 64 * 16 * 512 * 4


def test_bad_memory_options_list_the_valid_values():
  with pytest.raises(ValueError, match=r"remat must be one of \(None, 'layer', 'step'"):
    vggsnn._VGGSNNTiny(num_classes=10, T=4, options=jsnn.models.Options(remat="chunk"),
                       rngs=nnx.Rngs(0))
  with pytest.raises(ValueError,
                     match=r"residuals must be one of \('auto', 'default', 'minimal'\)"):
    tet_resnet._ResNet19Tiny(num_classes=10, T=2, options=jsnn.models.Options(residuals="tiny"),
                             rngs=nnx.Rngs(0))
  with pytest.raises(TypeError, match="dtype must be None or a floating dtype"):
    preact_resnet._ResNet18Tiny(num_classes=10, T=2, options=jsnn.models.Options(dtype=jnp.int8),
                                rngs=nnx.Rngs(0))
  with pytest.raises(ValueError, match="remat must be None, 'step' or a positive int"):
    jn.SpikingNeuron(N.tet_lif, remat="layer")
  with pytest.raises(ValueError, match="remat must be None, 'step' or a positive int"):
    N.run(N.tet_lif().bound_step(), N.zero_init(None, jnp.zeros((2, 3))), jnp.zeros((4, 2, 3)),
          remat=0)


# --- mixed precision ------------------------------------------------------------------------

class _ConvCifar(nnx.Module):
  """The benchmark's conv_cifar: conv 64 + BN + LIF, conv 128 s2 + BN + LIF, conv 256 s2 + BN +
  LIF, global average pool, Linear 10 (SpikingJelly LIF tau=2, soft reset, Sigmoid(4))."""

  def __init__(self, dtype, rngs):
    plan = [(3, 64, 1), (64, 128, 2), (128, 256, 2)]
    self.units = nnx.List([ConvNorm(ci, co, 3, stride=s, padding=1, dtype=dtype if i else None,
                                    rngs=rngs) for i, (ci, co, s) in enumerate(plan)])
    lif = functools.partial(N.sj_lif, tau=2.0, v_reset=None, decay_input=False,
                            spike_fn=S.Sigmoid(4.0))
    self.sns = nnx.List([jn.SpikingNeuron(lif) for _ in plan])
    self.fc = jn.Linear(256, 10, dtype=dtype, rngs=rngs)

  def __call__(self, x, inputs=None):
    """Logits and every layer's spikes; ``inputs[i]`` replaces layer i's input if given."""
    h, spikes = x, []
    for i, (unit, sn) in enumerate(zip(self.units, self.sns)):
      h = sn(unit(h if inputs is None else inputs[i]))
      spikes.append(h)
    return self.fc(jnp.mean(h, axis=(-3, -2))), spikes


def test_bf16_spikes_agree_with_float32():
  t, b = 4, 32
  x = jnp.broadcast_to(jax.random.normal(jax.random.key(1), (b, 32, 32, 3)), (t, b, 32, 32, 3))
  m32, m16 = _ConvCifar(None, nnx.Rngs(0)), _ConvCifar(jnp.bfloat16, nnx.Rngs(0))
  _, s32 = jax.jit(lambda m, x: m(x))(m32, x)
  # Per layer (same input spikes: only the bfloat16 rounding of weights acts; spikes are exact),
  # and end to end.
  (logits16, s16), (_, s16_per_layer) = jax.jit(lambda m, x, s: (m(x), m(x, s)))(
      m16, x, [x] + s32[:-1])
  assert logits16.dtype == jnp.float32 and s16[0].dtype == jnp.float32
  per_layer = [float(jnp.mean(a == b)) for a, b in zip(s32, s16_per_layer)]
  assert min(per_layer) >= 0.999, per_layer
  # End to end (flips propagate: one flipped input spike moves many potentials downstream).
  n = sum(a.size for a in s32)
  end_to_end = sum(float(jnp.sum(a == b)) for a, b in zip(s32, s16)) / n
  assert end_to_end >= 0.995, end_to_end


# --- block remat with 1-bit spike inputs (jsnn/nn/_remat.py) ---------------------------------

class _Block(nnx.Module):
  """conv -> BN -> LIF, as a VGGSNN layer."""

  def __init__(self, cin, cout, rngs):
    self.cn = ConvNorm(cin, cout, 3, padding=1, rngs=rngs)
    self.sn = jn.SpikingNeuron(N.sj_lif)

  def __call__(self, x):
    return self.sn(self.cn(x))


class _Stack(nnx.Module):
  def __init__(self, remat, bits, rngs):
    self.blocks = nnx.List([_Block(2, 8, rngs), _Block(8, 8, rngs), _Block(8, 16, rngs)])
    self.remat, self.bits = remat, bits

  def __call__(self, x):
    for i, block in enumerate(self.blocks):   # block 0 sees the analog input
      x = jn.remat_call(self.remat, lambda m, h: m(h), block, x,
                        input_bits=self.bits and i > 0)
    return x


def _stack_grads(remat, bits, x, g):
  model = _Stack(remat, bits, nnx.Rngs(0))
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)

  def loss(params, x):
    m = nnx.merge(graphdef, params, rest, copy=True)
    return jnp.sum(m(x) * g), nnx.state(m, nnx.BatchStat)

  f = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))
  return f, f(params, x), (params, x)


def test_remat_bits_gives_plain_autodiff_gradients_bitwise():
  """Loss, BN statistics, parameter and input gradients of a 3-block conv -> BN -> LIF stack with
  block remat and 1-bit inputs equal plain autodiff's bit for bit (float32, full XLA
  optimisation: the same operations are recomputed on exactly the same spikes)."""
  x = jax.random.normal(jax.random.key(1), (4, 2, 8, 8, 2)) * 2
  g = jax.random.normal(jax.random.key(2), (4, 2, 8, 8, 16))
  _, ref, _ = _stack_grads(False, False, x, g)
  _, out, _ = _stack_grads(True, True, x, g)
  la, lb = jax.tree.leaves(out), jax.tree.leaves(ref)
  assert len(la) == len(lb)
  for a, b in zip(la, lb):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_remat_bits_keep_less_and_flag_non_binary_inputs():
  x = jax.random.normal(jax.random.key(1), (8, 8, 16, 16, 2)) * 2
  g = jax.random.normal(jax.random.key(2), (8, 8, 16, 16, 16))
  mem = {}
  for name, remat, bits in [("plain", False, False), ("remat", True, False),
                            ("bits", True, True)]:
    f, _, args = _stack_grads(remat, bits, x, g)
    mem[name] = f.lower(*args).compile().memory_analysis().temp_size_in_bytes
  assert mem["bits"] < mem["remat"] < mem["plain"]
  # Flagging a non-binary input is caught: every gradient of that block becomes NaN.
  bits, ok = jn._remat.pack_spikes(jnp.asarray([0.0, 1.0, 0.5]))
  assert not bool(ok)
  np.testing.assert_array_equal(jn._remat.unpack_spikes(*jn._remat.pack_spikes(
      jnp.asarray([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]))[:1], (2, 3), jnp.float32),
      [[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
  block = _Block(2, 4, nnx.Rngs(0))
  xb = jnp.full((2, 1, 4, 4, 2), 0.5)
  grad = nnx.grad(lambda b, x: jnp.sum(jn.remat_call(True, lambda m, h: m(h), b, x,
                                                     input_bits=True)), argnums=(0, 1))
  gb, gx = grad(block, xb)
  assert bool(jnp.all(jnp.isnan(gx))) and bool(jnp.all(jnp.isnan(gb.cn.conv.conv.kernel[...])))


# --- remat="layer" keeps a block's spike input as bits exactly where it is a neuron's output ----

def test_emits_binary_spikes():
  assert jn.SpikingNeuron(N.tet_lif).emits_binary_spikes
  assert jn.SpikingNeuron(N.clif).emits_binary_spikes
  assert jn.SpikingNeuron(N.sj_lif, spike_fn=S.Sigmoid(4.0)).emits_binary_spikes
  # a forward that is not the Heaviside step, and a custom (unregistered) step
  assert not jn.SpikingNeuron(N.sj_lif, spike_fn=S.MultiLevelSpikeCount()).emits_binary_spikes
  custom = N.Neuron(lambda s, x, *, params, spike_fn: (s + x, spike_fn(s + x - 1.0)),
                    N.tet_lif().params, S.Rectangle(), lambda p, like: jnp.zeros_like(like))
  assert not jn.SpikingNeuron(custom).emits_binary_spikes


@pytest.mark.parametrize("ctor, x_shape, kw, n_bits", [
    # VGG4: layer, layer, A, layer, layer -> the 2nd and 4th layers read a layer's spikes
    (_VGG4, (2, 2, 16, 16, 2), {}, 2),
    # stem + 3 blocks ("add"): every block reads spikes
    (tet_resnet._ResNet19Tiny, (2, 8, 8, 3), {}, 3),
    # CLIF VGG: (4, M), (8, 8, M): only the third unit follows a unit; dropout > 0 scales spikes
    (spiking_vgg.Model, (2, 2, 16, 16, 2), dict(dropout=0.0, cfg=((4, "M"), (8, 8, "M")),
                                                pool_size=2, input_size=(16, 16)), 1),
    (spiking_vgg.Model, (2, 2, 16, 16, 2), dict(dropout=0.3, cfg=((4, "M"), (8, 8, "M")),
                                                pool_size=2, input_size=(16, 16)), 0),
], ids=["vggsnn", "tet_resnet", "spiking_vgg", "spiking_vgg_dropout"])
def test_layer_remat_packs_exactly_the_spike_inputs(ctor, x_shape, kw, n_bits, monkeypatch):
  packed = []
  real = jn._remat.pack_spikes
  monkeypatch.setattr(jn._remat, "pack_spikes", lambda s: packed.append(s.shape) or real(s))
  x = jax.random.normal(jax.random.key(1), x_shape)
  _model_grads(functools.partial(ctor, **kw), x, T=2, remat="layer")
  assert len(packed) == n_bits, packed


def test_a_module_in_a_neurons_place_is_not_taken_for_spikes():
  """An ANN twin (every SpikingNeuron replaced by a ReLU module) still runs, without bits."""
  model = _VGG4(num_classes=10, T=2, rngs=nnx.Rngs(0),
                options=jsnn.models.Options(remat="layer"))
  for layer in model.layers:
    layer.sn = _ReLU()
  x = jax.random.normal(jax.random.key(1), (2, 2, 16, 16, 2))
  grads = nnx.grad(lambda m: jnp.sum(m(x)))(model)
  assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))


class _ReLU(nnx.Module):
  def __call__(self, x):
    return jax.nn.relu(x)
