r"""PDA (potential distribution adjustment), **reconstructed [R]**: initial offset and penalty.

Only PDA's abstract is public: the potential distribution "deviates unpredictably due to
quantization error" and PDA minimises "the loss of undesired pre-activations". Spec §2.4 offers two
readings, both off unless used:

* **R-PDA-A, potential shift.** T steps of IF/LIF with reset quantise the input with a floor-like
  rule (expected error about `-θ/2`); starting the membrane at `u_0 = shift · θ` (default
  `shift = 1/2`) turns floor into round-to-nearest (Deng & Gu 2021's threshold shift, QCFS's
  φ = 0.5).
* **R-PDA-B, distribution penalty** added to the loss:

  .. math::
     \lambda_{pda} \sum_l \Big[\overline{\mathrm{relu}(-u_l)^2} +
     \overline{\mathrm{relu}(u_l - \theta_l - m)^2}\Big]

  (means over `[T, B, ...]`), which penalises potential far below threshold (never fires) and far
  above it (saturation). Coefficient, margin and exact form are unknown [?]; sweep
  `λ_pda ∈ {1e-4, 1e-3, 1e-2}`.

References:
  Wang, Cheng, Lim, *Potential distribution adjustment and parametric surrogate gradient in spiking
  neural networks*, Neurocomputing 620 (2025) 129189; arXiv:2304.13289.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jsnn.transforms import _checks

__all__ = ["pda_shift_state", "pda_init", "pda_penalty"]


def _replace(state: Any, field: str, value: jax.Array) -> Any:
  if isinstance(state, Mapping):
    return {**state, field: value}
  if hasattr(state, "_replace"):
    return state._replace(**{field: value})
  if dataclasses.is_dataclass(state):
    return dataclasses.replace(state, **{field: value})
  raise TypeError(f"pda_shift_state: expected a NamedTuple, dataclass or dict state, got "
                  f"{type(state).__name__}.")


def _get(state: Any, field: str) -> jax.Array:
  try:
    return state[field] if isinstance(state, Mapping) else getattr(state, field)
  except (KeyError, AttributeError):
    raise ValueError(f"pda_shift_state: the state {type(state).__name__} has no membrane "
                     f"potential field {field!r}; pass field=<name of the potential>.") from None


def pda_shift_state(state: Any, v_th: ArrayLike, shift: float = 0.5, *, field: str = "v") -> Any:
  """R-PDA-A [R]: adds `shift · v_th` to the membrane potential of any neuron state.

  Args:
    state: a neuron state (NamedTuple such as `LIFState(v)` / `CLIFState(v, m)`, a dataclass or a
      dict) whose `field` holds the potential `[B, ...]`.
    v_th: threshold, a scalar or an array broadcasting against the potential's trailing axes.
    shift: offset in units of `v_th`, in `[0, 1]` (spec default 0.5).
    field: name of the potential in `state`.

  Returns:
    The same kind of state with `field` shifted; other fields untouched.
  """
  _checks.check_range("shift", shift, low=0.0, high=1.0)
  v = jnp.asarray(_get(state, field))
  return _replace(state, field, v + _checks.align("v_th", v_th, v) * jnp.asarray(shift, v.dtype))


def pda_init(neuron: Any, like: ArrayLike, shift: float = 0.5, *, field: str = "v") -> Any:
  """R-PDA-A [R]: a `jsnn.neurons.Neuron`'s initial state with `u_0 = init + shift · v_th`.

  The presets start at 0 (soft reset) or `v_reset = 0`, so `u_0 = shift · v_th`. Use as
  `neuron(xs, state=pda_init(neuron, xs[0]))`.

  Args:
    neuron: a `Neuron` (anything with `init_state(like)` and `params.v_th`).
    like: one time step of input `[B, ...]`.
    shift: offset in units of `v_th`, in `[0, 1]`.
    field: name of the potential in the neuron's state.
  """
  return pda_shift_state(neuron.init_state(like), neuron.params.v_th, shift, field=field)


def _layers(x) -> list:
  if isinstance(x, Mapping):
    return [x[k] for k in sorted(x)]
  return list(x) if isinstance(x, (list, tuple)) else [x]


def pda_penalty(potentials: ArrayLike | Sequence[ArrayLike] | Mapping[str, ArrayLike],
                v_th: ArrayLike | Sequence[ArrayLike], margin: float, *, lam: float) -> jax.Array:
  r"""R-PDA-B [R]: the potential-distribution penalty, summed over layers (module docstring).

  Args:
    potentials: per-layer pre-reset potentials `u_l`, each time-major `[T, B, ...]` (one array, a
      sequence, or a dict of layers).
    v_th: threshold `θ`: one for all layers (scalar or per-channel array) or one per layer.
    margin: `m >= 0`, how far above `θ` a potential counts as saturated.
    lam: `λ_pda >= 0` (0 switches PDA off).

  Returns:
    The scalar `λ_pda Σ_l D_l` in the potentials' dtype.

  Raises:
    ValueError: a potential is not `[T, B, ...]`, `lam < 0`, `margin < 0`, or the number of
      thresholds does not match the number of layers.
  """
  _checks.check_range("lam (λ_pda)", lam, low=0.0)
  _checks.check_range("margin", margin, low=0.0)
  layers = _layers(potentials)
  ths = _layers(v_th) if isinstance(v_th, (list, tuple, Mapping)) else [v_th] * len(layers)
  if len(ths) != len(layers):
    raise ValueError(f"pda_penalty: got {len(ths)} thresholds for {len(layers)} layers; expected "
                     "one threshold, or one per layer.")
  total = 0.0
  for i, (u, th) in enumerate(zip(layers, ths)):
    u = _checks.time_major(f"potentials[{i}]", u)
    th = _checks.align("v_th", th, u)
    low = jnp.mean(jax.nn.relu(-u) ** 2)
    high = jnp.mean(jax.nn.relu(u - th - jnp.asarray(margin, u.dtype)) ** 2)
    total = total + low + high
  return jnp.asarray(lam, jnp.result_type(total)) * total
