r"""The discretised NIR LIF / IF neuron, for NIR graphs that no jsnn preset matches exactly.

NIR's LIF is continuous, :math:`\tau \dot v = (v_{leak} - v) + R\,I`, fire when
:math:`v > v_{th}`, then :math:`v \leftarrow v_{reset}`; its IF is :math:`\dot v = R\,I`. With the
forward-Euler step ``dt`` that every NIR simulator (snnTorch, Norse, Spyx, SpikingJelly, Sinabs)
uses, one step is

.. math::
   H_t = V_{t-1} - \ell\,(V_{t-1} - v_{leak}) + g\,X_t,\qquad S_t = \Theta(H_t - v_{th}),\qquad
   V_t = S_t\,v_{reset} + (1 - S_t)\,H_t\ \ (\text{or } V_t = H_t - S_t v_{th}\text{, soft})

with :math:`\ell = dt/\tau`, :math:`g = dt\,R/\tau` (LIF) or :math:`\ell = 0`, :math:`g = dt\,R`
(IF), starting from :math:`V_{-1} = 0`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
from jax.typing import ArrayLike

from jsnn.neurons import LIFState, Neuron, align_params, zero_init

__all__ = ["NIRLIFParams", "nir_lif_step", "nir_lif"]


class NIRLIFParams(NamedTuple):
  """Constants of the discretised NIR neuron: leak ``l = dt/tau``, input gain ``g``, ``v_leak``,
  threshold, reset value (``None``: soft reset, subtract ``v_th``)."""

  leak: ArrayLike = 0.5
  gain: ArrayLike = 1.0
  v_leak: ArrayLike = 0.0
  v_th: ArrayLike = 1.0
  v_reset: ArrayLike | None = 0.0


def nir_lif_step(state: LIFState, x: jax.Array, *, params: NIRLIFParams,
                 spike_fn) -> tuple[LIFState, jax.Array]:
  """One forward-Euler step of NIR's LIF / IF (see the module docstring).

  Args:
    state: ``LIFState(v [B, ...])``.
    x: input current ``[B, ...]``.
    params: ``NIRLIFParams``; every constant may be an array broadcasting against ``x``.
    spike_fn: surrogate of ``H - v_th``; NIR fires on ``v > v_th``, i.e. ``strict=True``.

  Returns:
    ``(LIFState(v), spikes [B, ...])``.
  """
  p = align_params(params, x)
  h = state.v - p.leak * (state.v - p.v_leak) + p.gain * x
  s = spike_fn(h - p.v_th)
  if p.v_reset is None:
    return LIFState(h - s * p.v_th), s
  return LIFState(s * p.v_reset + (1.0 - s) * h), s



def nir_lif(params: NIRLIFParams, spike_fn):
  """A ``jsnn.neurons.Neuron`` running :func:`nir_lif_step` from ``V = 0``."""
  return Neuron(nir_lif_step, params, spike_fn, zero_init)
