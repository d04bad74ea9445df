"""Whole batches from in-memory arrays: the fast path for small datasets (the digits).

The per-example pipeline (`make_pipeline`) pays grain's per-element cost (~80 us on this 2-core
host, ~10k examples/s); a dataset that fits in memory can instead gather each batch with one fancy
index. It is still a grain `MapDataset` (one element per batch), so it shards, checkpoints and runs
in worker processes the same way.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import grain
import numpy as np

from jsnn.data._pipeline import _allow_worker_processes, _derive_seeds
from jsnn.data._sharding import host_shard


@dataclasses.dataclass(frozen=True)
class _BatchAt:
  """Global batch position `k` -> the batch (epoch `k // batches_per_epoch`, own permutation)."""

  arrays: dict[str, np.ndarray]
  batch_size: int
  batches_per_epoch: int
  shuffle: bool
  seed: int

  pad: bool = False

  def __call__(self, k: int, _: int) -> dict[str, np.ndarray]:
    epoch, j = divmod(int(k), self.batches_per_epoch)
    n = len(next(iter(self.arrays.values())))
    order = np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle else np.arange(n)
    idx = order[j * self.batch_size:(j + 1) * self.batch_size]
    if not self.pad:
      return {key: value[idx] for key, value in self.arrays.items()}
    rows = np.arange(j * self.batch_size, (j + 1) * self.batch_size)
    batch = {key: value[np.where(rows < n, rows, 0)] for key, value in self.arrays.items()}
    return {**batch, "mask": (rows < n).astype(np.float32)}


def array_pipeline(arrays: dict[str, np.ndarray], *, batch_size: int, seed: int = 0, shuffle: bool = False,
                   num_epochs: int | None = 1, drop_remainder: bool = False, pad_to_batch: bool = False,
                   finalize: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None = None,
                   shard_index: int | None = None, shard_count: int | None = None,
                   worker_count: int = 0) -> grain.IterDataset:
  """Batches of `{name: array[idx]}` from equal-length arrays, reshuffled every epoch.

  Args:
    arrays: `{name: [N, ...]}` (already preprocessed: float images, int32 labels, ...).
    batch_size: per-host batch size.
    seed: shuffle seed (a fresh permutation per epoch, from `(seed, shard, epoch)`).
    shuffle: shuffle within this host's shard.
    num_epochs: passes (`None` = forever).
    drop_remainder: drop each epoch's last partial batch (and trim to a multiple of `shard_count`).
    pad_to_batch: evaluation mode: pad the last batch with copies of row 0 so that every batch (and
      every host) has the same shape, and add `"mask"` (float32, 1 = real, 0 = padding).
    finalize: `batch -> batch` after gathering.
    shard_index, shard_count: per-host shard (`records[index::count]`); default from JAX.
    worker_count: worker processes (rarely useful here).

  Returns:
    a `grain.IterDataset` with checkpointable iterators.
  """
  sizes = {key: len(value) for key, value in arrays.items()}
  if not sizes or len(set(sizes.values())) != 1:
    raise ValueError(f"arrays must share their leading length, got {sizes}")
  if batch_size < 1:
    raise ValueError(f"batch_size must be >= 1, got {batch_size}")
  if pad_to_batch and (shuffle or drop_remainder):
    raise ValueError("pad_to_batch is for evaluation: no shuffle or drop_remainder")
  shard_index, shard_count = host_shard(shard_index, shard_count)
  total = next(iter(sizes.values()))
  stop = total - total % shard_count if drop_remainder else total
  shard = {key: np.asarray(value)[shard_index:stop:shard_count] for key, value in arrays.items()}
  n = len(next(iter(shard.values())))
  if pad_to_batch:  # every host: the batches of the longest shard
    batches = math.ceil(math.ceil(total / shard_count) / batch_size)
  else:
    batches = n // batch_size if drop_remainder else math.ceil(n / batch_size)
  if batches == 0:
    raise ValueError(f"shard {shard_index}/{shard_count} has {n} records, too few for one batch of {batch_size}")
  ds = grain.MapDataset.range(batches)
  if num_epochs != 1:
    ds = ds.repeat(num_epochs)
  ds = ds.map_with_index(_BatchAt(shard, batch_size, batches, shuffle, _derive_seeds(seed, shard_index)[0],
                                  pad_to_batch))
  if finalize is not None:
    ds = ds.map(finalize)
  it_ds = ds.to_iter_dataset(grain.ReadOptions(num_threads=1, prefetch_buffer_size=4))
  if worker_count > 0:
    _allow_worker_processes()
    it_ds = it_ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=worker_count))
  return it_ds
