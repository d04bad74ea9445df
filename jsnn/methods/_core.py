r"""A training method as a value: what it changes, composed from small parts.

A :class:`Method` states in one place everything a surrogate-gradient method changes (the way
``optax.adam`` is a few lines composing transforms):

==================  ================================================================================
part                what it does (``None`` / empty: the method leaves it alone)
==================  ================================================================================
``neuron``          neuron of every spiking layer (``jsnn.nn.set_neuron``), e.g. CLIF's
``spike_fn``        surrogate spike function of every spiking layer (``jsnn.nn.set_spike_fn``)
``learn_surrogate`` make the spike function's shape parameters ``nnx.Param`` s (PSG)
``loss``            ``loss(outputs, labels) -> scalar`` on the model's outputs (default: SDT)
``readout``         ``outputs -> logits [T, B, C]`` scored for accuracy (default: the outputs)
``optimizer``       ``optimizer(tx, relative_lr) -> tx``: wraps the main optax transformation
``epoch_values``    host side, ``(epoch, num_epochs) -> pytree`` of traced per-epoch values
``set_values``      inside the step, ``(model, values) -> None``: applies them (no recompilation)
``wrap_model``      ``(model, rngs) -> model``: e.g. SML's surrogate modules around a staged trunk
``record``          what every spiking layer sows (``jsnn.nn.RECORDABLE``), for the ``penalty``
``penalty``         ``(model, intermediates) -> scalar`` added to the loss (PDA)
``time_steps``      ``epoch -> T`` (TIT): the host changes the models' ``T`` between stages
==================  ================================================================================

Methods compose with :func:`compose` (``compose(clif().without("loss"), tet())``): each part may be
set by at most one of them (``record`` is merged), otherwise a ``ValueError`` names the conflict
before anything is built or compiled. The train step itself knows no method by name: it calls
:meth:`Method.objective` (or the trainer's :meth:`Method.loss_fn` / :meth:`Method.eval_fn`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from jsnn import losses
from jsnn.nn import RECORDABLE, SpikingNeuron, set_neuron, set_spike_fn, spiking_layers

__all__ = ["Method", "compose", "PARTS", "set_time_steps", "check_logits"]

# The parts a method may set; each one by at most one method of a composition.
PARTS = ("neuron", "spike_fn", "learn_surrogate", "loss", "readout", "optimizer", "epoch_values",
         "set_values", "wrap_model", "penalty", "time_steps")


def check_logits(logits: Any, who: str) -> jax.Array:
  """``logits`` if it is a floating ``[T, B, C]`` array, else a ``ValueError`` naming the fix."""
  if isinstance(logits, (list, tuple)):
    raise ValueError(f"{who}: the model returned a list; set the method's readout (e.g. "
                     "jsnn.methods.sml() scores outputs[0]) or return logits [T, B, C].")
  if getattr(logits, "ndim", None) != 3:
    raise ValueError(f"{who}: expected time-major logits [T, B, C] from the model, got shape "
                     f"{getattr(logits, 'shape', type(logits).__name__)}.")
  return logits


def _default_loss(outputs, labels):
  return losses.sdt(outputs, labels)


@dataclasses.dataclass(frozen=True)
class Method:
  """A training method (see the module docstring for the parts). Build one with the factories
  ``jsnn.methods.tet(...)``, ``clif(...)``, ... and combine them with :func:`compose`."""

  name: str
  neuron: Any = None
  spike_fn: Any = None
  learn_surrogate: bool = False
  loss: Callable | None = None
  readout: Callable | None = None
  optimizer: Callable | None = None
  epoch_values: Callable | None = None
  set_values: Callable | None = None
  wrap_model: Callable | None = None
  record: tuple[str, ...] = ()
  penalty: Callable | None = None
  time_steps: Callable | None = None
  check_model: Callable | None = None

  def __post_init__(self):
    bad = [r for r in self.record if r not in RECORDABLE]
    if bad:
      raise ValueError(f"method {self.name!r}: record={bad} is unknown; valid: {RECORDABLE}.")
    if (self.epoch_values is None) != (self.set_values is None):
      raise ValueError(f"method {self.name!r}: epoch_values and set_values go together.")

  # -- composition ------------------------------------------------------------------------------
  def without(self, *parts: str) -> "Method":
    """A copy with some parts removed, e.g. ``clif().without("loss")`` to use another loss."""
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
      raise ValueError(f"Method.without: unknown part(s) {unknown}; valid: {PARTS}.")
    changes = {p: (False if p == "learn_surrogate" else None) for p in parts}
    if "epoch_values" in parts or "set_values" in parts:
      changes.update(epoch_values=None, set_values=None)
    return dataclasses.replace(self, **changes)

  # -- building ---------------------------------------------------------------------------------
  def prepare(self, model: nnx.Module, *, rngs: nnx.Rngs | None = None) -> nnx.Module:
    """Applies the method's model-side parts to ``model`` (outside ``jit``) and returns it.

    Sets the neuron and the spike function of every ``jsnn.nn.SpikingNeuron`` (any zoo model or
    your own ``nnx.Module``), makes the shape parameters learnable (PSG), switches on what the
    penalty needs (``record``), sets the first stage's ``T`` (TIT) and wraps the model (SML).

    Args:
      model: any ``nnx.Module`` with ``jsnn.nn.SpikingNeuron`` layers.
      rngs: NNX streams for what ``wrap_model`` builds (SML's modules).

    Raises:
      ValueError: the model cannot take the method (no spiking layer, a trunk without stages
        for SML, a T-dependent layer for TIT, ...), with the reason.
    """
    needs_layers = (self.neuron is not None or self.spike_fn is not None or self.learn_surrogate
                    or self.record or self.set_values is not None)
    if needs_layers and not spiking_layers(model):
      raise ValueError(f"method {self.name!r}: {type(model).__name__} has no "
                       "jsnn.nn.SpikingNeuron layer to apply it to.")
    if self.check_model is not None:
      self.check_model(model)
    if self.neuron is not None:
      set_neuron(model, resolve_neuron(self.neuron, self.name))   # with its own surrogate
    if self.spike_fn is not None or self.learn_surrogate:
      spike_fn = self.spike_fn if self.spike_fn is not None else spiking_layers(model)[0][1].spike_fn
      set_spike_fn(model, spike_fn, learn=self.learn_surrogate or None)
    if self.record:
      for _, layer in spiking_layers(model):
        layer.record = tuple(dict.fromkeys(layer.record + self.record))
    if self.time_steps is not None:
      set_time_steps(model, self.time_steps(0))
    if self.wrap_model is not None:
      if rngs is None:
        raise ValueError(f"method {self.name!r} builds new modules: pass rngs=nnx.Rngs(...) to "
                         "prepare.")
      model = self.wrap_model(model, rngs)
    return model

  def wrap_optimizer(self, tx: optax.GradientTransformation,
                     relative_lr: Callable | None = None) -> optax.GradientTransformation:
    """``tx`` with the method's optimiser part (PSG: its own optimiser for surrogate shapes).

    Args:
      tx: the main optax transformation.
      relative_lr: ``count -> lr / peak lr`` of the main schedule (so a method's own learning
        rate follows the same schedule); None: constant.
    """
    return tx if self.optimizer is None else self.optimizer(tx, relative_lr)

  def start_epoch(self, model: nnx.Module, epoch: int) -> dict | None:
    """Host side, before ``epoch``: sets the stage's ``T`` (TIT) on ``model`` outside ``jit``.

    The trainer's ``structure_fn``.

    Returns:
      ``{"T": T}``, the epoch's structure (a jitted step compiles again when it changes), or
      None for a method without stages.
    """
    if self.time_steps is None:
      return None
    T = int(self.time_steps(epoch))
    current = {m.T for _, m in nnx.iter_modules(model)
               if isinstance(getattr(m, "T", None), int) and not isinstance(m, SpikingNeuron)}
    if current != {T}:
      set_time_steps(model, T)
    return {"T": T}

  def epoch_state(self, epoch: int, num_epochs: int) -> Any:
    """The traced per-epoch values for ``epoch`` (host side; ``{}`` if the method has none)."""
    return {} if self.epoch_values is None else self.epoch_values(epoch, num_epochs)

  # -- the objective --------------------------------------------------------------------------
  def outputs(self, model: nnx.Module, x: jax.Array, values: Any = None):
    """``(outputs, intermediates)`` of ``model(x)`` with this epoch's ``values`` applied.

    ``intermediates`` is the ``nnx.State`` of sown values (``{}`` unless the method records).
    """
    if self.set_values is not None and values is not None and not _is_empty(values):
      self.set_values(model, values)
    if self.record:
      return nnx.capture(model, nnx.Intermediate)(x)
    return model(x), {}

  def logits(self, outputs) -> jax.Array:
    """The time-major logits ``[T, B, C]`` scored for accuracy."""
    return check_logits(outputs if self.readout is None else self.readout(outputs),
                        f"method {self.name!r}")

  def objective(self, model: nnx.Module, x: jax.Array, labels: jax.Array,
                values: Any = None, *, check_labels: bool = False
                ) -> tuple[jax.Array, jax.Array]:
    """``(loss, logits [T, B, C])`` for one batch: forward, the method's loss and penalty.

    The 15-line hand-written step of ``docs/methods.md`` differentiates this.

    Args:
      model: the (merged) model; x: its input; labels: integer labels ``[B]``.
      values: this epoch's ``epoch_state`` (``{}`` / None if the method has none).
      check_labels: also check ``0 <= labels < C`` with ``jsnn.losses.check_labels``; the step
        must then be wrapped in ``chex.chexify`` (an out-of-range label raises on the host
        instead of silently giving a wrong loss).
    """
    outputs, inter = self.outputs(model, x, values)
    logits = self.logits(outputs)   # checks the layout first, for a clear error
    if check_labels:
      labels = losses.check_labels(labels, logits.shape[-1])
    loss_fn = self.loss or _default_loss
    loss = loss_fn(outputs, labels)
    if self.penalty is not None:
      loss = loss + self.penalty(model, inter)
    return loss, logits

  def loss_fn(self, *, input_key: str = "image", label_key: str = "label",
              check_labels: bool = False) -> Callable:
    """The trainer's ``loss_fn(model, batch, method_state, rng) -> (loss, {"accuracy"})``.

    ``check_labels``: see :meth:`objective` (the jitted step must be ``chex.chexify``-wrapped).
    """

    def loss_fn(model, batch, method_state, rng):
      del rng
      loss, logits = self.objective(model, batch[input_key], batch[label_key], method_state,
                                    check_labels=check_labels)
      labels = batch[label_key]
      acc = jnp.mean((losses.predict(logits) == labels).astype(logits.dtype))
      return loss, {"accuracy": acc}

    return loss_fn

  def eval_fn(self, *, input_key: str = "image", label_key: str = "label") -> Callable:
    """The trainer's ``eval_fn(model, batch, method_state) -> {"loss_sum", "correct", "count"}``.

    Sums over the batch honouring ``batch["mask"]`` (padding rows 0). The per-example loss is the
    method's loss on a batch of one (``vmap``; every output leaf is split along its batch axis:
    1 for ``[T, B, ...]``, 0 for ``[B, ...]``); the penalty is a training term and not included.
    """
    loss_fn = self.loss or _default_loss

    def eval_fn(model, batch, method_state):
      outputs, _ = self.outputs(model, batch[input_key], method_state)
      labels = batch[label_key]
      logits = self.logits(outputs)
      axes = jax.tree.map(lambda o: 1 if o.ndim >= 3 else 0, outputs)

      def one(out, label):
        out = jax.tree.map(lambda o, a: jnp.expand_dims(o, a), out, axes)
        return loss_fn(out, label[None])

      per_example = jax.vmap(one, in_axes=(axes, 0))(outputs, labels)
      mask = batch.get("mask")
      mask = jnp.ones(labels.shape, logits.dtype) if mask is None else mask.astype(logits.dtype)
      hits = (losses.predict(logits) == labels).astype(logits.dtype)
      return {"loss_sum": jnp.sum(per_example * mask), "correct": jnp.sum(hits * mask),
              "count": jnp.sum(mask)}

    return eval_fn


def resolve_neuron(neuron: Any, who: str) -> Any:
  """A ``jsnn.neurons`` preset given by name (``"clif"``, as configs write it), or ``neuron``."""
  if not isinstance(neuron, str):
    return neuron
  from jsnn.neurons import _presets   # pylint: disable=g-import-not-at-top
  presets = sorted(n for n in _presets.__all__ if n != "Neuron")   # the preset factories
  factory = getattr(_presets, neuron, None)
  if neuron not in presets:
    raise ValueError(f"method {who!r}: unknown neuron preset {neuron!r}; valid: "
                     f"{', '.join(presets)}.")
  return factory


def _is_empty(values) -> bool:
  return isinstance(values, Mapping) and not values


def compose(*methods: Method) -> Method:
  """One method from several; each part may come from one of them only.

  Examples: ``compose(clif().without("loss"), tet(lamb=1e-3))`` (CLIF neuron, TET loss),
  ``compose(psg(), tet())``, ``compose(adali(), sml(after=(3, 6)))``, ``compose(tet(), tit(...))``.

  Raises:
    ValueError: two methods set the same part (the message names both and how to drop one).
  """
  if not methods:
    raise ValueError("compose: give at least one method.")
  for m in methods:
    if not isinstance(m, Method):
      raise TypeError(f"compose: expected jsnn.methods.Method values, got {type(m).__name__}.")
  merged: dict[str, Any] = {}
  owner: dict[str, str] = {}
  checks = []
  for m in methods:
    for part in PARTS:
      value = getattr(m, part)
      if value is None or value is False:
        continue
      if part == "set_values":
        continue   # travels with epoch_values
      if part in merged:
        raise ValueError(
            f"compose: {owner[part]!r} and {m.name!r} both set the {part}; a method's {part} "
            f"cannot be combined with another's. Drop one, e.g. "
            f"jsnn.methods.{m.name}(...).without({part!r}).")
      merged[part], owner[part] = value, m.name
      if part == "epoch_values":
        merged["set_values"] = m.set_values
    if m.check_model is not None:
      checks.append(m.check_model)
  if "epoch_values" in merged and merged.get("learn_surrogate"):
    raise ValueError(f"compose: {owner['epoch_values']!r} sets the surrogate's shape every epoch "
                     f"while {owner['learn_surrogate']!r} learns it; the two cannot both "
                     "control it.")
  record = tuple(dict.fromkeys(r for m in methods for r in m.record))

  def check_all(model):
    for check in checks:
      check(model)

  return Method(name="+".join(m.name for m in methods), record=record,
                check_model=check_all if checks else None, **merged)


def set_time_steps(model: nnx.Module, T: int) -> int:
  """Sets ``T`` on every module of ``model`` that has an integer ``T`` attribute (outside ``jit``).

  Models repeat a static image ``T`` times and check their input against ``T``; no parameter
  has a time axis unless a layer is T-dependent (per-step BN, TEBN), which TIT refuses.

  Returns:
    The number of modules changed.

  Raises:
    ValueError: ``T`` is not a positive int, or no module has a ``T``.
  """
  if not isinstance(T, int) or isinstance(T, bool) or T < 1:
    raise ValueError(f"set_time_steps: T must be a positive int, got {T!r}.")
  count = 0
  for _, module in nnx.iter_modules(model):
    if isinstance(getattr(module, "T", None), int) and not isinstance(module, SpikingNeuron):
      module.T = T
      count += 1
  if not count:
    raise ValueError(f"set_time_steps: {type(model).__name__} has no module with an int T "
                     "attribute; TIT needs a model that reads its time steps from self.T.")
  return count
