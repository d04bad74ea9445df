"""Value checks that must hold under ``jit`` (labels in range), through ``jax.experimental.checkify``.

Under ``jit`` an out-of-range label is not an error: ``one_hot`` gives a zero row and the loss
silently becomes wrong (or NaN). :func:`check_labels` states the check with ``checkify.check``; it
takes effect in a function wrapped by ``chex.chexify`` (or ``checkify.checkify``)::

    step = chex.chexify(jax.jit(step_fn), async_check=False)   # raises on the host, with values

Called in a function that is jitted *without* such a wrapper, JAX refuses to stage the check
(``Cannot abstractly evaluate a checkify.check``), so a forgotten wrapper is loud, not silent.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.experimental import checkify

__all__ = ["check_labels"]


def check_labels(labels: jax.Array, num_classes: int) -> jax.Array:
  """Checks ``0 <= labels < num_classes`` (integer labels ``[B]``) and returns ``labels``.

  Args:
    labels: integer class indices ``[B]``.
    num_classes: ``C``, the logits' last dimension.

  Returns:
    ``labels`` unchanged.

  Raises:
    ValueError: eagerly, for an out-of-range label (the message gives the range and the values).
    JaxRuntimeError: inside ``chex.chexify`` / ``checkify.checkify``, with the same message.
  """
  labels = jnp.asarray(labels)
  lo, hi = jnp.min(labels), jnp.max(labels)
  checkify.check(jnp.logical_and(lo >= 0, hi < num_classes),
                 f"labels must be class indices in [0, {int(num_classes)}); got min {{lo}}, max "
                 "{hi} (check the dataset's label range and the model's num_classes)",
                 lo=lo, hi=hi)
  return labels
