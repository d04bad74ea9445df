r"""IF, LIF and Parametric LIF with SpikingJelly's exact semantics.

With ``V_r = v_reset`` (``V_r = 0`` in the charge for soft reset), ``V[-1] = v_reset`` (0 for soft
reset), per step ``t``:

.. math::
   \text{LIF, decay\_input:}\quad H_t &= V_{t-1} + (X_t - (V_{t-1} - V_r)) / \tau \\
   \text{LIF, no decay\_input:}\quad H_t &= V_{t-1} - (V_{t-1} - V_r) / \tau + X_t \\
   \text{IF:}\quad H_t &= V_{t-1} + X_t \\
   \text{PLIF:}\quad & \text{LIF with } /\tau \text{ replaced by } \cdot\,\mathrm{sigmoid}(w) \\
   S_t &= \Theta(H_t - V_{th}) \quad(\text{surrogate backward}) \\
   \text{soft:}\ V_t = H_t - S^d_t V_{th}, &\qquad \text{hard:}\ V_t = S^d_t V_r + (1 - S^d_t) H_t

with ``S^d = stop_gradient(S)`` if ``detach_reset``. The output spike keeps its surrogate gradient
either way. ``sj_version="0.0.0.0.14"`` uses that release's charge order when ``v_reset`` is None
or 0 (``V + (X - V)/tau`` and ``V*(1 - 1/tau) + X``; PLIF ``* sigmoid(w)``), identical in exact
arithmetic and up to a few ulp apart in float32. SpikingJelly 0.0.0.0.12 (the CLIF code's
dependency) has the same order as 0.0.0.0.14.

Reference: Fang et al., *SpikingJelly*, Science Advances 2023; PLIF: Fang et al., ICCV 2021.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jsnn.neurons._residuals import SplitStep, register_split
from jsnn.neurons._run import align_params, exact_div
from jsnn.surrogate import SJ_VERSIONS

__all__ = [
    "LIFState", "IFParams", "LIFParams", "PLIFParams", "if_step", "lif_step", "plif_step",
    "lif_init", "plif_params",
]


class LIFState(NamedTuple):
  """State of every single-potential neuron: the membrane potential ``v [B, ...]`` after reset."""

  v: jax.Array


class IFParams(NamedTuple):
  """IF constants. ``v_reset=None`` selects soft reset (subtract ``v_th``)."""

  v_th: ArrayLike = 1.0
  v_reset: ArrayLike | None = 0.0


class LIFParams(NamedTuple):
  """LIF constants: time constant ``tau`` (> 1 in SpikingJelly), threshold, reset value."""

  tau: ArrayLike = 2.0
  v_th: ArrayLike = 1.0
  v_reset: ArrayLike | None = 0.0


class PLIFParams(NamedTuple):
  """Parametric LIF constants: learnable ``w`` with ``1/tau = sigmoid(w)`` (one scalar per layer
  in SpikingJelly; any broadcastable shape here)."""

  w: ArrayLike = 0.0
  v_th: ArrayLike = 1.0
  v_reset: ArrayLike | None = 0.0


def plif_params(init_tau: float = 2.0, v_th: ArrayLike = 1.0,
                v_reset: ArrayLike | None = 0.0, dtype=None) -> PLIFParams:
  """``PLIFParams`` with ``w = -log(init_tau - 1)`` as SpikingJelly initialises it.

  With ``dtype=None`` ``w`` is a Python float (weakly typed), so it takes the dtype of the input
  it meets (float32 runs round it as SpikingJelly's float32 parameter; float64 runs keep it exact).
  """
  if not init_tau > 1.0:
    raise ValueError(f"plif_params: init_tau must be > 1, got {init_tau}.")
  w = float(-np.log(init_tau - 1.0))
  return PLIFParams(w=w if dtype is None else jnp.asarray(w, dtype), v_th=v_th, v_reset=v_reset)


def lif_init(params: NamedTuple, like: ArrayLike) -> LIFState:
  """Initial state shaped like one time step ``like [B, ...]``: ``v_reset`` (hard) or 0 (soft)."""
  like = jnp.asarray(like)
  if params.v_reset is None:
    return LIFState(jnp.zeros_like(like))
  v_r = jnp.asarray(params.v_reset, like.dtype)
  return LIFState(jnp.broadcast_to(v_r, like.shape).astype(like.dtype))


def _check_version(sj_version: str) -> None:
  if sj_version not in SJ_VERSIONS:
    raise ValueError(f"sj_version must be one of {SJ_VERSIONS}, got {sj_version!r}.")


def _fire_and_reset(h, p, spike_fn, detach_reset):
  """Fire on ``h - v_th`` and apply SpikingJelly's soft or hard reset."""
  s = spike_fn(h - p.v_th)
  s_d = jax.lax.stop_gradient(s) if detach_reset else s
  if p.v_reset is None:
    v = h - s_d * p.v_th
  else:
    v = s_d * p.v_reset + (1.0 - s_d) * h
  return LIFState(v), s


def if_step(state: LIFState, x: jax.Array, *, params: IFParams, spike_fn,
            detach_reset: bool = False) -> tuple[LIFState, jax.Array]:
  """One step of SpikingJelly's ``IFNode``: ``H = V + X``, then fire and reset.

  Args:
    state: ``LIFState(v [B, ...])``.
    x: input current ``[B, ...]`` at this step.
    params: ``IFParams``.
    spike_fn: surrogate spike function of ``H - v_th``.
    detach_reset: detach the spike inside the reset (static).

  Returns:
    ``(LIFState(v), spikes [B, ...])``.
  """
  p = align_params(params, x)
  return _fire_and_reset(_if_charge(state, x, p), p, spike_fn, detach_reset)


def _if_charge(state, x, p):
  del p
  return state.v + x


def _charge(v, x, k, p, decay_input, sj_version, divide):
  """LIF/PLIF charge with rate ``k`` (``tau`` divided, or ``sigmoid(w)`` multiplied)."""
  scale = (lambda a: exact_div(a, k)) if divide else (lambda a: a * k)
  v_r = 0.0 if p.v_reset is None else p.v_reset
  if decay_input:
    master = v + scale(x - (v - v_r))
    legacy = v + scale(x - v)
  else:
    master = v - scale(v - v_r) + x
    legacy = v * (1.0 - (1.0 / k if divide else k)) + x
  if sj_version == "2.0.0":
    return master
  if p.v_reset is None:
    return legacy
  return jnp.where(p.v_reset == 0, legacy, master)


def lif_step(state: LIFState, x: jax.Array, *, params: LIFParams, spike_fn,
             decay_input: bool = True, detach_reset: bool = False,
             sj_version: str = "2.0.0") -> tuple[LIFState, jax.Array]:
  """One step of SpikingJelly's ``LIFNode`` (see the module docstring for the equations).

  Args:
    state: ``LIFState(v [B, ...])``.
    x: input current ``[B, ...]``.
    params: ``LIFParams(tau, v_th, v_reset)``; ``v_reset=None`` is soft reset. Any constant may be
      a learnable array broadcasting against ``x``.
    spike_fn: surrogate spike function of ``H - v_th`` (SpikingJelly's default is
      ``Sigmoid(alpha=4)``).
    decay_input: scale the input by ``1/tau`` (static).
    detach_reset: detach the spike inside the reset (static).
    sj_version: ``"2.0.0"`` or ``"0.0.0.0.14"`` charge order (static).

  Returns:
    ``(LIFState(v), spikes [B, ...])``.
  """
  _check_version(sj_version)
  p = align_params(params, x)
  h = _lif_charge(state, x, p, decay_input=decay_input, sj_version=sj_version)
  return _fire_and_reset(h, p, spike_fn, detach_reset)


def _lif_charge(state, x, p, *, decay_input, sj_version):
  return _charge(state.v, x, p.tau, p, decay_input, sj_version, divide=True)


def plif_step(state: LIFState, x: jax.Array, *, params: PLIFParams, spike_fn,
              decay_input: bool = True, detach_reset: bool = False,
              sj_version: str = "2.0.0") -> tuple[LIFState, jax.Array]:
  """One step of SpikingJelly's ``ParametricLIFNode``: LIF with ``1/tau = sigmoid(w)``.

  ``w`` is an ordinary differentiable parameter (``jax.grad`` w.r.t. ``params.w`` gives SpikingJelly's
  ``w.grad``). Arguments as :func:`lif_step`.
  """
  _check_version(sj_version)
  p = align_params(params, x)
  h = _plif_charge(state, x, p, decay_input=decay_input, sj_version=sj_version)
  return _fire_and_reset(h, p, spike_fn, detach_reset)


def _plif_charge(state, x, p, *, decay_input, sj_version):
  k = jax.nn.sigmoid(p.w)
  return _charge(state.v, x, k, p, decay_input, sj_version, divide=False)


# Charge / fire-and-reset splits for run(..., residuals="minimal"). The charges are affine in x;
# only decay_input=True puts x into the gradient of tau / w.
@functools.lru_cache(maxsize=None)
def _if_split(detach_reset: bool = False) -> SplitStep:
  return SplitStep(_if_charge, _post(detach_reset), x_in_param_grads=False)


@functools.lru_cache(maxsize=None)
def _lif_split(decay_input: bool = True, detach_reset: bool = False,
               sj_version: str = "2.0.0", charge=_lif_charge) -> SplitStep:
  _check_version(sj_version)
  return SplitStep(functools.partial(charge, decay_input=decay_input, sj_version=sj_version),
                   _post(detach_reset), x_in_param_grads=decay_input)


def _plif_split(**static) -> SplitStep:
  return _lif_split(**static, charge=_plif_charge)


@functools.lru_cache(maxsize=None)
def _post(detach_reset: bool):
  return lambda h, p, spike_fn: _fire_and_reset(h, p, spike_fn, detach_reset)


register_split(if_step, _if_split)
register_split(lif_step, _lif_split)
register_split(plif_step, _plif_split)
