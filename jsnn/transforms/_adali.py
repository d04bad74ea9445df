r"""AdaLi: the epoch schedule of the asymmetric rectangular surrogate, its density, and auto bounds.

AdaLi's surrogate (`jsnn.surrogate.AsymmetricRectangle`) is non-zero only on the window
`[V_th - w_l, V_th + w_r]`. The released code shrinks both half-widths from `W = 1.5` to
`w_min = 0.3` once per epoch, on the host. In JAX the widths must enter the jitted train step as
**traced** scalars, not Python constants, or the step recompiles every epoch: build the surrogate
with :func:`adali_surrogate` and pass it (a pytree) as an argument of the step.

References:
  Hou, Wu, Zhou, *AdaLi: adaptive and lightweight surrogate gradient for spiking neural networks*,
  Frontiers in Neuroscience 2026 (code `paran-ia/AdaLi`, `myutils/handle_config.py`, `train.py`).
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jsnn.surrogate import AsymmetricRectangle
from jsnn.transforms import _checks

__all__ = ["SCHEDULE_KINDS", "adali_width", "adali_surrogate", "compute_density", "AdaLiBounds",
           "fit_adali_bounds"]

SCHEDULE_KINDS = ("log", "linear", "sqrt", "null")
_INDEXING = ("code", "formula")


def _width_at(n: int, total: int, w_max: float, w_min: float, kind: str) -> float:
  if kind == "log":
    return w_max * n ** (np.log(w_min / w_max) / np.log(total))
  if kind == "linear":
    return w_max + (w_min - w_max) * (n - 1) / (total - 1)
  if kind == "sqrt":  # the code divides by sqrt(E - 1), not sqrt(E) - 1
    return w_max + (w_min - w_max) * (np.sqrt(n) - 1) / np.sqrt(total - 1)
  return w_max


def adali_width(epoch: int, total_epochs: int, *, w_max: float = 1.5, w_min: float = 0.3,
                kind: str = "log", indexing: str = "code") -> float:
  r"""AdaLi window half-width used while training the 0-based `epoch` (host side).

  With the 1-based index `n` and `E = total_epochs`:

  .. math::
     \text{log: } w(n) = W n^{b},\ b = \frac{\ln(w_{min}/W)}{\ln E} \qquad
     \text{linear: } w(n) = W + (w_{min} - W)\frac{n - 1}{E - 1}

  .. math::
     \text{sqrt: } w(n) = W + (w_{min} - W)\frac{\sqrt n - 1}{\sqrt{E - 1}} \qquad
     \text{null: } w(n) = W

  (`sqrt` keeps the code's divisor `sqrt(E - 1)`, so it ends at 0.3525, not 0.3, for E = 500.)
  The code updates the widths *after* each epoch, so training epoch `i` uses `n = max(i, 1)`
  (`indexing="code"`, the default: epochs 0 and 1 both use `W`); `indexing="formula"` uses
  `n = i + 1`.

  Args:
    epoch: 0-based training epoch, in `[0, total_epochs)`.
    total_epochs: `E >= 2` (AdaLi's README uses 1000, its argparse default is 500).
    w_max: initial (widest) half-width `W > 0`.
    w_min: final half-width `w_min > 0`.
    kind: one of "log", "linear", "sqrt", "null".
    indexing: "code" (parity with the released code) or "formula".

  Returns:
    The half-width as a Python float. Pass it to a jitted step as an argument (a weak-typed scalar),
    never close over it.

  Raises:
    ValueError: unknown `kind`/`indexing`, non-positive widths, `E < 2` or `epoch` out of range.

  Examples:
    >>> round(adali_width(100, 500), 4)
    0.4551
  """
  if kind not in SCHEDULE_KINDS:
    raise ValueError(f"unknown AdaLi schedule kind {kind!r}; expected one of {SCHEDULE_KINDS}.")
  if indexing not in _INDEXING:
    raise ValueError(f"unknown indexing {indexing!r}; expected one of {_INDEXING}.")
  _checks.check_range("w_max", w_max, low=0.0, low_open=True)
  _checks.check_range("w_min", w_min, low=0.0, low_open=True)
  if int(total_epochs) != total_epochs or total_epochs < 2:
    raise ValueError(f"total_epochs must be an integer >= 2, got {total_epochs}.")
  if int(epoch) != epoch or not 0 <= epoch < total_epochs:
    raise ValueError(f"epoch must be a 0-based integer in [0, {total_epochs}), got {epoch}.")
  n = max(int(epoch), 1) if indexing == "code" else int(epoch) + 1
  return float(_width_at(n, int(total_epochs), float(w_max), float(w_min), kind))


def _pair(name: str, value) -> tuple[float, float]:
  if isinstance(value, (tuple, list)):
    if len(value) != 2:
      raise ValueError(f"{name} must be a float or a (left, right) pair, got {value!r}.")
    return float(value[0]), float(value[1])
  return float(value), float(value)


def adali_surrogate(epoch: int, total_epochs: int, *, w_max=1.5, w_min=0.3, kind: str = "log",
                    indexing: str = "code", alpha: float = 0.5, beta: float = 0.5,
                    dtype=jnp.float32) -> AsymmetricRectangle:
  """The AdaLi surrogate for one training epoch, with traced (array) shape parameters.

  Every field is a `jnp` scalar of `dtype`, so a jitted step taking the surrogate as an argument
  sees the same abstract values every epoch and compiles once.

  Args:
    epoch, total_epochs, kind, indexing: as in :func:`adali_width`.
    w_max, w_min: a float (both sides) or a `(left, right)` pair, e.g. from
      :func:`fit_adali_bounds`.
    alpha, beta: surrogate mass left / right of the threshold (AdaLi: 0.5 / 0.5), `>= 0`.
    dtype: dtype of the four scalars (use the potentials' dtype).

  Returns:
    `AsymmetricRectangle(w_l, w_r, alpha, beta)`; call it on `x = v - V_th`.
  """
  (wl_max, wr_max), (wl_min, wr_min) = _pair("w_max", w_max), _pair("w_min", w_min)
  _checks.check_range("alpha", alpha, low=0.0)
  _checks.check_range("beta", beta, low=0.0)
  kw = dict(kind=kind, indexing=indexing)
  w_l = adali_width(epoch, total_epochs, w_max=wl_max, w_min=wl_min, **kw)
  w_r = adali_width(epoch, total_epochs, w_max=wr_max, w_min=wr_min, **kw)
  return AsymmetricRectangle(*(jnp.asarray(v, dtype) for v in (w_l, w_r, alpha, beta)))


def _bounds(sg_or_bounds) -> tuple:
  if isinstance(sg_or_bounds, AsymmetricRectangle):
    return sg_or_bounds.w_l, sg_or_bounds.w_r
  if isinstance(sg_or_bounds, (tuple, list)) and len(sg_or_bounds) == 2:
    return tuple(sg_or_bounds)
  raise TypeError("expected an AsymmetricRectangle or a (w_l, w_r) pair of half-widths, got "
                  f"{type(sg_or_bounds).__name__}.")


def compute_density(potentials: ArrayLike | Sequence[ArrayLike], sg_or_bounds,
                    v_th: ArrayLike = 1.0) -> jax.Array:
  r"""AdaLi's "computational density": the share of potentials inside the surrogate window.

  .. math::
     \rho = \frac{1}{N}\sum_i 1[V_{th} - w_l \le v_i \le V_{th} + w_r]

  evaluated on `x = v - V_th` exactly as the surrogate's backward, so `rho` is the fraction of
  neurons with a non-zero surrogate gradient (for `alpha, beta > 0`).

  Args:
    potentials: raw membrane potentials `v` (pre-reset, any shape), or a sequence of per-layer
      arrays, which are pooled.
    sg_or_bounds: an `AsymmetricRectangle` or a `(w_l, w_r)` pair of half-widths (> 0).
    v_th: firing threshold (scalar).

  Returns:
    A scalar in `[0, 1]`, in the potentials' dtype.

  Raises:
    ValueError: a concrete half-width is `<= 0`.
  """
  w_l, w_r = _bounds(sg_or_bounds)
  _checks.check_range("w_l", w_l, low=0.0, low_open=True)
  _checks.check_range("w_r", w_r, low=0.0, low_open=True)
  layers = potentials if isinstance(potentials, (list, tuple)) else [potentials]
  inside, count = 0, 0
  for v in layers:
    v = jnp.asarray(v)
    x = v - jnp.asarray(v_th, v.dtype)
    ok = (x >= -jnp.asarray(w_l, v.dtype)) & (x <= jnp.asarray(w_r, v.dtype))
    inside, count = inside + jnp.sum(ok.astype(v.dtype)), count + v.size
  return inside / count


class AdaLiBounds(NamedTuple):
  """Fitted AdaLi surrogate: half-widths and the masses left / right of the threshold."""

  w_l: float
  w_r: float
  alpha: float
  beta: float


def fit_adali_bounds(potentials: ArrayLike | Sequence[ArrayLike], v_th: float, *,
                     p: float = 0.25, w_min: float = 0.3, w_max: float | None = None,
                     target_density: float | None = None) -> AdaLiBounds:
  r"""AdaLi-auto (**reconstructed [R]**, not from the paper): surrogate bounds from potentials.

  AdaLi says its extra hyperparameters are set automatically from the membrane-potential
  distribution, but no code for it exists. This is a reconstruction (spec §1.4), run on the host on
  a warm-up batch:

  (a) widths: :math:`w_l = V_{th} - Q_p(v)`, :math:`w_r = Q_{1-p}(v) - V_{th}` (the IQR ends for
  `p = 0.25`), or, if `target_density` :math:`\rho` is given, the smallest symmetric window holding
  that share, :math:`w_l = w_r = Q_\rho(|v - V_{th}|)`; both floored at `w_min` (capped at `w_max`).

  (b) heights: :math:`\alpha = P(V_{th} - w_l \le v < V_{th}) / P(\text{window})`,
  :math:`\beta = 1 - \alpha`, so the surrogate mass on each side matches the potential mass
  (:math:`\alpha = \beta = 1/2` if the window is empty).

  Args:
    potentials: raw pre-reset potentials of the spiking layers (any shapes), pooled.
    v_th: firing threshold.
    p: lower quantile level in `(0, 0.5)`.
    w_min: floor of each half-width (> 0), AdaLi's minimum 0.3.
    w_max: optional cap of each half-width.
    target_density: optional `rho` in `(0, 1]` (0.7 matches AdaLi's reported epoch-1 density).

  Returns:
    `AdaLiBounds(w_l, w_r, alpha, beta)` of Python floats, with `alpha + beta = 1`.
  """
  _checks.check_range("p", p, low=0.0, high=0.5, low_open=True, high_open=True)
  _checks.check_range("w_min", w_min, low=0.0, low_open=True)
  _checks.check_range("target_density", target_density, low=0.0, high=1.0, low_open=True)
  layers = potentials if isinstance(potentials, (list, tuple)) else [potentials]
  v = np.concatenate([np.asarray(x, np.float64).ravel() for x in layers])
  if target_density is None:
    w_l, w_r = v_th - np.quantile(v, p), np.quantile(v, 1.0 - p) - v_th
  else:
    w_l = w_r = np.quantile(np.abs(v - v_th), target_density)
  hi = np.inf if w_max is None else w_max
  w_l, w_r = float(np.clip(w_l, w_min, hi)), float(np.clip(w_r, w_min, hi))
  left = np.count_nonzero((v >= v_th - w_l) & (v < v_th))
  right = np.count_nonzero((v >= v_th) & (v <= v_th + w_r))
  alpha = 0.5 if left + right == 0 else left / (left + right)
  return AdaLiBounds(w_l, w_r, float(alpha), float(1.0 - alpha))
