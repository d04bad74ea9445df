"""TET: per-time-step cross-entropy plus λ·MSE of every logit to φ.

References:
  Deng, Li, Zhang, Gu, *Temporal Efficient Training of Spiking Neural Network via Gradient
  Re-weighting*, ICLR 2022 (``functions.TET_loss``); spec ``tet_sml_clif.md`` §2.2.
"""

from __future__ import annotations

import functools
from typing import Any

from jsnn import losses
from jsnn.methods._core import Method

__all__ = ["tet"]


def tet(*, lamb: float = 1e-3, phi: float = 1.0, label_smoothing: float = 0.0,
        neuron: Any = None, spike_fn: Any = None) -> Method:
  """TET's loss ``(1-λ)·mean_t CE(O_t, y) + λ·MSE(O, φ)`` (``jsnn.losses.tet``).

  Args:
    lamb: λ (official: 0 for CIFAR, 1e-3 for DVS; 1e-3 here as the paper's recommended value).
    phi: φ (1.0 in every official script).
    label_smoothing: ε of the CE term.
    neuron, spike_fn: optionally TET's LIF (``jsnn.neurons.tet_lif``) / another surrogate for
      every spiking layer; None keeps the model's.
  """
  return Method("tet", neuron=neuron, spike_fn=spike_fn,
                loss=functools.partial(losses.tet, lamb=lamb, phi=phi,
                                       label_smoothing=label_smoothing))
