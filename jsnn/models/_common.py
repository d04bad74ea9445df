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
from jsnn.neurons import Neuron
from jsnn.nn._remat import remat_call

__all__ = ["NeuronOptions", "ConvNorm", "check_input", "spatial_mean", "preset", "apply_spike_fn",
           "REMAT_MODES", "check_memory_options", "remat_call",
           "call"]

# The ``remat`` values every zoo model accepts (an int k is chunked time with chunks of k steps).
REMAT_MODES = (None, "layer", "step", "<int k >= 1>")


def check_memory_options(remat, residuals, dtype, *, who: str) -> None:
  """Validates a model's ``remat`` / ``residuals`` / ``dtype``; the error lists the valid values."""
  chunk = isinstance(remat, int) and not isinstance(remat, bool) and remat >= 1
  if not (remat in (None, "layer", "step") or chunk):
    raise ValueError(f"{who}: remat must be one of {REMAT_MODES}, got {remat!r}.")
  if residuals not in jsnn.neurons.RESIDUALS:
    raise ValueError(f"{who}: residuals must be one of {jsnn.neurons.RESIDUALS}, got "
                     f"{residuals!r}.")
  if dtype is not None and not jnp.issubdtype(dtype, jnp.floating):
    raise TypeError(f"{who}: dtype must be None or a floating dtype (e.g. jnp.bfloat16), got "
                    f"{dtype!r}.")


def call(module: Callable, x: jax.Array) -> jax.Array:
  """``module(x)`` (the function :func:`remat_call` wraps for one block)."""
  return module(x)


@dataclasses.dataclass(frozen=True)
class NeuronOptions:
  """How a model builds each spiking layer (any neuron on any architecture).

  Attributes:
    neuron: a ``jsnn.neurons.Neuron`` or a factory (``jsnn.neurons.clif``).
    surrogate: replaces the neuron's surrogate (e.g. AdaLi's in VGGSNN); None keeps it.
    learnable: neuron constants to learn per layer (``("w",)`` for PLIF).
    learn_surrogate: learn the surrogate's shape parameters (PSG).
    remat: the model's ``remat``; ``"step"`` / an int reach every neuron's time scan
      (``"layer"`` is applied by the model around whole blocks).
    residuals: every neuron's ``residuals`` (``"default"`` / ``"minimal"``).
  """

  neuron: Neuron | Callable[[], Neuron]
  surrogate: Any = None
  learnable: tuple[str, ...] = ()
  learn_surrogate: bool = False
  remat: str | int | None = None
  residuals: str = "default"

  def layer(self) -> jn.SpikingNeuron:
    """A new spiking layer (its own constants / learned parameters)."""
    return jn.SpikingNeuron(self.neuron, spike_fn=self.surrogate, learnable=tuple(self.learnable),
                            learn_surrogate=self.learn_surrogate,
                            remat=None if self.remat == "layer" else self.remat,
                            residuals=self.residuals)


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


def apply_spike_fn(model: nnx.Module, spike_fn: Any) -> None:
  """The ``spike_fn=`` call option of every zoo model: sets the surrogate of all spiking layers.

  The trainer passes per-epoch values this way (AdaLi: ``{"spike_fn": adali_surrogate(e, E)}`` in
  ``method_state``). Inside ``jit`` the surrogate must be of the family the model was built with.
  Do not combine with ``learn_surrogate=True`` (the learned values would be overwritten).
  """
  if spike_fn is not None:
    jn.set_surrogate(model, spike_fn)
