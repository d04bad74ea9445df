"""CLIF's pre-activation spiking ResNet-18/34 (``models/spiking_resnet.py``, from SLTT/OTTT).

Layout::

    conv1   Conv2d(c_in -> 64, k3, s1, p1, no bias)        (no BN / neuron before layer1)
    PreActBlock(in, out, stride), convs with bias:
        x   = SN1(BN1(x_in))                               # spikes
        o   = conv3x3_s(x)
        o   = conv3x3(Dropout(SN2(BN2(o))))
        out = o + shortcut(x)     # identity, or conv1x1_s(bias) of the SPIKES x, no BN
    layers  64 (s1), 128 (s2), 256 (s2), 512 (s2); ResNet-18 [2, 2, 2, 2], ResNet-34 [3, 4, 6, 3]
    head    BN(512) -> SN -> AvgPool2d(4) -> flatten -> Dropout -> Linear(512 -> classes)

BN is **per time step** (CLIF's single-step execution). Init: conv weights kaiming normal (fan_out,
relu), conv biases PyTorch default U(±1/√fan_in), BN 1/0, Linear weight default and bias 0.
Dropout masks are shared over T. Neuron: CLIF (Rectangle surrogate). Input: CIFAR ``[B, 32, 32,
3]`` repeated T times (T = 6 in the paper); output per-step logits ``[T, B, classes]``.

References:
  Huang et al., *CLIF*, ICML 2024; spec ``tet_sml_clif.md`` §4.4.
"""

from __future__ import annotations

import functools
from typing import Sequence

import jax
from flax import nnx

import jsnn.neurons
import jsnn.nn as jn
from jsnn.models._common import (Options, call, check_input, check_moved, preset, remat_call)

__all__ = ["Model", "PreActBlock", "ResNet18", "ResNet34"]


class PreActBlock(nnx.Module):
  """Pre-activation spiking BasicBlock (module docstring)."""

  def __init__(self, cin: int, cout: int, stride: int, *, dropout: float, norm: str, T: int,
               neurons: Options, dtype=None, rngs: nnx.Rngs):
    conv = dict(use_bias=True, kernel_init=jn.kaiming_normal_fan_out(), dtype=dtype, rngs=rngs)
    self.bn1 = jn.make_norm(norm, cin, T=T)
    self.sn1 = neurons.layer()
    self.conv1 = jn.Conv(cin, cout, 3, stride=stride, padding=1, **conv)
    self.bn2 = jn.make_norm(norm, cout, T=T)
    self.sn2 = neurons.layer()
    self.drop = jn.Dropout(dropout, rngs=rngs if dropout > 0 else None)
    self.conv2 = jn.Conv(cout, cout, 3, padding=1, **conv)
    self.shortcut = (jn.Conv(cin, cout, 1, stride=stride, **conv)
                     if stride != 1 or cin != cout else None)

  def __call__(self, x_in: jax.Array) -> jax.Array:
    """``[T, B, H, W, C_in]`` analog -> ``[T, B, H/s, W/s, C_out]`` analog."""
    x = self.sn1(self.bn1(x_in))
    out = self.conv2(self.drop(self.sn2(self.bn2(self.conv1(x)))))
    return out + (x if self.shortcut is None else self.shortcut(x))


class Model(nnx.Module):
  """CLIF's PreAct spiking ResNet.

  Args:
    num_classes: classes.
    T: time steps (6).
    depths, widths: stages (ResNet-18 ``(2, 2, 2, 2)``, ``(64, 128, 256, 512)``).
    dropout: time-shared dropout rate (``neuron_dropout``, 0 in the CIFAR runs).
    norm: normalisation kind (``"per_step"``).
    input_kind, input_size, in_channels: expected input (``"image"``, ``(32, 32)``, 3).
    options: :class:`~jsnn.models.Options` (default neuron ``clif``; ``remat="layer"``
      rematerialises every conv/norm/neuron unit or block; ``dtype`` is not applied to the first
      conv, which reads the analog input).
    rngs: NNX streams.
  """

  def __init__(self, *, num_classes: int, T: int, depths: Sequence[int] = (2, 2, 2, 2),
               widths: Sequence[int] = (64, 128, 256, 512), stem_width: int = 64,
               dropout: float = 0.0, norm: str = "per_step", input_kind: str = "image",
               input_size: Sequence[int] = (32, 32), in_channels: int = 3,
               options: Options = Options(), rngs: nnx.Rngs, **moved):
    check_moved("preact_resnet.Model", moved)
    neurons = options.resolve(jsnn.neurons.clif)
    dtype = neurons.dtype
    self.remat_layers = neurons.remat_layers
    self.T, self.input_kind, self.in_channels = T, input_kind, in_channels
    self.input_size = tuple(input_size)
    self.conv1 = jn.Conv(in_channels, stem_width, 3, padding=1, use_bias=False,
                         kernel_init=jn.kaiming_normal_fan_out(), rngs=rngs)
    blocks, cin = [], stem_width
    for i, (depth, width) in enumerate(zip(depths, widths)):
      for j in range(depth):
        stride = 2 if i > 0 and j == 0 else 1
        blocks.append(PreActBlock(cin, width, stride, dropout=dropout, norm=norm, T=T,
                                  neurons=neurons, dtype=dtype, rngs=rngs))
        cin = width
    self.blocks = nnx.List(blocks)
    self.bn = jn.make_norm(norm, cin, T=T)
    self.sn = neurons.layer()
    self.drop = jn.Dropout(dropout, rngs=rngs if dropout > 0 else None)
    side = [s // 2 ** (len(depths) - 1) for s in self.input_size]
    flat = cin * ((side[0] - 4) // 4 + 1) * ((side[1] - 4) // 4 + 1)
    self.linear = jn.Linear(flat, num_classes, bias_init=jn.zeros(), dtype=dtype, rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    """Images ``[B, 32, 32, 3]`` -> per-step logits ``[T, B, classes]``.

    Raises:
      ValueError: at trace time, for a wrong layout, size or channel count.
    """
    h = check_input(x, T=self.T, input_kind=self.input_kind, input_size=self.input_size,
                    in_channels=self.in_channels, who="preact_resnet.Model")
    h = self.conv1(h)
    for block in self.blocks:
      h = remat_call(self.remat_layers, call, block, h)
    h = jn.avg_pool(self.sn(self.bn(h)), 4)
    return self.linear(self.drop(jn.flatten(h)))


ResNet18 = preset(Model, "CLIF spiking_resnet18 (PreAct; CIFAR 32×32×3, T = 6).",
                  depths=(2, 2, 2, 2))
ResNet34 = preset(Model, "CLIF spiking_resnet34 (PreAct; CIFAR 32×32×3).", depths=(3, 4, 6, 3))

_ResNet18Tiny = functools.partial(Model, depths=(1, 1, 1, 1), widths=(4, 8, 8, 8), stem_width=4)
