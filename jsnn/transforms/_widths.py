r"""Surrogate-width rules of LSG, MPD-AGL and DS-ATGO (spec §3), as small pure functions.

Each returns the **full width** `k` of a rectangle of height `1/k` on `|u - V_th| < k/2`, i.e. the
`width` of `jsnn.surrogate.Rectangle(width=k)`. Widths are computed under `stop_gradient`: these
methods read parameters or statistics but never learn through the width.

References:
  Lian et al., *Learnable Surrogate Gradient for Direct Training Spiking Neural Networks*,
  IJCAI 2023.
  Jiang et al., *Adaptive Gradient Learning for Spiking Neural Networks by Exploiting Membrane
  Potential Dynamics* (MPD-AGL), IJCAI 2025 (code `Stay-Sane/MPD-AGL`).
  Jiang et al., *DS-ATGO*, AAAI 2026 (code `jqjiang1999/DS-ATGO`).
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jsnn.transforms import _checks

__all__ = ["lsg_width", "mpd_agl_width", "ds_atgo_threshold", "ds_atgo_width"]

_sg = jax.lax.stop_gradient


def lsg_width(decay: ArrayLike, v_th: ArrayLike = 0.5) -> jax.Array:
  r"""LSG width tied to the learnable decay: :math:`\alpha_n = 2 V_{th}\sqrt{1 + \beta_n^2}`.

  With tdBN inputs `I ~ N(0, V_th²)` the potential is about `N(0, (1 + β²) V_th²)` (LSG Thm 1), so
  the window spans ± one predicted standard deviation. `β_n = sigmoid(b_n)` receives its gradient
  through the membrane dynamics only; the width is a constant (stop-gradient).

  Args:
    decay: the layer's decay `β_n` (scalar or per-channel), LSG init 0.2.
    v_th: threshold (LSG: 0.5).

  Returns:
    The full width `α_n`, shaped like `decay`.
  """
  decay = jnp.asarray(decay)
  return _sg(2.0 * jnp.asarray(v_th, decay.dtype) * jnp.sqrt(1.0 + decay * decay))


def mpd_agl_width(gamma_mean: ArrayLike, tau: ArrayLike, t: ArrayLike,
                  v_th: ArrayLike = 0.5) -> jax.Array:
  r"""MPD-AGL width per time step (Theorem 2 of the paper; `neuron.py` of the code).

  .. math::
     a_1 = 2\bar\gamma V_{th}, \qquad a_t = 2\sqrt{1 + \tau^2}\,\bar\gamma V_{th}\ (t \ge 2)

  with :math:`\bar\gamma` the mean BN scale feeding the layer and `τ` its decay, both detached.

  Args:
    gamma_mean: `mean_c(γ)` of the preceding tdBN (scalar).
    tau: the layer's decay (PLIF: `sigmoid(w)`; init 0.2).
    t: **0-based** time step (the `scan` index; may be traced): `t = 0` is the paper's `a_1`.
    v_th: threshold (MPD-AGL: 0.5).

  Returns:
    The full width (e.g. 1.0 at `t = 0` and 1.0198 after, for `γ̄ = 1, τ = 0.2, V_th = 0.5`).
  """
  g = _sg(jnp.asarray(gamma_mean))
  tau = _sg(jnp.asarray(tau, g.dtype))
  first = 2.0 * g * jnp.asarray(v_th, g.dtype)
  return jnp.where(jnp.asarray(t) == 0, first, jnp.sqrt(1.0 + tau * tau) * first)


def ds_atgo_threshold(u: ArrayLike, *, f_c: float = 1.0,
                      axes: Sequence[int] | None = None) -> jax.Array:
  r"""DS-ATGO adaptive threshold :math:`\Delta V_{th} = f_c(\mu + \sigma)` from batch statistics.

  For Gaussian potentials this fixes the firing probability at :math:`1 - \Phi(1) \approx 15.9\%`
  (the paper's Theorem 1). Computed per layer and time step, detached; at inference use a running
  average (momentum 0.1, one entry per step) kept by the caller.

  Args:
    u: potentials of one layer at one time step, `[B, ...]`.
    f_c: scale (paper: 1).
    axes: reduction axes (default: all, one threshold per layer).

  Returns:
    The threshold (a scalar by default).
  """
  u = _sg(jnp.asarray(u))
  axes = None if axes is None else tuple(axes)
  return jnp.asarray(f_c, u.dtype) * (jnp.mean(u, axis=axes) + jnp.std(u, axis=axes))


def ds_atgo_width(delta_v_th: ArrayLike, v_th: ArrayLike = 1.0, k: ArrayLike = 1.0) -> jax.Array:
  r"""DS-ATGO threshold-driven width :math:`k' = k\,(1 + \tanh(\Delta V_{th} - V_{th}))`.

  The paper's Eq. 7 has two branches that are this one function. The rectangle is then
  `1/k' · 1[|u - ΔV_th| < k'/2]`. **Paper/code mismatch:** the paper passes `ΔV_th = μ + σ`
  (:func:`ds_atgo_threshold`); the code (`surrogate.py`) passes the std `σ` with `V_th = 1.0`.

  Args:
    delta_v_th: the adaptive threshold (paper) or the potential's std (code); detached.
    v_th: base threshold (`init_Vth = 1.0` in the code).
    k: base width (1).

  Returns:
    The full width `k'`, in `(0, 2k)`.
  """
  d = _sg(jnp.asarray(delta_v_th))
  _checks.check_range("k", k, low=0.0, low_open=True)
  return jnp.asarray(k, d.dtype) * (1.0 + jnp.tanh(d - jnp.asarray(v_th, d.dtype)))
