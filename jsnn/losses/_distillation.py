"""SML (Surrogate Module Learning) distillation loss between the SNN output and ANN surrogate modules.

* :func:`sml_distillation`: the scalar loss on time-averaged logits `[B, C]`;
* :func:`sml_distillation_components`: the same with its parts, as :class:`SMLComponents`;
* :func:`sml`: the adapter to the list output `[o_snn [T, B, C], o_1 [B, C], ...]` of models with
  surrogate modules (`jsnn.methods.sml`).

Each function has one return type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from . import _checks
from ._cross_entropy import cross_entropy


class SMLComponents(NamedTuple):
  """:func:`sml_distillation`'s value and its two parts: `loss = λ·soft + (1 − λ)·hard`."""

  loss: jax.Array
  hard: jax.Array
  soft: jax.Array


def _soft_kl(target: jax.Array, inputs: jax.Array, temperature: float | jax.Array) -> jax.Array:
  r"""SML `SoftKL(inputs, target, τ)`: `KLDivLoss('batchmean')(log_softmax(inputs/τ), softmax(sg(target)/τ))`.

  .. math:: \frac{1}{B}\sum_b\sum_c q_{b,c}\,[\log q_{b,c} - \log p_{b,c}],\quad
    q = \mathrm{softmax}(\mathrm{sg}(a)/τ),\ p = \mathrm{softmax}(b/τ)
  """
  log_q = jax.nn.log_softmax(jax.lax.stop_gradient(target) / temperature, axis=-1)
  log_p = jax.nn.log_softmax(inputs / temperature, axis=-1)
  return jnp.sum(jnp.exp(log_q) * (log_q - log_p)) / inputs.shape[0]


def _aux_sequence(aux_list_of_bc: Sequence[ArrayLike] | ArrayLike) -> list[ArrayLike]:
  if hasattr(aux_list_of_bc, "ndim"):
    if aux_list_of_bc.ndim != 3:
      raise TypeError("aux_list_of_bc must be a sequence of [B, C] arrays or a stacked [N, B, C] array, "
                      f"got an array of shape {aux_list_of_bc.shape}.")
    return [aux_list_of_bc[i] for i in range(aux_list_of_bc.shape[0])]
  return list(aux_list_of_bc)


def sml_distillation(final_bc: ArrayLike, aux_list_of_bc: Sequence[ArrayLike] | ArrayLike,
                     labels: ArrayLike, *, temperature: ArrayLike = 3.0, alpha: ArrayLike = 0.5,
                     lamb: ArrayLike = 0.9, label_smoothing: ArrayLike = 0.0) -> jax.Array:
  r"""SML loss (`SBDistillationLoss`): hard CE on every head plus mutual KL at temperature τ.

  With SNN logits :math:`o_s` (already averaged over time), N surrogate-module logits :math:`o_i`,
  :math:`\mathrm{KL}_τ(a \| b) = \frac{1}{B}\sum_{b,c} q_c(\log q_c - \log p_c)`,
  :math:`q = \mathrm{softmax}(a/τ)`, :math:`p = \mathrm{softmax}(b/τ)`, and sg the stop-gradient:

  .. math::
    L_{hard} = \frac{\mathrm{CE}(o_s, y) + α\sum_i \mathrm{CE}(o_i, y)}{1 + Nα}, \qquad
    L_{soft} = \frac{\sum_i \mathrm{KL}_τ(\mathrm{sg}(o_s) \| o_i) + \mathrm{KL}_τ(\mathrm{sg}(o_i) \| o_s)}
                    {2N + 10^{-8}}

  .. math:: \mathcal{L} = λ\,L_{soft} + (1-λ)\,L_{hard}

  The first KL trains only the module toward the SNN, the second only the SNN toward the module. There
  is no τ² factor. With N = 0 the soft term is 0, as in the official code.

  Args:
    final_bc: SNN output logits `[B, C]`, averaged over time (`logits_tbc.mean(0)`).
    aux_list_of_bc: the N surrogate-module logits, a sequence of `[B, C]` arrays (or one stacked
      `[N, B, C]` array).
    labels: integer class indices `[B]` in [0, C).
    temperature: τ > 0 (script value 3.0).
    alpha: α ≥ 0, weight of the module CE terms (script value 0.5; class default 1.0 is unused).
    lamb: λ in [0, 1], weight of the soft term (script value 0.9).
    label_smoothing: ε in [0, 1] for the CE terms (0 in the official code).

  Returns:
    The scalar loss (its parts: :func:`sml_distillation_components`).

  Examples:
    >>> import jax.numpy as jnp
    >>> from jsnn import losses
    >>> final = jnp.zeros((2, 10))
    >>> round(float(losses.sml_distillation(final, [final, final], jnp.array([3, 7]))), 4)  # 0.1·log 10
    0.2303

  References:
    Deng, Lin, Li, Gu, "Surrogate Module Learning: Reduce the Gradient Error Accumulation in Training
    Spiking Neural Networks", ICML 2023 (official `functions/loss_functions.py:51-83`).
  """
  return sml_distillation_components(final_bc, aux_list_of_bc, labels, temperature=temperature,
                                     alpha=alpha, lamb=lamb,
                                     label_smoothing=label_smoothing).loss


