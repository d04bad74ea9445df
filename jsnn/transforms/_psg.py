r"""PSG (parametric surrogate gradient), variant R1 (**reconstructed [R]**): learnable shape params.

Only the abstract of PSG (Wang, Cheng & Lim) is public. Reconstruction R1 (spec §2.3) learns one
shape parameter `a` per layer (or per channel) through the straight-through primitive

.. math::
   o = H(u - \theta) + \sigma_a(u - \theta) - \mathrm{sg}[\sigma_a(u - \theta)], \qquad
   \frac{\partial o}{\partial u} = h_a(u - \theta), \qquad
   \frac{\partial L}{\partial a} =
   \sum_{t, i} \delta o \, \frac{\partial \sigma_a(u - \theta)}{\partial a}

which is exactly what every `jsnn.surrogate` family's backward returns for its shape leaves. `a` is
stored unconstrained as `rho` and mapped to a valid value by a positivity map
(:class:`SoftplusMap` or :class:`BoundedSigmoidMap`). :class:`ParametricSurrogate` bundles `rho`
(its only pytree leaf), the family and the map; it is a drop-in `spike_fn` for `jsnn.neurons`.

References:
  Wang, Cheng, Lim, *Potential distribution adjustment and parametric surrogate gradient in spiking
  neural networks*, Neurocomputing 620 (2025) 129189; arXiv:2304.13289.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jsnn.surrogate import SurrogateSpike
from jsnn.transforms import _checks

__all__ = ["SoftplusMap", "BoundedSigmoidMap", "ParametricSurrogate", "parametric_surrogate"]


@dataclasses.dataclass(frozen=True)
class SoftplusMap:
  r"""Positivity map :math:`a = a_{min} + \mathrm{softplus}(\rho)` (unbounded above).

  Attributes:
    a_min: lower bound (>= 0), never reached.
  """

  a_min: float = 0.0

  def __post_init__(self):
    _checks.check_range("SoftplusMap.a_min", self.a_min, low=0.0)

  def __call__(self, rho: ArrayLike) -> jax.Array:
    return self.a_min + jax.nn.softplus(jnp.asarray(rho))

  def inverse(self, a: ArrayLike, dtype=jnp.float32) -> jax.Array:
    """`rho` with `self(rho) == a` (host side). Raises `ValueError` unless `a > a_min`."""
    _checks.check_range("a", a, low=self.a_min, low_open=True)
    y = np.asarray(a, np.float64) - self.a_min
    return jnp.asarray(y + np.log(-np.expm1(-y)), dtype)


@dataclasses.dataclass(frozen=True)
class BoundedSigmoidMap:
  r"""Bounded map :math:`a = a_{min} + (a_{max} - a_{min})\,\mathrm{sigmoid}(\rho)`.

  The value stays in `[a_min, a_max]` whatever the optimiser does (the ends are reached only when
  the sigmoid saturates in floating point).

  Attributes:
    a_min, a_max: bounds with `0 <= a_min < a_max`.
  """

  a_min: float
  a_max: float

  def __post_init__(self):
    _checks.check_range("BoundedSigmoidMap.a_min", self.a_min, low=0.0)
    if not self.a_max > self.a_min:
      raise ValueError(f"BoundedSigmoidMap: expected a_max > a_min, got a_min={self.a_min}, "
                       f"a_max={self.a_max}.")

  def __call__(self, rho: ArrayLike) -> jax.Array:
    return self.a_min + (self.a_max - self.a_min) * jax.nn.sigmoid(jnp.asarray(rho))

  def inverse(self, a: ArrayLike, dtype=jnp.float32) -> jax.Array:
    """`rho` with `self(rho) == a` (host side). Raises `ValueError` unless `a_min < a < a_max`."""
    _checks.check_range("a", a, low=self.a_min, high=self.a_max, low_open=True, high_open=True)
    z = (np.asarray(a, np.float64) - self.a_min) / (self.a_max - self.a_min)
    return jnp.asarray(np.log(z) - np.log1p(-z), dtype)


@functools.partial(jax.tree_util.register_dataclass, data_fields=["rho"],
                   meta_fields=["base", "param", "positivity"])
@dataclasses.dataclass(frozen=True)
class ParametricSurrogate:
  """A surrogate family whose shape parameter `param` is `positivity(rho)` with learnable `rho`.

  `rho` is the only pytree leaf: a scalar (per layer) or an array broadcasting against the trailing
  axes of the neuron input (e.g. `[C]`, per channel). `base`, `param` and `positivity` are static.

  Attributes:
    rho: unconstrained parameter.
    base: the family template, e.g. `Sigmoid()`; its other shape parameters stay fixed and must be
      Python numbers (they are static metadata).
    param: name of the learnable shape parameter of `base` (e.g. "alpha", "gamma", "width").
    positivity: `SoftplusMap` or `BoundedSigmoidMap`.
  """

  rho: ArrayLike
  base: SurrogateSpike
  param: str
  positivity: SoftplusMap | BoundedSigmoidMap

  def __post_init__(self):
    if self.param not in self.base.params:
      raise ValueError(f"{type(self.base).__name__} has no shape parameter {self.param!r}; "
                       f"expected one of {tuple(self.base.params)}.")
    try:
      hash(self.base)
    except TypeError:
      raise TypeError("ParametricSurrogate: the base family's shape parameters must be Python "
                      "numbers (static); only `rho` is traced.") from None

  @property
  def value(self) -> jax.Array:
    """The constrained shape parameter `a = positivity(rho)`."""
    return self.positivity(self.rho)

  def surrogate(self) -> SurrogateSpike:
    """The family instance with `param = positivity(rho)` (its gradient flows back to `rho`)."""
    leaves, treedef = jax.tree.flatten(self.base)
    leaves[list(self.base.params).index(self.param)] = self.value
    return jax.tree.unflatten(treedef, leaves)

  def __call__(self, x: ArrayLike, *, strict: bool | None = None) -> jax.Array:
    """Spikes for `x = u - v_th`; see `jsnn.surrogate.SurrogateSpike.__call__`."""
    return self.surrogate()(x, strict=strict)

  def smooth(self, x: ArrayLike) -> jax.Array:
    """The smooth primitive `sigma_a(x)`."""
    return self.surrogate().smooth(x)

  def surrogate_grad(self, x: ArrayLike) -> jax.Array:
    """The closed-form surrogate derivative `h_a(x)`."""
    return self.surrogate().surrogate_grad(x)


def parametric_surrogate(base: SurrogateSpike, a0: ArrayLike, *, param: str | None = None,
                         positivity: SoftplusMap | BoundedSigmoidMap = SoftplusMap(),
                         shape: tuple[int, ...] = (), dtype=jnp.float32) -> ParametricSurrogate:
  """Builds a :class:`ParametricSurrogate` whose shape parameter starts at `a0`.

  Args:
    base: family template, e.g. `jsnn.surrogate.Sigmoid()` or `Dspike(r=1.0)`.
    a0: initial value of the shape parameter (inside the map's range).
    param: which shape parameter is learned; default the family's first one (`alpha` for
      Sigmoid/ATan, `gamma` for Dspike/Triangle, `width` for Rectangle).
    positivity: the map from `rho` to `a`.
    shape: shape of `rho`: `()` per layer, `(C,)` per channel.
    dtype: dtype of `rho`.

  Returns:
    The surrogate, usable as `spike_fn` of any `jsnn.neurons` step or `Neuron`.

  Examples:
    >>> from jsnn.surrogate import Sigmoid
    >>> sg = parametric_surrogate(Sigmoid(), 4.0, positivity=BoundedSigmoidMap(1.0, 10.0))
    >>> round(float(sg.value), 4)
    4.0
  """
  param = param or next(iter(base.params))
  rho = positivity.inverse(a0, dtype)
  rho = jnp.broadcast_to(rho, np.broadcast_shapes(rho.shape, tuple(shape)))
  return ParametricSurrogate(rho, base, param, positivity)
