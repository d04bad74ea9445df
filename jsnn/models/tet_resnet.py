"""TET's ResNet-19 (CIFAR; direct encoding).

Layout (``models/resnet_models.py``, ``resnet19() = ResNet(BasicBlock, [3, 3, 2])``)::

    stem   conv3x3(3 -> 64, s1, p1, no bias) -> BN -> LIF          (64-channel stem)
    layer1 3 x BasicBlock(128), stride 1 (first block: downsample conv1x1 + BN)
    layer2 3 x BasicBlock(256), first stride 2
    layer3 2 x BasicBlock(512), first stride 2
    head   AdaptiveAvgPool(1) -> fc1 Linear(512 -> 256) -> LIF -> fc2 Linear(256 -> classes)

BasicBlock: ``conv3x3(s) -> BN -> LIF -> conv3x3 -> BN, + identity/downsample, -> LIF``. BN is
time-merged (TET's ``tdBatchNorm`` is plain BN over ``[B·T]``). Init: PyTorch defaults everywhere
(TET's kaiming branch sits under ``zero_init_residual=False``). Output: per-step logits ``[T, B,
classes]`` for the TET loss.

References:
  Deng, Li, Zhang, Gu, *Temporal Efficient Training of Spiking Neural Network via Gradient
  Re-weighting*, ICLR 2022 (code ``Gus-Lab/temporal_efficient_training``); spec
  ``tet_sml_clif.md`` §2.4.
"""

from __future__ import annotations

import functools
from typing import Sequence

from flax import nnx

import jsnn.neurons
from jsnn.models._common import Options, check_moved, preset
from jsnn.models._resnet import SpikingResNet

__all__ = ["Model", "ResNet19"]


class Model(SpikingResNet):
  """TET's spiking ResNet (defaults: ResNet-19 on CIFAR 32×32×3).

  Args:
    num_classes: classes (10 / 100).
    T: time steps (2, 4, 6 in the paper).
    depths, widths, stem_width, head_hidden: architecture (ResNet-19: ``(3, 3, 2)``,
      ``(128, 256, 512)``, 64, 256).
    norm: normalisation kind (``"time_merged"`` as TET).
    input_kind, input_size, in_channels: expected input (``"image"``, ``(32, 32)``, 3).
    options: :class:`~jsnn.models.Options` (default neuron: TET's LIF, decay 0.5, hard reset,
      ``Triangle(1)``).
    rngs: NNX streams.
  """

  def __init__(self, *, num_classes: int, T: int, depths: Sequence[int] = (3, 3, 2),
               widths: Sequence[int] = (128, 256, 512), stem_width: int = 64,
               head_hidden: int = 256, norm: str = "time_merged", input_kind: str = "image",
               input_size: Sequence[int] | None = (32, 32), in_channels: int = 3,
               options: Options = Options(), rngs: nnx.Rngs, **moved):
    check_moved("tet_resnet.Model", moved)
    super().__init__(
        num_classes=num_classes, T=T, depths=depths, widths=widths,
        strides=(1,) + (2,) * (len(depths) - 1), stem="cifar", stem_width=stem_width,
        connect="add", head_hidden=head_hidden, norm=norm, input_kind=input_kind,
        input_size=input_size, in_channels=in_channels, name="tet_resnet.Model",
        options=options.resolve(jsnn.neurons.tet_lif), rngs=rngs)


ResNet19 = preset(Model, "TET ResNet-19 (CIFAR-10/100, 32×32×3 images, direct encoding).",
                  depths=(3, 3, 2), widths=(128, 256, 512), stem_width=64, head_hidden=256)

# Test-only: ResNet-19's layout at tiny width.
_ResNet19Tiny = functools.partial(Model, depths=(1, 1, 1), widths=(8, 8, 16), stem_width=4,
                                  head_hidden=8, input_size=(8, 8))
