"""SpikingJelly's surrogate families, with its names, defaults and formulas.

Forward is always ``1[x >= 0]`` (SpikingJelly's ``heaviside``); ``MultiLevelSpikeCount`` is the one
exception. Formulas follow ``spikingjelly.activation_based.surrogate`` 2.0.0 (see
``tests/ref/sj/README.md``); where 0.0.0.0.14 differs, a ``sj_version`` switch selects it. Every
shape parameter is a traced leaf here, so unlike SpikingJelly (whose parameters are Python floats
with no gradient) the shape can be learned or scheduled.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jsnn.surrogate._core import SurrogateSpike, _is_concrete_number, family, heaviside, static_field

__all__ = [
    "Sigmoid", "ATan", "PiecewiseQuadratic", "PiecewiseExp", "SoftSign", "Erf", "SuperSpike",
    "NonzeroSignLogAbs", "Rect", "QPseudoSpike", "PiecewiseLeakyReLU", "S2NN",
    "SquarewaveFourierSeries", "LeakyKReLU", "LogTailedReLU", "FakeNumericalGradient",
    "DeterministicPass", "MultiLevelSpikeCount", "SJ_VERSIONS",
]

SJ_VERSIONS = ("2.0.0", "0.0.0.0.14")


def _sign_mask(x):
  """SpikingJelly's ``2 * heaviside(x) - 1``: +1 for x >= 0, -1 otherwise (never 0)."""
  return heaviside(x, False) * 2.0 - 1.0


@family
class Sigmoid(SurrogateSpike):
  r"""``Sigmoid(alpha=4)``: the default surrogate of every SpikingJelly neuron.

  .. math:: \sigma'(x) = \alpha\,s(1-s),\ s = \mathrm{sigmoid}(\alpha x);\qquad
            \sigma(x) = \mathrm{sigmoid}(\alpha x)
  """

  alpha: ArrayLike = 4.0
  _positive = ("alpha",)

  def grad(self, x):
    s = jax.nn.sigmoid(x * self.alpha)
    return (1.0 - s) * s * self.alpha

  def primitive(self, x):
    return jax.nn.sigmoid(x * self.alpha)


@family
class ATan(SurrogateSpike):
  r"""``ATan(alpha=2)``.

  .. math:: \sigma'(x) = \frac{\alpha/2}{1 + (\tfrac{\pi}{2}\alpha x)^2};\qquad
            \sigma(x) = \frac{\arctan(\tfrac{\pi}{2}\alpha x)}{\pi} + \frac12
  """

  alpha: ArrayLike = 2.0
  _positive = ("alpha",)

  def grad(self, x):
    z = self.alpha * (math.pi / 2) * x
    return self.alpha / 2 * (1.0 / (1.0 + z * z))

  def primitive(self, x):
    return jnp.arctan(math.pi / 2 * self.alpha * x) / math.pi + 0.5


@family
class PiecewiseQuadratic(SurrogateSpike):
  r"""``PiecewiseQuadratic(alpha=1)``.

  .. math:: \sigma'(x) = (\alpha - \alpha^2|x|)\,1[|x| \le 1/\alpha];\qquad
            \sigma(x) = -\tfrac{\alpha^2}{2}x^2\,\mathrm{sign}(x) + \alpha x + \tfrac12
            \text{ on } |x| \le 1/\alpha \text{ (0 below, 1 above)}
  """

  alpha: ArrayLike = 1.0
  _positive = ("alpha",)

  def grad(self, x):
    ax = jnp.abs(x)
    return jnp.where(ax > 1.0 / self.alpha, 0.0, -(self.alpha**2) * ax + self.alpha)

  def primitive(self, x):
    inv = 1.0 / self.alpha
    above = (x > inv).astype(x.dtype)
    inside = (jnp.abs(x) <= inv).astype(x.dtype)
    quad = -(self.alpha**2) / 2 * (x * x) * jnp.sign(x) + self.alpha * x + 0.5
    return above + inside * quad


@family
class PiecewiseExp(SurrogateSpike):
  r"""``PiecewiseExp(alpha=1)``.

  .. math:: \sigma'(x) = \tfrac{\alpha}{2} e^{-\alpha|x|};\qquad
            \sigma(x) = H(x) - \mathrm{sign}(x)\, e^{-\alpha|x|}/2
  """

  alpha: ArrayLike = 1.0
  _positive = ("alpha",)

  def grad(self, x):
    return self.alpha / 2 * jnp.exp(-self.alpha * jnp.abs(x))

  def primitive(self, x):
    h = heaviside(x, False)
    m = h * 2.0 - 1.0
    return h - jnp.exp(m * x * -self.alpha) / 2.0 * m


