"""TIT: time inheritance training: train at a small T, then continue at larger T.

The stage schedule is not in the official code; ``stages`` gives it as ``[(T, epochs), ...]``
(e.g. ``[(2, 40), (4, 30), (6, 30)]``, a reconstruction where the paper gives no schedule). The
host sets every module's ``T`` at a stage boundary (:func:`jsnn.methods.set_time_steps`), which
changes the static graph: the step compiles once per stage, and parameters carry over (no
parameter has a time axis; per-step BN and TEBN, which do, are refused).

References:
  Deng et al., *Temporal Efficient Training of Spiking Neural Network via Gradient Re-weighting*,
  ICLR 2022 (time inheritance training); ``jsnn.transforms.tit_schedule``.
"""

from __future__ import annotations

from typing import Sequence

from flax import nnx

from jsnn import nn as jn
from jsnn import transforms
from jsnn.methods._core import Method

__all__ = ["tit"]


def _check_no_time_parameters(model: nnx.Module) -> None:
  for path, module in nnx.iter_modules(model):
    if isinstance(module, (jn.PerStepBatchNorm, jn.TemporalEffectiveBatchNorm)):
      where = "/".join(map(str, path))
      raise ValueError(f"tit: layer {where!r} ({type(module).__name__}) has parameters per time "
                       "step, so a state trained at one T cannot continue at another; use "
                       "time-merged BN (norm='time_merged') with TIT.")


def tit(stages: Sequence) -> Method:
  """TIT with ``stages = [(T, epochs), ...]`` (``jsnn.transforms.TITStage`` or pairs).

  ``time_steps(epoch)`` gives the stage's T; after the last stage the last T stays.
  """
  schedule = [T for _, T, _ in transforms.tit_schedule(stages)]   # validates the stages
  if not schedule:
    raise ValueError(f"tit: the stages {list(stages)!r} have no epochs.")
  last = schedule[-1]

  def time_steps(epoch: int) -> int:
    return schedule[epoch] if 0 <= epoch < len(schedule) else last

  return Method("tit", time_steps=time_steps, check_model=_check_no_time_parameters)
