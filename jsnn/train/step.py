r"""The pure train and eval steps, and the classification loss/eval adapters.

Both steps are plain functions of pytrees. Static pieces (``graphdef``, ``loss_fn``, ``tx``) are
keyword arguments to bind with ``functools.partial`` before ``jax.jit``; the trainer
(:mod:`jsnn.train.loop`) adds shardings and buffer donation, a notebook can jit them by hand:

    step = jax.jit(functools.partial(train_step, graphdef=graphdef, loss_fn=loss_fn, tx=tx),
                   donate_argnums=0)

**Methods plug in from outside, never as branches here.** A method is (a) a loss function
(:func:`classification_loss` around ``jsnn.losses.tet`` / ``sdt`` / ``clif_loss`` / ``mix_loss``),
(b) an optax transformation (PSG: ``optax.partition`` with ``jsnn.transforms.psg_label_fn`` and
``clip_params``), and/or (c) traced ``method_state`` values set by the host between epochs (AdaLi's
surrogate widths), which the loss passes to the model as keyword arguments.

Contracts:

* ``loss_fn(model, batch, method_state, rng) -> (loss, aux)``: ``model`` is the merged NNX module
  in training mode; ``loss`` a scalar; ``aux`` a dict of scalar metrics (e.g. ``accuracy``).
* ``eval_fn(model, batch, method_state) -> dict`` of **sums** over the batch (``count`` plus e.g.
  ``loss_sum``, ``correct``), honouring an optional ``batch["mask"]`` (padding rows have mask 0), so
  the host can add them up over an evaluation pass and divide once.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jsnn.train.state import TrainState, merge_model, model_state_of

__all__ = ["train_step", "eval_step", "optimizer_update", "classification_loss",
           "classification_eval", "LossFn", "EvalFn"]

Batch = dict[str, jax.Array]
LossFn = Callable[[nnx.Module, Batch, Any, jax.Array], tuple[jax.Array, dict]]
EvalFn = Callable[[nnx.Module, Batch, Any], dict]


def optimizer_update(tx: optax.GradientTransformation, grads, opt_state, params):
  """``tx.update`` + ``apply_updates``, traced under standard dtype promotion.

  Why the promotion context: optax 0.2.8's Adam bias correction computes ``decay ** count`` with a
  Python float and an int32 count, which raises ``TypePromotionError`` under
  ``jax_numpy_dtype_promotion="strict"`` (the setting of jsnn's test suite, meant to catch our own
  float32/float64 mixes). Only the optimiser is traced under "standard"; the model and the loss
  keep the caller's (strict) promotion rules.
  """
  with jax.numpy_dtype_promotion("standard"):
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def train_step(state: TrainState, batch: Batch, *, graphdef: nnx.GraphDef, loss_fn: LossFn,
               tx: optax.GradientTransformation) -> tuple[TrainState, dict]:
  """One optimiser update: forward in training mode, gradients of ``params``, optax update.

  Args:
    state: the current :class:`~jsnn.train.TrainState`.
    batch: a dict of arrays (global batch; sharded along axis 0 under the trainer's mesh).
    graphdef: from :func:`~jsnn.train.create_train_state` (static).
    loss_fn: ``loss_fn(model, batch, method_state, rng) -> (loss, aux)`` (static).
    tx: the optax transformation (static).

  Returns:
    ``(new_state, metrics)`` with scalar metrics ``loss``, ``grad_norm`` and the loss's ``aux``.
    ``model_state`` (BatchNorm statistics) comes from the forward pass over the whole global batch.
  """
  rng = jax.random.fold_in(state.rng, state.step)

  def objective(params):
    model = merge_model(graphdef, params, state.model_state)
    model.train()
    loss, aux = loss_fn(model, batch, state.method_state, rng)
    return loss, (aux, model_state_of(model))

  (loss, (aux, model_state)), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
  params, opt_state = optimizer_update(tx, grads, state.opt_state, state.params)
  metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads), **aux}
  new_state = state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                            model_state=model_state)
  return new_state, metrics


def eval_step(state: TrainState, batch: Batch, *, graphdef: nnx.GraphDef,
              eval_fn: EvalFn) -> dict:
  """Evaluation sums for one batch, with the model in eval mode (BatchNorm running statistics).

  Args:
    state: the current :class:`~jsnn.train.TrainState` (not modified).
    batch: a dict of arrays, optionally with ``mask`` ``[B]`` (1 = real example, 0 = padding).
    graphdef: from :func:`~jsnn.train.create_train_state` (static).
    eval_fn: ``eval_fn(model, batch, method_state) -> dict of sums`` (static).

  Returns:
    ``eval_fn``'s dict of sums.
  """
  model = merge_model(graphdef, state.params, state.model_state)
  model.eval()
  return eval_fn(model, batch, state.method_state)


def _logits(model, batch, method_state, input_key):
  """The model's output: logits ``[T, B, C]``, or a list ``[[T, B, C], [B, C], ...]`` (SML)."""
  kwargs = dict(method_state) if method_state else {}
  logits = model(batch[input_key], **kwargs)
  if isinstance(logits, (list, tuple)):
    return _check_output_list(list(logits))
  if logits.ndim != 3:
    raise ValueError(f"expected time-major logits [T, B, C] from the model, got shape "
                     f"{logits.shape}.")
  return logits


def _check_output_list(outputs: list) -> list:
  # [o_snn [T, B, C], o_1 [B, C], ...]: SML's surrogate-module models (jsnn.models.sml_resnet).
  if not outputs or getattr(outputs[0], "ndim", None) != 3:
    shape = getattr(outputs[0], "shape", None) if outputs else "an empty list"
    raise ValueError("a model returning a list must put the time-major logits [T, B, C] first "
                     f"([o_snn [T, B, C], o_1 [B, C], ...]), got {shape}.")
  batch = outputs[0].shape[1]
  for i, out in enumerate(outputs[1:], 1):
    if out.ndim not in (2, 3) or out.shape[out.ndim - 2] != batch:
      raise ValueError(f"model output {i} must be [B, C] or [T, B, C] with B = {batch}, got shape "
                       f"{out.shape}.")
  return outputs


def _predict(logits_tbc: jax.Array) -> jax.Array:
  # argmax of the time-averaged logits, as jsnn.losses.predict (kept local: train/ receives losses).
  return jnp.argmax(jnp.mean(logits_tbc, axis=0), axis=-1)


def _head(outputs) -> jax.Array:
  # The logits scored for accuracy: the SNN's (outputs[0]) for a list, as SML's test does.
  return outputs[0] if isinstance(outputs, list) else outputs


def classification_loss(loss: Callable, *, input_key: str = "image", label_key: str = "label",
                        **loss_kw) -> LossFn:
  """A ``loss_fn`` for a classifier returning time-major logits ``[T, B, C]`` (or a list of them).

  The model is called as ``model(batch[input_key], **method_state)``: ``method_state`` must be a
  dict whose keys are keyword arguments of the model's ``__call__`` (e.g. ``{"spike_fn": sg}``
  for AdaLi), or empty.

  A model may also return a list ``[o_snn [T, B, C], o_1 [B, C], ...]`` (SML's surrogate modules,
  ``sb_after=...``): the loss then gets the whole list (``jsnn.losses.sml_loss``) and the accuracy
  is that of ``o_snn``, the spiking network's prediction (what SML reports).

  Args:
    loss: ``loss(logits_tbc, labels, **loss_kw) -> scalar``, e.g. ``jsnn.losses.tet``; for a list
      output ``loss(outputs, labels, **loss_kw)``.
    input_key, label_key: batch keys of the input and the integer labels ``[B]``.
    **loss_kw: extra loss arguments (``lamb=1e-3``, ...).

  Returns:
    ``loss_fn(model, batch, method_state, rng) -> (loss, {"accuracy": ...})``.
  """

  def loss_fn(model, batch, method_state, rng):
    del rng
    logits = _logits(model, batch, method_state, input_key)
    labels = batch[label_key]
    head = _head(logits)
    acc = jnp.mean((_predict(head) == labels).astype(head.dtype))
    return loss(logits, labels, **loss_kw), {"accuracy": acc}

  return loss_fn


def classification_eval(loss: Callable, *, input_key: str = "image", label_key: str = "label",
                        **loss_kw) -> EvalFn:
  """An ``eval_fn`` returning ``{"loss_sum", "correct", "count"}`` (masked sums).

  The per-example loss is ``loss`` on a batch of one (``vmap`` over the batch axis of
  ``[T, B, C]``); for the batch-mean losses of ``jsnn.losses`` its mean is the batch loss. For a
  model returning a list (see :func:`classification_loss`), each member is split along its own
  batch axis (1 for ``[T, B, C]``, 0 for ``[B, C]``) and ``correct`` counts ``outputs[0]``'s hits.
  """

  def per_example(logits_tc, label):
    return loss(logits_tc[:, None], label[None], **loss_kw)

  def per_example_list(outputs, label):
    # Members arrive without their batch axis: [T, C] -> [T, 1, C], [C] -> [1, C].
    return loss([o[:, None] if o.ndim == 2 else o[None] for o in outputs], label[None], **loss_kw)

  def eval_fn(model, batch, method_state):
    logits = _logits(model, batch, method_state, input_key)
    labels = batch[label_key]
    head = _head(logits)
    mask = batch.get("mask")
    mask = jnp.ones(labels.shape, head.dtype) if mask is None else mask.astype(head.dtype)
    if isinstance(logits, list):
      axes = [1 if o.ndim == 3 else 0 for o in logits]
      losses = jax.vmap(per_example_list, in_axes=(axes, 0))(logits, labels)
    else:
      losses = jax.vmap(per_example, in_axes=(1, 0))(logits, labels)
    hits = (_predict(head) == labels).astype(head.dtype)
    return {"loss_sum": jnp.sum(losses * mask), "correct": jnp.sum(hits * mask),
            "count": jnp.sum(mask)}

  return eval_fn
