"""CLIF's spiking VGG-11/13 with BatchNorm (``models/spiking_vgg_bn.py``).

Layout::

    VGG-11 [64, M], [128, M], [256, 256, M], [512, 512, M], [512, 512, M]
    VGG-13 [64, 64, M], [128, 128, M], [256, 256, M], [512, 512, M], [512, 512, M]
    each conv  Conv2d(k3, p1, bias) -> BN -> neuron -> Dropout(p)    (time-shared mask)
    'M'        AvgPool2d(2, 2)
    head       AdaptiveAvgPool2d(7, 7) -> flatten -> Linear(512·49 -> classes)

Input sizes: DVS-CIFAR10 48 -> 1×1 before the adaptive pool (replicated to 7×7), DVS-Gesture
128 -> 4×4, Tiny-ImageNet 64 -> 2×2. BN is **per time step** (CLIF runs the net once per step; the
running stats are updated T times). Init: conv kaiming normal (fan_out, relu), conv bias 0, BN 1/0,
Linear N(0, 0.01) with bias 0. Dropout: one mask per sample shared over T (CLIF: p = 0.3 on
DVS-CIFAR10, 0.4 on Gesture). AdaLi's CIFAR10-DVS ``vgg11`` is this network with ``adali_if`` and
``dropout=0``.

References:
  Huang et al., *CLIF*, ICML 2024 (code ``HuuYuLong/Complementary-LIF``); spec
  ``tet_sml_clif.md`` §4.4.
"""

from __future__ import annotations

import functools
from typing import Sequence

import jax
from flax import nnx

import jsnn.neurons
import jsnn.nn as jn
from jsnn.models._common import (ConvNorm, Options, call, check_input, check_moved, preset,
                                 remat_call, spike_input)

__all__ = ["Model", "VGG11", "VGG13", "VGG11DVSCIFAR10", "VGG11Gesture", "VGG13TinyImageNet",
           "CFGS"]

CFGS = {
    "VGG11": ((64, "M"), (128, "M"), (256, 256, "M"), (512, 512, "M"), (512, 512, "M")),
    "VGG13": ((64, 64, "M"), (128, 128, "M"), (256, 256, "M"), (512, 512, "M"),
              (512, 512, "M")),
}


class _ConvUnit(nnx.Module):
  """``Conv2d(k3, p1, bias=0-init) -> BN -> neuron -> Dropout``."""

  def __init__(self, cin, cout, *, dropout, norm, T, neurons: Options, dtype, rngs):
    self.cn = ConvNorm(cin, cout, 3, padding=1, use_bias=True,
                       kernel_init=jn.kaiming_normal_fan_out(), bias_init=jn.zeros(), norm=norm,
                       T=T, dtype=dtype, rngs=rngs)
    self.sn = neurons.layer()
    self.drop = jn.Dropout(dropout, rngs=rngs if dropout > 0 else None)

  def __call__(self, x):
    return self.drop(self.sn(self.cn(x)))


class Model(nnx.Module):
  """CLIF's spiking VGG with BN.

  Args:
    num_classes: classes.
    T: time steps (DVS-CIFAR10 10, Gesture 20, Tiny-ImageNet 6).
    cfg: stage plan (``CFGS["VGG11"]`` / ``CFGS["VGG13"]``; ints are conv widths, ``"M"`` pools).
    dropout: time-shared dropout rate after every neuron.
    norm: normalisation kind (``"per_step"`` as CLIF).
    pool_size: adaptive pool output (7).
    input_kind, input_size, in_channels: expected input (``"frames"``, ``(48, 48)``, 2).
    options: :class:`~jsnn.models.Options` (default neuron ``clif``; ``remat="layer"``
      rematerialises every conv/norm/neuron unit or block; ``dtype`` is not applied to the first
      conv, which reads the analog input).
    rngs: NNX streams (``params``; ``dropout`` or ``default`` for the masks).
  """

  def __init__(self, *, num_classes: int, T: int, cfg: Sequence = CFGS["VGG11"],
               dropout: float = 0.0, norm: str = "per_step", pool_size: int = 7,
               input_kind: str = "frames", input_size: Sequence[int] | None = (48, 48),
               in_channels: int = 2, options: Options = Options(), rngs: nnx.Rngs, **moved):
    check_moved("spiking_vgg.Model", moved)
    neurons = options.resolve(jsnn.neurons.clif)
    dtype = neurons.dtype
    self.remat_layers = neurons.remat_layers
    self.T, self.input_kind, self.in_channels = T, input_kind, in_channels
    self.input_size = None if input_size is None else tuple(input_size)
    self.cfg = tuple(tuple(stage) for stage in cfg)
    self.pool_size = pool_size
    units, cin = [], in_channels
    for stage in self.cfg:
      for item in stage:
        if item != "M":
          units.append(_ConvUnit(cin, item, dropout=dropout, norm=norm, T=T, neurons=neurons,
                                 dtype=dtype if units else None, rngs=rngs))
          cin = item
    self.units = nnx.List(units)
    self.classifier = jn.Linear(cin * pool_size * pool_size, num_classes,
                                kernel_init=jn.normal(0.01), bias_init=jn.zeros(), dtype=dtype,
                                rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    """Frames ``[T, B, H, W, C]`` (or images ``[B, H, W, C]``) -> logits ``[T, B, classes]``.

    Raises:
      ValueError: at trace time, for a wrong layout, T, size or channel count.
    """
    h = check_input(x, T=self.T, input_kind=self.input_kind, input_size=self.input_size,
                    in_channels=self.in_channels, who="spiking_vgg.Model")
    units, prev = iter(self.units), None   # prev: the neuron whose spikes h is, if any
    for stage in self.cfg:
      for item in stage:
        if item == "M":
          h, prev = jn.avg_pool(h, 2), None
          continue
        unit = next(units)
        h = remat_call(self.remat_layers, call, unit, h, input_bits=spike_input(prev))
        prev = unit.sn if unit.drop.rate == 0 else None   # dropout scales kept spikes
    h = jn.adaptive_avg_pool(h, self.pool_size)
    return self.classifier(jn.flatten(h))


VGG11 = preset(Model, "CLIF spiking VGG-11-BN (default input: DVS-CIFAR10 frames 48×48×2).",
               cfg=CFGS["VGG11"])
VGG13 = preset(Model, "CLIF spiking VGG-13-BN (default input: DVS-CIFAR10 frames 48×48×2).",
               cfg=CFGS["VGG13"])
# The paper setups (spec §4.6).
VGG11DVSCIFAR10 = preset(Model, "CLIF DVS-CIFAR10: VGG-11, frames 48×48×2, T = 10, dropout 0.3.",
                         cfg=CFGS["VGG11"], dropout=0.3)
VGG11Gesture = preset(Model, "CLIF DVS-Gesture: VGG-11, frames 128×128×2, T = 20, dropout 0.4.",
                      cfg=CFGS["VGG11"], dropout=0.4, input_size=(128, 128))
VGG13TinyImageNet = preset(Model, "CLIF Tiny-ImageNet: VGG-13, images 64×64×3, T = 6.",
                           cfg=CFGS["VGG13"], input_kind="image", input_size=(64, 64),
                           in_channels=3)

_VGG11Tiny = functools.partial(
    Model, cfg=((4, "M"), (8, "M"), (8, 8, "M"), (8, 8, "M"), (8, 8, "M")), pool_size=2,
    input_size=(32, 32))
