"""Small labelled image sets that ship inside a Python package, as offline TFDS ArrayRecord builders.

The shared part of `sklearn_digits` and `mnist5k`: a builder whose examples come from arrays a
package already holds (no download), split 80/20 stratified with `random_state=0`, stored as uint8
`[H, W, 1]` images and read back whole through `tfds.data_source`.
"""

from __future__ import annotations

import abc
import os
import sys
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

SPLIT_SEED = 0
TEST_FRACTION = 0.2


class PackagedImages(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Base builder: a subclass sets `IMAGE_SHAPE` and `HOMEPAGE` and implements `_load_arrays()`.

  The dataset's description is the subclass module's docstring.
  """

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Stratified 80/20 split with random_state=0."}
  IMAGE_SHAPE: tuple[int, int, int] = (0, 0, 1)
  HOMEPAGE = ""

  @abc.abstractmethod
  def _load_arrays(self) -> tuple[np.ndarray, np.ndarray]:
    """`(images uint8 [N, *IMAGE_SHAPE], labels int [N])` from the package that ships them."""

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=sys.modules[type(self).__module__].__doc__,
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Tensor(shape=self.IMAGE_SHAPE, dtype=np.uint8),
            "label": tfds.features.ClassLabel(num_classes=10),
        }),
        supervised_keys=("image", "label"),
        homepage=self.HOMEPAGE,
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
    del dl_manager  # the data ships with a Python package
    images, labels = self._load_arrays()
    from sklearn.model_selection import train_test_split  # pylint: disable=g-import-not-at-top

    train_idx, test_idx = train_test_split(np.arange(labels.size), test_size=TEST_FRACTION,
                                           stratify=labels, random_state=SPLIT_SEED)
    return {"train": self._generate_examples(images, labels, train_idx),
            "test": self._generate_examples(images, labels, test_idx)}

  def _generate_examples(self, images: np.ndarray, labels: np.ndarray, indices: np.ndarray):
    for i in indices:
      yield int(i), {"image": images[i], "label": int(labels[i])}


def prepare(builder_cls: type[PackagedImages], data_dir: str | os.PathLike[str]) -> PackagedImages:
  """The `builder_cls` builder in `data_dir`, writing its ArrayRecord files if missing."""
  builder = builder_cls(data_dir=os.fspath(data_dir), file_format="array_record")
  if not builder.is_prepared():
    builder.download_and_prepare()
  return builder


def load_split(builder: PackagedImages, split: str, scale: float) -> dict[str, np.ndarray]:
  """A whole split through `data_source`: `{"image": float32 [N, H, W, 1] = x / scale, "label": int32 [N]}`.

  Records come back in the stored (key-hash) order of the ArrayRecord file.
  """
  source = builder.as_data_source(split=split)
  records = source.__getitems__(list(range(len(source))))
  return {"image": np.stack([r["image"] for r in records]).astype(np.float32) / np.float32(scale),
          "label": np.asarray([r["label"] for r in records], np.int32)}
