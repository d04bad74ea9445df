"""Spyx benchmark worker (JAX + Flax NNX). Runs in its own venv, without jsnn:

    /path/to/venv-spyx/bin/python -m experiments.bench.spyx_worker

The network is written the way Spyx's docs write one: a ``spyx.nn.Sequential`` of ``nnx.Linear``
and ``spyx.nn.LIF`` layers driven over time by ``spyx.nn.run`` (one ``jax.lax.scan`` over the
whole network, so each Linear runs once per time step on ``[B, F]``), trained with optax Adam in
an ``nnx.jit`` step. LIF: ``beta = 0.5`` (SpikingJelly's ``tau = 2``, no decay_input), threshold 1,
soft reset, surrogate ``spyx.axn.custom`` with SpikingJelly's ``Sigmoid(alpha=4)`` derivative.
Spyx's LIF fires on the potential *before* this step's input (``S_t = H(V_{t-1} - 1)``), so its
spikes lag SpikingJelly's by one step; the arithmetic per step is the same.

Variants: ``snn`` and ``ann`` (ReLU in place of the LIF, same per-step scan). Only ``lif_mlp``:
Spyx has no time-merged BatchNorm (``nnx.BatchNorm`` cannot update its statistics inside
``spyx.nn.run``'s scan), so ``conv_cifar`` is reported as unsupported.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from experiments.bench import protocol

import spyx  # noqa: E402


def _sigmoid_surrogate(alpha: float = 4.0):
  def grad(x):
    s = jax.nn.sigmoid(alpha * x)
    return alpha * s * (1.0 - s)
  return spyx.axn.custom(grad, spyx.axn.heaviside)


class _ReLUCell(nnx.Module):
  """Stateless-in-effect ReLU that follows Spyx's ``(x, state) -> (out, state)`` contract."""

  def __init__(self, n: int):
    self.n = n

  def __call__(self, x, state):
    return jax.nn.relu(x), state

  def initial_state(self, batch_size):
    return jnp.zeros((batch_size, 1))


def _mlp(variant: str, rngs: nnx.Rngs):
  def act(n):
    if variant == "ann":
      return _ReLUCell(n)
    return spyx.nn.LIF((n,), beta=0.5, threshold=1.0, activation=_sigmoid_surrogate(),
                       rngs=rngs)
  return spyx.nn.Sequential(nnx.Linear(700, 512, rngs=rngs), act(512),
                            nnx.Linear(512, 512, rngs=rngs), act(512),
                            nnx.Linear(512, 20, rngs=rngs))


def build(workload, variant, t, b):
  if workload != "lif_mlp":
    raise ValueError(f"workload {workload!r} is not implemented for spyx (lif_mlp only)")
  if variant not in ("snn", "ann"):
    raise ValueError(f"unknown variant {variant!r}")
  model = _mlp(variant, nnx.Rngs(0))
  key = jax.random.key(1)
  x = (jax.random.uniform(key, (t, b, 700)) < 0.1).astype(jnp.float32)
  y = jnp.arange(b) % 10
  optimizer = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)

  def loss_fn(model):
    logits_tbc, _ = spyx.nn.run(model, x)  # time-major
    return optax.softmax_cross_entropy_with_integer_labels(logits_tbc.sum(0), y).mean()

  @nnx.jit(donate_argnums=(0, 1))
  def train_step(model, optimizer):
    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss

  t0 = time.perf_counter()
  train_step(model, optimizer).block_until_ready()  # first call traces and compiles
  compile_s = time.perf_counter() - t0
  mem = None
  try:  # the same XLA analyses as the jsnn worker, on the functional form of the step
    graphdef, state = nnx.split((model, optimizer))

    def pure(state):
      m, o = nnx.merge(graphdef, state)
      loss = train_step(m, o)
      return loss, nnx.state((m, o))

    compiled = jax.jit(pure).lower(state).compile()
    mem = compiled.memory_analysis()
  except Exception as e:  # analyses are optional
    print(f"spyx worker: no XLA analysis ({type(e).__name__}: {e})", flush=True)

  def step():
    train_step(model, optimizer).block_until_ready()

  for _ in range(2):
    step()
  return step, {"compile_s": compile_s,
                "peak_temp_bytes": int(mem.temp_size_in_bytes) if mem is not None else None,
                # XLA's cost analysis counts a while-loop body once, not T times, so the FLOPs
                # of a network that runs its matmuls inside the time scan are not comparable.
                "flops": None, "peak_device_bytes": None}


def describe_device():
  d = jax.devices()[0]
  return (f"{d.platform}:{d.device_kind} x{jax.device_count()} (jax {jax.__version__}, "
          f"spyx {getattr(spyx, '__version__', '?')})")


if __name__ == "__main__":
  protocol.serve(build, describe_device)
