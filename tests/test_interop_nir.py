"""NIR export / import (issue 15): round trips, an independent numpy simulation, files, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

nir = pytest.importorskip("nir")

import jsnn  # noqa: E402
import jsnn.nn as jn  # noqa: E402
from jsnn import neurons, surrogate  # noqa: E402
from jsnn.interop import AvgPool, Flatten, Sequential, SumPool  # noqa: E402
from jsnn.interop import nir as jnir  # noqa: E402


def _conv_net(neuron_a, neuron_b, *, seed=0, learnable=()):
  r = nnx.Rngs(seed)
  net = Sequential(
      jn.Conv(2, 4, 3, padding=1, rngs=r), jn.SpikingNeuron(neuron_a, learnable=learnable),
      AvgPool(2), jn.Conv(4, 6, 3, stride=2, padding=1, rngs=r),
      jn.SpikingNeuron(neuron_b, learnable=learnable), SumPool(2), Flatten("hwc"),
      jn.Linear(6, 5, rngs=r), jn.SpikingNeuron(neuron_a, learnable=learnable),
      jn.Linear(5, 3, rngs=r))
  for i, scale in ((3, 12.0), (7, 4.0)):      # stronger drive so the deeper layers spike too
    layer = net.layers[i]
    k = layer.conv.kernel if isinstance(layer, jn.Conv) else layer.linear.kernel
    k[...] = k[...] * scale
  return net


def _x(seed=1, T=6, B=3, shape=(8, 8, 2), scale=2.5):
  return jax.random.uniform(jax.random.key(seed), (T, B) + shape) * scale


def _layer_outputs(model, x):
  outs = []
  for layer in model.layers:
    x = layer(x)
    outs.append(np.asarray(x))
  return outs


NEURON_PAIRS = [
    (neurons.tet_lif, neurons.sml_lif),
    (neurons.sj_if, lambda: neurons.sj_lif(tau=3.0)),
    (lambda: neurons.sj_lif(decay_input=False, tau=1.5),
     lambda: neurons.sj_lif(sj_version="0.0.0.0.14")),
    (lambda: neurons.tet_lif(decay=0.8, v_th=0.7), lambda: neurons.sml_lif(decay=1.0)),
]


@pytest.mark.parametrize("pair", range(len(NEURON_PAIRS)))
def test_round_trip_identical_spikes(pair):
  a, b = NEURON_PAIRS[pair]
  net = _conv_net(a, b)
  graph = jnir.to_nir(net, (8, 8, 2))
  back = jnir.from_nir(graph)
  x = _x()
  want, got = _layer_outputs(net, x), _layer_outputs(back, x)
  assert len(want) == len(got)
  for i, (w, g) in enumerate(zip(want, got)):
    np.testing.assert_array_equal(g, w, err_msg=f"layer {i}")
  assert 0 < want[1].mean() < 1 and 0 < want[4].mean() < 1      # spikes, not all or nothing


def test_round_trip_flatten_of_a_map_is_bitwise():
  r = nnx.Rngs(3)
  net = Sequential(jn.Conv(2, 3, 3, padding=1, rngs=r), jn.SpikingNeuron(neurons.tet_lif),
                   Flatten(), jn.Linear(8 * 8 * 3, 4, rngs=r), jn.SpikingNeuron(neurons.tet_lif))
  graph = jnir.to_nir(net, (8, 8, 2))
  w = np.asarray(net.layers[3].linear.kernel[...])       # jsnn (h, w, c) rows -> NIR (c, h, w) cols
  np.testing.assert_array_equal(graph.nodes["3"].weight[:, (2 * 8 + 5) * 8 + 7], w[(5 * 8 + 7) * 3 + 2])
  back = jnir.from_nir(graph)
  x = _x(seed=4)
  for i, (w_, g_) in enumerate(zip(_layer_outputs(net, x), _layer_outputs(back, x))):
    np.testing.assert_array_equal(g_, w_, err_msg=f"layer {i}")


def test_round_trip_plif_learned_w_and_soft_reset_metadata():
  net = Sequential(jn.Linear(6, 8, rngs=nnx.Rngs(0)),
                   jn.SpikingNeuron(neurons.sj_plif, learnable=("w",), learnable_shape=(8,)),
                   jn.Linear(8, 4, rngs=nnx.Rngs(1)), jn.SpikingNeuron(neurons.adali_if))
  net.layers[1].consts["w"][...] = jnp.linspace(-1.0, 2.0, 8)
  with pytest.raises(ValueError, match=r"layer 3 \(SpikingNeuron\): if_step uses soft reset"):
    jnir.to_nir(net, (6,))
  graph = jnir.to_nir(net, (6,), soft_reset="metadata")
  assert graph.nodes["3"].metadata["reset"] == "subtract"
  np.testing.assert_allclose(graph.nodes["1"].tau, 1 + np.exp(-np.linspace(-1.0, 2.0, 8)),
                             rtol=1e-6)
  x = _x(shape=(6,))
  np.testing.assert_array_equal(jnir.from_nir(graph)(x), net(x))


def test_write_read_file_round_trip(tmp_path):
  net = _conv_net(neurons.tet_lif, neurons.sj_lif)
  path = tmp_path / "net.nir"
  nir.write(str(path), jnir.to_nir(net, (8, 8, 2), dt=1e-3))
  graph = nir.read(str(path))
  assert isinstance(graph.nodes["1"], nir.LIF) and isinstance(graph.nodes["0"], nir.Conv2d)
  np.testing.assert_allclose(graph.nodes["1"].tau, 2e-3)        # decay 0.5 at dt = 1 ms
  x = _x()
  np.testing.assert_array_equal(jnir.from_nir(graph)(x), net(x))


def test_batchnorm_folded_in_eval_mode():
  r = nnx.Rngs(0)
  net = Sequential(jn.Conv(2, 4, 3, padding=1, rngs=r), jn.BatchNorm(4),
                   jn.SpikingNeuron(neurons.tet_lif), Flatten(), jn.Linear(8 * 8 * 4, 3, rngs=r),
                   jn.BatchNorm(3))
  bn = net.layers[1]
  bn.scale[...] = jnp.array([0.5, 1.5, -1.0, 2.0])
  bn.bias[...] = jnp.array([0.1, -0.2, 0.3, 0.0])
  bn.mean[...] = jnp.array([0.2, -0.1, 0.0, 0.5])
  bn.var[...] = jnp.array([0.5, 2.0, 1.0, 0.25])
  net.eval()
  graph = jnir.to_nir(net, (8, 8, 2))
  assert [type(n).__name__ for n in graph.nodes.values()] == [
      "Input", "Conv2d", "LIF", "Flatten", "Affine", "Output"]
  back = jnir.from_nir(graph)
  x = _x()
  currents = np.asarray(net.layers[1](net.layers[0](x)))
  np.testing.assert_allclose(np.asarray(back.layers[0](x)), currents, rtol=1e-5, atol=1e-5)
  assert np.mean(np.asarray(back(x)) == 0) < 1
  np.testing.assert_allclose(np.asarray(back(x)), np.asarray(net(x)), rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------- an independent numpy simulator
def _np_conv(x, w, b, stride, pad):
  """x [N, C, H, W], w OIHW (PyTorch Conv2d)."""
  n, c, h, wd = x.shape
  o, _, kh, kw = w.shape
  xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
  ho, wo = (h + 2 * pad[0] - kh) // stride[0] + 1, (wd + 2 * pad[1] - kw) // stride[1] + 1
  y = np.zeros((n, o, ho, wo))
  for i in range(ho):
    for j in range(wo):
      patch = xp[:, :, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw]
      y[:, :, i, j] = np.einsum("nchw,ochw->no", patch, w)
  return y + b.reshape(1, -1, 1, 1)


def _np_pool(x, k, s, mean):
  n, c, h, w = x.shape
  ho, wo = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
  y = np.zeros((n, c, ho, wo))
  for i in range(ho):
    for j in range(wo):
      win = x[:, :, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]]
      y[:, :, i, j] = win.mean((2, 3)) if mean else win.sum((2, 3))
  return y


def simulate(graph, x_tbchw, dt):
  """NIR semantics, forward Euler: LIF `v += dt/tau (v_leak - v + r I)`, IF `v += dt r I`, fire
  when `v > v_threshold`, reset to `v_reset`, `v = 0` at the start. Float64, channels-first."""
  order, cur = [], "input"
  edges = dict(graph.edges)
  while edges[cur] != "output":
    cur = edges[cur]
    order.append(cur)
  state = {k: 0.0 for k in order}
  outs, margin = [], np.inf
  for t in range(x_tbchw.shape[0]):
    h = x_tbchw[t]
    for k in order:
      n = graph.nodes[k]
      if isinstance(n, nir.Conv2d):
        h = _np_conv(h, n.weight, n.bias, np.broadcast_to(n.stride, 2),
                     np.broadcast_to(n.padding, 2))
      elif isinstance(n, nir.Affine):
        h = h @ n.weight.T + n.bias
      elif isinstance(n, nir.Linear):
        h = h @ n.weight.T
      elif isinstance(n, nir.Flatten):
        h = h.reshape(h.shape[0], -1)
      elif isinstance(n, (nir.AvgPool2d, nir.SumPool2d)):
        h = _np_pool(h, np.broadcast_to(n.kernel_size, 2), np.broadcast_to(n.stride, 2),
                     isinstance(n, nir.AvgPool2d))
      elif isinstance(n, nir.LIF):
        v = state[k] + dt / n.tau * (n.v_leak - state[k] + n.r * h)
        margin = min(margin, np.abs(v - n.v_threshold).min())
        z = (v > n.v_threshold).astype(np.float64)
        state[k] = np.where(z > 0, n.v_reset, v)
        h = z
      elif isinstance(n, nir.IF):
        v = state[k] + dt * n.r * h
        margin = min(margin, np.abs(v - n.v_threshold).min())
        z = (v > n.v_threshold).astype(np.float64)
        state[k] = np.where(z > 0, n.v_reset, v)
        h = z
      else:  # a graph node this reference simulator has no rule for: say so, never skip it
        raise TypeError(f"the numpy NIR simulator has no rule for {type(n).__name__} "
                        f"(node {k!r}); add one before testing graphs that use it")
    outs.append(h)
  return np.stack(outs), margin


def _hwc_to_chw(x):
  return np.moveaxis(np.asarray(x, np.float64), -1, -3)


def test_numpy_simulation_equals_jsnn_forward_of_exported_graph():
  net = _conv_net(neurons.tet_lif, lambda: neurons.sj_lif(tau=3.0, decay_input=False))
  graph = jnir.to_nir(net, (8, 8, 2))
  x = _x(seed=5)
  want, margin = simulate(graph, _hwc_to_chw(x), dt=1.0)
  assert margin > 1e-5            # no potential within float32 rounding of a threshold
  np.testing.assert_allclose(np.asarray(net(x)), want, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(np.asarray(jnir.from_nir(graph)(x)), want, rtol=1e-5, atol=1e-5)


def _foreign_graphs(dt):
  """Graphs written the way snnTorch (Leaky: tau = dt/(1-beta), r = tau/dt, v_leak = 0) and Norse
  (LIF: r = 1, v_leak / v_reset from its parameters, IF for the readout layer) write them."""
  rng = np.random.RandomState(0)
  w1, b1 = rng.randn(7, 5) * 0.8, rng.randn(7) * 0.3
  w2, b2 = np.abs(rng.randn(4, 7)) * 0.8 - 0.2, rng.randn(4) * 0.1
  beta = np.linspace(0.5, 0.95, 7)
  tau = dt / (1 - beta)
  snntorch = nir.NIRGraph.from_list(
      nir.Affine(weight=w1, bias=b1),
      nir.LIF(tau=tau, r=tau / dt, v_leak=np.zeros(7), v_threshold=np.ones(7)),
      nir.Affine(weight=w2, bias=b2),
      nir.LIF(tau=np.full(4, 2 * dt), r=np.full(4, 2.0), v_leak=np.zeros(4),
              v_threshold=np.full(4, 0.8)))
  norse = nir.NIRGraph(
      nodes={"input": nir.Input(input_type={"input": np.array([5])}),
             "fc1": nir.Affine(weight=w1, bias=b1),
             "lif": nir.LIF(tau=np.full(7, 5 * dt), r=np.ones(7), v_leak=np.full(7, 0.1),
                            v_threshold=np.full(7, 0.3), v_reset=np.full(7, -0.1)),
             "fc2": nir.Linear(weight=w2),
             "if": nir.IF(r=np.full(4, 0.5 / dt), v_threshold=np.full(4, 0.5)),
             "output": nir.Output(output_type={"output": np.array([4])})},
      edges=[("input", "fc1"), ("fc1", "lif"), ("lif", "fc2"), ("fc2", "if"), ("if", "output")])
  return {"snntorch": snntorch, "norse": norse}


@pytest.mark.parametrize("name", ["snntorch", "norse"])
def test_foreign_graph_import_matches_numpy_simulation(name, tmp_path):
  dt = 1e-3
  graph = _foreign_graphs(dt)[name]
  path = tmp_path / f"{name}.nir"
  nir.write(str(path), graph)
  graph = nir.read(str(path))
  x = np.asarray(_x(seed=7, T=12, B=4, shape=(5,), scale=1.5))
  want, margin = simulate(graph, np.asarray(x, np.float64), dt=dt)
  assert margin > 1e-5
  model = jnir.from_nir(graph, dt=dt)
  got = np.asarray(model(jnp.asarray(x)))
  np.testing.assert_array_equal(got, want)
  assert 0 < want.mean() < 1
  if name == "snntorch":   # v <- beta v + x: imported as the TET/SML decay LIF
    assert model.layers[1].step is neurons.decay_lif_step
    np.testing.assert_allclose(model.layers[1].consts["decay"][...], np.linspace(0.5, 0.95, 7),
                               rtol=1e-6)


# ------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("neuron, match", [
    (neurons.clif, r"layer 1 \(SpikingNeuron\): CLIF \(clif_step\) .* nearest NIR-expressible "
                   r"neuron: jsnn.neurons.sj_lif\(tau=2.0, v_reset=0.0\)"),
    (lambda: neurons.sj_lif(v_reset=-0.2), r"resets hard to v_reset=-0.2 != 0; .* Nearest option: "
                                            r"v_reset=0.0"),
    (lambda: neurons.sj_if(v_reset=None), r"if_step uses soft reset .* Nearest NIR neuron: the same "
                                          r"one with v_reset=0.0"),
    (lambda: neurons.tet_lif(spike_fn=surrogate.MultiLevelSpikeCount(max_spike_count=4)),
     r"the surrogate MultiLevelSpikeCount has a forward that is not a Heaviside step"),
])
def test_unsupported_neurons(neuron, match):
  net = Sequential(jn.Linear(3, 2, rngs=nnx.Rngs(0)), jn.SpikingNeuron(neuron))
  with pytest.raises(ValueError, match=match):
    jnir.to_nir(net, (3,))


def test_unsupported_layers_and_arguments():
  r = nnx.Rngs(0)
  with pytest.raises(ValueError, match=r"layer 1 \(Dropout\): no NIR node for this layer"):
    jnir.to_nir(Sequential(jn.Linear(3, 2, rngs=r), jn.Dropout(0.5, rngs=r)), (3,))
  with pytest.raises(ValueError, match=r"layer 0 \(BatchNorm\): NIR has no BatchNorm node and this "
                                       r"one does not follow a Conv/Linear"):
    jnir.to_nir(Sequential(jn.BatchNorm(3)), (3,))
  with pytest.raises(ValueError, match=r"only jsnn.nn.BatchNorm \(time-merged\) folds"):
    jnir.to_nir(Sequential(jn.Linear(3, 2, rngs=r), jn.PerStepBatchNorm(2)), (3,))
  with pytest.raises(ValueError, match=r"soft_reset must be one of \('error', 'metadata'\)"):
    jnir.to_nir(Sequential(jn.Linear(3, 2, rngs=r)), (3,), soft_reset="subtract")
  with pytest.raises(TypeError, match=r"expected a jsnn.interop.Sequential, nnx.Sequential or "
                                      r"jsnn.models.vggsnn model, got Linear"):
    jnir.to_nir(jn.Linear(3, 2, rngs=r), (3,))


def test_import_errors():
  w = np.ones((2, 3))
  cuba = nir.NIRGraph.from_list(
      nir.Affine(weight=w, bias=np.zeros(2)),
      nir.CubaLIF(tau_syn=np.ones(2), tau_mem=np.ones(2), r=np.ones(2), v_leak=np.zeros(2),
                  v_threshold=np.ones(2)))
  with pytest.raises(ValueError, match=r"CubaLIF\): current-based LIF .* nearest option: nir.LIF"):
    jnir.from_nir(cuba)
  li = nir.NIRGraph.from_list(nir.Affine(weight=w, bias=np.zeros(2)),
                              nir.LI(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2)))
  with pytest.raises(ValueError, match=r"\(LI\): no jsnn layer for this node"):
    jnir.from_nir(li)
  branch = nir.NIRGraph(
      nodes={"input": nir.Input(input_type={"input": np.array([3])}),
             "a": nir.Linear(weight=w), "b": nir.Linear(weight=w),
             "output": nir.Output(output_type={"output": np.array([2])})},
      edges=[("input", "a"), ("input", "b"), ("a", "output"), ("b", "output")])
  with pytest.raises(ValueError, match=r"only sequential graphs are supported; node 'input' has 2 "
                                       r"successors"):
    jnir.from_nir(branch)


def test_zoo_vggsnn_exports_with_folded_batchnorm():
  from jsnn.models import vggsnn
  m = vggsnn._VGGSNNTiny(num_classes=10, T=3, rngs=nnx.Rngs(0))
  x = _x(seed=2, T=3, B=2, shape=m.input_size + (2,), scale=1.0)
  m.train()
  m(x)                          # one training call: non-trivial running statistics
  m.eval()
  graph = jnir.to_nir(m, m.input_size + (2,))
  kinds = [type(n).__name__ for n in graph.nodes.values()]
  assert "Conv2d" in kinds and "AvgPool2d" in kinds and kinds[-2:] == ["Affine", "Output"]
  back = jnir.from_nir(graph)
  np.testing.assert_allclose(np.asarray(back(x)), np.asarray(m(x)), rtol=1e-4, atol=1e-4)
