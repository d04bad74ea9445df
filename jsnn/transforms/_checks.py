"""Trace-time validation shared by the transforms.

Shapes, ranks and dtypes are static under `jax.jit`, so these checks cost nothing at run time.
Hyperparameter values are checked only when they are concrete (Python numbers, numpy values or
committed arrays); a traced value passes through unchecked, as in optax and `jsnn.losses`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike


def is_concrete(x: object) -> bool:
  """True when `x` holds a value now (not a `jax.core.Tracer`)."""
  return not isinstance(x, jax.core.Tracer)


def check_range(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> None:
  """Raises `ValueError` when a concrete `value` lies outside the stated interval.

  The message names the expected interval, e.g. "w_min must be > 0, got -1.0".
  """
  if value is None or not is_concrete(value):
    return
  arr = np.asarray(value)
  if arr.size == 0 or not np.issubdtype(arr.dtype, np.number):
    return
  if low is not None and (np.any(arr <= low) if low_open else np.any(arr < low)):
    raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {arr.tolist()}.")
  if high is not None and (np.any(arr >= high) if high_open else np.any(arr > high)):
    raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {arr.tolist()}.")


def time_major(name: str, x: ArrayLike) -> jax.Array:
  """`jnp.asarray(x)` after checking it is a floating time-major array `[T, B, ...]`."""
  x = jnp.asarray(x)
  if x.ndim < 2:
    raise ValueError(f"{name} must be time-major [T, B, ...] (rank >= 2), got shape {x.shape}.")
  if not jnp.issubdtype(x.dtype, jnp.floating):
    raise TypeError(f"{name} must be floating-point [T, B, ...], got dtype {x.dtype}.")
  return x


def align(name: str, value: ArrayLike, x: jax.Array) -> jax.Array:
  """Casts `value` to `x.dtype` and left-pads it to `x`'s rank (explicit broadcasting).

  Needed under `jax_numpy_rank_promotion="raise"`: a per-channel `[C]` threshold against potentials
  `[T, B, C]` becomes `[1, 1, C]`.

  Raises:
    ValueError: `value` does not broadcast against the trailing axes of `x`.
  """
  v = jnp.asarray(value)
  if v.ndim > x.ndim or any(a not in (1, b) for a, b in zip(v.shape[::-1], x.shape[::-1])):
    raise ValueError(f"{name} has shape {v.shape}; expected a scalar or a shape that broadcasts "
                     f"against the trailing axes of {x.shape}, e.g. {x.shape[-1:]} per channel.")
  return v.astype(x.dtype).reshape((1,) * (x.ndim - v.ndim) + v.shape)
