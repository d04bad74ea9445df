"""CLIF: the complementary LIF neuron, and CLIF's loss (per-step CE plus λ·MSE).

References:
  Huang et al., *CLIF: Complementary Leaky Integrate-and-Fire Neuron for Spiking Neural
  Networks*, ICML 2024 (code ``HuuYuLong/Complementary-LIF``); spec ``tet_sml_clif.md`` §4.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from jsnn import losses, neurons
from jsnn.methods._core import Method

__all__ = ["clif"]


def clif(*, lamb: float = 0.05, target: Literal["const", "onehot"] = "const", phi: float = 1.0,
         label_smoothing: float = 0.0, neuron: Any = neurons.clif, spike_fn: Any = None
         ) -> Method:
  """The CLIF neuron in every spiking layer and ``jsnn.losses.clif``.

  Args:
    lamb, target, phi, label_smoothing: the loss's (``-loss_lambda`` 0.05, const target 1).
    neuron: the neuron (default ``jsnn.neurons.clif``: decay 0.5, ``Rectangle`` surrogate).
    spike_fn: another surrogate; None keeps the neuron's.

  Use ``clif().without("loss")`` to combine the neuron with another method's loss.
  """
  return Method("clif", neuron=neuron, spike_fn=spike_fn,
                loss=functools.partial(losses.clif, lamb=lamb, target=target, phi=phi,
                                       label_smoothing=label_smoothing))
