"""SML's surrogate modules and the wrapper that attaches them to any staged spiking trunk.

A *staged* trunk exposes ``embed(x)``, ``stage(i, h)`` for ``i < len(stage_channels)``,
``head(h)`` and ``stage_channels`` (``jsnn.models``' ResNets do; so can a user's ``nnx.Module``).
:class:`SurrogateModuleNet` runs the trunk stage by stage and feeds the spikes after the chosen
stages to ANN surrogate modules (SML's :class:`SurrogateBlock` by default), returning the list
``[o_snn [T, B, C], o_1 [B, C], ...]`` that ``jsnn.losses.sml`` scores.

References:
  Deng, Lin, Li, Gu, *Surrogate Module Learning: Reduce the Gradient Error Accumulation in
  Training Spiking Neural Networks*, ICML 2023 (code ``brain-intelligence-lab/
  surrogate_module_learning``: ``models/surrogate_block.py``, ``models/ResNet.py:145-177``).
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

import jsnn.nn as jn

__all__ = ["SurrogateBlock", "SurrogateModuleNet", "STAGED_API", "check_staged"]

# What a trunk must expose for surrogate modules.
STAGED_API = ("embed", "stage", "head", "stage_channels")


def check_staged(trunk: nnx.Module, who: str) -> None:
  """Raises ``ValueError`` naming what is missing when ``trunk`` is not a staged network."""
  missing = [name for name in STAGED_API if not hasattr(trunk, name)]
  if missing:
    raise ValueError(
        f"{who}: {type(trunk).__name__} does not expose its stages (missing {missing}); surrogate "
        f"modules need a trunk with {', '.join(STAGED_API)} (the jsnn.models ResNets have them; "
        "a custom model can define them: embed(x) -> h, stage(i, h) -> h, head(h) -> logits, "
        "stage_channels = channels after each stage).")


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


class SurrogateModuleNet(nnx.Module):
  """A staged spiking trunk with surrogate modules after some of its stages (SML).

  ``__call__(x)`` returns ``[o_snn, o_1, ..., o_N]``: the trunk's per-step logits ``o_snn [T, B,
  C]`` and each module's logits ``o_k [B, C]`` from the spikes after stage ``after[k] - 1``.

  Args:
    trunk: a staged network (see the module docstring); it is called stage by stage.
    after: 1-based indices of the stages after which a module is attached (SML's cumulative
      ``sb_poi``; ``(3, 6)`` = its ``[3, 3]``).
    num_classes: classes of each module's output.
    kernels: one kernel tuple per module for :class:`SurrogateBlock` (default ``(7, 5, 3)``).
    width: :class:`SurrogateBlock` width (``sb_pads``, 256 in the script).
    module_factory: builds a module ``module_factory(cin, num_classes, rngs=...)`` instead of a
      :class:`SurrogateBlock` (a smaller ANN branch for small inputs).
    detach: stop the modules' gradient at their input (the trunk then receives none from them).
    detach_trunk: SML's ``use_detach=True``: cut the *trunk* after each attachment point.
    rngs: NNX streams.

  Raises:
    ValueError: a trunk without stages, indices outside ``1..len(stage_channels)`` or repeated,
      or a ``kernels`` list of the wrong length.
  """

  def __init__(self, trunk: nnx.Module, *, after: Sequence[int], num_classes: int,
               kernels: Sequence[Sequence[int]] | None = None, width: int = 256,
               module_factory: Callable[..., nnx.Module] | None = None, detach: bool = False,
               detach_trunk: bool = False, rngs: nnx.Rngs):
    check_staged(trunk, "SurrogateModuleNet")
    channels = tuple(trunk.stage_channels)
    self.after = tuple(int(i) for i in after)
    if (not self.after or any(not 1 <= i <= len(channels) for i in self.after)
        or len(set(self.after)) != len(self.after)):
      raise ValueError(f"SurrogateModuleNet: after must hold distinct stage indices in "
                       f"1..{len(channels)}, got {self.after}.")
    kernels = [tuple(k) for k in (kernels or [(7, 5, 3)] * len(self.after))]
    if len(kernels) != len(self.after):
      raise ValueError(f"SurrogateModuleNet: need one kernels entry per module ({len(self.after)}),"
                       f" got {len(kernels)}.")
    self.trunk = trunk
    self.detach, self.detach_trunk = detach, detach_trunk
    if module_factory is None:
      modules = [SurrogateBlock(channels[i - 1], num_classes, kernels=k, width=width, rngs=rngs)
                 for i, k in zip(self.after, kernels)]
    else:
      modules = [module_factory(channels[i - 1], num_classes, rngs=rngs) for i in self.after]
    self.surrogate_blocks = nnx.List(modules)

  def __call__(self, x: jax.Array) -> list[jax.Array]:
    """``[o_snn [T, B, C], o_1 [B, C], ..., o_N [B, C]]`` for the trunk's input ``x``."""
    h = self.trunk.embed(x)
    aux = []
    for i in range(len(self.trunk.stage_channels)):
      h = self.trunk.stage(i, h)
      if i + 1 in self.after:
        module = self.surrogate_blocks[self.after.index(i + 1)]
        aux.append(module(jax.lax.stop_gradient(h) if self.detach else h))
        if self.detach_trunk:
          h = jax.lax.stop_gradient(h)
    return [self.trunk.head(h)] + aux
