"""SpikingJelly's ``DVSGestureNet`` as used by AdaLi on DVS128 Gesture (128×128×2 frames).

Layout (``spikingjelly.activation_based.model.parametric_lif_net.DVSGestureNet``, channels 128)::

    5 x [Conv2d(k3, p1, no bias) -> BN -> neuron -> MaxPool2d(2)]     (128 -> 4)
    flatten -> Dropout(0.5) -> Linear(128·4·4 -> 512) -> neuron
            -> Dropout(0.5) -> Linear(512 -> 110) -> neuron -> VotingLayer(10)  -> 11 classes

The voting layer averages groups of 10 output neurons' spikes, so the per-step output ``[T, B, 11]``
is a firing rate in [0, 1], not a logit. BN is time-merged (SpikingJelly multi-step); dropout masks
are shared over T; PyTorch default init. Neuron: AdaLi's LIF (τ = 1.1, decay_input, soft reset).

References:
  Fang et al., *SpikingJelly*, Science Advances 2023; Hou et al., *AdaLi* (README DVSGesture
  command); spec ``adali_psg_family.md`` §1.6.
"""

from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

import jsnn.neurons
import jsnn.nn as jn
from jsnn.models._common import (ConvNorm, Options, check_input, check_moved, preset, remat_call,
                                 spike_input)

__all__ = ["Model", "DVSGestureNet", "voting"]


def voting(x: jax.Array, group: int) -> jax.Array:
  """SpikingJelly ``VotingLayer(group)``: group means ``[..., N] -> [..., N/group]``."""
  if x.shape[-1] % group:
    raise ValueError(f"voting: the last axis ({x.shape[-1]}) must be a multiple of {group}.")
  return jnp.mean(x.reshape(x.shape[:-1] + (x.shape[-1] // group, group)), axis=-1)


class Model(nnx.Module):
  """DVSGestureNet.

  Args:
    num_classes: classes (11).
    T: time steps (16 in AdaLi's command).
    channels: conv width (128).
    num_convs: conv stages (5).
    hidden: hidden dense width (512).
    voting_group: neurons per class in the voting layer (10).
    dropout: dropout rate of the two dense dropouts (0.5).
    norm: normalisation kind (``"time_merged"``).
    input_kind, input_size, in_channels: expected input (``"frames"``, ``(128, 128)``, 2).
    options: :class:`~jsnn.models.Options` (default neuron ``adali_lif``; ``remat="layer"``
      rematerialises every conv/norm/neuron unit or block; ``dtype`` is not applied to the first
      conv, which reads the analog input).
    rngs: NNX streams.
  """

  def __init__(self, *, num_classes: int, T: int, channels: int = 128, num_convs: int = 5,
               hidden: int = 512, voting_group: int = 10, dropout: float = 0.5,
               norm: str = "time_merged", input_kind: str = "frames",
               input_size: Sequence[int] = (128, 128), in_channels: int = 2,
               options: Options = Options(), rngs: nnx.Rngs, **moved):
    check_moved("dvs_gesture_net.Model", moved)
    neurons = options.resolve(jsnn.neurons.adali_lif)
    dtype = neurons.dtype
    self.remat_layers = neurons.remat_layers
    self.T, self.input_kind, self.in_channels = T, input_kind, in_channels
    self.input_size = tuple(input_size)
    self.voting_group = voting_group
    convs, sns, cin = [], [], in_channels
    for _ in range(num_convs):
      convs.append(ConvNorm(cin, channels, 3, padding=1, norm=norm, T=T,
                            dtype=dtype if convs else None, rngs=rngs))
      sns.append(neurons.layer())
      cin = channels
    self.convs, self.conv_sns = nnx.List(convs), nnx.List(sns)
    side = [s // 2 ** num_convs for s in self.input_size]
    self.drop1 = jn.Dropout(dropout, rngs=rngs)
    self.fc1 = jn.Linear(channels * side[0] * side[1], hidden, dtype=dtype, rngs=rngs)
    self.sn1 = neurons.layer()
    self.drop2 = jn.Dropout(dropout, rngs=rngs)
    self.fc2 = jn.Linear(hidden, num_classes * voting_group, dtype=dtype, rngs=rngs)
    self.sn2 = neurons.layer()

  def __call__(self, x: jax.Array) -> jax.Array:
    """Frames ``[T, B, 128, 128, 2]`` -> per-step class rates ``[T, B, classes]``.

    Raises:
      ValueError: at trace time, for a wrong layout, T, size or channel count.
    """
    h = check_input(x, T=self.T, input_kind=self.input_kind, input_size=self.input_size,
                    in_channels=self.in_channels, who="dvs_gesture_net.Model")
    prev = None   # max-pooled spikes are spikes: each stage after the first keeps 1 bit each
    for conv, sn in zip(self.convs, self.conv_sns):
      h = remat_call(self.remat_layers, _stage, conv, sn, h, input_bits=spike_input(prev))
      prev = sn
    h = self.sn1(self.fc1(self.drop1(jn.flatten(h))))
    h = self.sn2(self.fc2(self.drop2(h)))
    return voting(h, self.voting_group)


def _stage(conv, sn, x):
  return jn.max_pool(sn(conv(x)), 2)


DVSGestureNet = preset(Model, "SpikingJelly DVSGestureNet (DVS128 Gesture frames 128×128×2; AdaLi: "
                       "LIF τ = 1.1, T = 16).", channels=128, num_convs=5)

_DVSGestureNetTiny = functools.partial(Model, channels=4, num_convs=2, hidden=8,
                                       input_size=(16, 16))
