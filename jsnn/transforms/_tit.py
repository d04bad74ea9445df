"""TIT (time inheritance training): train at a small T, then continue at larger T.

In TET-style networks T is only a repetition count (no parameter has a T axis), so the train state
from a T = 2 stage loads unchanged at T = 4. The official TET repositories contain no TIT code; the
stage schedule (which T values, how many epochs each) is **[?]** (read it from the paper's TIT
table). This module only sequences user callables; T is passed as a Python int, so each stage's
jitted step compiles once for its T.

References:
  Deng et al., *Temporal Efficient Training of Spiking Neural Network via Gradient Re-weighting*,
  ICLR 2022 (section on time inheritance training).
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, NamedTuple, Sequence

__all__ = ["TITStage", "tit_schedule", "time_inheritance_training"]


class TITStage(NamedTuple):
  """One stage: `epochs` epochs at `T` time steps."""

  T: int
  epochs: int


def _stages(stages: Sequence) -> list[TITStage]:
  out = []
  for i, s in enumerate(stages):
    if isinstance(s, dict):
      s = TITStage(**s)
    T, epochs = s
    if int(T) != T or T < 1 or int(epochs) != epochs or epochs < 0:
      raise ValueError(f"stage {i}: expected (T, epochs) with integer T >= 1 and epochs >= 0, "
                       f"got {tuple(s)!r}.")
    out.append(TITStage(int(T), int(epochs)))
  if not out:
    raise ValueError("expected at least one (T, epochs) stage, got none.")
  return out


def tit_schedule(stages: Sequence) -> Iterator[tuple[int, int, int]]:
  """Yields `(stage_index, T, epoch)` for every epoch, with a global 0-based `epoch` counter.

  Args:
    stages: `[(T, epochs), ...]`, e.g. `[(2, 80), (4, 20)]`, or `TITStage`s.
  """
  epoch = 0
  for i, stage in enumerate(_stages(stages)):
    for _ in range(stage.epochs):
      yield i, stage.T, epoch
      epoch += 1


def time_inheritance_training(stages: Sequence, state: Any,
                              train_epoch: Callable[[Any, int, int], Any], *,
                              on_stage_end: Callable[[Any, int, TITStage], Any] | None = None
                              ) -> Any:
  """Runs `train_epoch` over the stages, carrying the train state from one T to the next.

  Args:
    stages: `[(T, epochs), ...]`.
    state: the initial train state (any pytree; params plus optimiser state).
    train_epoch: `train_epoch(state, T, epoch) -> state`, with `epoch` counted across stages (so
      learning-rate and surrogate schedules continue).
    on_stage_end: optional `on_stage_end(state, stage_index, stage) -> state` hook, e.g. to
      evaluate, checkpoint or reset the optimiser between stages.

  Returns:
    The final train state.

  Examples:
    >>> time_inheritance_training([(2, 2), (4, 1)], [], lambda s, T, e: s + [(T, e)])
    [(2, 0), (2, 1), (4, 2)]
  """
  stages = _stages(stages)
  last = None
  for i, T, epoch in tit_schedule(stages):
    if on_stage_end is not None and last is not None and i != last:
      state = on_stage_end(state, last, stages[last])
    state, last = train_epoch(state, T, epoch), i
  if on_stage_end is not None and last is not None:
    state = on_stage_end(state, last, stages[last])
  return state
