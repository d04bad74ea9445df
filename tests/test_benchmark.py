"""experiments/benchmark.py: the paired-ratio maths, the ANN swap, and the CI command end to end."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jsnn
import jsnn.nn as jn
from experiments import benchmark
from experiments.bench import jsnn_worker

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_paired_ratio_cancels_drift():
  # The machine slows down 3x halfway; `a` is always 0.8x of `b` in the same round.
  b = [100.0, 100.0, 300.0, 300.0, 300.0]
  a = [80.0, 80.0, 240.0, 240.0, 240.0]
  assert benchmark.paired_ratio(a, b) == pytest.approx(0.8)
  # The ratio of unpaired medians is off when `a` ran in more slow rounds than `b`.
  a_late = [80.0, 240.0, 240.0, 240.0, 240.0]
  assert benchmark.paired_ratio(a_late, [100.0, 300.0, 300.0, 300.0, 300.0]) == pytest.approx(0.8)
  assert benchmark.paired_ratio([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]) == pytest.approx(1.0)
  assert benchmark.paired_ratio([3.0, 1.0], [1.0, 1.0]) == pytest.approx(2.0)  # median of 3, 1


@pytest.mark.parametrize("a,b", [([], []), ([1.0], [1.0, 2.0])])
def test_paired_ratio_rejects_unpaired(a, b):
  with pytest.raises(ValueError, match="equally long"):
    benchmark.paired_ratio(a, b)


def test_summarise_ratios():
  e = dict(framework="jsnn", variant="snn", flops=2e9)
  times = {("jsnn", "snn"): [20.0, 30.0, 40.0], ("jsnn", "ann"): [10.0, 20.0, 20.0],
           ("spikingjelly", "snn"): [40.0, 60.0, 80.0], ("spikingjelly", "ann"): [1.0, 1.0, 1.0]}
  benchmark._summarise(e, times)
  assert e["median_ms"] == 30.0 and e["min_ms"] == 20.0 and e["max_ms"] == 40.0
  assert e["ratio_vs_ann"] == pytest.approx(2.0)          # median of 2, 1.5, 2
  assert e["ratio_vs_peer"] == {"spikingjelly/snn": pytest.approx(0.5)}
  assert e["gflops_per_s"] == pytest.approx(2e9 / 30.0 / 1e6)


class _Block(nnx.Module):
  def __init__(self):
    self.sn = jn.SpikingNeuron(jsnn_worker.sj_lif)


class _Net(nnx.Module):  # neurons as an attribute, in a list, and nested in a listed block
  def __init__(self):
    self.sn = jn.SpikingNeuron(jsnn_worker.sj_lif)
    self.layers = nnx.List([jn.SpikingNeuron(jsnn_worker.sj_lif), _Block()])

  def __call__(self, x):
    return self.layers[1].sn(self.layers[0](self.sn(x)))


def test_to_ann_replaces_every_neuron():
  model = _Net()
  assert jsnn_worker.to_ann(model) == 3
  assert not any(isinstance(m, jn.SpikingNeuron) for _, m in nnx.iter_modules(model))
  x = jnp.asarray([[[-1.0, 2.0]]])
  np.testing.assert_array_equal(model(x), [[[0.0, 2.0]]])


def test_unknown_workload_is_a_usage_error(capsys):
  with pytest.raises(SystemExit):
    benchmark.main(["--workload", "nope"])
  assert "unknown workload" in capsys.readouterr().err


@pytest.mark.slow
def test_conv_cifar_json_ci_command():
  """The issue's CI command at reduced repeats (jsnn only, 1 thread): JSON with an SNN/ANN ratio."""
  cmd = [sys.executable, "-m", "experiments.benchmark", "--workload", "conv_cifar", "--json",
         "--repeats", "3", "--threads", "1", "--variants", "snn,ann", "--no-plain-jax"]
  out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=170, check=True)
  entries = json.loads(out.stdout)
  assert {e["variant"] for e in entries} == {"snn", "ann"}
  for e in entries:
    missing = [k for k in benchmark.REQUIRED_KEYS if k not in e]
    assert not missing, missing
    assert e["workload"] == "conv_cifar" and e["framework"] == "jsnn"
    assert (e["T"], e["batch"]) == benchmark.WORKLOADS["conv_cifar"]
    assert 0 < e["min_ms"] <= e["median_ms"] <= e["max_ms"]
    assert e["peak_temp_bytes"] > 0
  snn = next(e for e in entries if e["variant"] == "snn")
  assert snn["ratio_vs_ann"] > 0
  assert "vs ANN" in out.stderr  # the table goes to stderr in --json mode


