"""The post-activation spiking ResNet shared by TET, SML, AdaLi and SpikingJelly (SEW) models.

Block (``connect="add"``; TET/SML ``BasicBlock``, AdaLi ``resnet_cifar``, SpikingJelly
``spiking_resnet``)::

    out = SN( BN(conv3x3(SN(BN(conv3x3_s(x))))) + shortcut(x) )
    shortcut = x, or BN(conv1x1_s(x)) when the shape changes

Block (``connect="sew_add"``; SpikingJelly ``sew_resnet`` with ``cnf='ADD'``)::

    out = SN(BN(conv3x3(SN(BN(conv3x3_s(x)))))) + shortcut(x)
    shortcut = x, or SN(BN(conv1x1_s(x))) when the shape changes

Layout ``[T, B, H, W, C]``; convs and BNs run on the time-folded batch, neurons scan over T. SML's
surrogate modules (:class:`SurrogateBlock`) can be attached after any block.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

import jsnn.nn as jn
from jsnn.models._common import (ConvNorm, NeuronOptions, apply_spike_fn, call, check_input,
                                  check_memory_options, remat_call, spatial_mean)

__all__ = ["BasicBlock", "SurrogateBlock", "SpikingResNet", "STEMS", "CONNECTS"]

STEMS = ("cifar", "imagenet", "imagenet_maxpool")
CONNECTS = ("add", "sew_add")


class BasicBlock(nnx.Module):
  """Post-activation spiking BasicBlock (see the module docstring).

  Args:
    cin, cout: channels.
    stride: stride of the first 3×3 conv and of the downsample.
    connect: ``"add"`` (spiking ResNet) or ``"sew_add"`` (SEW ADD).
    conv_init: kernel initialiser of every conv (None: PyTorch default).
    norm: normalisation kind; T: steps; neurons: :class:`NeuronOptions`; dtype: conv compute
      dtype; rngs: NNX streams.
  """

  def __init__(self, cin: int, cout: int, stride: int, *, connect: str, conv_init, norm: str,
               T: int, neurons: NeuronOptions, dtype=None, rngs: nnx.Rngs):
    kw = dict(kernel_init=conv_init, norm=norm, T=T, dtype=dtype, rngs=rngs)
    self.connect = connect
    self.cn1 = ConvNorm(cin, cout, 3, stride=stride, padding=1, **kw)
    self.sn1 = neurons.layer()
    self.cn2 = ConvNorm(cout, cout, 3, stride=1, padding=1, **kw)
    self.sn2 = neurons.layer()
    self.downsample = (ConvNorm(cin, cout, 1, stride=stride, **kw)
                       if stride != 1 or cin != cout else None)
    self.downsample_sn = (neurons.layer() if self.downsample is not None and connect == "sew_add"
                          else None)

  def __call__(self, x: jax.Array) -> jax.Array:
    """``[T, B, H, W, C_in] -> [T, B, H/s, W/s, C_out]`` spikes."""
    identity = x if self.downsample is None else self.downsample(x)
    if self.downsample_sn is not None:
      identity = self.downsample_sn(identity)
    out = self.cn2(self.sn1(self.cn1(x)))
    if self.connect == "sew_add":
      return self.sn2(out) + identity
    return self.sn2(out + identity)


class _ConvBNLeaky(nnx.Module):
  """SML ``Conv7/5/3/1``: ``Conv2d(bias=False) -> BN2d -> LeakyReLU(0.01)`` on ``[B, H, W, C]``."""

  _GEOMETRY = {7: (2, 3), 5: (2, 2), 3: (1, 1), 1: (1, 0)}   # kernel -> (stride, padding)

  def __init__(self, cin: int, cout: int, kernel: int, *, rngs: nnx.Rngs):
    if kernel not in self._GEOMETRY:
      raise ValueError(f"SurrogateBlock: kernels must be in {sorted(self._GEOMETRY)}, got "
                       f"{kernel}.")
    stride, padding = self._GEOMETRY[kernel]
    self.conv = jn.Conv(cin, cout, kernel, stride=stride, padding=padding, use_bias=False,
                        kernel_init=jn.kaiming_normal_fan_out(), rngs=rngs)
    self.bn = jn.BatchNorm(cout)

  def __call__(self, x):
    return jax.nn.leaky_relu(self.bn(self.conv(x)), 0.01)


class SurrogateBlock(nnx.Module):
  """SML's surrogate module: an ANN branch on the firing rate of a trunk block.

  ``[T, B, H, W, C_in]`` spikes -> mean over T -> convs (``Conv1`` first if ``C_in > C_out``, then
  one ``Conv7/5/3`` per kernel; otherwise the first kernel maps ``C_in -> C_out``) each
  ``Conv -> BN -> LeakyReLU(0.01)`` -> AdaptiveAvgPool 2×2 -> flatten -> Linear(4·C_out, 512) ->
  BN1d -> LeakyReLU(0.01) -> Linear(512, classes) -> ``[B, classes]``. Convs: kaiming normal
  (fan_out); BN 1/0; Linears PyTorch default.

  Args:
    cin: trunk channels at the attachment point.
    num_classes: classes.
    kernels: e.g. ``(7, 5, 3)`` (7: stride 2, 5: stride 2, 3: stride 1).
    width: ``C_out`` (SML's ``sb_pads``, 256 in the script).
    rngs: NNX streams.

  References:
    Deng et al., *Surrogate Module Learning*, ICML 2023 (``models/surrogate_block.py``).
  """

  def __init__(self, cin: int, num_classes: int, *, kernels: Sequence[int] = (7, 5, 3),
               width: int = 256, rngs: nnx.Rngs):
    kernels = tuple(kernels)
    if not kernels:
      raise ValueError("SurrogateBlock: kernels must not be empty.")
    if cin > width:
      plan = [(cin, width, 1)] + [(width, width, k) for k in kernels]
    else:
      plan = [(cin, width, kernels[0])] + [(width, width, k) for k in kernels[1:]]
    self.convs = nnx.List([_ConvBNLeaky(a, b, k, rngs=rngs) for a, b, k in plan])
    self.fc1 = jn.Linear(4 * width, 512, rngs=rngs)
    self.bn1d = jn.BatchNorm(512)
    self.fc2 = jn.Linear(512, num_classes, rngs=rngs)

  def __call__(self, spikes: jax.Array) -> jax.Array:
    """``[T, B, H, W, C_in]`` spikes -> ``[B, num_classes]`` logits."""
    h = jnp.mean(spikes, axis=0)                      # firing rate [B, H, W, C]
    for conv in self.convs:
      h = conv(h)
    h = jn.flatten(jn.adaptive_avg_pool(h, 2))
    h = jax.nn.leaky_relu(self.bn1d(self.fc1(h)), 0.01)
    return self.fc2(h)


class SpikingResNet(nnx.Module):
  """Configurable post-activation spiking ResNet (the engine of several zoo models).

  Args:
    num_classes: classes.
    T: time steps.
    depths: blocks per stage, e.g. ``(2, 2, 2, 2)``.
    widths: channels per stage.
    strides: stride of each stage's first block.
    neurons: :class:`NeuronOptions`.
    stem: ``"cifar"`` (conv3×3 s1 → BN → SN), ``"imagenet"`` (conv7×7 s2 p3 → BN → SN, SML) or
      ``"imagenet_maxpool"`` (… → MaxPool 3/2/1, SpikingJelly).
    stem_width: stem channels.
    connect: ``"add"`` or ``"sew_add"`` (see the module docstring).
    head_hidden: None for ``fc(C -> classes)``; ``256`` for ResNet-19's
      ``fc1(512 -> 256) -> SN -> fc2(256 -> classes)``.
    conv_init: kernel initialiser of every trunk conv (None: PyTorch default).
    linear_init, linear_bias_init: head initialisers (None: PyTorch default).
    norm: normalisation kind of the trunk (``jsnn.nn.NORM_KINDS``).
    input_kind: ``"image"`` (``[B, H, W, C]``, repeated T times) or ``"frames"``
      (``[T, B, H, W, C]``).
    input_size: expected ``(H, W)``, or None to accept any size.
    in_channels: expected ``C``.
    sb_after: 1-based indices of the blocks after which a :class:`SurrogateBlock` is attached
      (SML's cumulative ``sb_poi``; ``(3, 6)`` = its ``[3, 3]``). Empty: plain model.
    sb_kernels: one kernel tuple per surrogate module (default ``(7, 5, 3)`` each).
    sb_width: surrogate-module width (``sb_pads``).
    detach: stop the surrogate modules' gradient at their input (the trunk then receives none).
    detach_trunk: SML's ``use_detach=True``: cut the *trunk* after each attachment point.
    name: used in error messages.
    remat: memory-bounded BPTT, one of ``jsnn.models._common.REMAT_MODES``: None (plain
      autodiff); ``"layer"``: rematerialise every stem unit (conv -> BN -> SN) and BasicBlock
      (the backward keeps only its input); ``"step"``: each neuron step rematerialised; an int
      ``k``: chunked time in every neuron (``T % k == 0``). Gradients are unchanged.
    residuals: every neuron's ``residuals`` (``"default"`` / ``"minimal"``, see
      :func:`jsnn.neurons.run`).
    dtype: compute dtype of the convs and linears that read spikes (e.g. ``jnp.bfloat16``;
      operands cast, float32 accumulation, see :class:`jsnn.nn.Conv`). The first conv, which reads
      the analog input, norms and membrane potentials stay in the input's dtype (float32): the
      image rounded to bfloat16 alone flips ~0.14% of first-layer spikes. None: no casts.
    rngs: NNX streams.
  """

  def __init__(self, *, num_classes: int, T: int, depths: Sequence[int],
               widths: Sequence[int], strides: Sequence[int], neurons: NeuronOptions,
               stem: str = "cifar", stem_width: int = 64, connect: str = "add",
               head_hidden: int | None = None, conv_init=None, linear_init=None,
               linear_bias_init=None, norm: str = "time_merged", input_kind: str = "image",
               input_size: Sequence[int] | None = (32, 32), in_channels: int = 3,
               sb_after: Sequence[int] = (), sb_kernels: Sequence[Sequence[int]] | None = None,
               sb_width: int = 256, detach: bool = False, detach_trunk: bool = False,
               name: str = "SpikingResNet", remat: str | int | None = None,
               residuals: str = "default", dtype=None, rngs: nnx.Rngs):
    check_memory_options(remat, residuals, dtype, who=name)
    neurons = dataclasses.replace(neurons, remat=remat, residuals=residuals)
    self.remat_layers = remat == "layer"
    if stem not in STEMS:
      raise ValueError(f"{name}: stem must be one of {STEMS}, got {stem!r}.")
    if connect not in CONNECTS:
      raise ValueError(f"{name}: connect must be one of {CONNECTS}, got {connect!r}.")
    if not len(depths) == len(widths) == len(strides):
      raise ValueError(f"{name}: depths, widths and strides must have equal lengths.")
    self.T, self.num_classes, self.model_name = T, num_classes, name
    self.input_kind, self.in_channels = input_kind, in_channels
    self.input_size = None if input_size is None else tuple(input_size)
    self.stem_kind, self.detach, self.detach_trunk = stem, detach, detach_trunk
    k, s, p = (3, 1, 1) if stem == "cifar" else (7, 2, 3)
    self.stem = ConvNorm(in_channels, stem_width, k, stride=s, padding=p, kernel_init=conv_init,
                         norm=norm, T=T, rngs=rngs)
    self.stem_sn = neurons.layer()
    blocks, channels, cin = [], [], stem_width
    for depth, width, stride in zip(depths, widths, strides):
      for i in range(depth):
        blocks.append(BasicBlock(cin, width, stride if i == 0 else 1, connect=connect,
                                 conv_init=conv_init, norm=norm, T=T, neurons=neurons,
                                 dtype=dtype, rngs=rngs))
        channels.append(width)
        cin = width
    self.blocks = nnx.List(blocks)
    head = dict(kernel_init=linear_init, bias_init=linear_bias_init, dtype=dtype, rngs=rngs)
    if head_hidden is None:
      self.fc1, self.fc_sn = None, None
      self.fc = jn.Linear(cin, num_classes, **head)
    else:
      self.fc1 = jn.Linear(cin, head_hidden, **head)
      self.fc_sn = neurons.layer()
      self.fc = jn.Linear(head_hidden, num_classes, **head)
    self.sb_after = tuple(int(i) for i in sb_after)
    if any(not 1 <= i <= len(blocks) for i in self.sb_after) or len(set(self.sb_after)) != len(
        self.sb_after):
      raise ValueError(f"{name}: sb_after must hold distinct block indices in 1..{len(blocks)}, "
                       f"got {self.sb_after}.")
    kernels = [tuple(kk) for kk in (sb_kernels or [(7, 5, 3)] * len(self.sb_after))]
    if len(kernels) != len(self.sb_after):
      raise ValueError(f"{name}: need one sb_kernels entry per surrogate module.")
    self.surrogate_blocks = nnx.List([
        SurrogateBlock(channels[i - 1], num_classes, kernels=kk, width=sb_width, rngs=rngs)
        for i, kk in zip(self.sb_after, kernels)])

  def __call__(self, x: jax.Array, *, spike_fn: Any = None):
    """Per-step logits ``[T, B, num_classes]`` (or SML's list, see below).

    Args:
      x: ``[B, H, W, C]`` images (``input_kind="image"``) or ``[T, B, H, W, C]`` frames.
      spike_fn: if given, the surrogate of every spiking layer for this call (same family as the
        model's; e.g. AdaLi's per-epoch widths from the trainer's ``method_state``).

    Returns:
      ``[T, B, num_classes]``; with surrogate modules the list ``[o_snn, o_sb1, ..., o_sbN]`` with
      ``o_snn [T, B, num_classes]`` (SML's loss takes ``o_snn.mean(0)``) and each ``o_sbk [B,
      num_classes]``.

    Raises:
      ValueError: at trace time, for an input of the wrong layout, T, size or channels.
    """
    h = check_input(x, T=self.T, input_kind=self.input_kind, input_size=self.input_size,
                    in_channels=self.in_channels, who=self.model_name)
    apply_spike_fn(self, spike_fn)
    h = remat_call(self.remat_layers, _stem_unit, self.stem, self.stem_sn, h)
    if self.stem_kind == "imagenet_maxpool":
      h = jn.max_pool(h, 3, 2, padding=1)
    aux = []
    for i, block in enumerate(self.blocks, start=1):
      h = remat_call(self.remat_layers, call, block, h)
      if i in self.sb_after:
        sb = self.surrogate_blocks[self.sb_after.index(i)]
        aux.append(sb(jax.lax.stop_gradient(h) if self.detach else h))
        if self.detach_trunk:
          h = jax.lax.stop_gradient(h)
    h = spatial_mean(h)
    if self.fc1 is not None:
      h = self.fc_sn(self.fc1(h))
    out = self.fc(h)
    return [out] + aux if self.sb_after else out


def _stem_unit(stem, stem_sn, x):
  return stem_sn(stem(x))
