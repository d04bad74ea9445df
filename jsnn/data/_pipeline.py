"""The one grain pipeline every dataset in `jsnn.data` goes through.

`source -> [even per-host shard] -> shuffle(seed, reshuffled every epoch) -> repeat(num_epochs)
-> map(preprocess) -> random_map(augment) -> batch -> map(finalize) -> to_iter_dataset -> [mp_prefetch]`

Everything before `to_iter_dataset` is a random-access `grain.MapDataset`, so the output of step `k`
is a pure function of `(seed, shard, k)`: the same with 0 or N worker processes, and an iterator's
`get_state()` / `set_state()` is just a position (plus worker bookkeeping) that goes into a checkpoint.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import grain
import numpy as np

from jsnn.data._sharding import host_shard

Record = Any
Preprocess = Callable[[Record], Any]
Augment = Callable[[Any, np.random.Generator], Any]


def _derive_seeds(seed: int, shard_index: int) -> tuple[int, int]:
  """Shuffle and augmentation seeds, distinct per host so shards do not share augmentation draws."""
  shuffle_seed, augment_seed = np.random.SeedSequence([int(seed), int(shard_index)]).generate_state(2)
  return int(shuffle_seed), int(augment_seed)


def _allow_worker_processes() -> None:
  """grain's worker processes read absl flags; mark them parsed (with defaults) if nobody did.

  Without this grain 0.2.18 fails with `UnparsedFlagAccessError ... before flags were parsed` when the
  host program does not use absl (platform notes §1). Flags parsed by an absl `app.run` are left alone.
  """
  from absl import flags  # pylint: disable=g-import-not-at-top

  if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()


@dataclasses.dataclass(frozen=True)
class _PaddedShard:
  """Position `i` of a padded per-host eval shard -> `(record, mask)`; past the data: record 0, mask 0."""

  source: Any
  total: int
  shard_index: int
  shard_count: int

  def __call__(self, i: int) -> tuple[Record, np.float32]:
    g = self.shard_index + int(i) * self.shard_count
    return (self.source[g], np.float32(1.0)) if g < self.total else (self.source[0], np.float32(0.0))


@dataclasses.dataclass(frozen=True)
class _WithMask:
  """Applies `preprocess` to the record of a `(record, mask)` pair and adds `"mask"`."""

  preprocess: Preprocess | None

  def __call__(self, pair: tuple[Record, np.float32]) -> dict[str, Any]:
    record, mask = pair
    example = record if self.preprocess is None else self.preprocess(record)
    return {**example, "mask": mask}


def padded_length(total: int, shard_count: int, batch_size: int) -> int:
  """Per-host length of a padded eval shard: the same whole number of batches on every host."""
  per_host = -(-total // shard_count)
  return -(-per_host // batch_size) * batch_size


def make_pipeline(
    source: Sequence[Record] | grain.sources.RandomAccessDataSource,
    *,
    batch_size: int,
    seed: int = 0,
    shuffle: bool = False,
    num_epochs: int | None = 1,
    drop_remainder: bool = False,
    pad_to_batch: bool = False,
    preprocess: Preprocess | None = None,
    augment: Augment | None = None,
    finalize: Callable[[Any], Any] | None = None,
    shard_index: int | None = None,
    shard_count: int | None = None,
    worker_count: int = 0,
    worker_buffer_size: int = 2,
    read_threads: int = 16,
    prefetch_buffer_size: int = 256,
) -> grain.IterDataset:
  """Builds a sharded, shuffled, augmented, batched and checkpointable grain pipeline.

  Args:
    source: random-access records (`tfds.data_source(...)`, a grain source or a list).
    batch_size: per-host batch size.
    seed: base seed of the shuffle and of every augmentation draw (deterministic given the seed).
    shuffle: shuffle the records of every epoch (a different permutation per epoch).
    num_epochs: passes over the data; `None` repeats forever.
    drop_remainder: drop the last partial batch. With `shard_count > 1` it also trims the split to a
      multiple of `shard_count`, so every host yields the same number of batches.
    pad_to_batch: evaluation mode: keep every record, pad the last batch (with copies of record 0)
      so that all batches have `batch_size` rows and every host the same number of batches, and add
      `"mask"` (float32, 1 = real record, 0 = padding). Not with `shuffle`, `augment` or `drop_remainder`.
    preprocess: deterministic `record -> example` (decode, select fields, eval transforms).
    augment: random `(example, rng) -> example`; `rng` is a `np.random.Generator` seeded from
      `(seed, shard, position)`, so the draws do not depend on worker count or restarts.
    finalize: `batch -> batch` applied after batching (e.g. the `[B, T] -> [T, B]` transpose).
    shard_index, shard_count: this host's shard; default `jax.process_index()/process_count()`.
    worker_count: worker processes for preprocessing (0 = in this process, with `read_threads`).
      Transforms must then be picklable (module-level functions or dataclasses), the main
      program needs an `if __name__ == "__main__":` guard, and iterators should be `close()`d and
      dropped when done (grain otherwise tears the workers down noisily at interpreter exit).
    worker_buffer_size: batches each worker prepares ahead.
    read_threads, prefetch_buffer_size: grain `ReadOptions` of the in-process read stage.

  Returns:
    A `grain.IterDataset`; `it = iter(ds)` yields batches, `it.get_state()` / `it.set_state(s)`
    save and restore the position.

  Raises:
    ValueError: bad sizes, or a shard that is too small to yield a single batch.
  """
  if batch_size < 1 or worker_count < 0 or (num_epochs is not None and num_epochs < 1):
    raise ValueError(f"need batch_size >= 1, worker_count >= 0, num_epochs >= 1 or None; got {batch_size}, "
                     f"{worker_count}, {num_epochs}")
  shard_index, shard_count = host_shard(shard_index, shard_count)
  shuffle_seed, augment_seed = _derive_seeds(seed, shard_index)
  if pad_to_batch:
    if shuffle or augment is not None or drop_remainder:
      raise ValueError("pad_to_batch is for evaluation: no shuffle, augment or drop_remainder")
    ds = grain.MapDataset.range(padded_length(len(source), shard_count, batch_size))
    ds = ds.map(_PaddedShard(source, len(source), shard_index, shard_count)).map(_WithMask(preprocess))
  else:
    ds = _shard(source, shard_index, shard_count, batch_size, drop_remainder)
    if shuffle:
      ds = ds.shuffle(seed=shuffle_seed)
  if num_epochs != 1:
    ds = ds.repeat(num_epochs)
  if preprocess is not None and not pad_to_batch:
    ds = ds.map(preprocess)
  if augment is not None:
    ds = ds.random_map(augment, seed=augment_seed)
  ds = ds.batch(batch_size, drop_remainder=drop_remainder)
  if finalize is not None:
    ds = ds.map(finalize)
  return _finish(ds, worker_count, worker_buffer_size, read_threads, prefetch_buffer_size)


def _shard(source, shard_index: int, shard_count: int, batch_size: int, drop_remainder: bool) -> grain.MapDataset:
  """This host's records `[index::count]` (of a split trimmed to a multiple of count if dropping)."""
  ds = grain.MapDataset.source(source)
  total = len(ds)
  if drop_remainder and shard_count > 1:
    ds = ds[: total - total % shard_count]
  ds = ds[shard_index::shard_count]
  if len(ds) == 0 or (drop_remainder and len(ds) < batch_size):
    raise ValueError(f"shard {shard_index}/{shard_count} of a {total}-record split has {len(ds)} "
                     f"records, too few for one batch of {batch_size} (drop_remainder={drop_remainder})")
  return ds


def _finish(ds: grain.MapDataset, worker_count: int, worker_buffer_size: int, read_threads: int,
            prefetch_buffer_size: int) -> grain.IterDataset:
  read_options = grain.ReadOptions(num_threads=read_threads, prefetch_buffer_size=prefetch_buffer_size)
  it_ds = ds.to_iter_dataset(read_options)
  if worker_count > 0:
    _allow_worker_processes()
    it_ds = it_ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=worker_count,
                                                           per_worker_buffer_size=worker_buffer_size))
  return it_ds
