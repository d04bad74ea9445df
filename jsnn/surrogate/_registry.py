"""Plain-function forms of every family and name resolution for config code.

``by_name`` is meant for config parsing (once, outside any jitted step): it turns
``"sigmoid"`` / ``"Sigmoid"`` into a family instance. Steps receive the instance, never a string.
"""

from __future__ import annotations

import re
from typing import Callable

import jax
from jax.typing import ArrayLike

from jsnn.surrogate import _paper, _spikingjelly
from jsnn.surrogate._core import SurrogateSpike

__all__ = ["FAMILIES", "by_name", "functional"]


def _snake(name: str) -> str:
  name = {"ATan": "atan", "S2NN": "s2nn", "LeakyKReLU": "leaky_k_relu",
          "PiecewiseLeakyReLU": "piecewise_leaky_relu", "LogTailedReLU": "log_tailed_relu",
          "SoftSign": "soft_sign"}.get(name, name)
  return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


FAMILIES: dict[str, type[SurrogateSpike]] = {
    _snake(name): getattr(module, name)
    for module in (_paper, _spikingjelly)
    for name in module.__all__ if isinstance(getattr(module, name), type)
}


def by_name(name: str, **params) -> SurrogateSpike:
  """Builds a surrogate from its name (snake_case or SpikingJelly's class name).

  Args:
    name: e.g. ``"sigmoid"``, ``"Sigmoid"``, ``"triangle"``, ``"asymmetric_rectangle"``.
    **params: shape parameters and static options of that family.

  Returns:
    The family instance, e.g. ``Sigmoid(alpha=4.0)``.

  Raises:
    ValueError: unknown name (the message lists the valid ones).
  """
  key = name if name in FAMILIES else _snake(name)
  if key not in FAMILIES:
    raise ValueError(f"unknown surrogate {name!r}; expected one of {sorted(FAMILIES)}.")
  return FAMILIES[key](**params)


def functional(cls: type[SurrogateSpike]) -> Callable[..., jax.Array]:
  """The plain-function form ``f(x, *shape_params, strict=..., stop_gradient=...)`` of a family."""

  def spike(x: ArrayLike, *args, **kwargs) -> jax.Array:
    return cls(*args, **kwargs)(x)

  spike.__name__ = spike.__qualname__ = _snake(cls.__name__)
  spike.__doc__ = (f"Spikes of ``x = u - v_th`` with the :class:`{cls.__name__}` surrogate.\n\n"
                   f"``{spike.__name__}(x, ...)`` is ``{cls.__name__}(...)(x)``; see that class "
                   "for the maths, parameters and forward convention.")
  return spike
