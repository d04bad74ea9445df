"""SML's spiking ResNets (ResNet-18/34 with CIFAR or ImageNet stem, ResNet-19) and the
surrogate-module variants.

Trunk (``models/ResNet.py``, ``models/ResBlock.py``)::

    stem   CIFAR    (num_classes <= 200): conv3x3(3 -> 64, s1, no bias) -> BN -> LIF;
                                          layer1 stride 1
           ImageNet (num_classes > 200):  conv7x7(3 -> 64, s2, p3, no bias) -> BN -> LIF;
                                          layer1 **stride 2** (no max-pool)
    layers 64, 128, 256, 512 channels; ResNet-18 [2, 2, 2, 2], ResNet-34 [3, 4, 6, 3]
    head   AdaptiveAvgPool(1) -> Linear(512 -> classes)        (SML then averages over T)

ResNet-19 (``models/ResNet19.py``) is TET's layout (64-ch stem, 128×3 / 256×3 / 512×2,
fc 512 -> 256 -> LIF -> fc). BN is time-merged. Init: convs kaiming normal (fan_out, relu), BN 1/0,
Linear PyTorch default. Neuron: SML's LIF (decay 0.5, hard reset, Dspike γ = 2.5, ``>=``).

Surrogate modules (``ResNet_SB``, the ``*SB`` presets): a :class:`jsnn.models.SurrogateModuleNet`
around the trunk returns ``[o_snn, o_sb1, ...]``; ``o_snn`` is the per-step logits ``[T, B,
classes]`` (``jsnn.losses.sml`` takes ``o_snn.mean(0)``), each ``o_sbk [B, classes]`` comes from a
:class:`jsnn.models.SurrogateBlock` fed with the block's firing rate. The script's ``sb_poi = [3,
3]`` (cumulative) is ``after=(3, 6)``: after ``layer2[0]`` (128 ch) and ``layer3[1]`` (256 ch) of
ResNet-18, kernels ``(7, 5, 3)``, width 256. Parameter paths: ``trunk.<...>`` and
``surrogate_blocks[k]``.

Gradient options: by default the modules' gradient flows into the trunk (the script's
``use_detach = False``). ``detach=True`` stops it at the modules' input (the modules then train
alone). ``detach_trunk=True`` is the code's ``use_detach = True``, which instead detaches the trunk
*after* each attachment point (earlier blocks then learn only from the modules).

References:
  Deng, Lin, Li, Gu, *Surrogate Module Learning: Reduce the Gradient Error Accumulation in Training
  Spiking Neural Networks*, ICML 2023 (code ``brain-intelligence-lab/surrogate_module_learning``);
  spec ``tet_sml_clif.md`` §3.
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

from flax import nnx

import jsnn.neurons
import jsnn.nn as jn
from jsnn.models._common import Options, check_moved, preset
from jsnn.models._resnet import SpikingResNet
from jsnn.models._surrogate_modules import SurrogateModuleNet

__all__ = ["Model", "ResNet18", "ResNet34", "ResNet18ImageNet", "ResNet34ImageNet", "ResNet19",
           "ResNet18SB", "ResNet19SB", "ResNet34SB", "with_surrogate_modules"]


class Model(SpikingResNet):
  """SML's spiking ResNet trunk (surrogate modules: :func:`with_surrogate_modules`).

  Args:
    num_classes: classes.
    T: time steps.
    depths, widths: stages (ResNet-18: ``(2, 2, 2, 2)``, ``(64, 128, 256, 512)``).
    stem: ``"cifar"`` or ``"imagenet"`` (7×7/2 stem, layer1 stride 2).
    stem_width: 64.
    head_hidden: None (``fc``), or 256 for ResNet-19's ``fc1 -> LIF -> fc2``.
    first_stride: stride of layer1 (None: 1 for the CIFAR stem, 2 for the ImageNet stem).
    norm: normalisation kind (``"time_merged"``).
    input_kind, input_size, in_channels: expected input (CIFAR ``"image"``, ``(32, 32)``, 3;
      CIFAR10-DVS: ``"frames"``, size, 2 — the script's ``Conv2d(2, 64, 3, 1, 1)`` stem).
    options: :class:`~jsnn.models.Options` (default neuron: SML's LIF).
    rngs: NNX streams.
  """

  def __init__(self, *, num_classes: int, T: int, depths: Sequence[int] = (2, 2, 2, 2),
               widths: Sequence[int] = (64, 128, 256, 512), stem: str = "cifar",
               stem_width: int = 64, head_hidden: int | None = None,
               first_stride: int | None = None, norm: str = "time_merged",
               input_kind: str = "image", input_size: Sequence[int] | None = (32, 32),
               in_channels: int = 3, options: Options = Options(), rngs: nnx.Rngs, **moved):
    check_moved("sml_resnet.Model", moved)
    if first_stride is None:
      first_stride = 1 if stem == "cifar" else 2
    super().__init__(
        num_classes=num_classes, T=T, depths=depths, widths=widths,
        strides=(first_stride,) + (2,) * (len(depths) - 1), stem=stem, stem_width=stem_width,
        connect="add", head_hidden=head_hidden, inits=(jn.kaiming_normal_fan_out(), None, None),
        norm=norm, input_kind=input_kind, input_size=input_size, in_channels=in_channels,
        name="sml_resnet.Model", options=options.resolve(jsnn.neurons.sml_lif), rngs=rngs)


def with_surrogate_modules(trunk: Callable[..., nnx.Module], doc: str, *, after: Sequence[int],
                           kernels: Sequence[Sequence[int]], width: int = 256) -> Callable:
  """A preset building ``SurrogateModuleNet(trunk(...), after, kernels, width)`` (SML ``ResNet_SB``).

  The returned factory takes the trunk's arguments plus ``detach`` / ``detach_trunk`` (see
  :class:`jsnn.models.SurrogateModuleNet`) and ``rngs``.
  """

  def build(*, num_classes: int, rngs: nnx.Rngs, detach: bool = False,
            detach_trunk: bool = False, **trunk_kwargs) -> SurrogateModuleNet:
    net = trunk(num_classes=num_classes, rngs=rngs, **trunk_kwargs)
    return SurrogateModuleNet(net, after=after, num_classes=num_classes, kernels=kernels,
                              width=width, detach=detach, detach_trunk=detach_trunk, rngs=rngs)

  build.__doc__ = doc
  return build


_R18 = dict(depths=(2, 2, 2, 2), widths=(64, 128, 256, 512))
_R34 = dict(depths=(3, 4, 6, 3), widths=(64, 128, 256, 512))
_R19 = dict(depths=(3, 3, 2), widths=(128, 256, 512), head_hidden=256)
_IMAGENET = dict(stem="imagenet", input_size=(224, 224))
_SB = dict(after=(3, 6), kernels=((7, 5, 3), (7, 5, 3)), width=256)

ResNet18 = preset(Model, "SML ResNet-18, CIFAR stem (32×32×3).", **_R18)
ResNet34 = preset(Model, "SML ResNet-34, CIFAR stem (32×32×3).", **_R34)
ResNet18ImageNet = preset(Model, "SML ResNet-18, ImageNet stem (7×7/2, layer1 stride 2; 224×224).",
                          **_R18, **_IMAGENET)
ResNet34ImageNet = preset(Model, "SML ResNet-34, ImageNet stem (7×7/2, layer1 stride 2; 224×224).",
                          **_R34, **_IMAGENET)
ResNet19 = preset(Model, "SML ResNet-19 (TET's layout, kaiming init; CIFAR).", **_R19)
ResNet18SB = with_surrogate_modules(
    ResNet18, "SML ResNet_SB18 of the script: modules after blocks 3 and 6 (128 and 256 ch), "
    "kernels (7, 5, 3), width 256.", **_SB)
ResNet19SB = with_surrogate_modules(
    ResNet19, "SML ResNet_SB19 with the script's sb_poi [3, 3]: after layer1[2] (128 ch) and "
    "layer2[2] (256 ch).", **_SB)
ResNet34SB = with_surrogate_modules(
    ResNet34ImageNet, "SML ResNet-34 (ImageNet stem) with modules after layer2[0] and layer3[2]; "
    "a guessed placement (jsnn's own; the code builds only ResNet_SB18 and the paper's ResNet-34 "
    "placement is [?]).", after=(4, 10),
    kernels=((7, 5, 3), (7, 5, 3)), width=256)

# Test-only tiny variants.
_ResNet18Tiny = functools.partial(Model, depths=(1, 1, 1, 1), widths=(4, 8, 8, 8), stem_width=4,
                                  input_size=(16, 16))
_ResNet18SBTiny = with_surrogate_modules(
    functools.partial(Model, depths=(1, 1, 1), widths=(4, 8, 8), stem_width=4,
                      input_size=(16, 16)),
    "tiny", after=(1, 2), kernels=((7, 5, 3), (3,)), width=8)
