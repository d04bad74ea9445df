"""Dropout with one mask per sample shared by all time steps (SpikingJelly ``layer.Dropout``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["Dropout"]


class Dropout(nnx.Dropout):
  """Time-shared dropout on time-major ``[T, B, ...]``.

  SpikingJelly's ``layer.Dropout`` (0.0.0.0.12 ``layer.py``) samples one Bernoulli mask per sample
  at the first time step and reuses it for all T steps; kept units are scaled by ``1/(1 - p)``; in
  eval mode it is the identity. Here the mask has shape ``[1, B, ...]`` and is broadcast over T
  (``nnx.Dropout`` with ``broadcast_dims=(0,)``). ``model.train()`` / ``model.eval()`` switch it
  through the ``deterministic`` attribute.

  Args:
    rate: drop probability ``p`` (CLIF: 0.3 on DVS-CIFAR10, 0.4 on Gesture; DVSGestureNet 0.5).
    deterministic: start in eval mode.
    rngs: NNX streams; the ``dropout`` stream (or ``default``) draws the masks. May be None when
      ``rate == 0``.

  Raises:
    ValueError: at trace time, if the input is not time-major ``[T, B, ...]``.

  References:
    Fang et al., *SpikingJelly*, Science Advances 2023; Huang et al., *CLIF*, ICML 2024.
  """

  def __init__(self, rate: float, *, deterministic: bool = False, rngs: nnx.Rngs | None = None):
    if not 0.0 <= rate <= 1.0:
      raise ValueError(f"Dropout: rate must be in [0, 1], got {rate}.")
    super().__init__(rate, broadcast_dims=(0,), deterministic=deterministic, rngs=rngs)

  def __call__(self, inputs: jax.Array, *, deterministic: bool | None = None,
               rngs=None) -> jax.Array:
    """Applies the time-shared mask to ``inputs [T, B, ...]``."""
    inputs = jnp.asarray(inputs)
    if inputs.ndim < 2:
      raise ValueError(f"Dropout: expected time-major input [T, B, ...], got shape {inputs.shape}.")
    return super().__call__(inputs, deterministic=deterministic, rngs=rngs)
