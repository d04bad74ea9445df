r"""The neurons of the TET, SML and CLIF papers' official code.

**Decay LIF with multiplicative hard reset** (TET ``models/layers.py:LIFSpike``, SML
``models/spiking_layer.py:LIFSpike``), state ``mem`` starting at 0:

.. math::
   m_t = \lambda\, m'_{t-1} + X_t,\qquad S_t = \Theta(m_t - V_{th}),\qquad
   m'_t = (1 - S_t)\, m_t

``lambda`` is a decay *factor* (TET calls it ``tau`` = 0.5). The reset is not detached (TET, SML
default); SML's ``set_mem_detach(True)`` is ``detach_reset=True``.

**CLIF** (``modules/neuron.py:ComplementaryLIFNeuron``), state ``(U, M)`` starting at 0:

.. math::
   H_t &= (1 - 1/\tau)\, U_{t-1} + X_t \\
   M_t &= M_{t-1}\,\mathrm{sigmoid}(H_t/\tau) + S_t,\qquad S_t = \Theta(H_t - V_{th}) \\
   U_t &= H_t - S_t V_{th} - S_t\,\mathrm{sigmoid}(M_t)

Nothing is detached: the gradient reaches earlier steps through ``M`` as well as ``U``.

References:
  Deng et al., TET, ICLR 2022. Deng et al., *Surrogate Module Learning*, ICML 2023.
  Huang et al., *CLIF*, ICML 2024.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jsnn.neurons._residuals import SplitStep, register_split
from jsnn.neurons._run import align_params, exact_div
from jsnn.neurons._spikingjelly import LIFState

__all__ = ["DecayLIFParams", "decay_lif_step", "zero_init", "CLIFState", "CLIFParams",
           "clif_step", "clif_init"]


class DecayLIFParams(NamedTuple):
  """Constants of the TET/SML LIF: decay factor (TET's ``tau``) and threshold."""

  decay: ArrayLike = 0.5
  v_th: ArrayLike = 1.0


def zero_init(params: NamedTuple, like: ArrayLike) -> LIFState:
  """Zero membrane potential shaped like one time step ``like [B, ...]``."""
  del params
  return LIFState(jnp.zeros_like(jnp.asarray(like)))


def decay_lif_step(state: LIFState, x: jax.Array, *, params: DecayLIFParams, spike_fn,
                   detach_reset: bool = False) -> tuple[LIFState, jax.Array]:
  """One step of the TET / SML LIF (see the module docstring).

  Args:
    state: ``LIFState(v [B, ...])``, the potential after the previous reset.
    x: input ``[B, ...]``.
    params: ``DecayLIFParams(decay, v_th)``; learnable arrays allowed.
    spike_fn: TET: ``Triangle(gamma=1.0)`` (strict ``>``); SML: ``Dspike(gamma=2.5)`` (``>=``).
    detach_reset: detach the spike inside ``(1 - S) m`` (static; SML's ``mem_detach``).

  Returns:
    ``(LIFState(v), spikes [B, ...])``.
  """
  p = align_params(params, x)
  return _decay_post(_decay_charge(state, x, p), p, spike_fn, detach_reset)


def _decay_charge(state: LIFState, x: jax.Array, p: DecayLIFParams) -> jax.Array:
  return state.v * p.decay + x


def _decay_post(mem, p, spike_fn, detach_reset=False):
  s = spike_fn(mem - p.v_th)
  s_d = jax.lax.stop_gradient(s) if detach_reset else s
  return LIFState((1.0 - s_d) * mem), s


@functools.lru_cache(maxsize=None)
def _decay_split(detach_reset: bool = False) -> SplitStep:
  return SplitStep(_decay_charge, functools.partial(_decay_post, detach_reset=detach_reset),
                   x_in_param_grads=False)


register_split(decay_lif_step, _decay_split)


class CLIFState(NamedTuple):
  """CLIF state: potential ``v`` after both resets and complementary potential ``m``."""

  v: jax.Array
  m: jax.Array


class CLIFParams(NamedTuple):
  """CLIF constants (shared with the LIF it extends): ``tau`` and threshold."""

  tau: ArrayLike = 2.0
  v_th: ArrayLike = 1.0


def clif_init(params: NamedTuple, like: ArrayLike) -> CLIFState:
  """Zero ``(v, m)`` shaped like one time step ``like [B, ...]``."""
  del params
  z = jnp.zeros_like(jnp.asarray(like))
  return CLIFState(z, z)


def clif_step(state: CLIFState, x: jax.Array, *, params: CLIFParams,
              spike_fn) -> tuple[CLIFState, jax.Array]:
  """One step of the Complementary LIF neuron (see the module docstring).

  Args:
    state: ``CLIFState(v [B, ...], m [B, ...])``.
    x: input ``[B, ...]``.
    params: ``CLIFParams(tau, v_th)``.
    spike_fn: CLIF's default is ``Rectangle(width=1.0)`` (``>=``).

  Returns:
    ``(CLIFState(v, m), spikes [B, ...])``.
  """
  p = align_params(params, x)
  return _clif_post(_clif_charge(state, x, p), p, spike_fn)


def _clif_charge(state: CLIFState, x: jax.Array, p: CLIFParams) -> tuple[jax.Array, jax.Array]:
  """``(H_t, M_{t-1})``: everything the fire-and-reset part needs (minimal residuals keep it)."""
  return state.v * (1.0 - 1.0 / p.tau) + x, state.m


def _clif_post(hm, p, spike_fn):
  h, m_prev = hm
  m = m_prev * jax.nn.sigmoid(exact_div(h, p.tau))
  s = spike_fn(h - p.v_th)
  m = m + s
  v = h - s * p.v_th
  v = v - s * jax.nn.sigmoid(m)
  return CLIFState(v, m), s


@functools.lru_cache(maxsize=None)
def _clif_split() -> SplitStep:
  return SplitStep(_clif_charge, _clif_post, x_in_param_grads=False)


register_split(clif_step, _clif_split)
