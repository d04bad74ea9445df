"""The machinery shared by every surrogate spike function.

A surrogate spike function maps the distance to threshold ``x = u - v_th`` to a spike in the forward
pass and uses a smooth derivative in the backward pass. Every family in jsnn is a small frozen
dataclass registered as a pytree:

* its *shape parameters* (``alpha``, ``gamma``, window widths, ...) are pytree **leaves**: ordinary
  traced arrays (scalars, or per-channel / per-neuron arrays that broadcast against ``x``), so
  changing them between steps never retraces, and ``jax.grad`` / ``jax.vmap`` reach them;
* its *static choices* (``strict`` forward, ``stop_gradient`` on the shape parameters, integer
  counts such as the number of Fourier terms) are pytree **metadata**, fixed at trace time.

The backward pass of ``sg(x)`` (one ``jax.custom_vjp`` per family and static configuration) returns

* for ``x``: ``g * sg.grad(x)``, the family's closed-form surrogate derivative;
* for each shape parameter ``a``: ``sum(g * d sg.primitive(x) / d a)`` reduced to ``a``'s shape,
  i.e. the gradient the loss would have if the spike were replaced by its smooth primitive
  ``sigma_a`` at this point (the straight-through reading ``H(x) + sigma_a(x) - stop_gradient(sigma_a(x))``).
  Families without a primitive, or built with ``stop_gradient=True``, return zeros.

Why a dataclass and not a closure (spyx) or a string (norse): a closure freezes the shape, so it
cannot be learned or scheduled without recompiling; a string has to be resolved inside the step.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

__all__ = ["SurrogateSpike", "family", "static_field", "heaviside", "heaviside_family"]


def static_field(default: Any, **kwargs) -> Any:
  """A dataclass field stored as pytree metadata (a static, hashable choice)."""
  return dataclasses.field(default=default, metadata={"static": True}, **kwargs)


def heaviside(x: jax.Array, strict: bool) -> jax.Array:
  """``1[x > 0]`` if ``strict`` else ``1[x >= 0]``, in ``x``'s dtype."""
  return (x > 0).astype(x.dtype) if strict else (x >= 0).astype(x.dtype)


def _is_concrete_number(v) -> bool:
  if isinstance(v, jax.core.Tracer):
    return False
  return isinstance(v, (int, float, np.ndarray, np.generic, jax.Array)) and not isinstance(v, bool)


@dataclasses.dataclass(frozen=True)
class SurrogateSpike:
  """Base class of every surrogate family (see the module docstring).

  Subclasses are created with the :func:`family` decorator, define ``grad(x)`` (the closed-form
  surrogate derivative) and, where one exists, ``primitive(x)`` (the smooth function whose
  derivative ``grad`` is; SpikingJelly's ``spiking=False`` mode).

  Attributes:
    strict: forward convention, ``1[x > 0]`` if True else ``1[x >= 0]``.
    stop_gradient: if True, shape parameters receive zero cotangents.
  """

  strict: bool = static_field(False, kw_only=True)
  stop_gradient: bool = static_field(False, kw_only=True)

  # Names of the parameters that must be > 0 (checked at construction when concrete).
  _positive: ClassVar[tuple[str, ...]] = ()
  # Names of the parameters that must be >= 0.
  _nonnegative: ClassVar[tuple[str, ...]] = ()
  has_primitive: ClassVar[bool] = True

  def __post_init__(self):
    for name in self._positive + self._nonnegative:
      value = getattr(self, name)
      if not _is_concrete_number(value):
        continue  # traced (inside jit/grad/vmap): checked by the user's config code instead
      arr = np.asarray(value)
      if not np.issubdtype(arr.dtype, np.number):
        continue
      bad = np.any(arr <= 0) if name in self._positive else np.any(arr < 0)
      if bad:
        bound = "> 0" if name in self._positive else ">= 0"
        raise ValueError(
            f"{type(self).__name__}: shape parameter {name!r} must be {bound}, got {arr.tolist()}.")

  # -- what a family defines -----------------------------------------------------------------
  def forward(self, x: jax.Array) -> jax.Array:
    """The forward spike. Heaviside with the family's convention unless overridden."""
    return heaviside(x, self.strict)

  def grad(self, x: jax.Array) -> jax.Array:
    """Closed-form surrogate derivative ``d spike / dx`` (same shape as ``x``)."""
    raise NotImplementedError(f"{type(self).__name__} must define grad()")

  def primitive(self, x: jax.Array) -> jax.Array:
    """The smooth primitive ``sigma(x)`` with ``sigma' = grad``."""
    raise TypeError(f"{type(self).__name__} has no smooth primitive, so its shape parameters "
                    "receive zero gradient.")

  # -- public API ------------------------------------------------------------------------------
  @property
  def params(self) -> dict[str, Any]:
    """The shape parameters (pytree leaves) by name."""
    return {f.name: getattr(self, f.name) for f in _data_fields(type(self))}

  def __call__(self, x: ArrayLike, *, strict: bool | None = None) -> jax.Array:
    """Spikes for ``x = u - v_th`` (any shape) with this family's surrogate backward.

    Args:
      x: distance to threshold, a floating array of any shape. Shape parameters broadcast against
        it with numpy's trailing-axis rule (a ``[C]`` parameter is per channel of a ``[..., C]``
        input).
      strict: overrides the family's forward convention for this call (static).

    Returns:
      An array like ``x`` holding 0/1 spikes (or spike counts for multi-level families).
    """
    x = _check_input(x, type(self).__name__)
    sg = self if strict is None or strict == self.strict else dataclasses.replace(self,
                                                                                   strict=strict)
    leaves = sg._aligned_leaves(x)
    return _spike_fn(type(sg), sg._static_values())(x, *leaves)

  def smooth(self, x: ArrayLike) -> jax.Array:
    """The primitive evaluated with broadcasting checks (SpikingJelly's ``spiking=False``)."""
    x = _check_input(x, type(self).__name__)
    return self._rebuild(self._aligned_leaves(x)).primitive(x)

  def surrogate_grad(self, x: ArrayLike) -> jax.Array:
    """The closed-form surrogate derivative evaluated with broadcasting checks."""
    x = _check_input(x, type(self).__name__)
    return self._rebuild(self._aligned_leaves(x)).grad(x)

  # -- internals ---------------------------------------------------------------------------------
  def _static_values(self) -> tuple:
    return tuple(getattr(self, f.name) for f in _meta_fields(type(self)))

  def _rebuild(self, leaves) -> "SurrogateSpike":
    return _build(type(self), self._static_values(), leaves)

  def _aligned_leaves(self, x: jax.Array) -> list[jax.Array]:
    """Casts every shape parameter to ``x.dtype`` and left-pads it to ``x``'s rank."""
    out = []
    for name, value in self.params.items():
      p = jnp.asarray(value)
      if not (jnp.issubdtype(p.dtype, jnp.floating) or jnp.issubdtype(p.dtype, jnp.integer)):
        raise TypeError(f"{type(self).__name__}: shape parameter {name!r} must be a real number "
                        f"array, got dtype {p.dtype}.")
      p = p.astype(x.dtype)
      if p.ndim > x.ndim:
        raise ValueError(
            f"{type(self).__name__}: shape parameter {name!r} has shape {p.shape}, which has more "
            f"axes than the input {x.shape}; expected a scalar or a shape that broadcasts against "
            f"the trailing axes of {x.shape}.")
      try:
        np.broadcast_shapes(p.shape, x.shape)
      except ValueError:
        raise ValueError(
            f"{type(self).__name__}: shape parameter {name!r} of shape {p.shape} does not "
            f"broadcast against the input of shape {x.shape}; expected () or a trailing-axis "
            f"shape such as {x.shape[-1:]} (per channel) or {x.shape[1:]} (per neuron).") from None
      out.append(p.reshape((1,) * (x.ndim - p.ndim) + p.shape))
    return out


