r"""float16 mixed precision with dynamic loss scaling (PyTorch AMP's ``GradScaler``), without a
special train step.

CLIF trains with ``torch.cuda.amp``: convolutions and linears in float16 under ``autocast``, float32
master weights, and ``GradScaler`` (``train.py:322-323, 445-490`` of ``HuuYuLong/Complementary-LIF``,
``-amp`` defaults to True): the loss is multiplied by a scale ``s`` before the backward pass so that
small float16 cotangents do not flush to zero; the gradients are divided by ``s``; a step whose
gradients hold an inf/NaN is skipped and ``s`` halves; after ``growth_interval`` = 2000 finite steps
in a row ``s`` doubles (initial ``s = 2^16``).

jsnn splits this into two pieces that need no change to :func:`jsnn.train.train_step`:

* :class:`LossScaledModel` wraps any model: its output is the wrapped model's output, and in the
  backward pass the cotangent entering the model is multiplied by ``s``
  (:func:`scale_cotangent`), which is what scaling the loss does to every cotangent inside the
  network (the loss and its metrics stay unscaled). ``s`` is a float32 ``nnx.Param`` named
  ``loss_scale`` at the top of the wrapper, so it travels in the train state's ``params``,
  checkpoints with them, and the optimiser below sees it.
* :func:`dynamic_loss_scale` wraps the optax transformation: it reads ``s`` from ``params``,
  unscales the gradients, skips the inner update (zero updates, inner state kept) when any
  unscaled gradient is not finite, and writes the new ``s`` as the update of the ``loss_scale``
  leaf. The inner transformation never sees that leaf (no weight decay, no momentum on it).

Together (``model = LossScaledModel(Model(..., dtype=jnp.float16))`` and
``tx = dynamic_loss_scale(tx)``) they reproduce ``GradScaler``'s rule step for step. Differences: the
optimiser's step count (and so a per-step schedule) does not advance on a skipped step, while
PyTorch's epoch-stepped scheduler does not care; the trainer's ``grad_norm`` metric is that of the
scaled gradients (``s`` times the true norm). The models' ``dtype=jnp.float16`` runs convolutions
and linears in float16 with float32 weights, norms and membrane potentials (autocast also keeps
BatchNorm in float32, but its neurons then run on float16 tensors).

**On CPU** XLA computes float16 dots and convolutions by upcasting to float32 internally and rounds
the results to float16; it is slower than float32 and only useful for checking the numerics. On
GPUs it uses float16 tensor cores. The rule is the same on every backend.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

__all__ = ["scale_cotangent", "LossScaledModel", "dynamic_loss_scale", "DynamicLossScaleState",
           "SCALE_NAME"]

SCALE_NAME = "loss_scale"


@jax.custom_vjp
def scale_cotangent(x: jax.Array, scale: jax.Array) -> jax.Array:
  """Identity in the forward pass; multiplies the incoming cotangent by ``scale`` backwards.

  Args:
    x: any array (e.g. logits ``[T, B, C]``).
    scale: a scalar; it gets a zero cotangent.

  Returns:
    ``x``.
  """
  del scale
  return x


def _scale_fwd(x, scale):
  return x, scale


def _scale_bwd(scale, g):
  # In float32, then back to g's dtype: 2^16 itself is not a float16 (max 65504), and a product
  # beyond float16's range becomes inf, the overflow that makes dynamic_loss_scale back off.
  return (g.astype(jnp.float32) * scale.astype(jnp.float32)).astype(g.dtype), jnp.zeros_like(scale)


scale_cotangent.defvjp(_scale_fwd, _scale_bwd)


class LossScaledModel(nnx.Module):
  """A model whose backward pass is multiplied by a dynamic loss scale ``s`` (``loss_scale``).

  Args:
    model: any NNX model (its call signature is kept; its outputs come back in at least float32,
      and a list output, SML's, is handled leaf by leaf).
    init_scale: the initial ``s`` (``GradScaler``: ``2.0 ** 16``).
  """

  def __init__(self, model: nnx.Module, *, init_scale: float = 2.0 ** 16):
    if not init_scale > 0:
      raise ValueError(f"LossScaledModel: init_scale must be positive, got {init_scale!r}.")
    self.model = model
    self.loss_scale = nnx.Param(jnp.asarray(init_scale, jnp.float32))

  def __call__(self, *args, **kwargs):
    out = self.model(*args, **kwargs)
    s = jax.lax.stop_gradient(self.loss_scale[...])
    # Upcast first: the loss's float32 cotangent is scaled *before* it is cast to float16 on the
    # way into the model (otherwise the cast would flush it to zero, which the scale is there to
    # prevent). The loss then runs in float32, as autocast runs cross-entropy.
    up = lambda o: o.astype(jnp.float32) if jnp.finfo(o.dtype).bits < 32 else o
    return jax.tree.map(lambda o: scale_cotangent(up(o), s), out)


class DynamicLossScaleState(NamedTuple):
  """``inner``: the wrapped transformation's state; ``good_steps``: finite steps since the last
  change of the scale (int32)."""

  inner: Any
  good_steps: jax.Array


def _is_scale(path) -> bool:
  first = path[0] if path else None
  return getattr(first, "key", getattr(first, "name", None)) == SCALE_NAME


def dynamic_loss_scale(inner: optax.GradientTransformation, *, growth_interval: int = 2000,
                       growth_factor: float = 2.0, backoff_factor: float = 0.5
                       ) -> optax.GradientTransformation:
  """Wraps ``inner`` with ``GradScaler``'s unscale / skip / grow-or-back-off rule.

  The parameters must hold a top-level float32 scalar ``loss_scale`` (a :class:`LossScaledModel`'s
  ``params``). With ``s`` its value and ``g`` the gradients of the other leaves (scaled by ``s``):

  * ``u = g / s``; if every entry of ``u`` is finite, the update is ``inner(u)``, else all updates
    are 0 and the inner state is kept (the step is skipped);
  * ``s`` becomes ``s·backoff_factor`` after a skipped step, ``s·growth_factor`` after
    ``growth_interval`` finite steps in a row (then the count restarts), else stays.

  Args:
    inner: the optimiser (e.g. from ``jsnn.train.make_optimizer``).
    growth_interval, growth_factor, backoff_factor: ``GradScaler``'s defaults 2000, 2.0, 0.5.

  Returns:
    An ``optax.GradientTransformation`` whose state is :class:`DynamicLossScaleState`.

  Raises:
    ValueError: at trace time, if the parameters have no ``loss_scale`` leaf.
  """
  if int(growth_interval) != growth_interval or growth_interval < 1:
    raise ValueError(f"growth_interval must be a positive integer, got {growth_interval!r}.")
  if not (growth_factor > 1.0 and 0.0 < backoff_factor < 1.0):
    raise ValueError(f"need growth_factor > 1 and 0 < backoff_factor < 1, got {growth_factor!r}, "
                     f"{backoff_factor!r}.")
  mask = lambda params: jax.tree_util.tree_map_with_path(lambda p, _: not _is_scale(p), params)
  masked = optax.masked(inner, mask)

  def scale_of(params):
    found = [leaf for path, leaf in jax.tree_util.tree_leaves_with_path(params) if _is_scale(path)]
    if len(found) != 1:
      raise ValueError(f"dynamic_loss_scale: the parameters need one top-level '{SCALE_NAME}' leaf "
                       "(wrap the model in jsnn.train.loss_scale.LossScaledModel).")
    return found[0]

  def init_fn(params):
    scale_of(params)
    return DynamicLossScaleState(masked.init(params), jnp.zeros((), jnp.int32))

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError("dynamic_loss_scale needs params (the loss scale lives there).")
    s = scale_of(params)
    unscaled = jax.tree_util.tree_map_with_path(
        lambda p, g: jnp.zeros_like(g) if _is_scale(p) else g / s.astype(g.dtype), updates)
    finite = jnp.all(jnp.asarray([jnp.all(jnp.isfinite(g)) for g in jax.tree.leaves(unscaled)]))
    inner_updates, inner_state = masked.update(unscaled, state.inner, params)
    inner_state = jax.tree.map(lambda new, old: jnp.where(finite, new, old), inner_state, state.inner)
    good = jnp.where(finite, state.good_steps + 1, 0).astype(jnp.int32)
    grow = good >= growth_interval
    new_s = jnp.where(finite, jnp.where(grow, s * growth_factor, s), s * backoff_factor)
    good = jnp.where(grow, 0, good).astype(jnp.int32)
    out = jax.tree_util.tree_map_with_path(
        lambda p, u: (new_s - s).astype(u.dtype) if _is_scale(p)
        else jnp.where(finite, u, jnp.zeros_like(u)), inner_updates)
    return out, DynamicLossScaleState(inner_state, good)

  return optax.GradientTransformation(init_fn, update_fn)
