"""Readout of time-major logits: prediction and accuracy (not differentiable)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from . import _checks


def predict(logits_tbc: ArrayLike) -> jax.Array:
  r"""Predicted class per sample: argmax of the time-averaged logits.

  .. math:: \hat y_b = \arg\max_c \frac{1}{T}\sum_t O_{t,b,c}

  Argmax of the mean equals argmax of the sum (CLIF's readout) up to float ties; the first maximal
  class wins a tie.

  Args:
    logits_tbc: per-step logits `[T, B, C]`, float.

  Returns:
    Integer class indices `[B]`.

  Examples:
    >>> import jax.numpy as jnp
    >>> from jsnn import losses
    >>> losses.predict(jnp.array([[[0.0, 1.0], [2.0, 0.0]]])).tolist()
    [1, 0]

  References:
    TET `main_training_parallel.py:111-112`; CLIF `train.py:449-453`.
  """
  logits = _checks.float_array("logits", logits_tbc, "[T, B, C]")
  if logits.ndim != 3:
    raise ValueError(f"logits must be time-major [T, B, C], got shape {logits.shape} (rank {logits.ndim}).")
  return jnp.argmax(jnp.mean(logits, axis=0), axis=-1)


def accuracy(logits_tbc: ArrayLike, labels: ArrayLike) -> jax.Array:
  r"""Fraction of samples whose :func:`predict` equals the label.

  .. math:: \mathrm{acc} = \frac{1}{B}\sum_b [\hat y_b = y_b]

  Args:
    logits_tbc: per-step logits `[T, B, C]`, float.
    labels: integer class indices `[B]` in [0, C).

  Returns:
    Scalar in [0, 1], in the logits' dtype.

  Examples:
    >>> import jax.numpy as jnp
    >>> from jsnn import losses
    >>> logits = jnp.array([[[0.0, 1.0], [2.0, 0.0]]])  # T=1, B=2, C=2
    >>> float(losses.accuracy(logits, jnp.array([1, 1])))
    0.5
  """
  logits, labels = _checks.time_major(logits_tbc, labels)
  hits = predict(logits) == labels
  return jnp.mean(hits.astype(logits.dtype))