def _check_input(x: ArrayLike, who: str) -> jax.Array:
  x = jnp.asarray(x)
  if not jnp.issubdtype(x.dtype, jnp.floating):
    raise TypeError(f"{who}: expected a floating-point input (float16/bfloat16/float32/float64) "
                    f"holding u - v_th, got dtype {x.dtype}.")
  return x


def _data_fields(cls) -> tuple[dataclasses.Field, ...]:
  return tuple(f for f in dataclasses.fields(cls) if not f.metadata.get("static", False))


def _meta_fields(cls) -> tuple[dataclasses.Field, ...]:
  return tuple(f for f in dataclasses.fields(cls) if f.metadata.get("static", False))


def _build(cls, static_values, leaves) -> SurrogateSpike:
  """Rebuilds an instance without re-running the constructor checks (leaves may be tracers)."""
  obj = object.__new__(cls)
  for f, v in zip(_meta_fields(cls), static_values):
    object.__setattr__(obj, f.name, v)
  for f, v in zip(_data_fields(cls), leaves):
    object.__setattr__(obj, f.name, v)
  return obj


@functools.lru_cache(maxsize=None)
def _spike_fn(cls, static_values):
  """One ``custom_vjp`` per (family, static configuration): ``f(x, *shape_params)``."""

  @jax.custom_vjp
  def spike(x, *leaves):
    return _build(cls, static_values, leaves).forward(x)

  def fwd(x, *leaves):
    return spike(x, *leaves), (x, leaves)

  def bwd(res, g):
    x, leaves = res
    sg = _build(cls, static_values, leaves)
    dx = g * sg.grad(x)
    if not leaves:
      return (dx,)
    if sg.stop_gradient or not cls.has_primitive:
      return (dx, *(jnp.zeros_like(p) for p in leaves))
    _, pullback = jax.vjp(lambda *ps: _build(cls, static_values, ps).primitive(x), *leaves)
    return (dx, *pullback(g))

  spike.defvjp(fwd, bwd)
  return spike


def family(cls):
  """Class decorator: frozen dataclass + pytree registration (shape params as leaves)."""
  cls = dataclasses.dataclass(frozen=True)(cls)
  data = [f.name for f in _data_fields(cls)]
  meta = [f.name for f in _meta_fields(cls)]

  def flatten_with_keys(obj):
    # Keyed leaves: tree paths name the shape parameters (``.alpha``), which is how
    # ``jsnn.nn.SpikingNeuron`` names its surrogate variables for any spike function.
    return ([(jax.tree_util.GetAttrKey(n), getattr(obj, n)) for n in data],
            tuple(getattr(obj, n) for n in meta))

  def flatten(obj):
    return [getattr(obj, n) for n in data], tuple(getattr(obj, n) for n in meta)

  def unflatten(static_values, leaves):
    return _build(cls, static_values, list(leaves))

  jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten, flatten)
  return cls


def heaviside_family(spike_fn: Any) -> "SurrogateSpike | None":
  """The surrogate family behind ``spike_fn`` if its forward is :class:`SurrogateSpike`'s
  Heaviside step (so its spikes are exactly 0 or 1), else None. A
  ``jsnn.transforms.ParametricSurrogate`` is looked through (its ``base``)."""
  base = getattr(spike_fn, "base", spike_fn)
  if isinstance(base, SurrogateSpike) and type(base).forward is SurrogateSpike.forward:
    return base
  return None
