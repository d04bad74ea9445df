"""PSG [R]: a learnable surrogate shape per spiking layer, with its own optimiser.

Reconstruction R1 (spec ``adali_psg_family.md`` §2.3): each layer's spike function becomes a
``jsnn.transforms.ParametricSurrogate`` whose unconstrained ``rho`` is an ``nnx.Param``; an
``optax.partition`` (``jsnn.transforms.psg_label_fn``) gives those leaves their own optimiser,
clipped to ``[clip_min, clip_max]``, and the rest the main one. Only the paper's abstract is
public: this is a reconstruction, not the paper's exact method.

References:
  Wang, Cheng, Lim, *Potential distribution adjustment and parametric surrogate gradient in
  spiking neural networks*, Neurocomputing 620 (2025) 129189; arXiv:2304.13289.
"""

from __future__ import annotations

from typing import Any, Callable

import optax

from jsnn import surrogate as sg
from jsnn import transforms
from jsnn.methods._core import Method

__all__ = ["psg"]


def psg(*, base: Any = None, a0: float = 4.0, positivity: Any = None, direct: bool = False,
        lr: float = 1e-2, optimizer: str = "adam", clip_min: float | None = -8.0,
        clip_max: float | None = 8.0, neuron: Any = None) -> Method:
  """Learnable surrogate shape [R] (default: Sigmoid slope starting at 4, bounded to [1, 10]).

  Args:
    base: the surrogate family (default ``jsnn.surrogate.Sigmoid()``).
    a0: initial shape value (ignored with ``direct``: ``base``'s own values are the start).
    positivity: map from ``rho`` to the shape (default ``BoundedSigmoidMap(1, 10)``).
    direct: learn ``base``'s shape parameters themselves (no map; ``clip_min`` / ``clip_max``
      then bound the shape values, e.g. triangle γ in [0.25, 4]).
    lr: peak learning rate of the shape optimiser (it follows the main schedule's shape).
    optimizer: ``"adam"`` or ``"sgd"`` for the shape parameters.
    clip_min, clip_max: bounds after each update on ``rho`` (or on the shape with ``direct``);
      None: no clipping.
    neuron: optionally a neuron for every layer; None keeps the model's.
  """
  if optimizer not in ("adam", "sgd"):
    raise ValueError(f"psg: optimizer must be 'adam' or 'sgd', got {optimizer!r}.")
  base = sg.Sigmoid() if base is None else base
  positivity = transforms.BoundedSigmoidMap(1.0, 10.0) if positivity is None else positivity
  spike_fn = base if direct else transforms.parametric_surrogate(base, a0, positivity=positivity)

  def wrap(tx: optax.GradientTransformation, relative_lr: Callable | None):
    rate = lr if relative_lr is None else (lambda count: lr * relative_lr(count))
    shape_tx = optax.adam(rate) if optimizer == "adam" else optax.sgd(rate)
    if clip_min is not None and clip_max is not None:
      shape_tx = optax.chain(shape_tx, transforms.clip_params(float(clip_min), float(clip_max)))
    return optax.partition({transforms.DEFAULT_LABEL: tx,
                            transforms.SURROGATE_LABEL: shape_tx}, transforms.psg_label_fn)

  return Method("psg", neuron=neuron, spike_fn=spike_fn, learn_surrogate=True, optimizer=wrap)