@family
class SoftSign(SurrogateSpike):
  r"""``SoftSign(alpha=2)``.

  .. math:: \sigma'(x) = \frac{1}{2\alpha(1/\alpha + |x|)^2};\qquad
            \sigma(x) = \tfrac12\bigl(\mathrm{softsign}(\alpha x) + 1\bigr)
  """

  alpha: ArrayLike = 2.0
  _positive = ("alpha",)

  def grad(self, x):
    d = 1.0 / self.alpha + jnp.abs(x)
    return 1.0 / (2 * self.alpha * (d * d))

  def primitive(self, x):
    z = x * self.alpha
    return (z / (1.0 + jnp.abs(z)) + 1.0) / 2.0


@family
class Erf(SurrogateSpike):
  r"""``Erf(alpha=2)``.

  .. math:: \sigma'(x) = \frac{\alpha}{\sqrt\pi} e^{-\alpha^2 x^2};\qquad
            \sigma(x) = \tfrac12\,\mathrm{erfc}(-\alpha x)
  """

  alpha: ArrayLike = 2.0
  _positive = ("alpha",)

  def grad(self, x):
    z = x * self.alpha
    return jnp.exp(-(z * z)) * (self.alpha / math.sqrt(math.pi))

  def primitive(self, x):
    return jax.scipy.special.erfc(-self.alpha * x) / 2.0


@family
class SuperSpike(SurrogateSpike):
  r"""``SuperSpike(alpha=1)`` as SpikingJelly defines it (``alpha`` scales; it is not Zenke's
  steepness).

  .. math:: \sigma'(x) = \frac{\alpha}{(|x| + 1)^2}

  No primitive (SpikingJelly raises for ``spiking=False``), so ``alpha`` gets zero gradient.
  """

  alpha: ArrayLike = 1.0
  has_primitive = False
  _positive = ("alpha",)

  def grad(self, x):
    d = jnp.abs(x) + 1.0
    return self.alpha / (d * d)


@family
class NonzeroSignLogAbs(SurrogateSpike):
  r"""``NonzeroSignLogAbs(alpha=1)``.

  .. math:: \sigma'(x) = \frac{1}{1/\alpha + |x|};\qquad
            \sigma(x) = m \log(\alpha m x + 1),\ m = 2H(x) - 1

  The primitive is unbounded (it does not run from 0 to 1).
  """

  alpha: ArrayLike = 1.0
  _positive = ("alpha",)

  def grad(self, x):
    return 1.0 / (1.0 / self.alpha + jnp.abs(x))

  def primitive(self, x):
    m = _sign_mask(x)
    return m * jnp.log(self.alpha * m * x + 1.0)


@family
class Rect(SurrogateSpike):
  r"""``Rect(alpha=1)`` (SpikingJelly 2.0.0; absent in 0.0.0.0.14). The window is open.

  .. math:: \sigma'(x) = \alpha\,1[|x| < 0.5/\alpha];\qquad
            \sigma(x) = \mathrm{clip}(\alpha x + \tfrac12, 0, 1)
  """

  alpha: ArrayLike = 1.0
  _positive = ("alpha",)

  def grad(self, x):
    return self.alpha * (jnp.abs(x) < 0.5 / self.alpha).astype(x.dtype)

  def primitive(self, x):
    return jnp.clip(self.alpha * x + 0.5, 0.0, 1.0)


@family
class QPseudoSpike(SurrogateSpike):
  r"""``QPseudoSpike(alpha=2)`` (``alpha > 1``; the tail gets heavier as alpha -> 1).

  .. math:: \sigma'(x) = \Bigl(1 + \tfrac{2}{\alpha-1}|x|\Bigr)^{-\alpha};\qquad
            \sigma(x) = H(x) - \tfrac{m}{2}\Bigl(1 + \tfrac{2}{\alpha-1} m x\Bigr)^{1-\alpha}
  """

  alpha: ArrayLike = 2.0
  _positive = ("alpha",)

  def __post_init__(self):
    super().__post_init__()
    if _is_concrete_number(self.alpha) and np.any(np.asarray(self.alpha) <= 1):
      raise ValueError(f"QPseudoSpike: alpha must be > 1, got {np.asarray(self.alpha).tolist()}.")

  def grad(self, x):
    return 1.0 / (1.0 + 2.0 / (self.alpha - 1.0) * jnp.abs(x)) ** self.alpha

  def primitive(self, x):
    m = _sign_mask(x)
    return heaviside(x, False) - m * (1.0 + 2.0 / (self.alpha - 1.0) * m * x) ** (1.0 - self.alpha) / 2.0


