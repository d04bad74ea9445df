"""A plain layer stack and the stateless pooling / flatten layers it needs (NIR's sequential graphs).

Layout ``[T, B, H, W, C]`` / ``[T, B, F]`` as everywhere in jsnn; every layer but
:class:`jsnn.nn.SpikingNeuron` runs on the time-folded batch.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

import jsnn.nn as jn

__all__ = ["Sequential", "Flatten", "AvgPool", "SumPool"]


class Flatten(nnx.Module):
  """``jsnn.nn.flatten`` as a layer: ``[T, B, H, W, C] -> [T, B, H·W·C]`` in ``order``."""

  def __init__(self, order: str = "hwc"):
    if order not in jn.FLATTEN_ORDERS:
      raise ValueError(f"Flatten: order must be one of {jn.FLATTEN_ORDERS}, got {order!r}.")
    self.order = order

  def __call__(self, x: jax.Array) -> jax.Array:
    return jn.flatten(x, 3, order=self.order)


class AvgPool(nnx.Module):
  """``jsnn.nn.avg_pool`` (PyTorch ``AvgPool2d``, no padding) as a layer."""

  def __init__(self, kernel_size: int | tuple[int, int], stride=None):
    self.kernel_size = kernel_size
    self.stride = kernel_size if stride is None else stride

  def __call__(self, x: jax.Array) -> jax.Array:
    return jn.avg_pool(x, self.kernel_size, self.stride)


class SumPool(nnx.Module):
  """Sum pooling (NIR ``SumPool2d``, no padding): ``avg_pool`` times the window size."""

  def __init__(self, kernel_size: int | tuple[int, int], stride=None):
    self.kernel_size = kernel_size
    self.stride = kernel_size if stride is None else stride

  def __call__(self, x: jax.Array) -> jax.Array:
    k = (self.kernel_size, self.kernel_size) if isinstance(self.kernel_size, int) else tuple(
        self.kernel_size)
    x = jnp.asarray(x)
    return jn.avg_pool(x, k, self.stride) * jnp.asarray(k[0] * k[1], x.dtype)


class Sequential(nnx.Module):
  """Layers applied in order to a time-major input (``[T, B, ...] -> [T, B, ...]``).

  Any ``jsnn.nn`` layer works (``Conv``, ``Linear``, ``BatchNorm``, ``SpikingNeuron``, the pooling
  and flatten layers of this module); this is the model form NIR export and import use.

  Examples:
    >>> import jax.numpy as jnp, jsnn
    >>> from flax import nnx
    >>> net = jsnn.interop.Sequential(jsnn.nn.Linear(4, 3, rngs=nnx.Rngs(0)),
    ...                               jsnn.nn.SpikingNeuron(jsnn.neurons.tet_lif))
    >>> net(jnp.ones((5, 2, 4))).shape
    (5, 2, 3)
  """

  def __init__(self, *layers):
    self.layers = nnx.List(list(layers))

  def __call__(self, x: jax.Array) -> jax.Array:
    for layer in self.layers:
      x = layer(x)
    return x

  def __len__(self) -> int:
    return len(self.layers)

  def __getitem__(self, i: int):
    return self.layers[i]
