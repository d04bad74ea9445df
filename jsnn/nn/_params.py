"""Counting a model's trainable parameters (the number PyTorch's ``sum(p.numel())`` reports)."""

from __future__ import annotations

import math

import jax
from flax import nnx

__all__ = ["count_params"]


def count_params(model: nnx.Module) -> int:
  """Number of scalars in the model's ``nnx.Param`` variables (BatchNorm running stats excluded).

  Works on abstract models from ``nnx.eval_shape`` too (only shapes are read).
  """
  state = nnx.state(model, nnx.Param)
  return int(sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(state)))
