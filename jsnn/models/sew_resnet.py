"""ImageNet spiking ResNets of the TET/SML ImageNet rows: Spiking ResNet-34, SEW-ResNet-34 (ADD).

SpikingJelly layout (``clock_driven/model/spiking_resnet.py`` and ``sew_resnet.py``)::

    stem   conv7x7(3 -> 64, s2, p3, no bias) -> BN -> SN -> MaxPool(3, s2, p1)
    layers 64, 128, 256, 512 channels, [3, 4, 6, 3] BasicBlocks, strides 1, 2, 2, 2
    head   AdaptiveAvgPool(1) -> Linear(512 -> 1000)

Spiking ResNet block: ``SN(BN(conv(SN(BN(conv(x))))) + downsample(x))`` with
``downsample = BN(conv1x1)``. SEW block (``cnf='ADD'``): ``SN(BN(conv(SN(BN(conv(x)))))) +
downsample(x)`` with ``downsample = SN(BN(conv1x1))``: the residual adds spikes. Both have the
parameters of torchvision's ResNet-34 (21,797,672 with 1000 classes). BN is time-merged
(SpikingJelly multi-step). Init: convs kaiming normal (fan_out, relu), BN 1/0, Linear default.
Neuron default: TET's LIF (the TET/SML rows train these with their own LIF); pass
``jsnn.neurons.sj_if`` for the SEW paper's IF.

References:
  Fang et al., *Deep Residual Learning in Spiking Neural Networks* (SEW ResNet), NeurIPS 2021;
  Deng et al., TET, ICLR 2022, ImageNet rows.
"""

from __future__ import annotations

import functools
from typing import Sequence

from flax import nnx

import jsnn.neurons
import jsnn.nn as jn
from jsnn.models._common import Options, check_moved, preset
from jsnn.models._resnet import SpikingResNet

__all__ = ["Model", "SpikingResNet34", "SEWResNet34", "SpikingResNet18", "SEWResNet18"]


class Model(SpikingResNet):
  """SpikingJelly-style ImageNet spiking ResNet (max-pool stem).

  Args:
    num_classes: classes (1000).
    T: time steps (TET: 6 for Spiking ResNet-34, 4 for SEW-ResNet-34).
    connect: ``"add"`` (Spiking ResNet) or ``"sew_add"`` (SEW ADD).
    depths, widths, stem_width: stages (ResNet-34: ``(3, 4, 6, 3)``, ``(64, 128, 256, 512)``, 64).
    norm: normalisation kind.
    input_kind, input_size, in_channels: expected input (``"image"``, ``(224, 224)``, 3).
    options: :class:`~jsnn.models.Options` (default neuron: TET's LIF).
    rngs: NNX streams.
  """

  def __init__(self, *, num_classes: int, T: int, connect: str = "sew_add",
               depths: Sequence[int] = (3, 4, 6, 3), widths: Sequence[int] = (64, 128, 256, 512),
               stem_width: int = 64, norm: str = "time_merged", input_kind: str = "image",
               input_size: Sequence[int] | None = (224, 224), in_channels: int = 3,
               options: Options = Options(), rngs: nnx.Rngs, **moved):
    check_moved("sew_resnet.Model", moved)
    super().__init__(
        num_classes=num_classes, T=T, depths=depths, widths=widths,
        strides=(1,) + (2,) * (len(depths) - 1), stem="imagenet_maxpool",
        stem_width=stem_width, connect=connect, inits=(jn.kaiming_normal_fan_out(), None, None),
        norm=norm, input_kind=input_kind, input_size=input_size, in_channels=in_channels,
        name="sew_resnet.Model", options=options.resolve(jsnn.neurons.tet_lif), rngs=rngs)


SpikingResNet34 = preset(Model, "Spiking ResNet-34 (ImageNet 224×224; TET row: T = 6).",
                         connect="add", depths=(3, 4, 6, 3))
SEWResNet34 = preset(Model, "SEW-ResNet-34, ADD connect (ImageNet 224×224; TET row: T = 4).",
                     connect="sew_add", depths=(3, 4, 6, 3))
SpikingResNet18 = preset(Model, "Spiking ResNet-18 (ImageNet 224×224).", connect="add",
                         depths=(2, 2, 2, 2))
SEWResNet18 = preset(Model, "SEW-ResNet-18, ADD connect (ImageNet 224×224).", connect="sew_add",
                     depths=(2, 2, 2, 2))

# Test-only reduced width/depth variants (same stem, blocks and connect).
_SEWResNetTiny = functools.partial(Model, connect="sew_add", depths=(1, 1, 1, 1),
                                   widths=(4, 8, 8, 8), stem_width=4, input_size=(32, 32))
_SpikingResNetTiny = functools.partial(_SEWResNetTiny, connect="add")