def sml_distillation_components(final_bc: ArrayLike,
                                aux_list_of_bc: Sequence[ArrayLike] | ArrayLike,
                                labels: ArrayLike, *, temperature: ArrayLike = 3.0,
                                alpha: ArrayLike = 0.5, lamb: ArrayLike = 0.9,
                                label_smoothing: ArrayLike = 0.0) -> SMLComponents:
  """:func:`sml_distillation` with its parts: ``SMLComponents(loss, hard, soft)``.

  Same arguments and checks as :func:`sml_distillation`; ``loss`` is its value (bitwise).
  """
  final = _checks.batch_logits("final_bc", final_bc)
  batch, classes = final.shape
  aux = [_checks.batch_logits(f"aux_list_of_bc[{i}]", a, batch, classes)
         for i, a in enumerate(_aux_sequence(aux_list_of_bc))]
  for i, a in enumerate(aux):
    if a.dtype != final.dtype:
      raise TypeError(f"aux_list_of_bc[{i}] has dtype {a.dtype}, expected {final.dtype} like final_bc.")
  labels = _checks.batch_labels(labels, batch, classes)
  dtype = final.dtype
  temperature = _checks.scalar("temperature", temperature, dtype, low=0.0, low_open=True)
  alpha = _checks.scalar("alpha", alpha, dtype, low=0.0)
  lamb = _checks.scalar("lamb", lamb, dtype, low=0.0, high=1.0)
  eps = _checks.scalar("label_smoothing", label_smoothing, dtype, low=0.0, high=1.0)
  n = len(aux)

  hard = cross_entropy(final, labels, eps)
  soft = jnp.zeros((), dtype)
  for a in aux:
    hard = hard + alpha * cross_entropy(a, labels, eps)
    soft = soft + _soft_kl(final, a, temperature) + _soft_kl(a, final, temperature)
  hard = hard / (1.0 + n * alpha)
  soft = soft / (2 * n + 1e-8)
  loss = lamb * soft + (1.0 - lamb) * hard
  return SMLComponents(loss=loss, hard=hard, soft=soft)


def sml(outputs: Sequence[ArrayLike], labels: ArrayLike, *, temperature: ArrayLike = 3.0,
        alpha: ArrayLike = 0.5, lamb: ArrayLike = 0.9, label_smoothing: ArrayLike = 0.0
        ) -> jax.Array:
  r"""SML's loss on a surrogate-module model's outputs ``[o_snn [T, B, C], o_1 [B, C], ...]``.

  The adapter between models with surrogate modules (``jsnn.methods.sml``'s wrapper,
  ``jsnn.models.sml_resnet``'s ``*SB`` presets), which return a list, and :func:`sml_distillation`: the SNN logits are averaged over time first (SML's
  ``ResNet_SB.forward``), then

  .. math:: \mathcal{L} = \mathrm{sml\_distillation}\Big(\tfrac{1}{T}\sum_t o_{snn}[t],\
     [o_1, \dots, o_N],\ y\Big)

  with the script's values τ = 3, α = 0.5, λ = 0.9 as defaults (spec ``tet_sml_clif.md`` §3.3).

  Args:
    outputs: a list or tuple ``[o_snn, o_1, ..., o_N]``: ``o_snn`` time-major per-step logits
      ``[T, B, C]``, each surrogate-module output ``o_i`` ``[B, C]`` (N ≥ 0; with N = 0 the loss
      is ``(1 − λ)·CE``, as in the official code).
    labels: integer class indices ``[B]`` in [0, C).
    temperature, alpha, lamb, label_smoothing: as in :func:`sml_distillation`.

  Returns:
    The scalar loss.

  Raises:
    TypeError: ``outputs`` is a single array instead of a list.
    ValueError: ``o_snn`` is not ``[T, B, C]``, or a module output is not ``[B, C]``.

  Examples:
    >>> import jax.numpy as jnp
    >>> from jsnn import losses
    >>> o_snn, o_sb = jnp.zeros((4, 2, 10)), jnp.zeros((2, 10))
    >>> round(float(losses.sml([o_snn, o_sb], jnp.array([3, 7]))), 4)  # 0.1·log 10
    0.2303

  References:
    Deng, Lin, Li, Gu, "Surrogate Module Learning", ICML 2023 (``models/ResNet.py:145-177``,
    ``functions/loss_functions.py:51-83``).
  """
  if hasattr(outputs, "ndim") or not isinstance(outputs, (list, tuple)) or not outputs:
    raise TypeError("jsnn.losses.sml expects a non-empty list [o_snn [T, B, C], o_1 [B, C], ...] (the "
                    f"output of a model with surrogate modules), got {type(outputs).__name__}.")
  snn_tbc = _checks.float_array("outputs[0]", outputs[0], "[T, B, C]")
  if snn_tbc.ndim != 3:
    raise ValueError(f"outputs[0] must be the SNN's time-major logits [T, B, C], got shape "
                     f"{snn_tbc.shape}.")
  return sml_distillation(jnp.mean(snn_tbc, axis=0), list(outputs[1:]), labels,
                          temperature=temperature, alpha=alpha, lamb=lamb,
                          label_smoothing=label_smoothing)
