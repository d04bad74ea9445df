"""AdaLi's CIFAR ResNet-18 (``models/resnet_cifar.py``, ``resnet18_cifar``).

Layout::

    stem   conv3x3(3 -> 64, s1, p1, no bias) -> BN -> IF              (no max-pool)
    layers BasicBlocks [2, 2, 2, 2] at 64 / 128 / 256 / 512, strides 1 / 2 / 2 / 2;
           the residual is added before the block's second neuron; downsample conv1x1 + BN
    head   AdaptiveAvgPool(1) -> Linear(512 -> classes)

Init: convs ``N(0, √(2/(k²·C_out)))`` (kaiming normal, fan_out), BN 1/0, Linear ``N(0,
1/in_features)`` (std) with zero bias. Neuron: AdaLi's IF (soft reset, ``>=``, asymmetric
rectangle centred at ``V_th``). Input: direct encoding, T = 4; the readout is the time mean of the
per-step logits this model returns. BN is time-merged (multi-step execution).

References:
  Hou, Wu, Zhou, *AdaLi*, Frontiers in Neuroscience 2026 (code ``paran-ia/AdaLi``); spec
  ``adali_psg_family.md`` §1.6.
"""

from __future__ import annotations

import functools
from typing import Sequence

from flax import nnx

import jsnn.neurons
import jsnn.nn as jn
from jsnn.models._common import Options, check_moved, preset
from jsnn.models._resnet import SpikingResNet

__all__ = ["Model", "ResNet18"]


class Model(SpikingResNet):
  """AdaLi's CIFAR spiking ResNet.

  Args:
    num_classes: classes.
    T: time steps (4).
    depths, widths: stages.
    norm: normalisation kind.
    input_kind, input_size, in_channels: expected input (``"image"``, ``(32, 32)``, 3).
    options: :class:`~jsnn.models.Options` (default neuron ``adali_if``).
    rngs: NNX streams.
  """

  def __init__(self, *, num_classes: int, T: int, depths: Sequence[int] = (2, 2, 2, 2),
               widths: Sequence[int] = (64, 128, 256, 512), stem_width: int = 64,
               norm: str = "time_merged", input_kind: str = "image",
               input_size: Sequence[int] | None = (32, 32), in_channels: int = 3,
               options: Options = Options(), rngs: nnx.Rngs, **moved):
    check_moved("resnet_cifar.Model", moved)
    super().__init__(
        num_classes=num_classes, T=T, depths=depths, widths=widths,
        strides=(1,) + (2,) * (len(depths) - 1), stem="cifar", stem_width=stem_width,
        connect="add",
        inits=(jn.kaiming_normal_fan_out(), jn.normal(1.0 / widths[-1]), jn.zeros()),
        norm=norm, input_kind=input_kind, input_size=input_size, in_channels=in_channels,
        name="resnet_cifar.Model", options=options.resolve(jsnn.neurons.adali_if), rngs=rngs)


ResNet18 = preset(Model, "AdaLi resnet18_cifar (CIFAR-10, 32×32×3, IF neurons, T = 4).",
                  depths=(2, 2, 2, 2), widths=(64, 128, 256, 512))

_ResNet18Tiny = functools.partial(Model, depths=(1, 1, 1, 1), widths=(4, 8, 8, 8), stem_width=4,
                                  input_size=(16, 16))
