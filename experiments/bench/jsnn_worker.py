"""jsnn benchmark worker: the workloads as jitted train steps (run as a subprocess of benchmark.py).

Variants: ``snn`` (plain autodiff BPTT), ``snn_remat`` (per-step rematerialisation),
``snn_chunk`` (chunked-time remat, k = 4 or T/4), ``ann`` (the same network with ReLU on the
time-folded batch: same FLOPs minus the neuron, the physical limit an SNN step can reach).
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jsnn
from experiments.bench import protocol


def _lif():
  # SpikingJelly LIFNode(tau=2, decay_input=False, v_reset=None), Sigmoid(alpha=4).
  return jsnn.neurons.sj_lif(tau=2.0, v_reset=None, decay_input=False,
                             spike_fn=jsnn.surrogate.Sigmoid(4.0))


def _remat(variant, t):
  return {"snn": None, "snn_remat": "step", "snn_chunk": max(1, t // 4) if t % 4 == 0 else None,
          "ann": None}[variant]


def _activation(variant, t, b):
  """``f(h)`` on a time-folded ``[T·B, ...]`` tensor: LIF over time, or ReLU for the ANN."""
  if variant == "ann":
    return jax.nn.relu
  lif, remat = _lif(), _remat(variant, t)

  def spike(h):
    h_t = h.reshape((t, b) + h.shape[1:])
    return lif(h_t, remat=remat)[1].reshape(h.shape)

  return spike


def _dense(key, fan_in, fan_out):
  bound = 1.0 / np.sqrt(fan_in)  # PyTorch nn.Linear default init
  kw, kb = jax.random.split(key)
  return {"w": jax.random.uniform(kw, (fan_in, fan_out), minval=-bound, maxval=bound),
          "b": jax.random.uniform(kb, (fan_out,), minval=-bound, maxval=bound)}


def lif_mlp(variant, t, b):
  """``[T, B, 700]`` → Linear 512 → LIF → Linear 512 → LIF → Linear 20, CE on time-summed logits."""
  keys = jax.random.split(jax.random.key(0), 4)
  params = [_dense(keys[0], 700, 512), _dense(keys[1], 512, 512), _dense(keys[2], 512, 20)]
  x = (jax.random.uniform(keys[3], (t, b, 700)) < 0.1).astype(jnp.float32)
  y = jnp.arange(b) % 20
  act = _activation(variant, t, b)

  def loss_fn(params, x, y):
    h = x.reshape(t * b, 700)
    for layer in params[:-1]:
      h = act(h @ layer["w"] + layer["b"])
    logits = (h @ params[-1]["w"] + params[-1]["b"]).reshape(t, b, 20).sum(0)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

  return params, None, (x, y), loss_fn


def _bn(h, p, eps=1e-5):
  """Time-merged BatchNorm in train mode on ``[T·B, H, W, C]`` (statistics over T, B, H, W)."""
  mean = jnp.mean(h, axis=(0, 1, 2), keepdims=True)
  var = jnp.mean(jnp.square(h - mean), axis=(0, 1, 2), keepdims=True)
  return (h - mean) * jax.lax.rsqrt(var + eps) * p["scale"] + p["bias"]


def conv_cifar(variant, t, b):
  """``[B, 32, 32, 3]`` repeated T times: conv 64 + BN + LIF, conv 128 s2 + BN + LIF,
  conv 256 s2 + BN + LIF, global average pool, Linear 10; TET loss; time-merged BN."""
  keys = jax.random.split(jax.random.key(0), 6)
  chans = [(3, 64, 1), (64, 128, 2), (128, 256, 2)]
  convs = []
  for k, (ci, co, _) in zip(keys, chans):
    bound = 1.0 / np.sqrt(ci * 9)
    convs.append({"w": jax.random.uniform(k, (3, 3, ci, co), minval=-bound, maxval=bound),
                  "scale": jnp.ones((1, 1, 1, co)), "bias": jnp.zeros((1, 1, 1, co))})
  params = {"convs": convs, "fc": _dense(keys[3], 256, 10)}
  x = jax.random.normal(keys[4], (b, 32, 32, 3))
  y = jnp.arange(b) % 10
  act = _activation(variant, t, b)

  def loss_fn(params, x, y):
    h = jnp.broadcast_to(x[None], (t,) + x.shape).reshape((t * b,) + x.shape[1:])
    for p, (_, _, stride) in zip(params["convs"], chans):
      h = jax.lax.conv_general_dilated(h, p["w"], (stride, stride), "SAME",
                                       dimension_numbers=("NHWC", "HWIO", "NHWC"))
      h = act(_bn(h, p))
    h = jnp.mean(h, axis=(1, 2))
    logits = (h @ params["fc"]["w"] + params["fc"]["b"]).reshape(t, b, 10)
    return jsnn.losses.tet(logits, y)

  return params, None, (x, y), loss_fn


WORKLOADS = {"lif_mlp": lif_mlp, "conv_cifar": conv_cifar}


def build(workload, variant, t, b):
  params, _, batch, loss_fn = WORKLOADS[workload](variant, t, b)
  tx = optax.adam(1e-3)
  opt_state = tx.init(params)

  @functools.partial(jax.jit, donate_argnums=(0, 1))
  def train_step(params, opt_state, batch):
    loss, grads = jax.value_and_grad(loss_fn)(params, *batch)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  t0 = time.perf_counter()
  compiled = train_step.lower(params, opt_state, batch).compile()
  compile_s = time.perf_counter() - t0
  mem = compiled.memory_analysis()
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  state = {"params": params, "opt": opt_state}

  def step():
    state["params"], state["opt"], loss = compiled(state["params"], state["opt"], batch)
    loss.block_until_ready()

  for _ in range(3):  # warm-up, excluded from timing
    step()
  info = {"compile_s": compile_s,
          "peak_temp_bytes": int(mem.temp_size_in_bytes) if mem is not None else None,
          "flops": float(cost.get("flops", 0.0)) if cost else None}
  return step, info


def describe_device():
  d = jax.devices()[0]
  return f"{d.platform}:{d.device_kind} x{jax.device_count()} (jax {jax.__version__})"


if __name__ == "__main__":
  # Adam's bias correction mixes int and float; run with the default (standard) promotion.
  protocol.serve(build, describe_device)
