"""Model inputs: direct encoding of static images and checked pass-through of event frames.

* Static images ``[B, H, W, C]`` are repeated T times (direct encoding: TET ``add_dimention``, SML
  ``ExpandTime``, CLIF feeding the same image at every step) -> ``[T, B, H, W, C]``.
* Event frames arrive time-major ``[T, B, H, W, 2]`` and pass through unchanged.

:func:`encode_input` checks the layout at trace time and says which one the model expects, so a
batch-first clip or an image given to a DVS model fails loudly instead of silently.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp

__all__ = ["INPUT_KINDS", "direct_encode", "encode_input"]

INPUT_KINDS = ("image", "frames")


def direct_encode(x: jax.Array, T: int) -> jax.Array:
  """Repeats a static batch ``x [B, ...]`` over time: ``[T, B, ...]`` (a broadcast, no copy)."""
  x = jnp.asarray(x)
  return jnp.broadcast_to(x[None], (T,) + x.shape)


def _fmt(dims: Sequence) -> str:
  return "[" + ", ".join(str(d) for d in dims) + "]"


def _layout(kind: str, T: int, sample: Sequence[int | None]) -> str:
  names = ("H", "W", "C")[-len(sample):] if len(sample) <= 3 else tuple(
      f"d{i}" for i in range(len(sample)))
  dims = [f"{n}={s}" if s is not None else n for n, s in zip(names, sample)]
  if kind == "image":
    return f"static images [B, {', '.join(dims)}] (repeated T={T} times by the model)"
  return f"time-major frames [T={T}, B, {', '.join(dims)}]"


def encode_input(x: jax.Array, *, T: int, kind: str, sample_shape: Sequence[int | None],
                 who: str = "model") -> jax.Array:
  """Checks a model input and returns it time-major ``[T, B, *sample_shape]``.

  Args:
    x: ``[B, H, W, C]`` for ``kind="image"``, ``[T, B, H, W, C]`` for ``kind="frames"``.
    T: number of time steps.
    kind: ``"image"`` (direct encoding) or ``"frames"`` (event frames / any time-major input).
    sample_shape: expected per-sample shape, e.g. ``(32, 32, 3)``; ``None`` entries are not
      checked.
    who: name used in error messages.

  Returns:
    ``[T, B, *sample_shape]``.

  Raises:
    ValueError: at trace time, for a wrong rank (image given as frames or the reverse), a wrong
      number of steps, or a wrong spatial size / channel count; the message names the expected
      layout.
    TypeError: non-floating input.
  """
  if kind not in INPUT_KINDS:
    raise ValueError(f"{who}: input kind must be one of {INPUT_KINDS}, got {kind!r}.")
  x = jnp.asarray(x)
  expected = _layout(kind, T, sample_shape)
  n = len(sample_shape)
  if not jnp.issubdtype(x.dtype, jnp.floating):
    raise TypeError(f"{who}: expected a floating-point input ({expected}), got dtype {x.dtype}.")
  if kind == "image":
    if x.ndim == n + 2:
      raise ValueError(f"{who}: expected {expected}, got a time-major input of shape "
                       f"{_fmt(x.shape)}; this model encodes static images itself (build it "
                       "with input_kind='frames' for event frames).")
    if x.ndim != n + 1:
      raise ValueError(f"{who}: expected {expected}, got shape {_fmt(x.shape)}.")
    sample = x.shape[1:]
  else:
    if x.ndim == n + 1:
      raise ValueError(f"{who}: expected {expected}, got a static batch of shape "
                       f"{_fmt(x.shape)}; event frames must be time-major [T, B, ...] (build the "
                       "model with input_kind='image' for direct encoding).")
    if x.ndim != n + 2:
      raise ValueError(f"{who}: expected {expected}, got shape {_fmt(x.shape)}.")
    if x.shape[0] != T:
      hint = ""
      if x.shape[1] == T:
        hint = " It looks batch-first [B, T, ...]; transpose it to time-major [T, B, ...]."
      raise ValueError(f"{who}: expected {expected} with T={T}, got shape {_fmt(x.shape)}.{hint}")
    sample = x.shape[2:]
  if any(e is not None and e != s for e, s in zip(sample_shape, sample)):
    raise ValueError(f"{who}: expected {expected}, got per-sample shape {_fmt(sample)} "
                     f"(input shape {_fmt(x.shape)}).")
  return direct_encode(x, T) if kind == "image" else x
