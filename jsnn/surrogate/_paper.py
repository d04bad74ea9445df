"""The surrogate families of the five papers: TET triangle (ZIF), CLIF rectangle, SML Dspike and
AdaLi's asymmetric rectangle.

All take ``x = u - v_th``. Forward conventions follow each paper's official code: TET fires on
``x > 0`` (strict), the others on ``x >= 0``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jsnn.surrogate._core import SurrogateSpike, family, static_field

__all__ = ["Triangle", "Rectangle", "Dspike", "AsymmetricRectangle"]


@family
class Triangle(SurrogateSpike):
  r"""Triangle surrogate, TET's ``ZIF`` (the default spike of TET's LIF).

  .. math::
     S = 1[x > 0], \qquad \frac{\partial S}{\partial x} = \frac{\max(0, \gamma - |x|)}{\gamma^2},
     \qquad \sigma_\gamma(x) = \begin{cases} (x+\gamma)^2/(2\gamma^2) & -\gamma \le x < 0 \\
     1 - (\gamma - x)^2/(2\gamma^2) & 0 \le x \le \gamma \end{cases}

  (0 below, 1 above the window). The primitive runs from 0 to 1.

  Forward: **strict** ``x > 0`` by default, as TET ``models/layers.py`` ZIF.

  Attributes:
    gamma: half-width of the triangle (> 0); peak height ``1/gamma``. TET default 1.0.

  References:
    Deng et al., *Temporal Efficient Training of Spiking Neural Network via Gradient
    Re-weighting*, ICLR 2022.
  """

  gamma: ArrayLike = 1.0
  strict: bool = static_field(True, kw_only=True)
  _positive = ("gamma",)

  def grad(self, x):
    inv = 1.0 / self.gamma
    return inv * inv * jnp.maximum(self.gamma - jnp.abs(x), 0.0)

  def primitive(self, x):
    g = self.gamma
    t = jnp.clip(x, -g, g)
    two_g2 = 2.0 * g * g
    return jnp.where(t < 0, (t + g) ** 2 / two_g2, 1.0 - (g - t) ** 2 / two_g2)


@family
class Rectangle(SurrogateSpike):
  r"""Rectangular surrogate of the CLIF code (``modules/surrogate.py`` ``Rectangle``).

  .. math::
     S = 1[x \ge 0], \qquad \frac{\partial S}{\partial x} = \frac{1}{w}\,1[|x| \le w/2],
     \qquad \sigma_w(x) = \mathrm{clip}(x/w + 1/2, 0, 1)

  Both window ends are inclusive (CLIF's ``abs(x) <= alpha/2``). The primitive runs from 0 to 1.

  Attributes:
    width: window width ``w`` (> 0; CLIF's ``alpha``). Default 1.0: gradient 1 on ``|x| <= 0.5``.

  References:
    Huang et al., *CLIF: Complementary Leaky Integrate-and-Fire Neuron for Spiking Neural
    Networks*, ICML 2024.
  """

  width: ArrayLike = 1.0
  _positive = ("width",)

  def grad(self, x):
    return (jnp.abs(x) <= self.width / 2).astype(x.dtype) / self.width

  def primitive(self, x):
    return jnp.clip(x / self.width + 0.5, 0.0, 1.0)


@family
class Dspike(SurrogateSpike):
  r"""Dspike surrogate (SML's ``ZDSPIKE``; Li et al. 2021), a tanh-shaped window of support ``r``.

  .. math::
     S = 1[x \ge 0], \qquad \frac{\partial S}{\partial x} =
     \frac{\gamma}{2\tanh(\gamma r)}\bigl(1 - \tanh^2(\gamma x)\bigr)\,1[|x| \le r],
     \qquad \sigma(x) = \frac12\Bigl(1 + \frac{\tanh(\gamma\,\mathrm{clip}(x,-r,r))}{\tanh(\gamma r)}\Bigr)

  The primitive runs from 0 to 1.

  Attributes:
    gamma: temperature (> 0). SML default 2.5.
    r: support half-width (> 0). SML hard-codes 1.0.

  References:
    Li et al., *Differentiable Spike: Rethinking Gradient-Descent for Training Spiking Neural
    Networks*, NeurIPS 2021. Deng et al., *Surrogate Module Learning*, ICML 2023 (its default).
  """

  gamma: ArrayLike = 2.5
  r: ArrayLike = 1.0
  _positive = ("gamma", "r")

  def grad(self, x):
    inside = (jnp.abs(x) <= self.r).astype(x.dtype)
    t = jnp.tanh(self.gamma * x)
    return self.gamma / (2.0 * jnp.tanh(self.gamma * self.r)) * (1.0 - t * t) * inside

  def primitive(self, x):
    xc = jnp.clip(x, -self.r, self.r)
    return 0.5 * (1.0 + jnp.tanh(self.gamma * xc) / jnp.tanh(self.gamma * self.r))


@family
class AsymmetricRectangle(SurrogateSpike):
  r"""AdaLi's asymmetric rectangular surrogate (``modules/sgAdaLi.py``), centred at the threshold.

  .. math::
     S = 1[x \ge 0], \qquad \frac{\partial S}{\partial x} = \begin{cases}
       \alpha / w_l & -w_l \le x < 0 \\ \beta / w_r & 0 \le x \le w_r \\ 0 & \text{otherwise}
     \end{cases}

  Both window ends are inclusive; the integral is ``alpha + beta``. The primitive is
  ``alpha * clip((x + w_l)/w_l, 0, 1) + beta * clip(x/w_r, 0, 1)`` (runs from 0 to alpha+beta).
  With ``w_l = w_r = w`` and ``alpha = beta = 1/2`` it is the plain rectangle of width ``2w``.
  In the AdaLi code the window sits at ``[V_th - w_l, V_th + w_r]`` on the raw potential; here
  ``x = v - V_th``, which is the same window (edges can differ only by the rounding of ``v - V_th``).

  Attributes:
    w_l, w_r: left / right half-widths (> 0). AdaLi starts at 1.5 and shrinks to 0.3 over
      training (see the width schedule in ``jsnn.transforms``).
    alpha, beta: mass left / right of the threshold (>= 0). AdaLi default 0.5 / 0.5.

  References:
    Hou, Wu, Zhou, *AdaLi: adaptive and lightweight surrogate gradient for spiking neural
    networks*, Frontiers in Neuroscience 2026 (code ``paran-ia/AdaLi``).
  """

  w_l: ArrayLike = 1.5
  w_r: ArrayLike = 1.5
  alpha: ArrayLike = 0.5
  beta: ArrayLike = 0.5
  _positive = ("w_l", "w_r")
  _nonnegative = ("alpha", "beta")

  def grad(self, x):
    inside = ((x >= -self.w_l) & (x <= self.w_r)).astype(x.dtype)
    return jnp.where(x < 0, self.alpha / self.w_l, self.beta / self.w_r) * inside

  def primitive(self, x):
    left = jnp.clip((x + self.w_l) / self.w_l, 0.0, 1.0)
    right = jnp.clip(x / self.w_r, 0.0, 1.0)
    return self.alpha * left + self.beta * right

  def density(self, x: jax.Array) -> jax.Array:
    """Fraction of entries of ``x`` inside the window (AdaLi's "computational density")."""
    x = jnp.asarray(x)
    sg = self._rebuild(self._aligned_leaves(x))
    inside = (x >= -sg.w_l) & (x <= sg.w_r)
    return jnp.mean(inside.astype(x.dtype))
