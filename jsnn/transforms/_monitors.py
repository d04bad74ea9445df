r"""Per-layer monitors: firing rate, membrane statistics and the share inside the surrogate window.

Monitors read time-major traces `[T, B, ...]` after the time loop and return small summaries under
`stop_gradient`, as auxiliary outputs (`jax.value_and_grad(..., has_aux=True)`); nothing is carried
in the `scan`. Switching them on therefore leaves losses and gradients unchanged.

The window share is AdaLi's "computational density" (spec §1.2), the "gradient-available
proportion" of LSG/DS-ATGO, and the input of AdaLi-auto and PDA. It needs the potential **at firing
time** (before reset); :func:`run_with_potentials` records it for any `jsnn.neurons.Neuron`.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jsnn.neurons import align_params, run
from jsnn.transforms import _checks

__all__ = ["LayerStats", "layer_stats", "monitor_layers", "run_with_potentials"]


class LayerStats(NamedTuple):
  """Summary of one spiking layer (all scalars except `quantiles [Q]`).

  Attributes:
    rate: firing rate, mean of the spikes over `[T, B, ...]`.
    mean, std: of the potentials over `[T, B, ...]`.
    quantiles: `[Q]` potential quantiles at the requested levels.
    in_window: share of potentials with a non-zero surrogate gradient (None without a window).
  """

  rate: jax.Array
  mean: jax.Array
  std: jax.Array
  quantiles: jax.Array
  in_window: jax.Array | None


def _window_share(x: jax.Array, window) -> jax.Array | None:
  if window is None:
    return None
  if isinstance(window, (tuple, list)):
    lo, hi = (jnp.asarray(w, x.dtype) for w in window)
    inside = (x >= lo) & (x <= hi)
  elif hasattr(window, "surrogate_grad"):
    inside = window.surrogate_grad(x) != 0
  else:
    raise TypeError("window must be None, a (lo, hi) pair on u - v_th, or a surrogate with "
                    f"surrogate_grad(); got {type(window).__name__}.")
  return jnp.mean(inside.astype(x.dtype))


def layer_stats(spikes: ArrayLike, potentials: ArrayLike, *, v_th: ArrayLike = 1.0,
                window: Any = None, quantiles: Sequence[float] = (0.25, 0.5, 0.75)) -> LayerStats:
  """Monitors one layer from its spike and potential traces (under `stop_gradient`).

  Args:
    spikes: `[T, B, ...]` spikes of the layer.
    potentials: `[T, B, ...]` potentials, same shape (pre-reset for a meaningful window share).
    v_th: threshold (scalar or per-channel), used for the window share on `x = u - v_th`.
    window: None, a surrogate (`x` counts if its `surrogate_grad(x) != 0`, e.g. AdaLi's
      `AsymmetricRectangle`), or an inclusive `(lo, hi)` pair on `x`.
    quantiles: levels in `[0, 1]`; `()` skips the sort.

  Returns:
    A :class:`LayerStats` of detached values in the potentials' dtype.

  Raises:
    ValueError: traces that are not `[T, B, ...]` or differ in shape.
  """
  s = _checks.time_major("spikes", jax.lax.stop_gradient(jnp.asarray(spikes)))
  u = _checks.time_major("potentials", jax.lax.stop_gradient(jnp.asarray(potentials)))
  if s.shape != u.shape:
    raise ValueError(f"spikes {s.shape} and potentials {u.shape} must have the same time-major "
                     "shape [T, B, ...].")
  _checks.check_range("quantiles", tuple(quantiles) or None, low=0.0, high=1.0)
  q = (jnp.quantile(u.ravel(), jnp.asarray(quantiles, u.dtype)) if len(quantiles)
       else jnp.zeros((0,), u.dtype))
  x = u - _checks.align("v_th", v_th, u)
  return LayerStats(jnp.mean(s).astype(u.dtype), jnp.mean(u), jnp.std(u), q,
                    _window_share(x, window))


def monitor_layers(spikes, potentials, **kwargs) -> Any:
  """:func:`layer_stats` for each layer of matching sequences or dicts of traces.

  Args:
    spikes: a list/tuple or dict of per-layer `[T, B, ...]` spike traces.
    potentials: the same structure of potential traces.
    **kwargs: passed to :func:`layer_stats` (`v_th`, `window`, `quantiles`), shared by layers.

  Returns:
    The same structure holding a :class:`LayerStats` per layer.
  """
  if isinstance(spikes, dict):
    if set(spikes) != set(potentials):
      raise ValueError(f"spikes and potentials must name the same layers, got {sorted(spikes)} "
                       f"and {sorted(potentials)}.")
    return {k: layer_stats(spikes[k], potentials[k], **kwargs) for k in spikes}
  if len(spikes) != len(potentials):
    raise ValueError(f"got {len(spikes)} spike traces and {len(potentials)} potential traces; "
                     "expected one of each per layer.")
  return type(spikes)(layer_stats(s, u, **kwargs) for s, u in zip(spikes, potentials))


def _recording_step(neuron) -> Callable:
  def step(state, x):
    seen = []

    def spike_fn(z, **kw):
      seen.append(z)
      return neuron.spike_fn(z, **kw)

    state, s = neuron.step(state, x, params=neuron.params, spike_fn=spike_fn)
    if not seen:
      raise ValueError("run_with_potentials: the neuron step never called its spike_fn.")
    return state, (s, seen[0])

  return step


def run_with_potentials(neuron, xs: ArrayLike, *, state=None):
  """Runs a `jsnn.neurons.Neuron` and also returns the potential at firing time.

  The neuron's `spike_fn` is wrapped to record its argument `x_t = u_t - v_th` (the membrane
  potential before reset); the spikes and gradients are those of `neuron(xs)`. The recorded trace
  is a `scan` output, not carried.

  Args:
    neuron: a `Neuron` (with `step`, `params` including `v_th`, `spike_fn`, `init_state`).
    xs: input `[T, B, ...]`.
    state: optional initial state (default `neuron.init_state(xs[0])`).

  Returns:
    `(final_state, spikes [T, B, ...], potentials [T, B, ...])`, potentials `u = x + v_th`.
  """
  xs = _checks.time_major("xs", xs)
  state = neuron.init_state(xs[0]) if state is None else state
  final, (spikes, x_tb) = run(_recording_step(neuron), state, xs)
  v_th = align_params(neuron.params, x_tb[0]).v_th
  return final, spikes, x_tb + v_th[None]

