"""Tests of `jsnn.nn`: BatchNorm statistics vs PyTorch's rule (numpy), time folding vs a per-step
loop, time-shared dropout, initialisers, the spiking-neuron layer, pooling and input checks."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jsnn
import jsnn.nn as jn
from helpers import assert_close

EPS, MOM = 1e-5, 0.1


def rngs(seed: int = 0) -> nnx.Rngs:
  """`rbg` keys: on CPU, compiling threefry for each new kernel shape costs ~1 s, `rbg` ~0.1 s."""
  return nnx.Rngs(jax.random.key(seed, impl="rbg"))


# ---------------------------------------------------------------------------------------------
# helpers: the NNX train-step pattern (platform_notes §2) and numpy PyTorch BatchNorm
# ---------------------------------------------------------------------------------------------
def run_step(model, x, loss_fn=lambda out: jnp.sum(out ** 2)):
  """One jitted forward+backward; returns (out, grads, new non-param state)."""
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)

  @jax.jit
  def step(params, rest, x):
    def loss(params, rest):
      m = nnx.merge(graphdef, params, rest, copy=True)
      out = m(x)
      return loss_fn(out), (out, nnx.state(m, nnx.Not(nnx.Param)))
    (_, (out, new_rest)), grads = jax.value_and_grad(loss, has_aux=True)(params, rest)
    return out, grads, new_rest

  out, grads, new_rest = step(params, rest, x)
  nnx.update(model, new_rest)
  return out, grads


def torch_bn_numpy(x, running_mean, running_var, *, axes):
  """PyTorch BatchNorm2d training forward + running update, in float64 numpy."""
  x = np.asarray(x, np.float64)
  n = int(np.prod([x.shape[a] for a in axes]))
  mean = x.mean(axis=axes, keepdims=True)
  var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
  y = (x - mean) / np.sqrt(var + EPS)
  new_mean = MOM * mean.reshape(-1) + (1 - MOM) * running_mean
  new_var = MOM * var.reshape(-1) * n / (n - 1) + (1 - MOM) * running_var
  return y, new_mean, new_var


# ---------------------------------------------------------------------------------------------
# 1. BatchNorm semantics
# ---------------------------------------------------------------------------------------------
def test_per_step_bn_updates_running_stats_T_times_in_order():
  T, B, H, W, C = 4, 3, 2, 2, 5
  shift = jnp.arange(T, dtype=jnp.float32).reshape(T, 1, 1, 1, 1)   # steps differ
  x = 2.0 * jax.random.normal(jax.random.key(0), (T, B, H, W, C)) + shift
  bn = jn.PerStepBatchNorm(C)
  y = nnx.jit(lambda m, x: m(x))(bn, x)
  rm, rv = np.zeros(C), np.ones(C)
  for t in range(T):  # CLIF calls BatchNorm2d once per step: PyTorch's rule, T times in order
    y_t, rm, rv = torch_bn_numpy(x[t], rm, rv, axes=(0, 1, 2))
    assert_close(y[t], y_t, atol=2e-5)
  assert_close(bn.mean[...], rm, atol=1e-6)
  assert_close(bn.var[...], rv, atol=1e-5)
  # a single time-merged update would give something else
  _, rm1, _ = torch_bn_numpy(x, np.zeros(C), np.ones(C), axes=(0, 1, 2, 3))
  assert not np.allclose(rm, rm1, atol=1e-3)


def test_time_merged_bn_one_update_over_TB():
  T, B, H, W, C = 4, 3, 2, 2, 5
  x = 2.0 * jax.random.normal(jax.random.key(1), (T, B, H, W, C)) + 0.5
  bn = jn.BatchNorm(C)
  y = nnx.jit(lambda m, x: m(x))(bn, x)
  y_ref, rm, rv = torch_bn_numpy(x, np.zeros(C), np.ones(C), axes=(0, 1, 2, 3))  # n = T·B·H·W
  assert_close(y, y_ref, atol=2e-5)
  assert_close(bn.mean[...], rm, atol=1e-6)
  assert_close(bn.var[...], rv, atol=1e-5)
  # eval: running stats, no update
  bn.eval()
  y_eval = bn(x)
  assert_close(y_eval, (np.asarray(x) - rm) / np.sqrt(rv + EPS), atol=2e-5)
  assert_close(bn.mean[...], rm, atol=1e-6)


def test_bn_under_jit_grad_updates_state_and_matches_eager():
  x = jax.random.normal(jax.random.key(2), (2, 3, 4))
  for cls in (jn.BatchNorm, jn.PerStepBatchNorm):
    eager = cls(4)
    y_eager = eager(x)
    jitted = cls(4)
    y_jit, grads = run_step(jitted, x)
    assert_close(y_jit, y_eager, atol=1e-6)
    assert_close(jitted.mean[...], eager.mean[...], atol=1e-6)
    assert_close(jitted.var[...], eager.var[...], atol=1e-6)
    assert np.abs(np.asarray(grads["scale"][...])).sum() > 0


def test_tdbn_scales_by_alpha_vth_and_tebn_scales_each_step():
  T, B, C = 3, 4, 2
  x = jax.random.normal(jax.random.key(3), (T, B, C))
  plain = jn.BatchNorm(C)(x)
  td = jn.ThresholdDependentBatchNorm(C, alpha=1 / math.sqrt(2), v_th=0.5)(x)
  assert_close(td, plain * (0.5 / math.sqrt(2)), atol=1e-6)
  tebn = jn.TemporalEffectiveBatchNorm(C, T=T)
  assert tebn.step_scale[...].shape == (T,)
  tebn.step_scale[...] = jnp.array([1.0, 2.0, 3.0])
  assert_close(tebn(x), plain * np.array([1.0, 2.0, 3.0]).reshape(T, 1, 1), atol=1e-6)
  assert jn.TemporalEffectiveBatchNorm(C, T=T, per_channel=True).step_scale[...].shape == (T, C)
  with pytest.raises(ValueError, match=r"T=3"):
    tebn(jnp.zeros((2, B, C)))


def test_make_norm_kinds_and_errors():
  assert type(jn.make_norm("time_merged", 3)) is jn.BatchNorm
  assert type(jn.make_norm("per_step", 3)) is jn.PerStepBatchNorm
  assert type(jn.make_norm("tdbn", 3)) is jn.ThresholdDependentBatchNorm
  assert type(jn.make_norm("tebn", 3, T=2)) is jn.TemporalEffectiveBatchNorm
  with pytest.raises(ValueError, match="unknown kind"):
    jn.make_norm("layer", 3)
  with pytest.raises(ValueError, match="C=3"):
    jn.BatchNorm(3)(jnp.zeros((2, 4)))
  with pytest.raises(ValueError, match="more than 1 value"):
    jn.BatchNorm(3)(jnp.zeros((1, 3)))


# ---------------------------------------------------------------------------------------------
# 2. time folding == per-step Python loop (outputs and gradients)
# ---------------------------------------------------------------------------------------------
class _TinyNet(nnx.Module):
  def __init__(self, norm_kind, *, rngs):
    self.conv = jn.Conv(2, 4, 3, padding=1, rngs=rngs)
    self.bn = jn.make_norm(norm_kind, 4)
    self.lif = jn.SpikingNeuron(jsnn.neurons.clif)
    self.fc = jn.Linear(4 * 2 * 2, 3, rngs=rngs)

  def __call__(self, x_t):           # x_t [T, B, 4, 4, 2]
    h = self.lif(self.bn(self.conv(x_t)))
    return self.fc(jn.flatten(jn.avg_pool(h, 2)))

  def loop(self, x_t):
    """The same net run step by step (CLIF's single-step execution)."""
    neuron = self.lif.neuron
    state = neuron.init_state(jnp.zeros(x_t.shape[1:4] + (4,)))      # [B, H, W, C_out]
    outs = []
    for t in range(x_t.shape[0]):
      h = self.bn(self.conv(x_t[t:t + 1]))[0]                # one step: T = 1
      state, s = neuron.bound_step()(state, h)
      outs.append(self.fc(jn.flatten(jn.avg_pool(s, 2))))   # [B, ...] batches fold too
    return jnp.stack(outs)


@pytest.mark.parametrize("norm_kind, train", [("time_merged", False), ("per_step", True)])
def test_time_folding_equals_per_step_loop(norm_kind, train):
  x = 1.5 * jax.random.normal(jax.random.key(4), (3, 2, 4, 4, 2)) + 0.5
  folded, looped = _TinyNet(norm_kind, rngs=rngs(0)), _TinyNet(norm_kind, rngs=rngs(0))
  for m in (folded, looped):
    m.bn.mean[...] = jnp.array([0.1, -0.2, 0.3, 0.0])
    m.bn.var[...] = jnp.array([0.5, 2.0, 1.0, 0.7])
    m.train() if train else m.eval()
  out_f, g_f = run_step(folded, x)
  out_l, g_l = run_step(_LoopView(looped), x)
  assert np.asarray(out_f).shape == (3, 2, 3)
  assert_close(out_f, out_l, atol=1e-6)
  for (path, a), (_, b) in zip(jax.tree_util.tree_leaves_with_path(g_f),
                               jax.tree_util.tree_leaves_with_path(g_l)):
    assert_close(a, b, atol=1e-6, err_msg=jax.tree_util.keystr(path))
  assert any(np.abs(np.asarray(a)).sum() > 0 for a in jax.tree.leaves(g_f))
  assert_close(folded.bn.mean[...], looped.bn.mean[...], atol=1e-7)
  assert_close(folded.bn.var[...], looped.bn.var[...], atol=1e-7)


class _LoopView(nnx.Module):
  def __init__(self, net):
    self.net = net

  def __call__(self, x):
    return self.net.loop(x)


# ---------------------------------------------------------------------------------------------
# 3. dropout
# ---------------------------------------------------------------------------------------------
def test_dropout_mask_shared_over_time_scaled_and_identity_in_eval():
  T, B, F = 5, 64, 32
  drop = jn.Dropout(0.25, rngs=nnx.Rngs(dropout=0))
  x = jnp.ones((T, B, F))
  y = np.asarray(drop(x))
  assert np.all(y == y[:1])                                # one mask per sample, all T steps
  assert set(np.unique(y).tolist()) <= {0.0, float(np.float32(1.0) / np.float32(0.75))}
  assert 0.2 < (y[0] == 0).mean() < 0.3
  y2 = np.asarray(drop(x))
  assert not np.array_equal(y, y2)                         # a new mask per call (new batch)
  drop.eval()
  assert np.array_equal(np.asarray(drop(x)), np.asarray(x))
  with pytest.raises(ValueError, match=r"\[T, B, \.\.\.\]"):
    jn.Dropout(0.5, rngs=nnx.Rngs(0))(jnp.ones((3,)))


def test_train_eval_switch_changes_only_bn_and_dropout():
  class Net(nnx.Module):
    def __init__(self):
      self.bn = jn.BatchNorm(3)
      self.drop = jn.Dropout(0.5, rngs=nnx.Rngs(0))
      self.lif = jn.SpikingNeuron(jsnn.neurons.tet_lif)
  net = Net()
  net.eval()
  assert net.bn.use_running_average and net.drop.deterministic
  assert not hasattr(net.lif, "deterministic") and not hasattr(net.lif, "use_running_average")
  net.train()
  assert not net.bn.use_running_average and not net.drop.deterministic


# ---------------------------------------------------------------------------------------------
# 4. initialisers (HWIO fans)
# ---------------------------------------------------------------------------------------------
def test_initialisers_reproduce_pytorch_distributions():
  key = jax.random.key(5)
  k, cin, cout = 3, 64, 128
  conv = jn.Conv(cin, cout, k, rngs=rngs(0))
  w = np.asarray(conv.conv.kernel[...])
  b = np.asarray(conv.conv.bias[...])
  assert w.shape == (k, k, cin, cout)
  bound = 1 / math.sqrt(k * k * cin)                       # fan_in of HWIO = k·k·C_in
  assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
  assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
  assert np.abs(b).max() <= bound and np.abs(b).max() > 0.9 * bound
  kn = np.asarray(jn.kaiming_normal_fan_out()(key, (k, k, cin, cout)))
  assert abs(kn.std() - math.sqrt(2 / (k * k * cout))) < 0.01 * math.sqrt(2 / (k * k * cout))
  assert np.abs(kn).max() > 3 * kn.std()                   # untruncated
  lin = jn.Linear(300, 20, rngs=rngs(1))
  lw = np.asarray(lin.linear.kernel[...])
  assert lw.shape == (300, 20) and np.abs(lw).max() <= 1 / math.sqrt(300)
  nw = np.asarray(jn.normal(0.01)(key, (512, 256)))
  assert abs(nw.std() - 0.01) < 2e-4


# ---------------------------------------------------------------------------------------------
# 5. spiking neuron layer
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("factory", [jsnn.neurons.tet_lif, jsnn.neurons.sml_lif, jsnn.neurons.clif,
                                     jsnn.neurons.clif_plif, jsnn.neurons.adali_lif])
def test_spiking_neuron_equals_pure_neuron(factory):
  x = 1.2 * jax.random.normal(jax.random.key(6), (6, 2, 3, 3, 4)) + 0.6
  layer = jn.SpikingNeuron(factory)
  neuron = factory()

  @jax.jit
  def both(x):
    out, g = jax.value_and_grad(lambda x: jnp.sum(layer(x) * jnp.cos(x)))(x)
    ref, g_ref = jax.value_and_grad(lambda x: jnp.sum(neuron(x)[1] * jnp.cos(x)))(x)
    return layer(x), neuron(x)[1], g, g_ref

  out, ref, g_layer, g_ref = both(x)
  assert np.array_equal(np.asarray(out), np.asarray(ref))
  assert_close(g_layer, g_ref, atol=1e-6)


def test_learnable_constants_and_surrogate_are_params_with_gradients():
  layer = jn.SpikingNeuron(jsnn.neurons.clif_plif, learnable=("w",), learn_surrogate=True,
                           spike_fn=jsnn.surrogate.Sigmoid(alpha=4.0))
  params = nnx.state(layer, nnx.Param)
  assert set(jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(params)) == {
      "['consts']['w'].value", "['sg']['alpha'].value"}
  labels = jsnn.transforms.psg_label_fn(params)
  assert labels["sg"]["alpha"] == "surrogate" and labels["consts"]["w"] == "default"
  x = jax.random.normal(jax.random.key(7), (4, 2, 8)) + 0.8
  _, grads = run_step(layer, x, lambda s: jnp.sum(s * jnp.arange(8.0).reshape(1, 1, 8)))
  assert float(jnp.abs(grads["consts"]["w"][...])) > 0
  assert float(jnp.abs(grads["sg"]["alpha"][...])) > 0
  per_channel = jn.SpikingNeuron(jsnn.neurons.sj_plif, learnable=("w", "v_th"),
                                 learnable_shape=(8,))
  assert per_channel.consts["v_th"][...].shape == (8,) and jn.count_params(per_channel) == 16
  assert per_channel(x).shape == x.shape
  with pytest.raises(ValueError, match="expected some of"):
    jn.SpikingNeuron(jsnn.neurons.tet_lif, learnable=("tau",))


def test_set_spike_fn_inside_jit_does_not_retrace():
  class Net(nnx.Module):
    def __init__(self):
      self.a = jn.SpikingNeuron(jsnn.neurons.adali_if)
      self.b = jn.SpikingNeuron(jsnn.neurons.adali_if)

    def __call__(self, x):
      return self.b(self.a(x) + x)

  net = Net()
  graphdef, state = nnx.split(net)
  traces = []

  @jax.jit
  def grad_x(state, sg, x):
    traces.append(1)
    m = nnx.merge(graphdef, state, copy=True)
    assert jn.set_spike_fn(m, sg) == 2
    return jax.grad(lambda x: jnp.sum(m(x)))(x)

  x = jnp.linspace(-1.0, 3.0, 40).reshape(2, 20)
  g_wide = grad_x(state, jsnn.transforms.adali_surrogate(0, 100), x)
  g_narrow = grad_x(state, jsnn.transforms.adali_surrogate(99, 100), x)
  assert len(traces) == 1
  assert not np.allclose(g_wide, g_narrow)
  # outside jit, another family changes the structure
  jn.set_spike_fn(net, jsnn.surrogate.Sigmoid(alpha=2.0))
  assert isinstance(net.a.spike_fn, jsnn.surrogate.Sigmoid)


def test_record_sows_firing_rate():
  layer = jn.SpikingNeuron(jsnn.neurons.tet_lif, record=("firing_rate",))
  x = jnp.full((4, 2, 3), 0.6)
  _, inter = nnx.capture(layer, nnx.Intermediate)(x)
  assert_close(inter["firing_rate"][0], 0.25, atol=0)


def test_record_potential_is_the_pre_spike_potential_with_gradient():
  layer = jn.SpikingNeuron(jsnn.neurons.tet_lif)
  x = jnp.full((4, 2, 3), 0.6)
  plain = layer(x)
  layer.set_attributes(record=("potential",))   # nnx attribute setting, no constructor change
  spikes, inter = nnx.capture(layer, nnx.Intermediate)(x)
  assert_close(spikes, plain, atol=0)
  # TET LIF (decay 0.5, hard reset): u = 0.6, 0.9, 1.05 (spike, reset), 0.6
  assert_close(inter["potential"][0][:, 0, 0], [0.6, 0.9, 1.05, 0.6], atol=1e-6)

  graphdef, state = nnx.split(layer)

  def penalty(x):
    m = nnx.merge(graphdef, state, copy=True)
    _, inter = nnx.capture(m, nnx.Intermediate)(x)
    return jnp.sum(inter["potential"][0])

  assert float(jnp.abs(jax.grad(penalty)(x)).sum()) > 0


def test_bad_record_and_old_names_raise():
  with pytest.raises(ValueError, match=r"record=\['rate'\] is unknown; valid: \('firing_rate', 'potential'\)"):
    jn.SpikingNeuron(jsnn.neurons.tet_lif, record=("rate",))
  with pytest.raises(AttributeError, match=r"jsnn.nn.set_surrogate was renamed: use jsnn.nn.set_spike_fn"):
    jn.set_surrogate  # noqa: B018


def test_set_neuron_replaces_the_neuron_of_every_layer():
  net = nnx.Sequential(jn.SpikingNeuron(jsnn.neurons.tet_lif), jn.SpikingNeuron(jsnn.neurons.tet_lif))
  assert jn.set_neuron(net, jsnn.neurons.clif) == 2
  x = jnp.linspace(-1.0, 3.0, 48).reshape(4, 2, 6)
  _, ref = jsnn.neurons.clif()(x)
  assert_close(net.layers[0](x), ref, atol=0)
  with pytest.raises(ValueError, match="has no jsnn.nn.SpikingNeuron"):
    jn.set_neuron(nnx.Sequential(), jsnn.neurons.clif)


def test_spiking_neuron_rejects_non_time_major():
  with pytest.raises(ValueError, match=r"\[T, B, \.\.\.\]"):
    jn.SpikingNeuron(jsnn.neurons.tet_lif)(jnp.zeros((3,)))


# ---------------------------------------------------------------------------------------------
# 6. layers: PyTorch output sizes, pooling, flatten, input encoding
# ---------------------------------------------------------------------------------------------
def test_conv_and_pool_output_sizes_follow_pytorch():
  x = jnp.ones((2, 3, 7, 7, 4))
  conv = jn.Conv(4, 6, 3, stride=2, padding=1, rngs=rngs(0))
  assert conv(x).shape == (2, 3, 4, 4, 6)                  # floor((7 + 2 - 3)/2) + 1 = 4
  assert jn.Conv(4, 6, 7, stride=2, padding=3, rngs=rngs(0))(x).shape == (2, 3, 4, 4, 6)
  assert jn.avg_pool(x, 2).shape == (2, 3, 3, 3, 4)
  assert jn.max_pool(x, 3, 2, padding=1).shape == (2, 3, 4, 4, 4)
  neg = -jnp.ones((1, 4, 4, 1))                            # -inf padding keeps the max at -1
  assert np.all(np.asarray(jn.max_pool(neg, 3, 2, padding=1)) == -1)
  assert jn.flatten(x).shape == (2, 3, 7 * 7 * 4)
  with pytest.raises(ValueError, match="C=4"):
    conv(jnp.ones((2, 3, 7, 7, 3)))


def _adaptive_ref(x, oh, ow):
  h, w = x.shape[-3:-1]
  out = np.zeros(x.shape[:-3] + (oh, ow, x.shape[-1]))
  for i in range(oh):
    for j in range(ow):
      hs, he = (i * h) // oh, -((-(i + 1) * h) // oh)
      ws, we = (j * w) // ow, -((-(j + 1) * w) // ow)
      out[..., i, j, :] = x[..., hs:he, ws:we, :].mean(axis=(-3, -2))
  return out


@pytest.mark.parametrize("hw, out", [((5, 5), (3, 3)), ((1, 1), (7, 7)), ((4, 4), (2, 2)),
                                     ((3, 3), (7, 7))])
def test_adaptive_avg_pool_matches_pytorch_bins(hw, out):
  x = jax.random.normal(jax.random.key(8), (2, 3) + hw + (4,))
  assert_close(jn.adaptive_avg_pool(x, out), _adaptive_ref(np.asarray(x), *out), atol=1e-6)


def test_encode_input_layouts_and_errors():
  img = jnp.ones((2, 8, 8, 3))
  assert jn.encode_input(img, T=4, kind="image", sample_shape=(8, 8, 3)).shape == (4, 2, 8, 8, 3)
  frames = jnp.ones((4, 2, 8, 8, 2))
  assert jn.encode_input(frames, T=4, kind="frames", sample_shape=(8, 8, 2)) is not None
  with pytest.raises(ValueError, match=r"static images \[B, H=8, W=8, C=3\]"):
    jn.encode_input(jnp.ones((4, 2, 8, 8, 3)), T=4, kind="image", sample_shape=(8, 8, 3))
  with pytest.raises(ValueError, match=r"time-major frames \[T=4, B, H=8, W=8, C=2\]"):
    jn.encode_input(jnp.ones((2, 8, 8, 2)), T=4, kind="frames", sample_shape=(8, 8, 2))
  with pytest.raises(ValueError, match="batch-first"):
    jn.encode_input(jnp.ones((2, 4, 8, 8, 2)), T=4, kind="frames", sample_shape=(8, 8, 2))
  with pytest.raises(ValueError, match=r"per-sample shape \[8, 8, 1\]"):
    jn.encode_input(jnp.ones((2, 8, 8, 1)), T=4, kind="image", sample_shape=(8, 8, 3))
  with pytest.raises(TypeError, match="floating"):
    jn.encode_input(jnp.ones((2, 8, 8, 3), jnp.uint8), T=4, kind="image", sample_shape=(8, 8, 3))


def test_time_folded_wrapper():
  lin = nnx.Linear(3, 2, rngs=rngs(0))
  x = jax.random.normal(jax.random.key(9), (4, 5, 3))
  y = jn.TimeFolded(lin, ndim=1)(x)
  assert_close(y, jnp.stack([lin(x[t]) for t in range(4)]), atol=1e-6)


def test_unrolled_scan_matches_loop():
  x = 1.2 * jax.random.normal(jax.random.key(10), (5, 2, 7)) + 0.6
  layer = jn.SpikingNeuron(jsnn.neurons.clif)
  ref, ref_states = layer.run_with_states(x)
  g_ref = jax.grad(lambda x: jnp.sum(layer(x) * jnp.sin(x)))(x)
  layer.unroll = True
  out, states = layer.run_with_states(x)
  assert np.array_equal(np.asarray(out), np.asarray(ref))
  assert_close(states.m, ref_states.m, atol=1e-6)
  assert_close(jax.grad(lambda x: jnp.sum(layer(x) * jnp.sin(x)))(x), g_ref, atol=1e-6)


_SHARDED_BN = """
import jax
jax.config.update("jax_num_cpu_devices", 2)
jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")
import jax.numpy as jnp, numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from flax import nnx
import jsnn.nn as jn

assert len(jax.devices()) == 2
mesh = Mesh(np.array(jax.devices()), ("data",))
# [T, B, C]; the two halves of the batch have different statistics
shift = jnp.repeat(jnp.array([0.0, 4.0]), 4).reshape(1, 8, 1)
x = jax.random.normal(jax.random.key(0), (3, 8, 5)) + shift
results = []
for kind in ("time_merged", "per_step"):
  for sharded in (False, True):
    bn = jn.make_norm(kind, 5)
    graphdef, state = nnx.split(bn)
    xs = jax.device_put(x, NamedSharding(mesh, P(None, "data"))) if sharded else x

    @jax.jit
    def f(state, x):
      m = nnx.merge(graphdef, state, copy=True)
      return m(x), nnx.state(m)

    y, new = f(state, xs)
    if sharded:
      assert y.sharding.spec[1] == "data", y.sharding
    results.append((np.asarray(y), np.asarray(new["mean"][...]), np.asarray(new["var"][...])))
  for a, b in zip(results[-2], results[-1]):
    np.testing.assert_allclose(a, b, atol=1e-5)
print("OK")
"""


def test_bn_statistics_are_global_when_the_batch_is_sharded_under_jit():
  """jit + NamedSharding: the batch mean is global (SyncBN) with no axis_name (2 CPU devices)."""
  proc = subprocess.run([sys.executable, "-c", _SHARDED_BN], capture_output=True, text=True,
                        timeout=300, env=dict(os.environ))
  assert proc.returncode == 0 and proc.stdout.strip().endswith("OK"), proc.stderr[-2000:]


def test_docstring_example_runs():
  import doctest

  import jsnn.nn._neuron as neuron_module
  assert doctest.testmod(neuron_module).failed == 0


def test_psg_parametric_surrogate_is_learned_as_rho():
  sg = jsnn.transforms.parametric_surrogate(jsnn.surrogate.Sigmoid(), 4.0)
  layer = jn.SpikingNeuron(jsnn.neurons.tet_lif, spike_fn=sg, learn_surrogate=True)
  params = nnx.state(layer, nnx.Param)
  assert jsnn.transforms.psg_label_fn(params)["sg"]["rho"] == "surrogate"
  x = jax.random.normal(jax.random.key(11), (4, 2, 5)) + 0.8
  _, grads = run_step(layer, x, lambda s: jnp.sum(s * jnp.arange(5.0).reshape(1, 1, 5)))
  assert float(jnp.abs(grads["sg"]["rho"][...])) > 0
