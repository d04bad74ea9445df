"""The data contract of the trainer, and an in-memory implementation of it.

The trainer never imports ``jsnn.data``; it receives an object with this interface
(:class:`TrainData`), built by :mod:`jsnn.train.cli` from the config:

* ``steps_per_epoch``: number of training steps (global batches) per epoch;
* ``train_iterator(position=None)``: an iterator of **host-local** training batches (dicts of numpy
  arrays, ``batch_size / process_count`` rows each, every batch the same shape), positioned at
  ``position``, a value previously returned by its ``get_state()`` (``None``: the start). The
  position must be JSON-serialisable (a grain ``DataLoader`` iterator's state dict qualifies);
  restoring it must reproduce exactly the batches that would have followed;
* ``eval_batches()``: a fresh iterable over the evaluation set, host-local batches of one fixed
  shape; the last batch is padded and carries ``mask`` (1 = real example, 0 = padding);
* optionally ``batch_axes``: ``{key: axis}`` for keys whose batch axis is not 0, e.g.
  ``{"frames": 1}`` for time-major ``[T, B, ...]`` frames; the trainer shards and assembles those
  arrays along that axis (never along ``T``). Labels (``label``, ``[B]``) are checked on the host.

:class:`ArrayData` implements it for arrays that fit in memory (sklearn digits, mock data);
:class:`IteratorData` adapts checkpointable iterables such as grain datasets (``iter(ds)`` with
``get_state()`` / ``set_state()``), e.g. ``jsnn.data``'s pipelines.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping, Protocol

import numpy as np

__all__ = ["TrainIterator", "TrainData", "ArrayData", "IteratorData"]

Batch = dict[str, np.ndarray]


class TrainIterator(Protocol):
  """An iterator of training batches whose position can be saved."""

  def __next__(self) -> Batch: ...

  def get_state(self) -> Any: ...


class TrainData(Protocol):
  """What ``train_and_evaluate`` needs from the data side (see the module docstring)."""

  steps_per_epoch: int

  def train_iterator(self, position: Any = None) -> TrainIterator: ...

  def eval_batches(self) -> Iterable[Batch]: ...


class _ArrayIterator:
  """Epoch-wise shuffled batches; the position is ``{"epoch": e, "index": i}``."""

  def __init__(self, data: "ArrayData", epoch: int, index: int):
    self._data, self._epoch, self._index = data, epoch, index
    self._perm = data.permutation(epoch)

  def __iter__(self) -> "_ArrayIterator":
    return self

  def __next__(self) -> Batch:
    d = self._data
    if self._index >= d.steps_per_epoch:
      self._epoch, self._index = self._epoch + 1, 0
      self._perm = d.permutation(self._epoch)
    rows = self._perm[self._index * d.batch_size:(self._index + 1) * d.batch_size]
    self._index += 1
    return d.local_rows(d.train, rows)

  def get_state(self) -> dict[str, int]:
    return {"epoch": self._epoch, "index": self._index}


class ArrayData:
  """In-memory :class:`TrainData`: shuffles each epoch with ``default_rng((seed, epoch))``.

  Args:
    train: dict of training arrays with equal leading size (e.g. ``image``, ``label``).
    test: dict of evaluation arrays.
    batch_size: global training batch size; the ragged remainder of each epoch is dropped.
    eval_batch_size: global evaluation batch size (default ``batch_size``).
    seed: shuffling seed.
    process_index, process_count: this host's share of every global batch (rows
      ``[i * n / P, (i + 1) * n / P)``).
    eval_max_batches: optional cap on the number of evaluation batches (``runlocal`` configs).

  Examples:
    >>> x, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    >>> data = ArrayData({"x": x, "y": y}, {"x": x, "y": y}, batch_size=4, eval_batch_size=4)
    >>> data.steps_per_epoch, [b["mask"].tolist() for b in data.eval_batches()][-1]
    (2, [1.0, 1.0, 0.0, 0.0])
  """

  def __init__(self, train: Mapping[str, np.ndarray], test: Mapping[str, np.ndarray], *,
               batch_size: int, eval_batch_size: int | None = None, seed: int = 0,
               process_index: int = 0, process_count: int = 1,
               eval_max_batches: int | None = None):
    self.train = {k: np.asarray(v) for k, v in train.items()}
    self.test = {k: np.asarray(v) for k, v in test.items()}
    self.batch_size = int(batch_size)
    self.eval_batch_size = int(eval_batch_size or batch_size)
    self.seed, self.eval_max_batches = int(seed), eval_max_batches
    self.process_index, self.process_count = int(process_index), int(process_count)
    for name, size in (("batch_size", self.batch_size), ("eval_batch_size", self.eval_batch_size)):
      if size <= 0 or size % self.process_count:
        raise ValueError(f"{name}={size} must be positive and divisible by the "
                         f"{self.process_count} processes.")
    self.num_train = _num_rows("train", self.train)
    self.num_test = _num_rows("test", self.test)
    self.steps_per_epoch = self.num_train // self.batch_size
    if self.steps_per_epoch == 0:
      raise ValueError(f"batch_size={self.batch_size} exceeds the {self.num_train} training "
                       "examples.")

  def permutation(self, epoch: int) -> np.ndarray:
    """The training order of ``epoch`` (a pure function of ``seed`` and ``epoch``)."""
    return np.random.default_rng((self.seed, int(epoch))).permutation(self.num_train)

  def local_rows(self, arrays: Mapping[str, np.ndarray], rows: np.ndarray) -> Batch:
    """This process's share of the global batch ``rows``."""
    n = len(rows) // self.process_count
    mine = rows[self.process_index * n:(self.process_index + 1) * n]
    return {k: v[mine] for k, v in arrays.items()}

  def train_iterator(self, position: Any = None) -> _ArrayIterator:
    """Batches from ``position`` (``{"epoch", "index"}``, or ``None`` for the start)."""
    position = position or {"epoch": 0, "index": 0}
    return _ArrayIterator(self, int(position["epoch"]), int(position["index"]))

  def eval_batches(self) -> Iterator[Batch]:
    """The test set in order, padded to ``eval_batch_size`` with ``mask``."""
    size, n = self.eval_batch_size, self.num_test
    num_batches = -(-n // size)
    if self.eval_max_batches:
      num_batches = min(num_batches, int(self.eval_max_batches))
    for b in range(num_batches):
      rows = np.arange(b * size, (b + 1) * size)
      mask = (rows < n).astype(np.float32)
      batch = self.local_rows(self.test, np.minimum(rows, n - 1))
      batch["mask"] = self.local_rows({"mask": mask}, np.arange(size))["mask"]
      yield batch


class IteratorData:
  """:class:`TrainData` over iterables whose iterators have ``get_state()`` / ``set_state()``.

  Args:
    train: an iterable of host-local training batches that never ends (e.g. a grain
      ``IterDataset`` with ``num_epochs=None`` and ``drop_remainder=True``); ``iter(train)`` must
      start from the beginning and its iterators must support ``get_state``/``set_state``.
    eval: an iterable of host-local, padded evaluation batches with ``mask``; iterated afresh
      at every evaluation.
    steps_per_epoch: global batches per epoch (e.g. ``num_train // batch_size``).

  Examples:
    >>> import grain
    >>> ds = grain.MapDataset.source(list(range(10))).repeat(None).batch(4).to_iter_dataset()
    >>> data = IteratorData(ds, [], steps_per_epoch=2)
    >>> it = data.train_iterator(); _ = next(it); position = it.get_state()
    >>> next(data.train_iterator(position)).tolist()
    [4, 5, 6, 7]
  """

  def __init__(self, train: Iterable, eval: Iterable, *, steps_per_epoch: int):  # noqa: A002
    self.train, self.eval, self.steps_per_epoch = train, eval, int(steps_per_epoch)

  def train_iterator(self, position: Any = None) -> TrainIterator:
    """``iter(train)``, moved to ``position`` with ``set_state`` when given."""
    iterator = iter(self.train)
    if position is not None:
      iterator.set_state(position)
    return iterator

  def eval_batches(self) -> Iterable[Batch]:
    return iter(self.eval)


def _num_rows(name: str, arrays: Mapping[str, np.ndarray]) -> int:
  sizes = {k: len(v) for k, v in arrays.items()}
  if not sizes or len(set(sizes.values())) != 1:
    raise ValueError(f"{name} arrays must be non-empty with one leading size, got {sizes}.")
  return next(iter(sizes.values()))
