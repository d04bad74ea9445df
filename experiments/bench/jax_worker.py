"""Plain-JAX benchmark worker: the jsnn workloads written by hand, without jsnn.

The reference for "zero-cost abstraction" (issue #16): the same networks as
``experiments/bench/jsnn_worker.py``, written the way one would write them directly in JAX, with
no jsnn import:

* the spike is a ``jax.custom_vjp`` Heaviside (``x >= 0``) with SpikingJelly's ``Sigmoid(4)``
  surrogate derivative ``4·σ(4x)(1 - σ(4x))``;
* the LIF neuron (tau = 2, no decay_input, soft reset, v_th = 1, i.e. SpikingJelly's
  ``LIFNode(tau=2, decay_input=False, v_reset=None)``) is a ``jax.lax.scan`` of
  ``h = 0.5·v + x; s = spike(h - 1); v = h - s`` (plain autodiff of the scan);
* dense layers are ``x @ W + b`` on the time-folded ``[T·B, F]`` batch, convolutions
  ``jax.lax.conv_general_dilated`` in NHWC / HWIO on ``[T·B, H, W, C]``, BatchNorm time-merged
  (batch statistics over ``T·B·H·W``, PyTorch's running-stat update) written out;
* the loss is the same (``lif_mlp``: CE of time-summed logits; ``conv_cifar``: TET's per-step CE
  with λ = 0), the optimiser ``optax.adam(1e-3)``, the step jitted with the state donated.

Variants: ``snn`` and ``ann`` (ReLU in place of every LIF). Only ``lif_mlp`` and ``conv_cifar``.
"""

from __future__ import annotations

import functools
import math
import time

import jax
import jax.numpy as jnp
import optax

from experiments.bench import protocol


@jax.custom_vjp
def spike(x):
  return (x >= 0).astype(x.dtype)


def _spike_fwd(x):
  return spike(x), x


def _spike_bwd(x, g):
  sg = jax.nn.sigmoid(4.0 * x)
  return (g * (4.0 * sg * (1.0 - sg)),)


spike.defvjp(_spike_fwd, _spike_bwd)


def lif(xs):
  """``[T, B, ...]`` currents -> spikes: SpikingJelly LIF, tau=2, soft reset, v_th=1."""

  def step(v, x):
    h = 0.5 * v + x
    s = spike(h - 1.0)
    return h - s, s

  return jax.lax.scan(step, jnp.zeros_like(xs[0]), xs)[1]


def relu(xs):
  return jax.nn.relu(xs)


def _uniform(key, shape, fan_in):
  bound = 1.0 / math.sqrt(fan_in)
  return jax.random.uniform(key, shape, jnp.float32, -bound, bound)


def _dense(p, x):
  """``x [..., F] @ W + b`` on the folded leading axes."""
  lead = x.shape[:-1]
  y = x.reshape(-1, x.shape[-1]) @ p["w"] + p["b"][None]
  return y.reshape(lead + y.shape[-1:])


# -- lif_mlp ---------------------------------------------------------------------------------------
def mlp_init(key):
  ks = jax.random.split(key, 6)
  dims = [(700, 512), (512, 512), (512, 20)]
  params = {f"fc{i}": {"w": _uniform(ks[2 * i], d, d[0]), "b": _uniform(ks[2 * i + 1], d[1:],
                                                                         d[0])}
            for i, d in enumerate(dims)}
  return params, {}


def mlp_loss(neuron, params, stats, x, labels):
  h = neuron(_dense(params["fc0"], x))
  h = neuron(_dense(params["fc1"], h))
  logits = _dense(params["fc2"], h)
  loss = optax.softmax_cross_entropy_with_integer_labels(logits.sum(0), labels).mean()
  return loss, stats


# -- conv_cifar ------------------------------------------------------------------------------------
PLAN = [(3, 64, 1), (64, 128, 2), (128, 256, 2)]


def conv_init(key):
  ks = jax.random.split(key, 5)
  params, stats = {}, {}
  for i, (cin, cout, _) in enumerate(PLAN):
    params[f"conv{i}"] = _uniform(ks[i], (3, 3, cin, cout), 9 * cin)
    params[f"bn{i}"] = {"scale": jnp.ones((cout,)), "bias": jnp.zeros((cout,))}
    stats[f"bn{i}"] = {"mean": jnp.zeros((cout,)), "var": jnp.ones((cout,))}
  params["fc"] = {"w": _uniform(ks[3], (256, 10), 256), "b": _uniform(ks[4], (10,), 256)}
  return params, stats


