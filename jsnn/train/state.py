"""The training state: one plain pytree that jit, sharding, donation and orbax all see.

An NNX model is split **once** into a static ``graphdef`` and two pure dicts of arrays:
``params`` (every ``nnx.Param``) and ``model_state`` (every other variable: BatchNorm statistics,
RNG streams, ...). The jitted step merges them back into a module inside the trace
(``nnx.merge(..., copy=True)``), so nothing outside the step ever holds a stateful module
(big_vision's ``{"params", "opt"}`` dict, flax's ``create_train_state``).

Why pure dicts (``nnx.to_pure_dict``) and not ``nnx.State``: they flatten to arrays only (no
``Variable`` wrappers), so orbax, sharding rules inferred from shapes and a notebook's
``jax.tree.map`` see exactly the arrays; ``nnx.merge`` accepts them directly.

``method_state`` holds the values a training method changes on the host between steps without
recompiling (a ``jsnn.methods.Method``'s ``epoch_state``, e.g. the current epoch's surrogate
window widths). Learned method parameters (a learned surrogate shape) are ordinary ``nnx.Param``s
and live in ``params``.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import nnx, struct

__all__ = ["TrainState", "split_model", "merge_model", "model_state_of", "create_train_state",
           "create_sharded_train_state"]

PyTree = Any


@struct.dataclass
class TrainState:
  """Everything that changes during training, as one pytree.

  Attributes:
    step: int32 scalar, number of optimiser updates done so far.
    epoch: int32 scalar, the 0-based epoch the next update belongs to (set by the host).
    params: pure dict of the model's ``nnx.Param`` values (the differentiated leaves).
    opt_state: the optax state of ``params``.
    model_state: pure dict of every non-``Param`` variable (BatchNorm ``mean``/``var``, RNG
      streams); updated by the forward pass in training mode.
    method_state: pytree of traced per-epoch method values, passed to the loss (``{}`` if none).
    rng: a typed PRNG key; the step's key is ``fold_in(rng, step)``, so it never changes and a
      resumed run draws the same numbers.
  """

  step: jax.Array
  epoch: jax.Array
  params: PyTree
  opt_state: PyTree
  model_state: PyTree
  method_state: PyTree
  rng: jax.Array


def split_model(model: nnx.Module) -> tuple[nnx.GraphDef, dict, dict]:
  """Splits an NNX model into ``(graphdef, params, model_state)`` (pure dicts of arrays).

  Args:
    model: any ``nnx.Module``.

  Returns:
    The static graph definition, the ``nnx.Param`` values and every other variable's value.

  Examples:
    >>> from flax import nnx
    >>> graphdef, params, rest = split_model(nnx.Linear(2, 3, rngs=nnx.Rngs(0)))
    >>> sorted(params), rest
    (['bias', 'kernel'], {})
  """
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)
  return graphdef, nnx.to_pure_dict(params), nnx.to_pure_dict(rest)


def merge_model(graphdef: nnx.GraphDef, params: PyTree, model_state: PyTree) -> nnx.Module:
  """A fresh module from ``split_model``'s parts (``copy=True``, safe inside a trace).

  ``copy=True`` matters inside ``jax.grad``: without it the merged module shares its variables
  with the caller's, and a BatchNorm update raises ``TraceContextError`` (flax 0.12.8).
  """
  return nnx.merge(graphdef, params, model_state, copy=True)


def model_state_of(model: nnx.Module) -> dict:
  """The non-``Param`` variables of ``model`` as a pure dict (the new ``model_state``)."""
  _, _, rest = nnx.split(model, nnx.Param, ...)
  return nnx.to_pure_dict(rest)


def create_train_state(model: nnx.Module, tx: optax.GradientTransformation, *,
                       rng: jax.Array | int = 0, method_state: PyTree = None,
                       epoch: int = 0) -> tuple[nnx.GraphDef, TrainState]:
  """Splits ``model`` once and initialises the optimiser: the starting point of training.

  Args:
    model: an ``nnx.Module`` built with its own ``nnx.Rngs`` (its initial weights are taken as is).
    tx: the optax transformation (its ``init`` runs on ``params``).
    rng: a typed key (``jax.random.key``) or an int seed, for randomness inside the loss.
    method_state: initial traced method values (default ``{}``).
    epoch: the starting epoch.

  Returns:
    ``(graphdef, state)`` (graph definition first, as :func:`split_model` and ``nnx.split``); pass
    ``graphdef`` to :func:`jsnn.train.train_step` /
    :func:`jsnn.train.eval_step` (static, e.g. through ``functools.partial``).

  Examples:
    >>> import optax
    >>> from flax import nnx
    >>> graphdef, state = create_train_state(nnx.Linear(2, 3, rngs=nnx.Rngs(0)), optax.sgd(0.1))
    >>> int(state.step), sorted(state.params)
    (0, ['bias', 'kernel'])
  """
  graphdef, params, model_state = split_model(model)
  if isinstance(rng, int):
    rng = jax.random.key(rng)
  # optax 0.2.8 mixes Python floats with int32 counts; see jsnn.train.step.optimizer_update.
  with jax.numpy_dtype_promotion("standard"):
    opt_state = tx.init(params)
  state = TrainState(step=jnp.zeros((), jnp.int32), epoch=jnp.asarray(epoch, jnp.int32),
                     params=params, opt_state=opt_state, model_state=model_state,
                     method_state={} if method_state is None else method_state, rng=rng)
  return graphdef, state


def create_sharded_train_state(model_factory: Callable[..., nnx.Module],
                               tx: optax.GradientTransformation, *,
                               shardings_fn: Callable[[TrainState], Any], seed: int = 0,
                               method_state: PyTree = None,
                               epoch: int = 0) -> tuple[nnx.GraphDef, TrainState, Any]:
  """:func:`create_train_state` run under ``jax.jit`` with sharded outputs.

  Building a large model eagerly materialises every weight and both Adam moments on one device
  before they are sharded (ImageNet ResNet-34 with Adam: ~260 MB per copy; a multi-host run
  would also need identical host copies on every process). Here the model is traced once under
  ``jax.eval_shape`` (no FLOPs, no memory) to learn the state's shapes, ``shardings_fn`` turns
  those into shardings, and the same initialiser then runs jitted with ``out_shardings``, so each
  device computes and stores only its own shard, on every host (big_vision and the flax examples
  do the same). The random draws are the same threefry calls as eagerly, so the values equal
  :func:`create_train_state`'s: bitwise for most initialisers, within a few ulp (≤ 1e-6 relative)
  where XLA fuses a scale into the draw (kaiming normal; ``tests/test_train_state.py``).

  Args:
    model_factory: ``model_factory(rngs=nnx.Rngs(seed)) -> nnx.Module``.
    tx: the optax transformation.
    shardings_fn: ``abstract TrainState -> pytree of NamedSharding`` (e.g. a partial of
      :func:`jsnn.train.state_shardings`).
    seed: seeds both the model's ``nnx.Rngs`` and the state's ``rng``.
    method_state: initial traced method values (default ``{}``).
    epoch: the starting epoch.

  Returns:
    ``(graphdef, state, shardings)``.
  """
  graphdefs = []

  def init() -> TrainState:
    graphdef, state = create_train_state(model_factory(rngs=nnx.Rngs(seed)), tx,
                                         rng=jax.random.key(seed), method_state=method_state,
                                         epoch=epoch)
    graphdefs.append(graphdef)
    return state

  abstract = jax.eval_shape(init)
  shardings = shardings_fn(abstract)
  state = jax.jit(init, out_shardings=shardings)()
  return graphdefs[-1], state, shardings