@family
class PiecewiseLeakyReLU(SurrogateSpike):
  r"""``PiecewiseLeakyReLU(w=1, c=0.01)``.

  .. math:: \sigma'(x) = \begin{cases} 1/(2w) & |x| < w \\ c & \text{otherwise}\end{cases};\qquad
            \sigma(x) = \begin{cases} c x + c w & x < -w \\ x/(2w) + 1/2 & |x| \le w \\
            c x - c w + 1 & x > w \end{cases}

  ``sj_version="0.0.0.0.14"`` reproduces that release's window slope ``1/w`` (twice the slope of
  its own primitive; fixed in 2.0.0).
  """

  w: ArrayLike = 1.0
  c: ArrayLike = 0.01
  sj_version: str = static_field("2.0.0", kw_only=True)
  _positive = ("w",)
  _nonnegative = ("c",)

  def __post_init__(self):
    super().__post_init__()
    if self.sj_version not in SJ_VERSIONS:
      raise ValueError(f"sj_version must be one of {SJ_VERSIONS}, got {self.sj_version!r}.")

  def grad(self, x):
    inner = 1.0 / self.w if self.sj_version == "0.0.0.0.14" else 1.0 / (2 * self.w)
    return jnp.where(jnp.abs(x) < self.w, inner, self.c)

  def primitive(self, x):
    below = (x < -self.w).astype(x.dtype)
    above = (x > self.w).astype(x.dtype)
    mid = 1.0 - below - above
    cw = self.c * self.w
    return below * (self.c * x + cw) + above * (self.c * x + (-cw + 1.0)) + mid * (
        x / (2 * self.w) + 0.5)


@family
class S2NN(SurrogateSpike):
  r"""``S2NN(alpha=4, beta=1)``: sigmoid on the left, log tail on the right.

  .. math:: \sigma'(x) = \begin{cases} \alpha s(1-s),\ s = \mathrm{sigmoid}(\alpha x) & x < 0 \\
            \beta/(x+1) & x \ge 0 \end{cases};\qquad
            \sigma(x) = \begin{cases} \mathrm{sigmoid}(\alpha x) & x < 0 \\
            \beta\log(|x+1| + 10^{-5}) + \tfrac12 & x \ge 0 \end{cases}
  """

  alpha: ArrayLike = 4.0
  beta: ArrayLike = 1.0
  _positive = ("alpha", "beta")

  def grad(self, x):
    s = jax.nn.sigmoid(x * self.alpha)
    right = self.beta / (jnp.where(x >= 0, x, 0.0) + 1.0)  # no 1/0 at x = -1
    return jnp.where(x < 0, (1.0 - s) * s * self.alpha, right)

  def primitive(self, x):
    h = heaviside(x, False)
    left = jax.nn.sigmoid(x * self.alpha)
    right = self.beta * jnp.log(jnp.abs(x + 1.0) + 1e-5) + 0.5
    return (1.0 - h) * left + h * right


@family
class SquarewaveFourierSeries(SurrogateSpike):
  r"""``SquarewaveFourierSeries(n=2, T_period=8)``: a truncated Fourier series of a square wave.

  .. math:: \sigma'(x) = \frac{4}{T}\sum_{i=1}^{n-1}\cos\bigl((2i-1)\omega x\bigr);\qquad
            \sigma(x) = \frac12 + \frac{2}{\pi}\sum_{i=1}^{n-1}\frac{\sin((2i-1)\omega x)}{2i-1},
            \quad \omega = 2\pi/T

  ``n`` (number of terms) is static; ``T_period`` is a traced shape parameter.
  """

  T_period: ArrayLike = 8.0
  n: int = static_field(2, kw_only=True)
  _positive = ("T_period",)

  def __post_init__(self):
    super().__post_init__()
    if not isinstance(self.n, int) or self.n < 2:
      raise ValueError(f"SquarewaveFourierSeries: n must be an int >= 2, got {self.n!r}.")

  def grad(self, x):
    w = math.pi * 2.0 / self.T_period
    acc = jnp.zeros_like(x)
    for i in range(1, self.n):
      acc = acc + jnp.cos((2 * i - 1.0) * w * x)
    return acc * (4.0 / self.T_period)

  def primitive(self, x):
    w = math.pi * 2.0 / self.T_period
    acc = jnp.zeros_like(x)
    for i in range(1, self.n):
      c = 2 * i - 1.0
      acc = acc + jnp.sin(c * w * x) / c
    return 0.5 + 2.0 / math.pi * acc