def batch_norm(p, s, x, momentum=0.1, eps=1e-5):
  """Time-merged training BatchNorm on ``[N, H, W, C]``: batch statistics, running update."""
  axes = tuple(range(x.ndim - 1))
  mean = jnp.mean(x, axes, keepdims=True)
  var = jnp.mean(jnp.square(x - mean), axes, keepdims=True)
  n = math.prod(x.shape[:-1])
  m, v = jax.lax.stop_gradient(mean).reshape(-1), jax.lax.stop_gradient(var).reshape(-1)
  new = {"mean": (1 - momentum) * s["mean"] + momentum * m,
         "var": (1 - momentum) * s["var"] + momentum * v * (n / (n - 1))}
  c = lambda a: a.reshape((1,) * (x.ndim - 1) + a.shape)
  y = (x - mean) * jax.lax.rsqrt(var + eps) * c(p["scale"]) + c(p["bias"])
  return y, new


def conv_loss(neuron, params, stats, x_bhwc, labels, T):
  h = jnp.broadcast_to(x_bhwc, (T,) + x_bhwc.shape).reshape((-1,) + x_bhwc.shape[1:])
  new_stats = {}
  for i, (_, _, stride) in enumerate(PLAN):
    h = jax.lax.conv_general_dilated(h, params[f"conv{i}"], (stride, stride), ((1, 1), (1, 1)),
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    h, new_stats[f"bn{i}"] = batch_norm(params[f"bn{i}"], stats[f"bn{i}"], h)
    h = neuron(h.reshape((T, -1) + h.shape[1:])).reshape(h.shape)
  logits = _dense(params["fc"], jnp.mean(h, axis=(1, 2))).reshape(T, -1, 10)
  ce = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.broadcast_to(
      labels, logits.shape[:2]))
  return ce.mean(), new_stats


WORKLOADS = {  # name: (init, loss, input(key, T, B))
    "lif_mlp": (mlp_init, mlp_loss,
                lambda key, t, b: (jax.random.uniform(key, (t, b, 700)) < 0.1).astype(
                    jnp.float32)),
    "conv_cifar": (conv_init, None, lambda key, t, b: jax.random.normal(key, (b, 32, 32, 3))),
}


def build_step(workload: str, variant: str, t: int, b: int):
  """``(jitted step, state, batch)`` of one entry; the step returns ``(state, loss)``."""
  if workload not in WORKLOADS:
    raise ValueError(f"plain JAX implements lif_mlp and conv_cifar only, not {workload!r}")
  if variant not in ("snn", "ann"):
    raise ValueError(f"plain JAX has variants snn and ann only, not {variant!r}")
  init, loss, make_x = WORKLOADS[workload]
  neuron = lif if variant == "snn" else relu
  if workload == "conv_cifar":
    loss = functools.partial(conv_loss, T=t)
  params, stats = init(jax.random.key(0))
  tx = optax.adam(1e-3)
  state = (params, stats, tx.init(params))
  x = make_x(jax.random.key(1), t, b)
  labels = jnp.arange(b) % 10

  @functools.partial(jax.jit, donate_argnums=0)
  def step(state, x, labels):
    params, stats, opt = state
    (value, stats), grads = jax.value_and_grad(
        functools.partial(loss, neuron), has_aux=True)(params, stats, x, labels)
    updates, opt = tx.update(grads, opt, params)
    return (optax.apply_updates(params, updates), stats, opt), value

  return step, state, (x, labels)


def build(workload, variant, t, b, warmup: int = 3):
  step_fn, state, batch = build_step(workload, variant, t, b)
  t0 = time.perf_counter()
  compiled = step_fn.lower(state, *batch).compile()
  compile_s = time.perf_counter() - t0
  mem = compiled.memory_analysis()
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  holder = {"state": state}

  def step():
    holder["state"], value = compiled(holder["state"], *batch)
    value.block_until_ready()

  for _ in range(warmup):  # excluded from timing
    step()
  stats = jax.devices()[0].memory_stats()
  info = {"compile_s": compile_s,
          "peak_temp_bytes": int(mem.temp_size_in_bytes) if mem is not None else None,
          "flops": float(cost["flops"]) if cost and "flops" in cost else None,
          "peak_device_bytes": int(stats["peak_bytes_in_use"])
          if stats and "peak_bytes_in_use" in stats else None}
  return step, info


def describe_device():
  d = jax.devices()[0]
  return f"{d.platform}:{d.device_kind} x{jax.device_count()} (jax {jax.__version__})"


if __name__ == "__main__":
  protocol.serve(build, describe_device)
