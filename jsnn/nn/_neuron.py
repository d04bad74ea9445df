"""The spiking-neuron layer: an NNX module around a ``jsnn.neurons.Neuron``.

The module owns the neuron's constants and the surrogate's shape parameters; the dynamics are the
pure step of ``jsnn.neurons``, scanned over T by :func:`jsnn.neurons.run` (``jax.lax.scan``). It is
the only layer of a model that loops over time.

Where each constant lives:

* constants named in ``learnable`` -> ``nnx.Param`` (per-layer scalar by default, or
  ``learnable_shape``, e.g. ``(C,)`` per channel), trained by the optimiser (PLIF ``w``, ``v_th``);
* surrogate shape parameters -> ``nnx.Param`` under ``<layer>.sg`` with ``learn_surrogate=True``
  (a learned surrogate shape; optimiser label functions find them through the ``sg`` key), else
  :class:`SurrogateShape` variables: not trained, but traced, so a schedule (AdaLi widths) can
  change them between steps with :func:`set_spike_fn` without recompiling. They are named after
  the spike function's pytree paths (``alpha``, ``w_l``, ``rho``, ...), for any spike function;
* other constants given as Python numbers stay static (exactly the preset's values); other array
  constants become :class:`NeuronConstant` variables.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from jsnn.neurons import Neuron, _residuals, run, run_with_states
from jsnn.neurons._run import check_memory_options
from jsnn.surrogate import heaviside_family
from jsnn.transforms._monitors import run_with_potentials

__all__ = ["SurrogateShape", "NeuronConstant", "as_neuron", "SpikingNeuron", "set_spike_fn", "spiking_layers",
           "set_neuron", "RECORDABLE"]

# What a SpikingNeuron can sow as ``nnx.Intermediate`` (``record=``): the firing rate (a detached
# scalar) and the pre-spike membrane potential trace ``u = x + v_th`` ``[T, B, ...]`` (with its
# gradient, e.g. for PDA's penalty).
RECORDABLE = ("firing_rate", "potential")


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


def _surrogate_names(spike_fn) -> tuple[str, ...]:
  """One variable name per pytree leaf of ``spike_fn``, from its tree paths (``.alpha`` -> alpha).

  Works for any spike function that is a pytree with keyed leaves (every ``jsnn.surrogate``
  family, ``jsnn.transforms.ParametricSurrogate``'s ``rho``); leaves without a usable name are
  ``p0``, ``p1``, ...
  """
  paths = [path for path, _ in jax.tree_util.tree_flatten_with_path(spike_fn)[0]]
  names = []
  for i, path in enumerate(paths):
    name = "_".join(str(getattr(k, "name", getattr(k, "key", ""))) for k in path)
    names.append(name if name.isidentifier() else f"p{i}")
  return tuple(names) if len(set(names)) == len(names) else tuple(f"p{i}" for i in range(len(paths)))


def _check_record(record, who: str) -> tuple[str, ...]:
  record = (record,) if isinstance(record, str) else tuple(record)
  bad = [r for r in record if r not in RECORDABLE]
  if bad:
    raise ValueError(f"{who}: record={bad} is unknown; valid: {RECORDABLE}.")
  return record


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
    record: what to sow as ``nnx.Intermediate`` on each call (names in :data:`RECORDABLE`):
      ``"firing_rate"`` (``mean(spikes)`` under ``stop_gradient``) and/or ``"potential"`` (the
      pre-spike potential ``[T, B, ...]``, differentiable; runs the plain scan), while the model is
      called through ``nnx.capture`` (a plain call records nothing). Set it on a whole
      model with ``model.set_attributes(jsnn.nn.SpikingNeuron, record=("firing_rate",))`` and read
      the values with ``nnx.capture(model, nnx.Intermediate)(x)``.
    param_dtype: dtype of learned constants and surrogate shape variables.
    unroll: ``jax.lax.scan``'s ``unroll`` (1: a loop over T; ``True``: straight-line code, which
      compiles ~2-3x faster on CPU for small T and lets XLA fuse across steps). Change it for a
      whole model with ``model.set_attributes(jsnn.nn.SpikingNeuron, unroll=True)``.
    remat: memory-bounded BPTT of the time scan (:func:`jsnn.neurons.run`): ``None`` (plain
      autodiff), ``"step"`` (rematerialise each step) or an int ``k`` (chunked time, ``T % k ==
      0``). Gradients are unchanged.
    residuals: ``"auto"`` (default: the minimal-residual ``custom_vjp`` scan where its gradients
      equal autodiff's, else plain autodiff), ``"default"`` (plain autodiff) or ``"minimal"``
      (see :func:`jsnn.neurons.run`).

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
               learnable_shape: tuple[int, ...] = (), record: Sequence[str] = (),
               param_dtype=jnp.float32, unroll: int | bool = 1,
               remat: str | int | None = None, residuals: str = "auto"):
    check_memory_options(remat, residuals, who="SpikingNeuron")
    self.record = _check_record(record, "SpikingNeuron")
    self.unroll = unroll
    self.remat = remat
    self.residuals = residuals
    self.learn_surrogate = learn_surrogate
    self.learnable = tuple(learnable)
    self.learnable_shape = tuple(learnable_shape)
    self._set_neuron_structure(as_neuron(neuron, spike_fn), param_dtype)

  def _set_neuron_structure(self, neuron: Neuron, param_dtype) -> None:
    fields = neuron.params._fields
    unknown = [n for n in self.learnable if n not in fields]
    if unknown:
      raise ValueError(f"SpikingNeuron: learnable names {unknown} are not constants of "
                       f"{type(neuron.params).__name__}; expected some of {fields}.")
    learnable, learnable_shape = self.learnable, self.learnable_shape
    self.step = neuron.step
    self.init_fn = neuron.init
    self.params_type = type(neuron.params)
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
    names = _surrogate_names(spike_fn)
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

  @property
  def emits_binary_spikes(self) -> bool:
    """Whether every output entry is 0 or 1 by construction: the step is one of
    ``jsnn.neurons``' registered LIF / IF-family steps and the spike function's forward is the
    Heaviside step of :class:`jsnn.surrogate.SurrogateSpike`. The zoo models' ``remat="layer"``
    keeps such a layer's output as 1 bit per spike (``jsnn.nn.remat_call(input_bits=True)``);
    a custom step or a non-Heaviside forward keeps its dtype."""
    return (heaviside_family(self.spike_fn) is not None
            and _residuals.is_supported(self.neuron.bound_step()))

  def set_spike_fn(self, spike_fn: Any, *, learn: bool | None = None) -> None:
    """Replaces the surrogate's shape parameters (or, outside jit, the surrogate family).

    With the same family and static options the values are assigned to the existing variables,
    so this works inside a jitted step with traced values and never retraces. Another family
    changes the module's static structure: do it outside ``jit``.

    Args:
      spike_fn: the new spike function.
      learn: outside ``jit``, also switch whether the shape parameters are learned
        (``nnx.Param``, PSG) or not (:class:`SurrogateShape`); None keeps the layer's setting.
    """
    leaves, treedef = jax.tree_util.tree_flatten(spike_fn)
    rebuild = learn is not None and bool(learn) != self.learn_surrogate
    if rebuild:
      self.learn_surrogate = bool(learn)   # rebuild the variables with their new kind
    if not rebuild and treedef == self.sg_treedef:
      for name, value in zip(self.sg_names, leaves):
        var = self.sg[name]
        var.set_value(jnp.asarray(value, var[...].dtype))
      return
    if any(isinstance(v, jax.core.Tracer) for v in leaves):
      raise ValueError(
          f"set_spike_fn: inside a traced function the surrogate must have the layer's structure "
          f"(family and static options) {self.sg_treedef}, got {treedef}; build the model with "
          "this surrogate family (options spike_fn=...) and pass only new values in the step.")
    dtype = self.sg[self.sg_names[0]][...].dtype if self.sg_names else jnp.float32
    self._set_surrogate_structure(spike_fn, dtype)

  def set_neuron(self, neuron: Neuron | Callable[[], Neuron], *, keep_spike_fn: bool = False
                 ) -> None:
    """Replaces the neuron model (step, constants, initial state) of this layer, outside ``jit``.

    Args:
      neuron: a ``jsnn.neurons.Neuron`` or a factory.
      keep_spike_fn: keep the layer's current surrogate instead of the new neuron's.

    Raises:
      ValueError: one of the layer's ``learnable`` names is not a constant of the new neuron.
    """
    spike_fn = self.spike_fn if keep_spike_fn else None
    neuron = as_neuron(neuron, spike_fn)
    dtype = self.sg[self.sg_names[0]][...].dtype if self.sg_names else jnp.float32
    self._set_neuron_structure(neuron, dtype)

  # -- call -------------------------------------------------------------------------------------
  def __call__(self, x: jax.Array) -> jax.Array:
    """Spikes ``[T, B, ...]`` (same shape and dtype as ``x``) for input currents ``x [T, B, ...]``.

    Sows what ``record`` names (see the class docstring).
    """
    x, out_dtype = self._input(x)
    neuron = self.neuron
    state0 = neuron.init_state(x[0])
    # Sown values are read through nnx.capture (flax 0.12 deprecates sow outside it), so a layer
    # records only while captured; a plain call runs the plain (or minimal-residual) scan.
    record = self.record if hasattr(self, "__captures__") else ()
    if "potential" in record:
      _, spikes, potential = run_with_potentials(neuron, x, state=state0)
      self.sow(nnx.Intermediate, "potential", potential)
    else:
      _, spikes = run(neuron.bound_step(), state0, x, remat=self.remat,
                      residuals=self.residuals, unroll=self.unroll)
    spikes = spikes.astype(out_dtype)
    if "firing_rate" in record:
      self.sow(nnx.Intermediate, "firing_rate", jax.lax.stop_gradient(jnp.mean(spikes)))
    return spikes

  def run_with_states(self, x: jax.Array) -> tuple[jax.Array, Any]:
    """``(spikes, states)``: the spikes and the state after each step (each leaf ``[T, B, ...]``).

    For monitoring and parity checks (SpikingJelly's ``v_seq``); sows nothing.
    """
    x, out_dtype = self._input(x)
    neuron = self.neuron
    _, spikes, states = run_with_states(neuron.bound_step(), neuron.init_state(x[0]), x,
                                        remat=self.remat, residuals=self.residuals,
                                        unroll=self.unroll)
    return spikes.astype(out_dtype), states

  def _input(self, x):
    x = jnp.asarray(x)
    if x.ndim < 2:
      raise ValueError(f"SpikingNeuron: expected time-major input [T, B, ...], got shape "
                       f"{x.shape}.")
    out_dtype = x.dtype
    if jnp.issubdtype(x.dtype, jnp.floating) and jnp.finfo(x.dtype).bits < 32:
      x = x.astype(jnp.float32)   # bf16 / f16 compute: keep the membrane potential in float32
    return x, out_dtype


def spiking_layers(model: nnx.Module) -> list[tuple[str, SpikingNeuron]]:
  """Every :class:`SpikingNeuron` in ``model`` with its path (``"blocks/0/sn1"``), in graph order."""
  return [("/".join(map(str, path)), module) for path, module in nnx.iter_modules(model)
          if isinstance(module, SpikingNeuron)]


def set_spike_fn(model: nnx.Module, spike_fn: Any, *, learn: bool | None = None) -> int:
  """Sets the spike function of every :class:`SpikingNeuron` in ``model`` (e.g. AdaLi's widths).

  Inside a jitted step, pass the spike function (a pytree: a surrogate family instance with array
  shape values) as an argument and call this on the merged model before the forward pass: same
  family, so only variable values change and nothing is recompiled. Outside ``jit`` another
  family may be set, and ``learn=True`` makes the shape parameters learnable (PSG) in every layer.

  Returns:
    The number of layers updated.

  Raises:
    ValueError: the model has no spiking layer.
  """
  return _each_layer(model, "set_spike_fn", lambda layer: layer.set_spike_fn(spike_fn, learn=learn))


def set_neuron(model: nnx.Module, neuron: Neuron | Callable[[], Neuron], *,
               keep_spike_fn: bool = False) -> int:
  """Replaces the neuron of every :class:`SpikingNeuron` in ``model`` (outside ``jit``).

  How a method's neuron (``jsnn.methods.clif()``'s CLIF neuron) reaches any architecture.

  Returns:
    The number of layers updated.

  Raises:
    ValueError: the model has no spiking layer.
  """
  return _each_layer(model, "set_neuron",
                     lambda layer: layer.set_neuron(neuron, keep_spike_fn=keep_spike_fn))


def _each_layer(model: nnx.Module, who: str, fn: Callable[[SpikingNeuron], None]) -> int:
  layers = spiking_layers(model)
  if not layers:
    raise ValueError(f"{who}: {type(model).__name__} has no jsnn.nn.SpikingNeuron layer.")
  for _, layer in layers:
    fn(layer)
  return len(layers)
