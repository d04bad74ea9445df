"""SML: ANN surrogate modules on the firing rates of a spiking trunk, and the distillation loss.

The method wraps any *staged* trunk (``embed`` / ``stage`` / ``head`` / ``stage_channels``: every
``jsnn.models`` ResNet, or your own module) in a :class:`jsnn.models.SurrogateModuleNet`, which
returns ``[o_snn [T, B, C], o_1 [B, C], ...]``; the loss is ``jsnn.losses.sml`` and accuracy is
scored on ``o_snn`` (what SML reports). A model that already has its modules (the
``sml_resnet.*SB`` presets) is used as it is.

References:
  Deng, Lin, Li, Gu, *Surrogate Module Learning*, ICML 2023 (code
  ``brain-intelligence-lab/surrogate_module_learning``); spec ``tet_sml_clif.md`` §3.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any, Callable, Sequence

from flax import nnx

from jsnn import losses
from jsnn.methods._core import Method

__all__ = ["sml"]


def _resolve(factory: Callable | str | None) -> Callable | None:
  if factory is None or callable(factory):
    return factory
  module, _, attr = str(factory).partition(":")
  try:
    return getattr(importlib.import_module(module), attr)
  except (ImportError, AttributeError) as e:
    raise ValueError(f"sml: module_factory {factory!r} is not 'package.module:attr' of an "
                     f"importable callable ({e}).") from None


def sml(*, after: Sequence[int] = (), num_classes: int | None = None,
        kernels: Sequence[Sequence[int]] | None = None, width: int = 256,
        module_factory: Callable | str | None = None, detach: bool = False,
        detach_trunk: bool = False, temperature: float = 3.0, alpha: float = 0.5,
        lamb: float = 0.9, label_smoothing: float = 0.0, neuron: Any = None,
        spike_fn: Any = None) -> Method:
  """SML's surrogate modules (after the 1-based stages ``after``) and ``jsnn.losses.sml``.

  Args:
    after: stages after which modules are attached (SML's ResNet-18: ``(3, 6)``). Empty: the
      model must already return ``[o_snn, o_1, ...]`` (e.g. ``sml_resnet.ResNet18SB``).
    num_classes: classes of the modules (default: the trunk's ``num_classes``).
    kernels, width: :class:`jsnn.models.SurrogateBlock` options.
    module_factory: ``factory(cin, num_classes, rngs=...)`` (or ``"package.module:attr"``)
      building a smaller module instead of ``SurrogateBlock``.
    detach, detach_trunk: gradient options of :class:`jsnn.models.SurrogateModuleNet`.
    temperature, alpha, lamb, label_smoothing: the loss (script values τ 3, α 0.5, λ 0.9).
    neuron, spike_fn: optionally SML's LIF (``jsnn.neurons.sml_lif``); None keeps the model's.
  """
  after = tuple(int(i) for i in after)
  factory = _resolve(module_factory)

  def wrap(model: nnx.Module, rngs: nnx.Rngs) -> nnx.Module:
    from jsnn.models import SurrogateModuleNet   # jsnn.models is not imported by `import jsnn`
    from jsnn.models._surrogate_modules import check_staged
    if isinstance(model, SurrogateModuleNet):
      return model
    check_staged(model, "jsnn.methods.sml")
    classes = num_classes if num_classes is not None else getattr(model, "num_classes", None)
    if classes is None:
      raise ValueError("sml: the trunk has no num_classes attribute; pass num_classes=.")
    return SurrogateModuleNet(model, after=after, num_classes=classes, kernels=kernels,
                              width=width, module_factory=factory, detach=detach,
                              detach_trunk=detach_trunk, rngs=rngs)

  return Method("sml", neuron=neuron, spike_fn=spike_fn,
                loss=functools.partial(losses.sml, temperature=temperature, alpha=alpha,
                                       lamb=lamb, label_smoothing=label_smoothing),
                readout=lambda outputs: outputs[0], wrap_model=wrap if after else None)
