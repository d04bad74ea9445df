"""`clip_params`: keep parameters inside `[lo, hi]` after the update (an optax transform)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from jsnn.transforms import _checks

__all__ = ["ClipParamsState", "clip_params"]

ClipParamsState = optax.EmptyState

_NO_PARAMS_MSG = ("clip_params needs the current parameters: call "
                  "`tx.update(updates, state, params)` with params (optax.apply_updates needs "
                  "them too).")


def clip_params(lo: ArrayLike, hi: ArrayLike) -> optax.GradientTransformation:
  r"""Rewrites the updates so that the new parameters are clamped to `[lo, hi]`.

  .. math::
     u' = \mathrm{clip}(p + u, lo, hi) - p

  Put it **last** in a chain (after the learning rate), typically on the surrogate group of
  `optax.partition(..., psg_label_fn)` so shape parameters stay in a valid range. Shaped like
  optax's `keep_params_nonnegative`.

  Args:
    lo: lower bound (a scalar, or an array broadcasting against every parameter).
    hi: upper bound, `hi >= lo`.

  Returns:
    An `optax.GradientTransformation` with empty state.

  Raises:
    ValueError: `lo > hi` (concrete), or `update` called without `params`.

  Examples:
    >>> import jax.numpy as jnp, optax
    >>> tx = optax.chain(optax.sgd(1.0), clip_params(0.5, 2.0))
    >>> p = {"alpha": jnp.array(1.0)}
    >>> u, _ = tx.update({"alpha": jnp.array(-5.0)}, tx.init(p), p)
    >>> float(optax.apply_updates(p, u)["alpha"])
    2.0
  """
  if _checks.is_concrete(lo) and _checks.is_concrete(hi) and bool(jnp.any(jnp.asarray(lo) >
                                                                         jnp.asarray(hi))):
    raise ValueError(f"clip_params: expected lo <= hi, got lo={lo}, hi={hi}.")

  def init_fn(params):
    del params
    return ClipParamsState()

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError(_NO_PARAMS_MSG)

    def clamp(p, u):
      if u is None:
        return None
      p = jnp.asarray(p)
      new = jnp.clip(p + u, _checks.align("lo", lo, p), _checks.align("hi", hi, p))
      return (new - p).astype(u.dtype)

    return jax.tree.map(clamp, params, updates, is_leaf=lambda x: x is None), state

  return optax.GradientTransformation(init_fn, update_fn)
