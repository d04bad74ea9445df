"""Batch-mean softmax cross-entropy with PyTorch `CrossEntropyLoss` semantics (private building block)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def cross_entropy(logits: jax.Array, labels: jax.Array,
                  label_smoothing: float | jax.Array = 0.0) -> jax.Array:
  r"""Mean cross-entropy over every leading position, as `nn.CrossEntropyLoss(label_smoothing=ε)`.

  .. math::
    \ell = (1 - ε)\,[-\log p_y] + ε \cdot \frac{1}{C}\sum_c [-\log p_c],
    \qquad p = \mathrm{softmax}(z)

  i.e. CE against the smoothed target :math:`(1-ε)\,\mathrm{onehot}(y) + ε/C`.

  With soft targets `q [..., C]` (floating labels of the logits' shape) it is PyTorch's
  `CrossEntropyLoss` with class probabilities: :math:`-\sum_c \tilde q_c \log p_c`,
  :math:`\tilde q = (1 - ε)\,q + ε/C`; a one-hot `q` gives the integer-label value (up to float rounding).

  Args:
    logits: validated float logits `[..., C]`.
    labels: validated integer labels with shape `logits.shape[:-1]`, or floating soft targets
      with the logits' shape.
    label_smoothing: ε in [0, 1]; a Python `0.0` skips the smoothing term.

  Returns:
    Scalar mean over all leading positions, in the logits' dtype.
  """
  log_probs = jax.nn.log_softmax(logits, axis=-1)
  if jnp.issubdtype(labels.dtype, jnp.floating):
    q = labels.astype(log_probs.dtype)
    if not (isinstance(label_smoothing, float) and label_smoothing == 0.0):
      q = (1.0 - label_smoothing) * q + label_smoothing / logits.shape[-1]
    return jnp.mean(-jnp.sum(q * log_probs, axis=-1))
  nll = -jnp.take_along_axis(log_probs, labels[..., None], axis=-1)[..., 0]
  if isinstance(label_smoothing, float) and label_smoothing == 0.0:
    return jnp.mean(nll)
  smooth = -jnp.mean(log_probs, axis=-1)
  return jnp.mean((1.0 - label_smoothing) * nll + label_smoothing * smooth)


def tiled_labels(labels: jax.Array, steps: int) -> jax.Array:
  """Labels `[B]` (or soft targets `[B, C]`) repeated over time, `[T, B]` (`[T, B, C]`)."""
  return jnp.broadcast_to(labels[None], (steps,) + labels.shape)
