"""Trace-time validation shared by the losses.

Shapes and dtypes are static under `jax.jit`, so every check here runs while tracing and costs nothing
at run time. Values (label range, hyperparameter range) are checked only when they are concrete, i.e.
not `jax.core.Tracer`s: a traced `lamb` or traced `labels` passes through unchecked, as in optax.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

_TIME_MAJOR = "[T, B, C]"


def is_concrete(x: object) -> bool:
  """True when `x` holds a value now (numpy, Python scalar, committed jax.Array), not a tracer."""
  return not isinstance(x, jax.core.Tracer)


def float_array(name: str, x: ArrayLike, layout: str) -> jax.Array:
  """`jnp.asarray(x)`, raising `TypeError` unless its dtype is floating."""
  x = jnp.asarray(x)
  if not jnp.issubdtype(x.dtype, jnp.floating):
    raise TypeError(f"{name} must be floating-point logits of shape {layout}, got dtype {x.dtype}. "
                    f"Cast them first, e.g. {name}.astype(jnp.float32).")
  return x


def int_labels(labels: ArrayLike) -> jax.Array:
  """`jnp.asarray(labels)`, raising `TypeError` unless it holds integer class indices."""
  labels = jnp.asarray(labels)
  if not jnp.issubdtype(labels.dtype, jnp.integer):
    raise TypeError(f"labels must be integer class indices of shape [B], got dtype {labels.dtype} "
                    "(one-hot / soft targets are accepted as floating [B, C] arrays where the loss allows).")
  return labels


def check_label_range(labels: ArrayLike, num_classes: int) -> None:
  """Raises `ValueError` when concrete labels fall outside [0, C). Traced labels are not checked.

  Pass the caller's original argument: inside a trace even `jnp.asarray(numpy_array)` is a tracer.
  """
  if not is_concrete(labels):
    return
  values = np.asarray(labels)
  if values.size == 0:
    return
  low, high = int(values.min()), int(values.max())
  if low < 0 or high >= num_classes:
    raise ValueError(f"labels must lie in [0, C) = [0, {num_classes}), got values in [{low}, {high}].")


def soft_targets(labels: jax.Array, batch: int, classes: int, raw: ArrayLike) -> jax.Array:
  """Validates one-hot / soft targets `[B, C]` (float, or integer one-hot) as floating probabilities.

  Concrete targets must lie in [0, 1] (probabilities, e.g. mixup / label-smoothed one-hot); rows
  need not sum to 1 (PyTorch `CrossEntropyLoss` with probabilities does not require it either).
  """
  if labels.shape != (batch, classes):
    raise ValueError(f"one-hot / soft targets must have shape [B, C] = ({batch}, {classes}), got "
                     f"shape {labels.shape}; or pass integer class indices [B].")
  if is_concrete(raw):
    values = np.asarray(raw)
    if values.size and (np.isnan(values).any() or values.min() < 0 or values.max() > 1):
      raise ValueError(f"one-hot / soft targets must be probabilities in [0, 1], got values in "
                       f"[{values.min()}, {values.max()}].")
  return labels


def time_major(logits: ArrayLike, labels: ArrayLike) -> tuple[jax.Array, jax.Array]:
  """Validates time-major logits `[T, B, C]` and labels; returns both as `jax.Array`s.

  Labels are integer class indices `[B]`, or one-hot / soft targets `[B, C]` (floating, or an
  integer one-hot), returned as floating targets in the logits' dtype; the losses' CE then uses
  :math:`-\\sum_c q_c \\log p_c` (PyTorch `CrossEntropyLoss` with class probabilities).

  Raises:
    TypeError: integer logits, or floating labels of rank 1.
    ValueError: wrong ranks, a labels length that matches neither axis, a batch-first `[B, T, C]`
      array (detected when T != B), concrete labels outside [0, C), or soft targets that are not
      `[B, C]` probabilities.
  """
  logits = float_array("logits", logits, _TIME_MAJOR)
  if logits.ndim != 3:
    raise ValueError(f"logits must be time-major {_TIME_MAJOR}, got shape {logits.shape} "
                     f"(rank {logits.ndim}). Add a time axis of length 1 for static outputs.")
  steps, batch, classes = logits.shape
  raw_labels = labels
  if jnp.ndim(labels) == 2:
    targets = jnp.asarray(labels)
    if not (jnp.issubdtype(targets.dtype, jnp.floating)
            or jnp.issubdtype(targets.dtype, jnp.integer)):
      raise TypeError(f"one-hot / soft targets [B, C] must be numeric, got dtype {targets.dtype}.")
    targets = soft_targets(targets, batch, classes, raw_labels)
    return logits, targets.astype(logits.dtype)
  labels = int_labels(labels)
  if labels.shape != (batch,):
    if labels.ndim == 1 and labels.shape[0] == steps:
      raise ValueError(f"labels have length {steps} = logits.shape[0] but logits.shape[1] = {batch}: "
                       f"got [B, T, C]? expected time-major {_TIME_MAJOR}; pass logits.swapaxes(0, 1).")
    raise ValueError(f"labels must have shape [B] = ({batch},) for logits {_TIME_MAJOR} = "
                     f"{logits.shape}, got shape {labels.shape}.")
  check_label_range(raw_labels, classes)
  return logits, labels


def target_probs(labels: jax.Array, classes: int, dtype) -> jax.Array:
  """`one_hot(labels)` `[..., C]` for integer labels; soft targets `[..., C]` pass through (cast)."""
  if jnp.issubdtype(labels.dtype, jnp.floating):
    return labels.astype(dtype)
  return jax.nn.one_hot(labels, classes, dtype=dtype)


def batch_logits(name: str, logits: ArrayLike, batch: int | None = None,
                 classes: int | None = None) -> jax.Array:
  """Validates time-averaged logits `[B, C]` (optionally of a given B and C)."""
  logits = float_array(name, logits, "[B, C]")
  if logits.ndim != 2:
    hint = " Average over time first (logits_tbc.mean(0))." if logits.ndim == 3 else ""
    raise ValueError(f"{name} must be time-averaged logits [B, C], got shape {logits.shape}.{hint}")
  if batch is not None and logits.shape != (batch, classes):
    raise ValueError(f"{name} must have shape [B, C] = ({batch}, {classes}), got {logits.shape}.")
  return logits


def batch_labels(labels: ArrayLike, batch: int, classes: int) -> jax.Array:
  """Validates integer labels `[B]` for `[B, C]` logits."""
  raw_labels, labels = labels, int_labels(labels)
  if labels.shape != (batch,):
    raise ValueError(f"labels must have shape [B] = ({batch},), got shape {labels.shape}.")
  check_label_range(raw_labels, classes)
  return labels


def scalar(name: str, value: ArrayLike, dtype: jnp.dtype, *, low: float | None = None,
           high: float | None = None, low_open: bool = False) -> float | jax.Array:
  """Validates a scalar hyperparameter and readies it for arithmetic with `dtype` arrays.

  A concrete value is range-checked and returned as a Python float (weakly typed, so it never
  promotes float32 logits). A traced value is returned as `jnp.asarray(value, dtype)`, unchecked.

  Raises:
    ValueError: a non-scalar value, or a concrete value outside [low, high] (or (low, high]).
  """
  if not is_concrete(value):
    if jnp.ndim(value) != 0:
      raise ValueError(f"{name} must be a scalar, got shape {jnp.shape(value)}.")
    return jnp.asarray(value, dtype)
  array = np.asarray(value)
  if array.ndim != 0:
    raise ValueError(f"{name} must be a scalar, got shape {array.shape}.")
  number = float(array)
  too_low = low is not None and (number <= low if low_open else number < low)
  too_high = high is not None and number > high
  if too_low or too_high or np.isnan(number):
    left = "(" if low_open else "["
    interval = f"{left}{low if low is not None else '-inf'}, {high if high is not None else 'inf'}"
    interval += "]" if high is not None else ")"
    raise ValueError(f"{name} must lie in {interval}, got {number}.")
  return number
