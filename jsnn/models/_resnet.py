"""The post-activation spiking ResNet shared by TET, SML, AdaLi and SpikingJelly (SEW) models.

Block (``connect="add"``; TET/SML ``BasicBlock``, AdaLi ``resnet_cifar``, SpikingJelly
``spiking_resnet``)::

    out = SN( BN(conv3x3(SN(BN(conv3x3_s(x))))) + shortcut(x) )
    shortcut = x, or BN(conv1x1_s(x)) when the shape changes

Block (``connect="sew_add"``; SpikingJelly ``sew_resnet`` with ``cnf='ADD'``)::

    out = SN(BN(conv3x3(SN(BN(conv3x3_s(x)))))) + shortcut(x)
    shortcut = x, or SN(BN(conv1x1_s(x))) when the shape changes

Layout ``[T, B, H, W, C]``; convs and BNs run on the time-folded batch, neurons scan over T. The
network exposes its stages (``embed`` -> ``stage(i)`` for each block -> ``head``), so SML's
surrogate modules attach after any block from outside (:class:`jsnn.models.SurrogateModuleNet`).
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

import jsnn.nn as jn
from jsnn.models._common import (ConvNorm, Options, call, check_input, remat_call,
                                  spatial_mean, spike_input)

__all__ = ["BasicBlock", "SpikingResNet", "STEMS", "CONNECTS"]

STEMS = ("cifar", "imagenet", "imagenet_maxpool")
CONNECTS = ("add", "sew_add")


class BasicBlock(nnx.Module):
  """Post-activation spiking BasicBlock (see the module docstring).

  Args:
    cin, cout: channels.
    stride: stride of the first 3×3 conv and of the downsample.
    connect: ``"add"`` (spiking ResNet) or ``"sew_add"`` (SEW ADD).
    conv_init: kernel initialiser of every conv (None: PyTorch default).
    norm: normalisation kind; T: steps; options: resolved :class:`~jsnn.models.Options` (neuron
      and compute dtype); rngs: NNX streams.
  """

  def __init__(self, cin: int, cout: int, stride: int, *, connect: str, conv_init, norm: str,
               T: int, options: Options, rngs: nnx.Rngs):
    kw = dict(kernel_init=conv_init, norm=norm, T=T, dtype=options.dtype, rngs=rngs)
    neurons = options
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


class SpikingResNet(nnx.Module):
  """Configurable post-activation spiking ResNet (the engine of several zoo models).

  A staged network: ``embed`` (input check + stem) -> ``stage(i, h)`` for each BasicBlock ->
  ``head`` (spatial mean + classifier); ``stage_channels[i]`` is block ``i``'s output width.
  :class:`jsnn.models.SurrogateModuleNet` (SML) attaches modules between stages.

  Args:
    num_classes: classes.
    T: time steps.
    depths: blocks per stage, e.g. ``(2, 2, 2, 2)``.
    widths: channels per stage.
    strides: stride of each stage's first block.
    stem: ``"cifar"`` (conv3×3 s1 → BN → SN), ``"imagenet"`` (conv7×7 s2 p3 → BN → SN, SML) or
      ``"imagenet_maxpool"`` (… → MaxPool 3/2/1, SpikingJelly).
    stem_width: stem channels.
    connect: ``"add"`` or ``"sew_add"`` (see the module docstring).
    head_hidden: None for ``fc(C -> classes)``; ``256`` for ResNet-19's
      ``fc1(512 -> 256) -> SN -> fc2(256 -> classes)``.
    inits: ``(conv_init, linear_init, linear_bias_init)`` (None: PyTorch defaults).
    norm: normalisation kind of the trunk (``jsnn.nn.NORM_KINDS``).
    input_kind: ``"image"`` (``[B, H, W, C]``, repeated T times) or ``"frames"``
      (``[T, B, H, W, C]``).
    input_size: expected ``(H, W)``, or None to accept any size.
    in_channels: expected ``C``.
    name: used in error messages.
    options: :class:`~jsnn.models.Options` with ``neuron`` set (neuron, surrogate, learnable
      constants, ``remat``: ``"layer"`` rematerialises the stem unit and every BasicBlock,
      ``residuals``, ``dtype`` of the convs and linears that read spikes).
    rngs: NNX streams.
  """

  def __init__(self, *, num_classes: int, T: int, depths: Sequence[int],
               widths: Sequence[int], strides: Sequence[int], stem: str = "cifar",
               stem_width: int = 64, connect: str = "add", head_hidden: int | None = None,
               inits: tuple = (None, None, None), norm: str = "time_merged",
               input_kind: str = "image", input_size: Sequence[int] | None = (32, 32),
               in_channels: int = 3, name: str = "SpikingResNet", options: Options,
               rngs: nnx.Rngs):
    if options.neuron is None:
      raise ValueError(f"{name}: options.neuron must be set (options.resolve(default)).")
    if stem not in STEMS:
      raise ValueError(f"{name}: stem must be one of {STEMS}, got {stem!r}.")
    if connect not in CONNECTS:
      raise ValueError(f"{name}: connect must be one of {CONNECTS}, got {connect!r}.")
    if not len(depths) == len(widths) == len(strides):
      raise ValueError(f"{name}: depths, widths and strides must have equal lengths.")
    conv_init, linear_init, linear_bias_init = inits
    self.remat_layers = options.remat_layers
    self.T, self.num_classes, self.model_name = T, num_classes, name
    self.input_kind, self.in_channels = input_kind, in_channels
    self.input_size = None if input_size is None else tuple(input_size)
    self.stem_kind = stem
    k, s, p = (3, 1, 1) if stem == "cifar" else (7, 2, 3)
    self.stem = ConvNorm(in_channels, stem_width, k, stride=s, padding=p, kernel_init=conv_init,
                         norm=norm, T=T, rngs=rngs)
    self.stem_sn = options.layer()
    blocks, channels, cin = [], [], stem_width
    for depth, width, stride in zip(depths, widths, strides):
      for i in range(depth):
        blocks.append(BasicBlock(cin, width, stride if i == 0 else 1, connect=connect,
                                 conv_init=conv_init, norm=norm, T=T, options=options,
                                 rngs=rngs))
        channels.append(width)
        cin = width
    self.blocks = nnx.List(blocks)
    self.stage_channels = tuple(channels)
    head = dict(kernel_init=linear_init, bias_init=linear_bias_init, dtype=options.dtype,
                rngs=rngs)
    if head_hidden is None:
      self.fc1, self.fc_sn = None, None
      self.fc = jn.Linear(cin, num_classes, **head)
    else:
      self.fc1 = jn.Linear(cin, head_hidden, **head)
      self.fc_sn = options.layer()
      self.fc = jn.Linear(head_hidden, num_classes, **head)

  # -- the stages (SurrogateModuleNet calls these) -----------------------------------------------
  def embed(self, x: jax.Array) -> jax.Array:
    """Input ``[B, H, W, C]`` images or ``[T, B, H, W, C]`` frames -> stem spikes
    ``[T, B, H', W', stem_width]``.

    Raises:
      ValueError: at trace time, for an input of the wrong layout, T, size or channels.
    """
    h = check_input(x, T=self.T, input_kind=self.input_kind, input_size=self.input_size,
                    in_channels=self.in_channels, who=self.model_name)
    h = remat_call(self.remat_layers, _stem_unit, self.stem, self.stem_sn, h)
    if self.stem_kind == "imagenet_maxpool":
      h = jn.max_pool(h, 3, 2, padding=1)
    return h

  def stage(self, i: int, h: jax.Array) -> jax.Array:
    """Block ``i`` (0-based): ``[T, B, H, W, C] -> [T, B, H', W', stage_channels[i]]``."""
    return remat_call(self.remat_layers, call, self.blocks[i], h,
                      input_bits=spike_input(self._spiking_output(i - 1)))

  def _spiking_output(self, i: int):
    """The neuron whose spikes are the output of stage ``i`` (``-1``: the stem), or None when
    that output is not plain spikes (SEW's ``spikes + identity``)."""
    if i < 0:
      return self.stem_sn      # max-pooled stem spikes are spikes too
    block = self.blocks[i]
    return block.sn2 if block.connect == "add" else None

  def head(self, h: jax.Array) -> jax.Array:
    """Last block's spikes ``[T, B, H, W, C]`` -> logits ``[T, B, num_classes]``."""
    h = spatial_mean(h)
    if self.fc1 is not None:
      h = self.fc_sn(self.fc1(h))
    return self.fc(h)

  def __call__(self, x: jax.Array) -> jax.Array:
    """Per-step logits ``[T, B, num_classes]`` for ``x`` (see :meth:`embed`)."""
    h = self.embed(x)
    for i in range(len(self.blocks)):
      h = self.stage(i, h)
    return self.head(h)


def _stem_unit(stem, stem_sn, x):
  return stem_sn(stem(x))
