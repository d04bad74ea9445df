"""TET's VGGSNN and VGGSNN-woAP for DVS-CIFAR10 (48×48, 2 polarity channels, T = 10 frames).

Layout (``models/VGG_models.py``; ``Layer = Conv2d(k3, s, p1, bias) -> BN -> LIF``)::

    VGGSNN      2->64, 64->128, AP2, 128->256, 256->256, AP2, 256->512, 512->512, AP2,
                512->512, 512->512, AP2                          (48 -> 24 -> 12 -> 6 -> 3)
    VGGSNN-woAP the pools replaced by stride-2 convs in layers 2, 4, 6, 8
    head        flatten -> Linear(512·3·3 = 4608 -> classes)

AvgPool outputs are **not** re-spiked (averaged spikes feed the next conv). BN is time-merged.
Init: conv weights kaiming normal (fan_out, relu), conv biases and Linear PyTorch default, BN 1/0.
Neuron: TET's LIF. Input: event frames ``[T, B, 48, 48, 2]``; output per-step logits
``[T, B, classes]``.

References:
  Deng et al., TET, ICLR 2022 (``models/VGG_models.py``); spec ``tet_sml_clif.md`` §2.4.
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

__all__ = ["Model", "VGGSNN", "VGGSNNwoAP", "CFG_VGGSNN", "CFG_VGGSNN_WOAP"]

# (out_channels, stride) per Layer, "A" = AvgPool2d(2).
CFG_VGGSNN = ((64, 1), (128, 1), "A", (256, 1), (256, 1), "A", (512, 1), (512, 1), "A",
              (512, 1), (512, 1), "A")
CFG_VGGSNN_WOAP = ((64, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 2), (512, 1),
                   (512, 2))


def _out_size(size: int, cfg) -> int:
  for item in cfg:
    if item == "A":
      size //= 2
    elif item[1] == 2:
      size = (size + 2 - 3) // 2 + 1
  return size


class _Layer(nnx.Module):
  """TET ``Layer``: ``Conv2d(k3, s, p1, bias) -> BN -> LIF``."""

  def __init__(self, cin, cout, stride, *, norm, T, neurons: Options, dtype, rngs):
    self.cn = ConvNorm(cin, cout, 3, stride=stride, padding=1, use_bias=True,
                       kernel_init=jn.kaiming_normal_fan_out(), norm=norm, T=T, dtype=dtype,
                       rngs=rngs)
    self.sn = neurons.layer()

  def __call__(self, x):
    return self.sn(self.cn(x))


class Model(nnx.Module):
  """TET's VGG-style SNN for event frames.

  Args:
    num_classes: classes (10).
    T: time steps (10 frames).
    cfg: layer plan (:data:`CFG_VGGSNN` or :data:`CFG_VGGSNN_WOAP`).
    norm: normalisation kind (``"time_merged"``).
    input_kind, input_size, in_channels: expected input (``"frames"``, ``(48, 48)``, 2).
    options: :class:`~jsnn.models.Options` (default neuron ``tet_lif``; ``remat="layer"``
      rematerialises every conv/norm/neuron unit or block; ``dtype`` is not applied to the first
      conv, which reads the analog input).
    rngs: NNX streams.
  """

  def __init__(self, *, num_classes: int, T: int, cfg: Sequence = CFG_VGGSNN,
               norm: str = "time_merged", input_kind: str = "frames",
               input_size: Sequence[int] = (48, 48), in_channels: int = 2,
               options: Options = Options(), rngs: nnx.Rngs, **moved):
    check_moved("vggsnn.Model", moved)
    neurons = options.resolve(jsnn.neurons.tet_lif)
    dtype = neurons.dtype
    self.remat_layers = neurons.remat_layers
    self.T, self.input_kind, self.in_channels = T, input_kind, in_channels
    self.input_size = tuple(input_size)
    self.cfg = tuple(cfg)
    layers, cin = [], in_channels
    for item in self.cfg:
      if item == "A":
        continue
      cout, stride = item
      layers.append(_Layer(cin, cout, stride, norm=norm, T=T, neurons=neurons,
                           dtype=dtype if layers else None, rngs=rngs))
      cin = cout
    self.layers = nnx.List(layers)
    h, w = (_out_size(s, self.cfg) for s in self.input_size)
    self.classifier = jn.Linear(cin * h * w, num_classes, dtype=dtype, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    """``[T, B, 48, 48, 2]`` frames -> per-step logits ``[T, B, num_classes]``.

    Raises:
      ValueError: at trace time, for a wrong layout, T, size or channel count.
    """
    h = check_input(x, T=self.T, input_kind=self.input_kind, input_size=self.input_size,
                    in_channels=self.in_channels, who="vggsnn.Model")
    layers, prev = iter(self.layers), None   # prev: the layer whose spikes h is, if any
    for item in self.cfg:
      if item == "A":
        h, prev = jn.avg_pool(h, 2), None
        continue
      layer = next(layers)
      h = remat_call(self.remat_layers, call, layer, h, input_bits=spike_input(prev))
      prev = layer.sn
    return self.classifier(jn.flatten(h))


VGGSNN = preset(Model, "TET VGGSNN (DVS-CIFAR10 frames [T=10, B, 48, 48, 2]).", cfg=CFG_VGGSNN)
VGGSNNwoAP = preset(Model, "TET VGGSNN without average pooling (stride-2 convs; the Gus-Lab DVS "
                    "script's model).", cfg=CFG_VGGSNN_WOAP)

# Test-only: VGGSNN's layout at 1/16 width on 16×16 frames.
_VGGSNNTiny = functools.partial(
    Model, cfg=((4, 1), (8, 1), "A", (8, 1), (8, 1), "A", (16, 1), (16, 1), "A", (16, 1),
                (16, 1), "A"), input_size=(16, 16))
