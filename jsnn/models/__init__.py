"""The model zoo of the five papers (Flax NNX). Each module exposes ``Model`` and presets.

=====================  =========================================================================
module                 presets
=====================  =========================================================================
``tet_resnet``         ``ResNet19`` (TET, CIFAR)
``vggsnn``             ``VGGSNN``, ``VGGSNNwoAP`` (TET, DVS-CIFAR10 48×48×2)
``sml_resnet``         ``ResNet18``/``34`` (CIFAR), ``ResNet18ImageNet``/``34``, ``ResNet19``,
                       surrogate-module variants ``ResNet18SB``, ``ResNet19SB``, ``ResNet34SB``
``preact_resnet``      ``ResNet18``, ``ResNet34`` (CLIF, CIFAR)
``spiking_vgg``        ``VGG11``, ``VGG13`` (CLIF; DVS-CIFAR10, Gesture, Tiny-ImageNet setups)
``resnet_cifar``       ``ResNet18`` (AdaLi, CIFAR)
``dvs_gesture_net``    ``DVSGestureNet`` (AdaLi / SpikingJelly, DVS128 Gesture)
``sew_resnet``         ``SpikingResNet34``, ``SEWResNet34`` (ImageNet, TET/SML rows)
=====================  =========================================================================

Every ``Model`` is built as ``Model(*, num_classes, T, <architecture>, options=Options(...), rngs)``
and returns per-step logits ``[T, B, num_classes]`` (SML surrogate-module variants, a
:class:`SurrogateModuleNet`: a list). :class:`Options` holds everything that is not architecture
(neuron, spike function, learned constants, ``remat``, ``residuals``, ``dtype``). Models are picked
by name: ``importlib.import_module(f"jsnn.models.{name}").Model``.

Building blocks for your own models: :class:`ConvNorm` (conv -> norm on ``[T, B, H, W, C]``),
:class:`SurrogateBlock` (SML's ANN module) and :class:`SurrogateModuleNet` (modules attached to
any staged trunk).
"""

from jsnn.models._common import REMAT_MODES as REMAT_MODES
from jsnn.models._common import ConvNorm as ConvNorm
from jsnn.models._common import Options as Options
from jsnn.models._surrogate_modules import STAGED_API as STAGED_API
from jsnn.models._surrogate_modules import SurrogateBlock as SurrogateBlock
from jsnn.models._surrogate_modules import SurrogateModuleNet as SurrogateModuleNet

__all__ = ["ConvNorm", "Options", "REMAT_MODES", "STAGED_API", "SurrogateBlock",
           "SurrogateModuleNet"]
