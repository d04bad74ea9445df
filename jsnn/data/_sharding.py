"""Per-host sharding: which slice of a dataset this process reads in multi-host training."""

from __future__ import annotations


def host_shard(shard_index: int | None = None, shard_count: int | None = None) -> tuple[int, int]:
  """Returns `(shard_index, shard_count)`, defaulting to this JAX process's place among all processes.

  Every host reads a disjoint `1/shard_count` of each split (`records[shard_index::shard_count]`), the
  layout `grain.sharding.ShardByJaxProcess` uses. Pass both numbers explicitly to override (tests,
  or a data-parallel layout that is not one shard per process).

  Args:
    shard_index: this host's shard, `0 <= shard_index < shard_count`; default `jax.process_index()`.
    shard_count: number of shards; default `jax.process_count()`.

  Returns:
    `(shard_index, shard_count)` as ints.

  Raises:
    ValueError: if the pair is not a valid shard.
  """
  if shard_index is None or shard_count is None:
    import jax  # pylint: disable=g-import-not-at-top  (only when a default is needed)

    shard_index = jax.process_index() if shard_index is None else shard_index
    shard_count = jax.process_count() if shard_count is None else shard_count
  shard_index, shard_count = int(shard_index), int(shard_count)
  if shard_count < 1 or not 0 <= shard_index < shard_count:
    raise ValueError(f"need 0 <= shard_index < shard_count, got shard_index={shard_index}, "
                     f"shard_count={shard_count}")
  return shard_index, shard_count
