"""Classification losses on time-major per-step logits `[T, B, C]`: SDT, TET, CLIF and AdaLi "mix".

All functions take the raw per-step outputs of the last layer (logits, not spikes), time-major, and
integer labels `[B]`. Shapes, dtypes and layout are checked at trace time (see `_checks`).
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from . import _checks
from ._cross_entropy import cross_entropy, tiled_labels


def _smoothing(label_smoothing: ArrayLike, dtype: jnp.dtype) -> float | jax.Array:
  return _checks.scalar("label_smoothing", label_smoothing, dtype, low=0.0, high=1.0)


def _per_step_ce(logits: jax.Array, labels: jax.Array, label_smoothing: ArrayLike) -> jax.Array:
  eps = _smoothing(label_smoothing, logits.dtype)
  return cross_entropy(logits, tiled_labels(labels, logits.shape[0]), eps)


def sdt(logits_tbc: ArrayLike, labels: ArrayLike, *, label_smoothing: ArrayLike = 0.0) -> jax.Array:
  r"""Standard direct training (SDT) loss: cross-entropy of the time-averaged logits.

  .. math::
    \mathcal{L}_{SDT} = \mathrm{CE}\Big(\frac{1}{T}\sum_{t=1}^{T} O_t,\; y\Big)

  with CE averaged over the batch. This is TET's `--TET False` baseline and the readout of SML and AdaLi.

  Args:
    logits_tbc: per-step logits `[T, B, C]`, float.
    labels: integer class indices `[B]` in [0, C).
    label_smoothing: ε in [0, 1], PyTorch `CrossEntropyLoss(label_smoothing=ε)` semantics.

  Returns:
    Scalar loss in the logits' dtype.

  Examples:
    >>> import jax.numpy as jnp
    >>> from jsnn import losses
    >>> round(float(losses.sdt(jnp.zeros((4, 2, 10)), jnp.array([3, 7]))), 4)  # log(10)
    2.3026

  References:
    Deng et al., "Temporal Efficient Training of Spiking Neural Network via Gradient Re-weighting",
    ICLR 2022 (official code `main_training_parallel.py:93-94`).
  """
  logits, labels = _checks.time_major(logits_tbc, labels)
  eps = _smoothing(label_smoothing, logits.dtype)
  return cross_entropy(jnp.mean(logits, axis=0), labels, eps)


def tet(logits_tbc: ArrayLike, labels: ArrayLike, *, lamb: ArrayLike = 0.0, phi: ArrayLike = 1.0,
        label_smoothing: ArrayLike = 0.0) -> jax.Array:
  r"""Temporal Efficient Training (TET) loss: per-step CE plus an MSE regulariser toward φ.

  .. math::
    \mathcal{L} = (1-λ)\,\frac{1}{T}\sum_{t} \mathrm{CE}(O_t, y)
      \;+\; λ\,\frac{1}{TBC}\sum_{t,b,c} (O_{t,b,c} - φ)^2

  The MSE pulls every logit (all classes, all steps) toward the constant φ. With a concrete λ = 0 the
  MSE term is skipped and the result is the mean per-step CE alone (SpikingJelly's
  ``temporal_efficient_training_cross_entropy``). Gradient w.r.t. the logits:
  :math:`\frac{1-λ}{TB}(\mathrm{softmax}(O_{t,b}) - \mathrm{onehot}(y_b)) + \frac{2λ}{TBC}(O - φ)`.

  Args:
    logits_tbc: per-step logits `[T, B, C]`, float (the official code is batch-first `[B, T, C]`;
      transpose with `swapaxes(0, 1)`).
    labels: integer class indices `[B]` in [0, C).
    lamb: λ in [0, 1]. Official scripts: 0.0 (CIFAR), 1e-3 (DVS), 1e-4 (later DVS script).
    phi: φ, the MSE target ("means"); 1.0 (= V_th) in every official script.
    label_smoothing: ε in [0, 1] for the CE term (not in the official TET code).

  Returns:
    Scalar loss in the logits' dtype.

  Examples:
    >>> import jax.numpy as jnp
    >>> from jsnn import losses
    >>> logits = jnp.zeros((4, 2, 10))
    >>> round(float(losses.tet(logits, jnp.array([3, 7]), lamb=0.5)), 4)  # 0.5·log(10) + 0.5·1
    1.6513

  References:
    Deng, Li, Zhang, Gu, "Temporal Efficient Training of Spiking Neural Network via Gradient
    Re-weighting", ICLR 2022 (official `functions.TET_loss`, `functions.py:39-51`).
  """
  logits, labels = _checks.time_major(logits_tbc, labels)
  lamb = _checks.scalar("lamb", lamb, logits.dtype, low=0.0, high=1.0)
  ce = _per_step_ce(logits, labels, label_smoothing)
  if isinstance(lamb, float) and lamb == 0.0:
    return ce
  phi = _checks.scalar("phi", phi, logits.dtype)
  return (1.0 - lamb) * ce + lamb * jnp.mean(jnp.square(logits - phi))


def clif(logits_tbc: ArrayLike, labels: ArrayLike, *, lamb: ArrayLike = 0.05,
         target: Literal["const", "onehot"] = "const", phi: ArrayLike = 1.0,
         label_smoothing: ArrayLike = 0.0) -> jax.Array:
  r"""CLIF training loss: per-step CE plus λ·MSE to a constant or to the one-hot label.

  .. math::
    \mathcal{L} = (1-λ)\,\frac{1}{T}\sum_t \mathrm{CE}_ε(O_t, y) + λ\,\frac{1}{TBC}\sum_{t,b,c}
      (O_{t,b,c} - Y_{t,b,c})^2,
    \qquad Y = φ \text{ (const)} \;\text{or}\; Y_{t,b,:} = \mathrm{onehot}(y_b) \text{ (onehot)}

  The official code concatenates the per-step outputs t-major into `[T·B, C]`; that is the same as the
  time-major `[T, B, C]` here. With `target="const"` this equals :func:`tet` with the same λ and φ.

  Args:
    logits_tbc: per-step logits `[T, B, C]`, float.
    labels: integer class indices `[B]` in [0, C).
    lamb: λ in [0, 1] (`-loss_lambda`, default 0.05).
    target: `"const"` (MSE to φ, `-loss_means`) or `"onehot"` (MSE to one-hot(y), `-mse_n_reg`,
      used for DVS-CIFAR10).
    phi: φ for `target="const"` (default 1.0); ignored for `"onehot"`.
    label_smoothing: ε in [0, 1] (`-label_smoothing`, default 0).

  Returns:
    Scalar loss in the logits' dtype.

  Raises:
    ValueError: an unknown `target`, λ or ε outside [0, 1], or a layout error (see :func:`tet`).

  Examples:
    >>> import jax.numpy as jnp
    >>> from jsnn import losses
    >>> logits = jnp.zeros((4, 2, 10))
    >>> round(float(losses.clif(logits, jnp.array([3, 7]), target="onehot")), 4)
    2.1925

  References:
    Huang et al., "CLIF: Complementary Leaky Integrate-and-Fire Neuron for Spiking Neural Networks",
    ICML 2024 (official `train.py:458-476`).
  """
  if target not in ("const", "onehot"):
    raise ValueError(f"target must be one of 'const', 'onehot', got {target!r}.")
  logits, labels = _checks.time_major(logits_tbc, labels)
  lamb = _checks.scalar("lamb", lamb, logits.dtype, low=0.0, high=1.0)
  ce = _per_step_ce(logits, labels, label_smoothing)
  if target == "const":
    residual = logits - _checks.scalar("phi", phi, logits.dtype)
  else:
    onehot = _checks.target_probs(labels, logits.shape[-1], logits.dtype)
    residual = logits - onehot[None]
  return (1.0 - lamb) * ce + lamb * jnp.mean(jnp.square(residual))


def mix(logits_tbc: ArrayLike, labels: ArrayLike, *, lamb: ArrayLike,
        label_smoothing: ArrayLike = 0.0) -> jax.Array:
  r"""AdaLi "mix" loss: MSE to the one-hot label plus CE, both on the time-averaged logits.

  .. math::
    \bar o = \frac{1}{T}\sum_t O_t, \qquad
    \mathcal{L} = λ\,\frac{1}{BC}\sum_{b,c} (\bar o_{b,c} - \mathrm{onehot}(y_b)_c)^2
      + (1-λ)\,\mathrm{CE}(\bar o, y)

  Args:
    logits_tbc: per-step logits `[T, B, C]`, float.
    labels: integer class indices `[B]` in [0, C).
    lamb: λ in [0, 1] (0.05 for CIFAR10-DVS, 0.2 for DVSGesture in the AdaLi README).
    label_smoothing: ε in [0, 1] for the CE term (not in the AdaLi code).

  Returns:
    Scalar loss in the logits' dtype.

  Examples:
    >>> import jax.numpy as jnp
    >>> from jsnn import losses
    >>> logits = jnp.zeros((4, 2, 10))
    >>> round(float(losses.mix(logits, jnp.array([3, 7]), lamb=0.2)), 4)  # 0.2·0.1 + 0.8·log 10
    1.8621

  References:
    AdaLi (Adaptive and Lightweight surrogate gradient), released `train.py` "mix" loss; see
    `spec/adali_psg_family.md` §1.6.
  """
  logits, labels = _checks.time_major(logits_tbc, labels)
  lamb = _checks.scalar("lamb", lamb, logits.dtype, low=0.0, high=1.0)
  eps = _smoothing(label_smoothing, logits.dtype)
  mean_logits = jnp.mean(logits, axis=0)
  onehot = _checks.target_probs(labels, logits.shape[-1], logits.dtype)
  mse = jnp.mean(jnp.square(mean_logits - onehot))
  return lamb * mse + (1.0 - lamb) * cross_entropy(mean_logits, labels, eps)
