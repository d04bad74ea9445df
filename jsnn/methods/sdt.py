"""SDT: standard direct training, cross-entropy of the time-averaged logits (the baseline).

References:
  Deng et al., *Temporal Efficient Training of Spiking Neural Network via Gradient Re-weighting*,
  ICLR 2022 (``--TET False``; ``jsnn.losses.sdt``).
"""

from __future__ import annotations

import functools
from typing import Any

from jsnn import losses
from jsnn.methods._core import Method

__all__ = ["sdt"]


def sdt(*, label_smoothing: float = 0.0, neuron: Any = None, spike_fn: Any = None) -> Method:
  """SDT: ``jsnn.losses.sdt`` on the model's ``[T, B, C]`` logits; neuron and surrogate kept
  unless given (e.g. ``neuron=jsnn.neurons.tet_lif``)."""
  return Method("sdt", neuron=neuron, spike_fn=spike_fn,
                loss=functools.partial(losses.sdt, label_smoothing=label_smoothing))