class _ConvNet(nnx.Module):
  def __init__(self):
    rngs = nnx.Rngs(0)
    self.convs = nnx.List([jn.Conv(3, 4, 3, stride=2, padding=1, rngs=rngs)])
    self.fc = jn.Linear(4, 2, rngs=rngs)

  def __call__(self, x):
    return self.fc(jnp.mean(self.convs[0](x), axis=(-3, -2)))


def test_fast_grads_variant_sets_wgrad_and_keeps_outputs_and_grads():
  """``*_fg`` switches the library option (``wgrad=``) on every Conv / Linear; the maths of the
  option itself is tested in tests/test_nn_wgrad.py."""
  model = _ConvNet()
  x = jax.random.normal(jax.random.key(1), (2, 3, 8, 8, 3))  # [T, B, H, W, C]
  loss = nnx.jit(lambda m, x: jnp.sum(jnp.sin(m(x))))
  ref, ref_g = loss(model, x), nnx.grad(loss)(model, x)
  assert jsnn_worker.use_fast_grads(model) == 2
  assert (model.convs[0].wgrad, model.fc.wgrad) == ("taps", "transpose")
  np.testing.assert_array_equal(loss(model, x), ref)
  got_g = nnx.grad(loss)(model, x)
  np.testing.assert_allclose(got_g.convs[0].conv.kernel[...], ref_g.convs[0].conv.kernel[...],
                             rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(got_g.fc.linear.kernel[...], ref_g.fc.linear.kernel[...],
                             rtol=1e-4, atol=1e-6)


# --- plain-JAX reference networks (experiments/bench/jax_worker.py) ----------------------------

def test_plain_jax_lif_and_spike_match_jsnn():
  """The hand-written LIF scan and custom_vjp spike compute what jsnn's SpikingJelly LIF
  (tau=2, no decay_input, soft reset, Sigmoid(4)) computes: spikes and input gradients."""
  from experiments.bench import jax_worker
  x = jax.random.normal(jax.random.key(0), (16, 4, 32)) + 0.4
  g = jax.random.normal(jax.random.key(1), (16, 4, 32))
  layer = jn.SpikingNeuron(jsnn_worker.sj_lif, residuals="default")
  ref, ref_vjp = jax.vjp(layer, x)
  out, vjp = jax.vjp(jax_worker.lif, x)
  np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))
  np.testing.assert_allclose(np.asarray(vjp(g)[0]), np.asarray(ref_vjp(g)[0]), rtol=1e-6,
                             atol=1e-6)


@pytest.mark.parametrize("workload", ["lif_mlp", "conv_cifar"])
def test_plain_jax_step_trains(workload):
  """A plain-JAX entry builds, steps (loss finite, parameters change) and has both variants."""
  from experiments.bench import jax_worker
  for variant in ("snn", "ann"):
    step, state, batch = jax_worker.build_step(workload, variant, 2, 2)
    before = jax.tree.map(np.asarray, state[0])
    with jax.numpy_dtype_promotion("standard"):  # optax's Adam count, as in the worker
      state, loss = step(state, *batch)
    assert np.isfinite(float(loss))
    changed = [not np.array_equal(a, np.asarray(b))
               for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(state[0]))]
    assert any(changed)
  with pytest.raises(ValueError, match="lif_mlp and conv_cifar only"):
    jax_worker.build_step("vggsnn", "snn", 2, 2)


