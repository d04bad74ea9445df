"""`sklearn_digits`: scikit-learn's packaged 8x8 digits as a TFDS ArrayRecord dataset, offline.

The real-data path of the default run and the offline end-to-end test of TFDS builder ->
ArrayRecord -> `data_source` -> grain. `load_digits()` ships inside the scikit-learn wheel
(`sklearn/datasets/data/digits.csv.gz`), so preparing needs no network and takes about a second.

Splits: stratified 80/20 with `random_state=0` (`train_test_split(..., test_size=0.2, stratify=y)`),
the quickstart's split: `train` 1437, `test` 360 examples. Images are stored as uint8 `[8, 8, 1]`
with values 0..16 and served as float32 `x / 16` in [0, 1].
"""

from __future__ import annotations

import os

import grain
import numpy as np

from jsnn.data import _packaged
from jsnn.data._arrays import array_pipeline


class SklearnDigits(_packaged.PackagedImages):
  """scikit-learn's 1797 8x8 handwritten digits (UCI optdigits test set), split 1437/360."""

  IMAGE_SHAPE = (8, 8, 1)
  HOMEPAGE = "https://scikit-learn.org/stable/modules/generated/sklearn.datasets.load_digits.html"

  def _load_arrays(self) -> tuple[np.ndarray, np.ndarray]:
    try:
      from sklearn.datasets import load_digits  # pylint: disable=g-import-not-at-top
    except ImportError as err:
      raise ImportError("the sklearn_digits dataset needs scikit-learn: pip install scikit-learn") from err
    digits = load_digits()
    return digits.images.astype(np.uint8)[..., None], digits.target.astype(np.int64)


def prepare_digits(data_dir: str | os.PathLike[str]) -> SklearnDigits:
  """Returns the `sklearn_digits` builder in `data_dir`, writing its ArrayRecord files if missing."""
  return _packaged.prepare(SklearnDigits, data_dir)


def load_digits_split(data_dir: str | os.PathLike[str], split: str = "train") -> dict[str, np.ndarray]:
  """A whole digits split read through `data_source`: `{"image": float32 [N, 8, 8, 1] in [0, 1], "label": int32 [N]}`.

  Records come back in the stored (key-hash) order of the ArrayRecord file.
  """
  return _packaged.load_split(prepare_digits(data_dir), split, 16.0)


def _flatten_images(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  return {**batch, "image": batch["image"].reshape(batch["image"].shape[0], -1)}


def digits_pipeline(data_dir: str | os.PathLike[str], split: str = "train", *, batch_size: int, seed: int = 0,
                    shuffle: bool | None = None, num_epochs: int | None = 1, drop_remainder: bool = False,
                    pad_to_batch: bool = False, flatten: bool = False, shard_index: int | None = None, shard_count: int | None = None,
                    worker_count: int = 0) -> grain.IterDataset:
  """Batches `{"image": float32 [B, 8, 8, 1], "label": int32 [B]}` of the digits, preparing them if needed.

  The split (1437 or 360 tiny records) is read once through `tfds.data_source` and batched from memory
  with `array_pipeline` (~10^6 images/s instead of grain's ~10^4 per-example rate).

  Args:
    data_dir: TFDS data dir (the dataset goes to `<data_dir>/sklearn_digits/1.0.0/`).
    split: `"train"` (1437) or `"test"` (360), or a TFDS slice.
    batch_size: per-host batch size.
    seed: shuffle seed (a new permutation every epoch).
    shuffle: default `split.startswith("train")`.
    num_epochs: passes (`None` = forever).
    drop_remainder: drop the last partial batch of each epoch (default keeps it: the sets are small).
    pad_to_batch: evaluation batches padded to `batch_size` with a `"mask"` (see `array_pipeline`).
    flatten: images as `[B, 64]` (for MLPs) instead of `[B, 8, 8, 1]`.
    shard_index, shard_count, worker_count: see `make_pipeline`.

  Returns:
    a `grain.IterDataset` (iterators have `get_state` / `set_state`).
  """
  shuffle = split.startswith("train") if shuffle is None else shuffle
  return array_pipeline(load_digits_split(data_dir, split), batch_size=batch_size, seed=seed, shuffle=shuffle,
                        num_epochs=num_epochs, drop_remainder=drop_remainder, pad_to_batch=pad_to_batch,
                        finalize=_flatten_images if flatten else None, shard_index=shard_index,
                        shard_count=shard_count, worker_count=worker_count)
