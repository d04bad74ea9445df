"""Pieces shared by the model zoo: neuron options, conv + norm units, input checks, heads."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

import jsnn.neurons
import jsnn.nn as jn
from jsnn._renamed import renamed_kwargs
from jsnn.neurons import Neuron
from jsnn.nn._remat import remat_call

__all__ = ["Options", "ConvNorm", "check_input", "spatial_mean", "preset", "REMAT_MODES",
           "check_memory_options", "check_moved", "remat_call", "call", "spike_input"]

# The ``remat`` values every zoo model accepts (an int k is chunked time with chunks of k steps).
REMAT_MODES = (None, "layer", "step", "<int k >= 1>")


def check_memory_options(remat, residuals, dtype, *, who: str) -> None:
  """Validates a model's ``remat`` / ``residuals`` / ``dtype``; the error lists the valid values.

  One validator: a model accepts what ``jsnn.neurons.run`` accepts plus ``remat="layer"``.
  """
  try:
    jsnn.neurons.check_memory_options(None if remat == "layer" else remat, residuals, who=who)
  except ValueError as e:
    if "remat" in str(e):
      raise ValueError(f"{who}: remat must be one of {REMAT_MODES}, got {remat!r}.") from None
    raise
  if dtype is not None and not jnp.issubdtype(dtype, jnp.floating):
    raise TypeError(f"{who}: dtype must be None or a floating dtype (e.g. jnp.bfloat16), got "
                    f"{dtype!r}.")


def spike_input(layer: Any) -> bool:
  """Whether a block whose input is ``layer``'s output may keep that input as 1 bit per spike in
  ``remat="layer"`` (``remat_call(input_bits=...)``): ``layer`` is a spiking layer whose output is
  0/1 by construction (:attr:`jsnn.nn.SpikingNeuron.emits_binary_spikes`). None (an analog input,
  pooled or summed spikes) or any other module put in the neuron's place (e.g. a ReLU): False."""
  return isinstance(layer, jn.SpikingNeuron) and layer.emits_binary_spikes


def call(module: Callable, x: jax.Array) -> jax.Array:
  """``module(x)`` (the function :func:`remat_call` wraps for one block)."""
  return module(x)


@dataclasses.dataclass(frozen=True)
class Options:
  """Everything about a zoo model that is not its architecture: one value for every ``Model``.

  ``Model(num_classes=10, T=4, options=jsnn.models.Options(spike_fn=Sigmoid(), remat="layer"),
  rngs=...)``. A model's constructor takes its architecture arguments and this value; per-layer
  switches after construction use NNX attribute setting, e.g. ``model.set_attributes(
  jsnn.nn.SpikingNeuron, unroll=True)``, and a training method changes neurons and surrogates
  through ``jsnn.methods`` (``jsnn.nn.set_neuron`` / ``set_spike_fn``).

  Attributes:
    neuron: a ``jsnn.neurons.Neuron`` or a factory (``jsnn.neurons.clif``); None: the model's own
      (each model documents it: TET's LIF for TET's models, CLIF for CLIF's, ...).
    spike_fn: replaces the neuron's surrogate spike function; None keeps it.
    learnable: neuron constants to learn per layer (``("w",)`` for PLIF).
    learn_surrogate: learn the spike function's shape parameters (PSG).
    remat: memory-bounded BPTT, one of :data:`REMAT_MODES`: None (plain autodiff); ``"layer"``:
      every conv -> norm -> neuron unit or block is rematerialised (the backward keeps only its
      input, as 1 bit per spike where that input is a neuron's binary output, see
      :func:`spike_input`); ``"step"``: each neuron step; an int ``k``: chunked time in every neuron
      (``T % k == 0``). Gradients are unchanged.
    residuals: every neuron's ``residuals`` (see :func:`jsnn.neurons.run`): ``"auto"`` (default:
      the minimal-residual scan wherever its gradients equal plain autodiff's, else autodiff),
      ``"default"`` (plain autodiff of the scan) or ``"minimal"``.
    dtype: compute dtype of the convs and linears that read spikes (e.g. ``jnp.bfloat16``; operands
      cast, float32 accumulation, see :class:`jsnn.nn.Conv`). The first conv, which reads the
      analog input, the norms and the membrane potentials stay in the input's dtype (float32): the
      image rounded to bfloat16 alone flips ~0.14% of first-layer spikes. None: no casts.

  Raises:
    ValueError / TypeError: a bad ``remat``, ``residuals`` or ``dtype`` (at construction).
  """

  neuron: Neuron | Callable[[], Neuron] | None = None
  spike_fn: Any = None
  learnable: tuple[str, ...] = ()
  learn_surrogate: bool = False
  remat: str | int | None = None
  residuals: str = "auto"
  dtype: Any = None

  def __post_init__(self):
    object.__setattr__(self, "learnable", tuple(self.learnable))
    check_memory_options(self.remat, self.residuals, self.dtype, who="jsnn.models.Options")

  def resolve(self, default_neuron: Neuron | Callable[[], Neuron]) -> "Options":
    """These options with ``neuron`` set to ``default_neuron`` where it is None."""
    if self.neuron is not None:
      return self
    return dataclasses.replace(self, neuron=default_neuron)

  @property
  def remat_layers(self) -> bool:
    """Whether whole units/blocks are rematerialised (``remat="layer"``)."""
    return self.remat == "layer"

  def layer(self) -> jn.SpikingNeuron:
    """A new spiking layer (its own constants / learned parameters)."""
    if self.neuron is None:
      raise ValueError("Options.layer: no neuron; call options.resolve(default_neuron) first.")
    return jn.SpikingNeuron(self.neuron, spike_fn=self.spike_fn, learnable=self.learnable,
                            learn_surrogate=self.learn_surrogate,
                            remat=None if self.remat == "layer" else self.remat,
                            residuals=self.residuals)


