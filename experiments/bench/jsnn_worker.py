"""jsnn benchmark worker: each workload is an NNX model trained with ``jsnn.train.train_step``.

Run as a subprocess of ``experiments/benchmark.py`` (see ``protocol.py``). Everything goes through
jsnn's public API the way a user writes it: ``jsnn.nn`` layers (time-folded ``Linear`` / ``Conv``,
time-merged ``BatchNorm``, ``SpikingNeuron`` scanning only the neuron), ``jsnn.models`` for the
zoo, ``jsnn.losses`` and ``jsnn.train.create_train_state`` / ``train_step`` (forward, backward,
Adam update, BatchNorm statistics), jitted with the state donated.

Variants (options passed to the model / every ``SpikingNeuron`` constructor):

* ``snn``: the library's defaults (since issue #16: ``residuals="auto"``, the minimal-residual
  scan for every registered neuron, and ``wgrad="auto"``, XLA:CPU's fast weight gradients on the
  CPU backend); ``snn_ad`` / ``ann_ad``: the pre-#16 defaults, plain autodiff of the neuron scan
  (``residuals="default"``) and of every weight gradient (``wgrad="autodiff"``);
* ``snn_remat``: ``remat="step"``; ``snn_chunk``: ``remat=T/4`` (4 chunks of ``T/4`` steps);
* ``snn_min``: ``residuals="minimal"`` (one custom VJP over the scan, keeps only ``H``);
* ``snn_layer``: ``remat="layer"`` (zoo models: each block recomputed in the backward, a block
  whose input is the previous block's spikes keeping that input as 1 bit per spike);
  ``snn_layer_min``: that and ``residuals="minimal"``; ``snn_layer_ad``: ``remat="layer"`` with
  autodiff weight gradients;
* ``snn_bf16``: ``dtype=jnp.bfloat16`` (bfloat16 convs / matmuls, float32 membrane potential);
* ``<variant>_fg``: the same with XLA:CPU's fast weight gradients switched on in every layer,
  ``model.set_attributes(jsnn.nn.Conv, wgrad="taps")`` and ``(jsnn.nn.Linear,
  wgrad="transpose")`` (see :func:`use_fast_grads`);
* ``ann``: every ``SpikingNeuron`` replaced by ReLU, so the same layers run on the same
  time-folded ``[T·B, ...]`` batch: the step an SNN would take if its neuron cost nothing.

A variant whose option the installed jsnn lacks is reported as an error and skipped by the driver.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import jsnn
import jsnn.models
import jsnn.nn as jn
from experiments.bench import protocol
from jsnn import train


def sj_lif() -> jsnn.neurons.Neuron:
  """SpikingJelly ``LIFNode(tau=2, decay_input=False, v_reset=None)``, ``Sigmoid(alpha=4)``."""
  return jsnn.neurons.sj_lif(tau=2.0, v_reset=None, decay_input=False,
                             spike_fn=jsnn.surrogate.Sigmoid(4.0))


def _accepts(fn, name: str) -> bool:
  return name in inspect.signature(fn).parameters


def _layer_kw(layer_cls, dtype) -> dict:
  """``dtype=`` for a ``jsnn.nn`` layer when set and supported (bfloat16 compute)."""
  if dtype is None:
    return {}
  if not _accepts(layer_cls.__init__, "dtype"):
    raise ValueError(f"this jsnn's {layer_cls.__name__} has no dtype option")
  return {"dtype": dtype}


class LifMLP(nnx.Module):
  """``[T, B, 700]`` -> Linear 512 -> LIF -> Linear 512 -> LIF -> Linear 20 (per-step logits)."""

  def __init__(self, *, dtype=None, rngs: nnx.Rngs, **neuron_kw):
    kw = _layer_kw(jn.Linear, dtype)
    self.fc1 = jn.Linear(700, 512, rngs=rngs, **kw)
    self.sn1 = jn.SpikingNeuron(sj_lif, **neuron_kw)
    self.fc2 = jn.Linear(512, 512, rngs=rngs, **kw)
    self.sn2 = jn.SpikingNeuron(sj_lif, **neuron_kw)
    self.fc3 = jn.Linear(512, 20, rngs=rngs, **kw)

  def __call__(self, x_tbn: jax.Array) -> jax.Array:
    return self.fc3(self.sn2(self.fc2(self.sn1(self.fc1(x_tbn)))))


class ConvCifar(nnx.Module):
  """``[B, 32, 32, 3]`` repeated T times: (conv 3x3 + time-merged BN + LIF) x 3 with 64, 128 s2,
  256 s2 channels, global average pool, Linear 10 -> per-step logits ``[T, B, 10]``."""

  def __init__(self, *, T: int, dtype=None, rngs: nnx.Rngs, **neuron_kw):
    self.T = T
    layers = []
    for cin, cout, stride in [(3, 64, 1), (64, 128, 2), (128, 256, 2)]:
      layers += [jn.Conv(cin, cout, 3, stride=stride, padding=1, use_bias=False, rngs=rngs,
                         **_layer_kw(jn.Conv, dtype)),
                 jn.BatchNorm(cout), jn.SpikingNeuron(sj_lif, **neuron_kw)]
    self.layers = nnx.List(layers)
    self.fc = jn.Linear(256, 10, rngs=rngs)

  def __call__(self, x_bhwc: jax.Array) -> jax.Array:
    h = jn.direct_encode(x_bhwc, self.T)
    for layer in self.layers:
      h = layer(h)
    return self.fc(jnp.mean(h, axis=(-3, -2)).astype(jnp.float32))


def _ce_time_summed(logits_tbc, labels):
  return optax.softmax_cross_entropy_with_integer_labels(logits_tbc.sum(0), labels).mean()


def _zoo(module: str, preset: str, loss, kind: str, shape: tuple[int, ...]):
  """A zoo model ``jsnn.models.<module>.<preset>`` with its input ``kind`` and per-sample shape."""

  def make(t, b, rngs, **opts):
    mod = importlib.import_module(f"jsnn.models.{module}")
    if opts and _accepts(mod.Model.__init__, "options"):   # the zoo's Options value (issue #12)
      opts = {"options": jsnn.models.Options(**opts)}
    missing = [k for k in opts if not _accepts(mod.Model.__init__, k)]
    if missing:
      raise ValueError(f"this jsnn's {module}.Model has no {missing} option")
    model = getattr(mod, preset)(num_classes=10, T=t, rngs=rngs, **opts)
    lead = (t, b) if kind == "frames" else (b,)
    return model, lead + shape, loss

  return make


WORKLOADS = {  # name: make(T, B, rngs, **opts) -> (model, input shape, loss(logits_tbc, labels))
    "lif_mlp": lambda t, b, rngs, **o: (LifMLP(rngs=rngs, **o), (t, b, 700), _ce_time_summed),
    "conv_cifar": lambda t, b, rngs, **o: (ConvCifar(T=t, rngs=rngs, **o), (b, 32, 32, 3),
                                           jsnn.losses.tet),
    "vggsnn": _zoo("vggsnn", "VGGSNN", jsnn.losses.tet, "frames", (48, 48, 2)),
    "resnet19": _zoo("tet_resnet", "ResNet19", jsnn.losses.tet, "image", (32, 32, 3)),
    "preact_resnet18": _zoo("preact_resnet", "ResNet18", jsnn.losses.tet, "image", (32, 32, 3)),
}


class ReLU(nnx.Module):
  """The ANN stand-in for a ``SpikingNeuron``: elementwise, so time folding does not matter."""

  def __call__(self, x):
    return jax.nn.relu(x)


def to_ann(model: nnx.Module) -> int:
  """Replaces every ``jsnn.nn.SpikingNeuron`` in ``model`` by :class:`ReLU`; returns the count."""
  paths = [p for p, m in nnx.iter_modules(model) if isinstance(m, jn.SpikingNeuron)]
  for path in paths:
    parent = model
    for key in path[:-1]:
      parent = parent[key] if isinstance(key, int) else getattr(parent, key)
    if isinstance(path[-1], int):
      parent[path[-1]] = ReLU()
    else:
      setattr(parent, path[-1], ReLU())
  return len(paths)


def use_fast_grads(model: nnx.Module) -> int:
  """Switches every ``jsnn.nn.Conv`` to ``wgrad="taps"`` and every ``jsnn.nn.Linear`` to
  ``wgrad="transpose"`` (XLA:CPU's fast weight gradients); returns how many layers it set."""
  for cls in (jn.Conv, jn.Linear):
    if not _accepts(cls.__init__, "wgrad"):
      raise ValueError(f"this jsnn's {cls.__name__} has no wgrad option")
  model.set_attributes(jn.Conv, wgrad="taps", raise_if_not_found=False)
  model.set_attributes(jn.Linear, wgrad="transpose", raise_if_not_found=False)
  return sum(isinstance(m, (jn.Conv, jn.Linear)) for _, m in nnx.iter_modules(model))


VARIANT_OPTIONS = {  # variant -> model / SpikingNeuron keyword arguments
    "snn": {}, "ann": {}, "snn_remat": {"remat": "step"}, "snn_min": {"residuals": "minimal"},
    "snn_layer": {"remat": "layer"}, "snn_layer_min": {"remat": "layer", "residuals": "minimal"},
    "snn_bf16": {"dtype": jnp.bfloat16},
}


def use_autodiff_grads(model: nnx.Module) -> int:
  """Switches every ``jsnn.nn.Conv`` / ``jsnn.nn.Linear`` to ``wgrad="autodiff"`` (the pre-#16
  default); returns how many layers it set."""
  model.set_attributes(jn.Conv, jn.Linear, wgrad="autodiff", raise_if_not_found=False)
  return sum(isinstance(m, (jn.Conv, jn.Linear)) for _, m in nnx.iter_modules(model))


def variant_options(variant: str, t: int) -> dict:
  """The constructor options of ``variant`` (``snn_chunk``: ``remat = T/4``; a ``_fg`` suffix
  only switches the layers' weight gradients, see :func:`use_fast_grads`; ``_ad``: the pre-#16
  defaults, see :func:`use_autodiff_grads`)."""
  if variant in ("snn_ad", "ann_ad"):
    return {} if variant == "ann_ad" else {"residuals": "default"}
  variant = variant.removesuffix("_fg").removesuffix("_ad")  # e.g. snn_min_ad
  if variant == "snn_chunk":
    if t % 4:
      raise ValueError(f"snn_chunk needs T divisible by 4, got T={t}")
    return {"remat": t // 4}
  if variant not in VARIANT_OPTIONS:
    raise ValueError(f"unknown variant {variant!r}; expected one of "
                     f"{sorted(VARIANT_OPTIONS) + ['snn_chunk']}")
  return dict(VARIANT_OPTIONS[variant])


def build_model(workload: str, variant: str, t: int, b: int):
  """``(model, input, labels, loss)`` for one benchmark entry."""
  opts = variant_options(variant, t)
  if workload in ("lif_mlp", "conv_cifar"):
    neuron_kw = {k: v for k, v in opts.items() if k != "dtype"}
    missing = [k for k in neuron_kw if not _accepts(jn.SpikingNeuron.__init__, k)]
    if missing or neuron_kw.get("remat") == "layer":
      raise ValueError(f"this variant's options {opts} do not apply to SpikingNeuron")
  model, x_shape, loss = WORKLOADS[workload](t, b, nnx.Rngs(0), **opts)
  if variant.removesuffix("_fg").removesuffix("_ad") == "ann":
    to_ann(model)
  if variant.endswith("_fg"):
    use_fast_grads(model)
  if variant.endswith("_ad"):
    use_autodiff_grads(model)
  key = jax.random.key(1)
  if workload == "lif_mlp":
    x = (jax.random.uniform(key, x_shape) < 0.1).astype(jnp.float32)  # 10 % input spikes
  else:
    x = jax.random.normal(key, x_shape)
  return model, x, jnp.arange(b) % 10, loss


def _trainer_loss(loss):
  """``loss(logits_tbc, labels)`` as the trainer's ``loss_fn(model, batch, method_state, rng)``."""

  def loss_fn(model, batch, method_state, rng):
    del method_state, rng
    return loss(model(batch["image"]), batch["label"]), {}

  return loss_fn


def build(workload, variant, t, b, warmup: int = 3):
  model, x, labels, loss = build_model(workload, variant, t, b)
  tx = optax.adam(1e-3)
  graphdef, state = train.create_train_state(model, tx)
  step_fn = jax.jit(functools.partial(train.train_step, graphdef=graphdef, tx=tx,
                                      loss_fn=_trainer_loss(loss)),
                    donate_argnums=0)
  batch = {"image": x, "label": labels}
  t0 = time.perf_counter()
  compiled = step_fn.lower(state, batch).compile()
  compile_s = time.perf_counter() - t0
  mem = compiled.memory_analysis()
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  holder = {"state": state}

  def step():
    holder["state"], metrics = compiled(holder["state"], batch)
    metrics["loss"].block_until_ready()

  for _ in range(warmup):  # excluded from timing
    step()
  info = {"compile_s": compile_s,
          "peak_temp_bytes": int(mem.temp_size_in_bytes) if mem is not None else None,
          "flops": float(cost["flops"]) if cost and "flops" in cost else None,
          "peak_device_bytes": _device_peak_bytes()}
  return step, info


def _device_peak_bytes():
  """``peak_bytes_in_use`` of the device allocator (GPU/TPU); None on CPU.

  The allocator's peak is process-wide and never reset, so an entry built after a larger one
  reports the larger one's peak: compare ``peak_temp_bytes`` across entries, or run one variant.
  """
  stats = jax.devices()[0].memory_stats()
  return int(stats["peak_bytes_in_use"]) if stats and "peak_bytes_in_use" in stats else None


def describe_device():
  d = jax.devices()[0]
  return f"{d.platform}:{d.device_kind} x{jax.device_count()} (jax {jax.__version__})"


if __name__ == "__main__":
  np.set_printoptions(precision=4)
  protocol.serve(build, describe_device)
