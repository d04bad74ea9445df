"""`SurrogateBlock` and `ConvNorm` are public names of jsnn.models (issue 15)."""

from __future__ import annotations

import jax
from flax import nnx

import jsnn.models
from jsnn.models import ConvNorm, SurrogateBlock


def test_public_blocks():
  assert "ConvNorm" in jsnn.models.__all__ and "SurrogateBlock" in jsnn.models.__all__
  cn = ConvNorm(2, 4, 3, padding=1, rngs=nnx.Rngs(0))
  y = cn(jax.random.normal(jax.random.key(0), (2, 3, 8, 8, 2)))
  assert y.shape == (2, 3, 8, 8, 4)
  sb = SurrogateBlock(4, 10, kernels=(3,), width=8, rngs=nnx.Rngs(0))
  assert sb(jax.random.bernoulli(jax.random.key(1), 0.3, (2, 3, 8, 8, 4)).astype("float32")).shape == (3, 10)