def test_summarise_pairs_pre_16_defaults_and_plain_jax():
  times = {("jsnn", "snn_ad"): [30.0, 30.0], ("jsnn", "ann_ad"): [20.0, 20.0],
           ("jsnn", "ann"): [10.0, 10.0], ("jax", "snn"): [15.0, 15.0]}
  e = dict(framework="jsnn", variant="snn_ad", flops=None)
  benchmark._summarise(e, times)
  assert e["ratio_vs_ann"] == pytest.approx(1.5)              # against ann_ad, not ann
  assert e["ratio_vs_peer"] == {"jax/snn": pytest.approx(2.0)}
  e = dict(framework="jsnn", variant="snn", flops=None)
  benchmark._summarise(e, {("jsnn", "snn"): []})              # --memory-only: not timed
  assert e["median_ms"] is None and e["ratio_vs_ann"] is None


# --- SpikingJelly's LIF case and the GPU check script ---------------------------------------------

def test_lif_bandwidth_tiny_on_cpu():
  from experiments.bench import lif_bandwidth
  rows = lif_bandwidth.main(["--T", "2,4", "--batch", "2", "--neurons", "64", "--rounds", "2",
                             "--peak-gbs", "100"])
  assert [r["T"] for r in rows] == [2, 4]
  for r in rows:
    assert r["min_bytes"] == 6 * r["T"] * 2 * 64 * 2        # six fp16 passes over [T, B, N]
    assert r["median_ms"] > 0 and r["min_gbs"] > 0
    assert r["min_frac_peak"] == pytest.approx(r["min_gbs"] / 100)
  assert lif_bandwidth.peak_gbs("NVIDIA H100 80GB HBM3") == 3350.0
  assert lif_bandwidth.peak_gbs("NVIDIA H100 PCIe") == 2000.0
  assert lif_bandwidth.peak_gbs("cpu") is None
  # the timed function is the LIF's forward and backward: spikes and dX equal jax.vjp's
  x = jax.random.normal(jax.random.key(0), (3, 2, 8)) + 0.5
  g = jax.random.normal(jax.random.key(1), (3, 2, 8))
  s, dx = lif_bandwidth.lif_fwd_bwd()(x, g)
  ref, vjp = jax.vjp(lambda x: jsnn.neurons.sj_lif()(x, residuals="default")[1], x)
  np.testing.assert_array_equal(np.asarray(s), np.asarray(ref))
  np.testing.assert_allclose(np.asarray(dx), np.asarray(vjp(g)[0]), rtol=1e-6, atol=1e-7)


@pytest.mark.slow
def test_gpu_check_script_tiny(tmp_path):
  """experiments/gpu_check.sh at tiny size on the CPU: the device and LIF parts run for real;
  the benchmark, zoo and memory commands (minutes on this CPU) run as a dry run whose printed
  command lines the benchmark's own parser accepts."""
  script = ROOT / "experiments" / "gpu_check.sh"
  env = dict(os.environ, TINY="1", PYTHON=sys.executable, PARTS="device,lif")
  subprocess.run(["bash", str(script), str(tmp_path / "real")], cwd=ROOT, env=env, check=True,
                 timeout=300, capture_output=True, text=True)
  rows = json.loads((tmp_path / "real" / "lif_bandwidth.json").read_text())
  assert [r["T"] for r in rows] == [4, 8] and all(r["median_ms"] > 0 for r in rows)
  assert "multi-step LIF" in (tmp_path / "real" / "lif_bandwidth.txt").read_text()
  env = dict(os.environ, TINY="1", PYTHON="echo", PARTS="bench,zoo,memory")
  subprocess.run(["bash", str(script), str(tmp_path / "dry")], cwd=ROOT, env=env, check=True,
                 timeout=60, capture_output=True, text=True)
  files = sorted(p.name for p in (tmp_path / "dry").glob("*.json"))
  assert files == ["bench.json", "memory_resnet19.json", "zoo.json"]
  parser = benchmark.build_parser()
  for name in files:
    argv = (tmp_path / "dry" / name).read_text().split()
    assert argv[:2] == ["-m", "experiments.benchmark"]
    args = parser.parse_args(argv[2:])
    assert benchmark._workload_list(args.workloads, parser)
    if name.startswith("memory"):
      assert args.variants == "snn,snn_ad,snn_layer,snn_layer_ad"
