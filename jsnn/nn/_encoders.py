r"""Spike encoders of static inputs: Poisson (rate) and latency coding, time-major output.

Both take intensities ``x [B, ...]`` in ``[0, 1]`` (e.g. pixels / 255) and return spikes
``[T, B, ...]`` in ``x``'s dtype, ready for a model built with ``input_kind="frames"``.

* **Poisson / rate** (SpikingJelly ``encoding.PoissonEncoder``, called once per step): independent
  Bernoulli spikes, :math:`S_t = 1[u_t < x]`, :math:`u_t \sim U[0, 1)`, so
  :math:`E[S_t] = x`. The key is explicit (no hidden state): the same key gives the same spikes.
* **Latency** (SpikingJelly ``encoding.LatencyEncoder``): exactly one spike per input, at
  :math:`t_f = \mathrm{round}((T - 1)(1 - x))` (``"linear"``) or
  :math:`t_f = \mathrm{round}(T - 1 - \ln(\alpha x + 1))`, :math:`\alpha = e^{T-1} - 1`
  (``"log"``): brighter inputs fire earlier, ``x = 1`` at ``t = 0``, ``x = 0`` at ``t = T - 1``.

Values outside ``[0, 1]`` are rejected when ``x`` is concrete (not traced), as the layout checks of
:func:`jsnn.nn.encode_input` are.

References:
  Fang et al., *SpikingJelly*, Science Advances 2023 (``activation_based/encoding.py``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

__all__ = ["poisson_encode", "latency_encode", "LATENCY_FUNCTIONS"]

LATENCY_FUNCTIONS = ("linear", "log")


def _check(who: str, x: ArrayLike, T: int) -> jax.Array:
  if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
    raise ValueError(f"{who}: T must be a positive int (number of time steps), got {T!r}.")
  if not isinstance(x, jax.core.Tracer):
    values = np.asarray(x)
    if values.size and (np.isnan(values).any() or values.min() < 0 or values.max() > 1):
      raise ValueError(f"{who}: expected intensities in [0, 1] (e.g. pixels / 255), got values in "
                       f"[{values.min()}, {values.max()}]; rescale the input first.")
  x = jnp.asarray(x)
  if not jnp.issubdtype(x.dtype, jnp.floating):
    raise TypeError(f"{who}: expected floating-point intensities [B, ...] in [0, 1], got dtype "
                    f"{x.dtype}; e.g. x.astype(jnp.float32) / 255.")
  if x.ndim < 1:
    raise ValueError(f"{who}: expected a batch [B, ...], got a scalar.")
  return x


def poisson_encode(key: jax.Array, x: ArrayLike, T: int) -> jax.Array:
  """Poisson (Bernoulli rate) spikes ``[T, B, ...]`` with ``P(S_t = 1) = x``.

  Args:
    key: a ``jax.random`` key; one draw of ``[T, B, ...]`` uniforms (reuse the key to reproduce).
    x: intensities ``[B, ...]`` in ``[0, 1]``, floating.
    T: number of time steps.

  Returns:
    ``[T, B, ...]`` spikes (0/1) in ``x``'s dtype.

  Raises:
    ValueError: ``T < 1``, or concrete values outside ``[0, 1]``.
    TypeError: an integer input.

  Examples:
    >>> import jax, jax.numpy as jnp, jsnn
    >>> s = jsnn.nn.poisson_encode(jax.random.key(0), jnp.array([[0.0, 1.0]]), T=4)
    >>> s.shape, s.sum(axis=(0, 1))
    ((4, 1, 2), Array([0., 4.], dtype=float32))
  """
  x = _check("poisson_encode", x, T)
  u = jax.random.uniform(key, (T,) + x.shape, dtype=x.dtype)
  return (u < x[None]).astype(x.dtype)


def latency_encode(x: ArrayLike, T: int, *, function: str = "linear") -> jax.Array:
  """Latency (time-to-first-spike) coding: one spike per input ``[T, B, ...]``.

  Args:
    x: intensities ``[B, ...]`` in ``[0, 1]``, floating.
    T: number of time steps.
    function: ``"linear"`` or ``"log"`` (SpikingJelly's ``enc_function``; see the module
      docstring for ``t_f``).

  Returns:
    ``[T, B, ...]`` with exactly one 1 along the time axis per input, in ``x``'s dtype.

  Raises:
    ValueError: an unknown ``function``, ``T < 1``, or concrete values outside ``[0, 1]``.
    TypeError: an integer input.

  Examples:
    >>> import jax.numpy as jnp, jsnn
    >>> jsnn.nn.latency_encode(jnp.array([[1.0, 0.5, 0.0]]), T=3)[:, 0]
    Array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]], dtype=float32)
  """
  if function not in LATENCY_FUNCTIONS:
    raise ValueError(f"latency_encode: function must be one of {LATENCY_FUNCTIONS}, got "
                     f"{function!r}.")
  x = _check("latency_encode", x, T)
  if function == "linear":
    t_f = jnp.round((T - 1.0) * (1.0 - x))
  else:
    alpha = float(np.expm1(T - 1.0))
    t_f = jnp.round((T - 1.0) - jnp.log(alpha * x + 1.0))
  steps = jnp.arange(T, dtype=x.dtype).reshape((T,) + (1,) * x.ndim)
  return (steps == t_f[None]).astype(x.dtype)
