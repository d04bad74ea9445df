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

Every ``Model`` is built as ``Model(..., *, num_classes, T, neuron=..., surrogate=None, rngs)`` and
returns per-step logits ``[T, B, num_classes]`` (SML surrogate-module variants: a list). Models are
picked by name: ``importlib.import_module(f"jsnn.models.{name}").Model``.

Public building blocks: :class:`ConvNorm` (``Conv2d -> BatchNorm``, the unit every zoo conv uses)
and :class:`SurrogateBlock` (SML's ANN surrogate module).
"""

from jsnn.models._common import ConvNorm as ConvNorm
from jsnn.models._resnet import SurrogateBlock as SurrogateBlock

__all__ = ["ConvNorm", "SurrogateBlock"]