@family
class LeakyKReLU(SurrogateSpike):
  r"""``LeakyKReLU(leak=0, k=1)``: slope ``k`` for ``x >= 0``, ``leak`` below.

  .. math:: \sigma'(x) = k\,H(x) + \mathrm{leak}\,(1 - H(x));\qquad \sigma(x) = \sigma'(x)\,x
  """

  leak: ArrayLike = 0.0
  k: ArrayLike = 1.0
  _nonnegative = ("leak",)

  def grad(self, x):
    return jnp.where(x >= 0, self.k, self.leak)

  def primitive(self, x):
    return jnp.where(x >= 0, self.k, self.leak) * x


@family
class LogTailedReLU(SurrogateSpike):
  r"""``LogTailedReLU(alpha=0)``.

  .. math:: \sigma'(x) = \begin{cases} \alpha & x \le 0 \\ 1 & 0 < x \le 1 \\ 1/x & x > 1
            \end{cases};\qquad \sigma(x) = \begin{cases} \mathrm{leaky\_relu}(x, \alpha) & x \le 1
            \\ \log x + 1 & x > 1 \end{cases}

  (SpikingJelly 0.0.0.0.14's primitive is NaN for ``x <= 0``, a bug not reproduced here.)
  """

  alpha: ArrayLike = 0.0
  _nonnegative = ("alpha",)

  def grad(self, x):
    safe = jnp.where(x > 1, x, 1.0)
    return jnp.where(x <= 0, self.alpha, jnp.where(x <= 1, 1.0, 1.0 / safe))

  def primitive(self, x):
    safe = jnp.where(x > 1, x, 1.0)
    leaky = jnp.where(x >= 0, x, self.alpha * x)
    return jnp.where(x > 1, jnp.log(safe) + 1.0, leaky)


@family
class FakeNumericalGradient(SurrogateSpike):
  r"""``FakeNumericalGradient(alpha=0.3)``: the secant slope of the step, capped at ``alpha``.

  .. math:: \sigma'(x) = \min\bigl((2H(x) - 1)/x,\ \alpha\bigr)

  (at ``x = 0``: ``1/0 = inf``, so ``alpha``). No primitive: ``alpha`` gets zero gradient.
  """

  alpha: ArrayLike = 0.3
  has_primitive = False
  _positive = ("alpha",)

  def grad(self, x):
    return jnp.minimum(_sign_mask(x) / x, self.alpha)


@family
class DeterministicPass(SurrogateSpike):
  r"""``DeterministicPass``: Heaviside forward, straight-through (identity) backward.

  .. math:: \sigma'(x) = 1;\qquad \sigma(x) = x
  """

  def grad(self, x):
    return jnp.ones_like(x)

  def primitive(self, x):
    return x


@family
class MultiLevelSpikeCount(SurrogateSpike):
  r"""``MultiLevelSpikeCount(max_spike_count)``: emits integer spike counts in ``[0, M]``.

  .. math:: S = \mathrm{round}(\mathrm{clip}(x, 0, M));\quad \sigma'(x) = 1[0 \le x \le M];\quad
            \sigma(x) = \mathrm{clip}(x, 0, M)

  Rounding is half to even (as ``torch.round``). ``M`` is static; there is no shape parameter.
  SpikingJelly uses ``M = 4`` in ``functional.ilif_multi_step``.
  """

  max_spike_count: int = static_field(4)

  def __post_init__(self):
    super().__post_init__()
    if not isinstance(self.max_spike_count, int) or self.max_spike_count < 1:
      raise ValueError("MultiLevelSpikeCount: max_spike_count must be an int >= 1, got "
                       f"{self.max_spike_count!r}.")

  def forward(self, x):
    return jnp.round(jnp.clip(x, 0.0, float(self.max_spike_count)))

  def grad(self, x):
    return ((x >= 0) & (x <= self.max_spike_count)).astype(x.dtype)

  def primitive(self, x):
    return jnp.clip(x, 0.0, float(self.max_spike_count))
