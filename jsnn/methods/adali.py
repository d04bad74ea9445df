"""AdaLi: the asymmetric rectangular surrogate whose window widths shrink over the epochs.

Each epoch the host computes ``AsymmetricRectangle(w_l, w_r, α, β)`` for that epoch
(``jsnn.transforms.adali_surrogate``); the step sets it on every spiking layer with
``jsnn.nn.set_spike_fn``. The values are traced, so a new epoch never recompiles.

References:
  AdaLi (paran-ia/AdaLi); spec ``adali_psg_family.md`` §1.
"""

from __future__ import annotations

import functools
from typing import Any

from jsnn import losses, transforms
from jsnn.methods._core import Method
from jsnn.nn import set_spike_fn

__all__ = ["adali"]


def adali(*, w_max: float = 1.5, w_min: float = 0.3, kind: str = "log", mix: float | None = None,
          neuron: Any = None, **schedule_kw) -> Method:
  """AdaLi's per-epoch window schedule on every spiking layer.

  Args:
    w_max, w_min, kind: the width schedule (``jsnn.transforms.adali_width``: log, 1.5 -> 0.3).
    mix: None for CE of the time mean (CIFAR); λ of AdaLi's mixed loss ``jsnn.losses.mix``
      (0.05 CIFAR10-DVS, 0.2 DVSGesture).
    neuron: optionally AdaLi's IF/LIF (``jsnn.neurons.adali_if``); None keeps the model's.
    **schedule_kw: further ``jsnn.transforms.adali_surrogate`` options (``alpha``, ``beta``, ...).
  """
  schedule = functools.partial(transforms.adali_surrogate, w_max=w_max, w_min=w_min, kind=kind,
                               **schedule_kw)
  loss = None if mix is None else functools.partial(losses.mix, lamb=mix)
  return Method("adali", neuron=neuron, spike_fn=schedule(0, 2), loss=loss,
                epoch_values=lambda epoch, num_epochs: schedule(epoch, num_epochs),
                set_values=set_spike_fn)
