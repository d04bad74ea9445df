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
from typing import Any

import grain
import numpy as np
import tensorflow_datasets as tfds

from jsnn.data._arrays import array_pipeline

SPLIT_SEED = 0
TEST_FRACTION = 0.2


class SklearnDigits(tfds.core.GeneratorBasedBuilder):
  """scikit-learn's 1797 8x8 handwritten digits (UCI optdigits test set), split 1437/360."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Stratified 80/20 split with random_state=0."}

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=__doc__,
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Tensor(shape=(8, 8, 1), dtype=np.uint8),
            "label": tfds.features.ClassLabel(num_classes=10),
        }),
        supervised_keys=("image", "label"),
        homepage="https://scikit-learn.org/stable/modules/generated/sklearn.datasets.load_digits.html",
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
    del dl_manager  # the data ships with scikit-learn
    try:
      from sklearn.datasets import load_digits  # pylint: disable=g-import-not-at-top
      from sklearn.model_selection import train_test_split  # pylint: disable=g-import-not-at-top
    except ImportError as err:
      raise ImportError("the sklearn_digits dataset needs scikit-learn: pip install scikit-learn") from err
    digits = load_digits()
    images = digits.images.astype(np.uint8)[..., None]
    labels = digits.target.astype(np.int64)
    train_idx, test_idx = train_test_split(np.arange(labels.size), test_size=TEST_FRACTION, stratify=labels,
                                           random_state=SPLIT_SEED)
    return {"train": self._generate_examples(images, labels, train_idx),
            "test": self._generate_examples(images, labels, test_idx)}

  def _generate_examples(self, images: np.ndarray, labels: np.ndarray, indices: np.ndarray):
    for i in indices:
      yield int(i), {"image": images[i], "label": int(labels[i])}


def prepare_digits(data_dir: str | os.PathLike[str]) -> SklearnDigits:
  """Returns the `sklearn_digits` builder in `data_dir`, writing its ArrayRecord files if missing."""
  builder = SklearnDigits(data_dir=os.fspath(data_dir), file_format="array_record")
  if not builder.is_prepared():
    builder.download_and_prepare()
  return builder


def load_digits_split(data_dir: str | os.PathLike[str], split: str = "train") -> dict[str, np.ndarray]:
  """A whole digits split read through `data_source`: `{"image": float32 [N, 8, 8, 1] in [0, 1], "label": int32 [N]}`.

  Records come back in the stored (key-hash) order of the ArrayRecord file.
  """
  source = prepare_digits(data_dir).as_data_source(split=split)
  records = source.__getitems__(list(range(len(source))))
  return {"image": np.stack([r["image"] for r in records]).astype(np.float32) / np.float32(16.0),
          "label": np.asarray([r["label"] for r in records], np.int32)}


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
