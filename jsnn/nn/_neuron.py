"""The spiking-neuron layer: an NNX module around a ``jsnn.neurons.Neuron``.

The module owns the neuron's constants and the surrogate's shape parameters; the dynamics are the
pure step of ``jsnn.neurons``, scanned over T by :func:`jsnn.neurons.run` (``jax.lax.scan``). It is
the only layer of a model that loops over time.

Where each constant lives:

* constants named in ``learnable`` -> ``nnx.Param`` (per-layer scalar by default, or
  ``learnable_shape``, e.g. ``(C,)`` per channel), trained by the optimiser (PLIF ``w``, ``v_th``);
* surrogate shape parameters -> ``nnx.Param`` under ``<layer>.sg`` with ``learn_surrogate=True``
  (PSG; ``jsnn.transforms.psg_label_fn`` labels them through the ``sg`` key), else
  :class:`SurrogateShape` variables: not trained, but traced, so a schedule (AdaLi widths) can
  change them between steps with :func:`set_surrogate` without recompiling;
* other constants given as Python numbers stay static (exactly the preset's values); other array
  constants become :class:`NeuronConstant` variables.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from jsnn.neurons import Neuron, run
from jsnn.neurons._run import check_memory_options
from jsnn.surrogate import SurrogateSpike

__all__ = ["SurrogateShape", "NeuronConstant", "as_neuron", "SpikingNeuron", "set_surrogate"]


class SurrogateShape(nnx.Variable):
  """A surrogate shape parameter that is not trained (traced, so schedules do not retrace)."""


class NeuronConstant(nnx.Variable):
  """A neuron constant given as an array and not trained."""


def as_neuron(neuron: Neuron | Callable[[], Neuron], spike_fn: Any = None) -> Neuron:
  """A ``Neuron`` from an instance or a zero-argument factory, optionally with another surrogate.

  Args:
    neuron: ``jsnn.neurons.tet_lif()`` or the factory ``jsnn.neurons.tet_lif`` (or a
      ``functools.partial`` of one).
    spike_fn: replaces the neuron's surrogate when given.

  Raises:
    TypeError: ``neuron`` is neither.
  """
  if not isinstance(neuron, Neuron):
    if not callable(neuron):
      raise TypeError(f"expected a jsnn.neurons.Neuron or a factory returning one, got "
                      f"{type(neuron).__name__}.")
    neuron = neuron()
    if not isinstance(neuron, Neuron):
      raise TypeError(f"the neuron factory returned {type(neuron).__name__}, not a "
                      "jsnn.neurons.Neuron.")
  return neuron if spike_fn is None else neuron.replace(spike_fn=spike_fn)


def _is_static_number(v) -> bool:
  return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def _surrogate_names(spike_fn, n: int) -> tuple[str, ...]:
  if isinstance(spike_fn, SurrogateSpike) and len(spike_fn.params) == n:
    return tuple(spike_fn.params)
  if n == 1 and hasattr(spike_fn, "rho"):   # jsnn.transforms.ParametricSurrogate (PSG)
    return ("rho",)
  return tuple(f"p{i}" for i in range(n))


class SpikingNeuron(nnx.Module):
  """A spiking layer: ``[T, B, ...]`` input currents -> ``[T, B, ...]`` spikes.

  Runs ``neuron.step`` over the leading time axis with ``jax.lax.scan`` from the neuron's initial
  state (zero potential, or ``v_reset``). Works on any per-step shape (``[B, H, W, C]`` conv maps,
  ``[B, F]`` features) and any dtype the neuron accepts. Train/eval mode does not change it.

  Args:
    neuron: a ``jsnn.neurons.Neuron`` or a factory (``jsnn.neurons.clif``).
    spike_fn: replaces the neuron's surrogate (any ``jsnn.surrogate`` family or
      ``jsnn.transforms.ParametricSurrogate``).
    learnable: names of neuron constants to learn (fields of ``neuron.params``, e.g. ``("w",)`` for
      PLIF, ``("v_th",)``).
    learn_surrogate: learn the surrogate's shape parameters (PSG).
    learnable_shape: shape of each learned constant (``()`` = one scalar per layer, as
      SpikingJelly's PLIF; ``(C,)`` per channel).
    monitor: sow the firing rate ``mean(spikes)`` (under ``stop_gradient``) as
      ``nnx.Intermediate`` ``"firing_rate"``; read it with ``nnx.capture(model, nnx.Intermediate)``.
    param_dtype: dtype of learned constants and surrogate shape variables.
    unroll: ``jax.lax.scan``'s ``unroll`` (1: a loop over T; ``True``: straight-line code, which
      compiles ~2-3x faster on CPU for small T and lets XLA fuse across steps). Change it for a
      whole model with ``model.set_attributes(jsnn.nn.SpikingNeuron, unroll=True)``.
    remat: memory-bounded BPTT of the time scan (:func:`jsnn.neurons.run`): ``None`` (plain
      autodiff), ``"step"`` (rematerialise each step) or an int ``k`` (chunked time, ``T % k ==
      0``). Gradients are unchanged.
    residuals: ``"default"`` or ``"minimal"`` (a ``custom_vjp`` over the scan keeping only the
      pre-spike potential; LIF / IF family only, see :func:`jsnn.neurons.run`).

  Inputs in a half-precision dtype (``bfloat16``, ``float16``) run the neuron with a float32
  membrane potential; the spikes (exactly 0/1) are returned in the input's dtype.

  Raises:
    ValueError: unknown names in ``learnable``, a bad ``remat`` / ``residuals`` value (the message
      lists the valid ones); at trace time, an input that is not ``[T, B, ...]``.

  Examples:
    >>> import jax.numpy as jnp, jsnn
    >>> lif = jsnn.nn.SpikingNeuron(jsnn.neurons.tet_lif)
    >>> lif(jnp.full((4, 2, 3), 0.6)).sum(axis=(1, 2))   # m = 0.6, 0.9, 1.05 -> spike, reset
    Array([0., 0., 6., 0.], dtype=float32)
  """

  def __init__(self, neuron: Neuron | Callable[[], Neuron], *, spike_fn: Any = None,
               learnable: Sequence[str] = (), learn_surrogate: bool = False,
               learnable_shape: tuple[int, ...] = (), monitor: bool = False,
               param_dtype=jnp.float32, unroll: int | bool = 1,
               remat: str | int | None = None, residuals: str = "auto"):
    check_memory_options(remat, residuals, who="SpikingNeuron")
    neuron = as_neuron(neuron, spike_fn)
    fields = neuron.params._fields
    unknown = [n for n in learnable if n not in fields]
    if unknown:
      raise ValueError(f"SpikingNeuron: learnable names {unknown} are not constants of "
                       f"{type(neuron.params).__name__}; expected some of {fields}.")
    self.step = neuron.step
    self.init_fn = neuron.init
    self.params_type = type(neuron.params)
    self.monitor = monitor
    self.unroll = unroll
    self.remat = remat
    self.residuals = residuals
    self.learn_surrogate = learn_surrogate
    consts = {}
    for name, value in neuron.params._asdict().items():
      if name in learnable:
        if value is None:
          raise ValueError(f"SpikingNeuron: constant {name!r} is None and cannot be learned.")
        consts[name] = nnx.Param(jnp.broadcast_to(jnp.asarray(value, param_dtype),
                                                  learnable_shape))
      elif _is_static_number(value):
        consts[name] = value
      else:
        consts[name] = NeuronConstant(jnp.asarray(value))
    self.consts = nnx.Dict(consts)
    self._set_surrogate_structure(neuron.spike_fn, param_dtype)

  def _set_surrogate_structure(self, spike_fn, param_dtype) -> None:
    leaves, treedef = jax.tree_util.tree_flatten(spike_fn)
    names = _surrogate_names(spike_fn, len(leaves))
    kind = nnx.Param if self.learn_surrogate else SurrogateShape
    self.sg_treedef = treedef
    self.sg_names = names
    self.sg = nnx.Dict({n: kind(jnp.asarray(v, param_dtype)) for n, v in zip(names, leaves)})

  # -- the Neuron this layer currently represents -----------------------------------------------
  @property
  def spike_fn(self):
    """The surrogate spike function with the current shape parameters."""
    leaves = [self.sg[n].get_value() for n in self.sg_names]
    return jax.tree_util.tree_unflatten(self.sg_treedef, leaves)

  @property
  def neuron(self) -> Neuron:
    """The ``jsnn.neurons.Neuron`` with the current constants (for monitors, PDA, ...)."""
    values = {}
    for name in self.params_type._fields:
      v = self.consts[name]
      values[name] = v.get_value() if isinstance(v, nnx.Variable) else v
    return Neuron(self.step, self.params_type(**values), self.spike_fn, self.init_fn)

  def set_spike_fn(self, spike_fn: Any) -> None:
    """Replaces the surrogate's shape parameters (or, outside jit, the surrogate family).

    With the same family and static options the values are assigned to the existing variables,
    so this works inside a jitted step with traced values and never retraces. Another family
    changes the module's static structure: do it outside ``jit``.
    """
    leaves, treedef = jax.tree_util.tree_flatten(spike_fn)
    if treedef == self.sg_treedef:
      for name, value in zip(self.sg_names, leaves):
        var = self.sg[name]
        var.set_value(jnp.asarray(value, var[...].dtype))
      return
    if any(isinstance(v, jax.core.Tracer) for v in leaves):
      raise ValueError(
          f"set_spike_fn: inside a traced function the surrogate must have the layer's structure "
          f"(family and static options) {self.sg_treedef}, got {treedef}; build the model with "
          "this surrogate family (e.g. surrogate=...) and pass only new values in the step.")
    dtype = self.sg[self.sg_names[0]][...].dtype if self.sg_names else jnp.float32
    self._set_surrogate_structure(spike_fn, dtype)

  # -- call -------------------------------------------------------------------------------------
  def __call__(self, x: jax.Array, *, trace: bool = False):
    """Spikes ``[T, B, ...]`` for input currents ``x [T, B, ...]``.

    Args:
      x: time-major input currents.
      trace: also return the state after each step (each leaf ``[T, B, ...]``).

    Returns:
      ``spikes`` (same shape and dtype as ``x``), or ``(spikes, states)`` if ``trace``.
    """
    x = jnp.asarray(x)
    if x.ndim < 2:
      raise ValueError(f"SpikingNeuron: expected time-major input [T, B, ...], got shape "
                       f"{x.shape}.")
    out_dtype = x.dtype
    if jnp.issubdtype(x.dtype, jnp.floating) and jnp.finfo(x.dtype).bits < 32:
      x = x.astype(jnp.float32)   # bf16 / f16 compute: keep the membrane potential in float32
    neuron = self.neuron
    state0 = neuron.init_state(x[0])
    out = run(neuron.bound_step(), state0, x, trace=trace, remat=self.remat,
              residuals=self.residuals, unroll=self.unroll)
    spikes = out[1].astype(out_dtype)
    if self.monitor:
      self.sow(nnx.Intermediate, "firing_rate", jax.lax.stop_gradient(jnp.mean(spikes)))
    return (spikes, out[2]) if trace else spikes


def set_surrogate(model: nnx.Module, spike_fn: Any) -> int:
  """Sets the surrogate of every :class:`SpikingNeuron` in ``model`` (e.g. AdaLi's epoch widths).

  Inside a jitted step, pass the surrogate (a pytree, e.g. ``jsnn.transforms.adali_surrogate(...)``)
  as an argument and call this on the merged model before the forward pass: same family, so only
  variable values change and nothing is recompiled.

  Returns:
    The number of layers updated.
  """
  count = 0
  for _, module in nnx.iter_modules(model):
    if isinstance(module, SpikingNeuron):
      module.set_spike_fn(spike_fn)
      count += 1
  return count