# The constructor arguments that moved into Options (an old call names the new spelling).
MOVED_TO_OPTIONS = {name: f"options=jsnn.models.Options({new}=...)" for name, new in (
    ("neuron", "neuron"), ("surrogate", "spike_fn"), ("spike_fn", "spike_fn"),
    ("learnable", "learnable"), ("learn_surrogate", "learn_surrogate"), ("remat", "remat"),
    ("residuals", "residuals"), ("dtype", "dtype"))}


def check_moved(who: str, kwargs: dict) -> None:
  """Raises ``TypeError`` for constructor arguments that are now fields of :class:`Options`."""
  renamed_kwargs(who, kwargs, MOVED_TO_OPTIONS)


class ConvNorm(nnx.Module):
  """``Conv2d -> BatchNorm`` on ``[T, B, H, W, C]`` (conv time-folded; the norm of ``norm`` kind).

  Args:
    cin, cout, kernel_size, stride, padding, use_bias: the PyTorch ``Conv2d`` arguments.
    kernel_init, bias_init: initialisers (None: PyTorch defaults).
    norm: a ``jsnn.nn.NORM_KINDS`` name.
    T: time steps (TEBN needs it).
    dtype: compute dtype of the conv (None: the input's); the norm runs in the input's dtype.
    rngs: NNX streams.
  """

  def __init__(self, cin: int, cout: int, kernel_size: int, *, stride: int = 1, padding: int = 0,
               use_bias: bool = False, kernel_init=None, bias_init=None, norm: str = "time_merged",
               T: int | None = None, dtype=None, rngs: nnx.Rngs):
    self.conv = jn.Conv(cin, cout, kernel_size, stride=stride, padding=padding,
                        use_bias=use_bias, kernel_init=kernel_init, bias_init=bias_init,
                        dtype=dtype, rngs=rngs)
    self.bn = jn.make_norm(norm, cout, T=T)

  def __call__(self, x: jax.Array) -> jax.Array:
    """``[T, B, H, W, C_in] -> [T, B, H', W', C_out]``."""
    return self.bn(self.conv(x))


def check_input(x, *, T: int, input_kind: str, input_size: Sequence[int] | None,
                in_channels: int, who: str) -> jax.Array:
  """``jsnn.nn.encode_input`` with a model's expected ``[H, W, C]``."""
  hw = (None, None) if input_size is None else tuple(input_size)
  return jn.encode_input(x, T=T, kind=input_kind, sample_shape=hw + (in_channels,), who=who)


def spatial_mean(x: jax.Array) -> jax.Array:
  """``AdaptiveAvgPool2d(1)`` + flatten: ``[T, B, H, W, C] -> [T, B, C]``."""
  return jnp.mean(x, axis=(-3, -2))


def pair(v) -> tuple[int, int]:
  """``(v, v)`` for an int, else the first two entries."""
  return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def preset(model: Callable, doc: str, **kwargs) -> functools.partial:
  """``functools.partial(model, **kwargs)`` with a docstring (a named preset, as flax examples)."""
  p = functools.partial(model, **kwargs)
  p.__doc__ = doc
  return p
