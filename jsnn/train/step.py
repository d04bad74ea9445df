r"""The pure train and eval steps, and the classification loss/eval adapters.

Both steps are plain functions of pytrees. Static pieces (``graphdef``, ``loss_fn``, ``tx``) are
keyword arguments to bind with ``functools.partial`` before ``jax.jit``; the trainer
(:mod:`jsnn.train.loop`) adds shardings and buffer donation, a notebook can jit them by hand:

    step = jax.jit(functools.partial(train_step, graphdef=graphdef, loss_fn=loss_fn, tx=tx),
                   donate_argnums=0)

**Methods plug in from outside, never as branches here.** A ``jsnn.methods.Method`` supplies the
``loss_fn`` / ``eval_fn`` below (``method.loss_fn()``, ``method.eval_fn()``), wraps the optax
transformation (``method.wrap_optimizer``) and gives the traced per-epoch ``method_state``
(``method.epoch_state``); this file knows no method by name.

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

__all__ = ["train_step", "eval_step", "optimizer_update", "LossFn", "EvalFn"]

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
