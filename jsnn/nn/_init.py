"""Initialisers that reproduce PyTorch's defaults and the official repos' overrides.

Flax kernels are laid out ``HWIO`` for convolutions and ``(in, out)`` for dense layers, so
``fan_in = kh·kw·C_in`` and ``fan_out = kh·kw·C_out`` (``in`` / ``out`` for dense): the same numbers
as PyTorch's ``OIHW`` / ``(out, in)`` weights. :func:`jax.nn.initializers.variance_scaling` with
``in_axis=-2, out_axis=-1`` (its defaults) computes exactly these fans for both layouts.

====================================  =============================================================
PyTorch                                jsnn
====================================  =============================================================
``Conv2d``/``Linear`` weight default   :func:`torch_default_kernel_init` (``kaiming_uniform_(a=√5)``
                                       = U(±1/√fan_in))
``Conv2d``/``Linear`` bias default     :func:`torch_default_bias_init` ``(fan_in)`` = U(±1/√fan_in)
``kaiming_normal_(fan_out, relu)``     :func:`kaiming_normal_fan_out` = N(0, 2/fan_out); also
                                       AdaLi's ``N(0, √(2/(k²·C_out)))``
``normal_(0, std)``                    :func:`normal` ``(std)`` (untruncated, as PyTorch)
``constant_(…, 0)``                    :func:`zeros`
====================================  =============================================================

References:
  PyTorch ``torch/nn/modules/conv.py::_ConvNd.reset_parameters`` and
  ``torch/nn/modules/linear.py::Linear.reset_parameters``; He et al., ICCV 2015.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

__all__ = ["torch_default_kernel_init", "torch_default_bias_init", "kaiming_normal_fan_out",
           "normal", "zeros", "conv_fan_in"]

Initializer = jax.nn.initializers.Initializer


def torch_default_kernel_init() -> Initializer:
  """PyTorch's default weight init ``kaiming_uniform_(a=√5)``: U(−1/√fan_in, 1/√fan_in).

  The gain for ``a = √5`` is ``√(2/(1+5)) = √(1/3)`` and the bound ``gain·√(3/fan_in)``, which is
  ``variance_scaling(1/3, "fan_in", "uniform")``.
  """
  return jax.nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


def torch_default_bias_init(fan_in: int) -> Initializer:
  """PyTorch's default bias init U(−1/√fan_in, 1/√fan_in), with the layer's weight ``fan_in``.

  Args:
    fan_in: ``kh·kw·C_in/groups`` for a convolution, ``in_features`` for a dense layer.
  """
  if fan_in <= 0:
    raise ValueError(f"torch_default_bias_init: fan_in must be > 0, got {fan_in}.")
  bound = 1.0 / math.sqrt(fan_in)

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init


def kaiming_normal_fan_out() -> Initializer:
  """``kaiming_normal_(mode='fan_out', nonlinearity='relu')``: N(0, 2/fan_out), untruncated.

  Used for the convolutions of TET's VGGSNN, SML's ResNets, CLIF's PreAct ResNet / VGG,
  SpikingJelly's (SEW) ResNets; AdaLi's ``N(0, √(2/(k²·C_out)))`` is the same distribution.
  """
  return jax.nn.initializers.variance_scaling(2.0, "fan_out", "normal")


def normal(std: float) -> Initializer:
  """``normal_(0, std)``: N(0, std²), untruncated (e.g. CLIF VGG's Linear, std 0.01)."""
  return jax.nn.initializers.normal(std)


def zeros() -> Initializer:
  """``constant_(…, 0)``."""
  return jax.nn.initializers.zeros


def conv_fan_in(kernel_size: tuple[int, ...], in_features: int) -> int:
  """``fan_in`` of a convolution kernel ``kernel_size + (in_features, out)`` (HWIO)."""
  return int(math.prod(kernel_size)) * int(in_features)
