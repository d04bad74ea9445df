"""`cifar10_raw` / `cifar100_raw`: CIFAR from the official python-pickle tarballs, without TensorFlow.

TFDS's stock `cifar10` / `cifar100` builders need TensorFlow to *generate* (tf.io.gfile, TF's PNG
encoder). These builders read the same archives with `tarfile` + `pickle` and write ArrayRecord files
that `tfds.data_source` / `jsnn.data.cifar_pipeline` read with no TensorFlow at all.

Input (`manual_dir`, default `<data_dir>/downloads/manual/`), from https://www.cs.toronto.edu/~kriz/cifar.html:

* CIFAR-10: `cifar-10-python.tar.gz` (or its extracted folder `cifar-10-batches-py/` holding
  `data_batch_1..5`, `test_batch`, `batches.meta`);
* CIFAR-100: `cifar-100-python.tar.gz` (or the extracted `cifar-100-python/` holding `train`, `test`, `meta`).

Each pickle is a dict with `data` (uint8 `[N, 3072]`, each row the 32x32 R plane, then G, then B, row-major)
and `labels` (CIFAR-10) or `fine_labels` + `coarse_labels` (CIFAR-100).

Features (the names the stock builders and `CifarTransform` use): `image` uint8 `[32, 32, 3]` (HWC, stored as a
raw `Tensor`, so reading decodes nothing), `label` (CIFAR-100: the fine label), CIFAR-100 also `coarse_label`,
and `id` (`"train_00000"`, the stock builders' ids). Splits `train` (50000) and `test` (10000), in file order.
Class names come from the meta pickle (CIFAR-10 falls back to the official ten names).
"""

from __future__ import annotations

import os
import pathlib
import pickle
import tarfile
from collections.abc import Iterator
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"

CIFAR10_LABEL_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _missing_manual_file(name: str, archive: str, folder: str, manual_dir: Any) -> FileNotFoundError:
  return FileNotFoundError(
      f"{name}: neither {archive} nor an extracted {folder}/ folder was found in the manual_dir "
      f"{manual_dir}. Download {archive} (the 'python version') from {CIFAR_URL} and put it, unextracted, "
      f"in that folder (default <data_dir>/downloads/manual/, or pass "
      f"download_config=tfds.download.DownloadConfig(manual_dir=...)).")


def _manual_dir(dl_manager: tfds.download.DownloadManager, name: str, archive: str, folder: str) -> pathlib.Path:
  try:
    return pathlib.Path(os.fspath(dl_manager.manual_dir))
  except AssertionError as err:  # tfds: "Manual directory ... does not exist or is empty"
    raise _missing_manual_file(name, archive, folder, getattr(dl_manager, "_manual_dir", None)) from err


def _load_pickle(data: bytes) -> dict[str, Any]:
  raw = pickle.loads(data, encoding="bytes")  # the archives hold Python 2 pickles with byte-string keys
  return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in raw.items()}


class _CifarFiles:
  """The pickles of one CIFAR archive, read from the `.tar.gz` or from an extracted folder."""

  def __init__(self, manual_dir: pathlib.Path, name: str, archive: str, folder: str):
    self.archive_path = manual_dir / archive
    candidates = [manual_dir / folder, manual_dir]
    self.folder = next((c for c in candidates if (c / "test_batch").exists() or (c / "test").is_file()), None)
    if self.folder is None and not self.archive_path.is_file():
      raise _missing_manual_file(name, archive, folder, manual_dir)
    self.prefix = folder

  def read(self, members: list[str]) -> dict[str, dict[str, Any]]:
    """`{member: unpickled dict}` for the requested file names (missing optional ones are skipped)."""
    if self.folder is not None:
      return {m: _load_pickle((self.folder / m).read_bytes()) for m in members if (self.folder / m).is_file()}
    out = {}
    with tarfile.open(self.archive_path, "r:*") as tar:
      for info in tar:
        base = info.name.rsplit("/", 1)[-1]
        if info.isfile() and base in members:
          fobj = tar.extractfile(info)
          assert fobj is not None
          out[base] = _load_pickle(fobj.read())
    return out


def chw_rows_to_hwc(data: np.ndarray) -> np.ndarray:
  """CIFAR `data` rows (uint8 `[N, 3072]`, channel planes) -> uint8 `[N, 32, 32, 3]`."""
  return np.asarray(data, np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


class _CifarRawBase(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Shared generation for the two CIFAR builders."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Read from the official python-pickle tarball; raw uint8 image tensors."}

  _ARCHIVE = ""
  _FOLDER = ""
  _TRAIN_FILES: tuple[str, ...] = ()
  _TEST_FILES: tuple[str, ...] = ()
  _META_FILE = ""
  _LABEL_KEYS: dict[str, str] = {}  # feature name -> pickle key
  _NAME_KEYS: dict[str, str] = {}  # feature name -> meta pickle key of its class names

  def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
    files = _CifarFiles(_manual_dir(dl_manager, self.name, self._ARCHIVE, self._FOLDER), self.name,
                        self._ARCHIVE, self._FOLDER)
    pickles = files.read([*self._TRAIN_FILES, *self._TEST_FILES, self._META_FILE])
    for split_files in (self._TRAIN_FILES, self._TEST_FILES):
      missing = [f for f in split_files if f not in pickles]
      if missing:
        where = files.folder if files.folder is not None else files.archive_path
        raise FileNotFoundError(f"{self.name}: {where} lacks {missing}; is it the official python version of "
                                f"{self._ARCHIVE} from {CIFAR_URL}?")
    meta = pickles.get(self._META_FILE, {})
    for feature, key in self._NAME_KEYS.items():
      names = [n.decode() if isinstance(n, bytes) else str(n) for n in meta.get(key, [])]
      if not names and feature == "label" and self._ARCHIVE.startswith("cifar-10-"):
        names = list(CIFAR10_LABEL_NAMES)
      if len(names) == self.info.features[feature].num_classes:
        self.info.features[feature].names = names
    return {"train": self._generate_examples([pickles[f] for f in self._TRAIN_FILES], "train"),
            "test": self._generate_examples([pickles[f] for f in self._TEST_FILES], "test")}

  def _generate_examples(self, batches: list[dict[str, Any]], split: str) -> Iterator[tuple[str, dict[str, Any]]]:
    index = 0
    for batch in batches:
      images = chw_rows_to_hwc(batch["data"])
      labels = {feature: np.asarray(batch[key], np.int64) for feature, key in self._LABEL_KEYS.items()}
      for i in range(images.shape[0]):
        key = f"{split}_{index:05d}"
        yield key, {"id": key, "image": images[i], **{f: int(v[i]) for f, v in labels.items()}}
        index += 1


class Cifar10Raw(_CifarRawBase):
  """CIFAR-10 (60000 32x32 colour images, 10 classes) from `cifar-10-python.tar.gz`, TensorFlow-free."""

  MANUAL_DOWNLOAD_INSTRUCTIONS = f"Put cifar-10-python.tar.gz from {CIFAR_URL} in manual_dir."
  _ARCHIVE = "cifar-10-python.tar.gz"
  _FOLDER = "cifar-10-batches-py"
  _TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
  _TEST_FILES = ("test_batch",)
  _META_FILE = "batches.meta"
  _LABEL_KEYS = {"label": "labels"}
  _NAME_KEYS = {"label": "label_names"}

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=__doc__,
        features=tfds.features.FeaturesDict({
            "id": tfds.features.Text(),
            "image": tfds.features.Tensor(shape=(32, 32, 3), dtype=np.uint8),
            "label": tfds.features.ClassLabel(num_classes=10),
        }),
        supervised_keys=("image", "label"),
        homepage=CIFAR_URL,
    )


class Cifar100Raw(_CifarRawBase):
  """CIFAR-100 (60000 32x32 colour images, 100 fine / 20 coarse classes) from `cifar-100-python.tar.gz`."""

  MANUAL_DOWNLOAD_INSTRUCTIONS = f"Put cifar-100-python.tar.gz from {CIFAR_URL} in manual_dir."
  _ARCHIVE = "cifar-100-python.tar.gz"
  _FOLDER = "cifar-100-python"
  _TRAIN_FILES = ("train",)
  _TEST_FILES = ("test",)
  _META_FILE = "meta"
  _LABEL_KEYS = {"label": "fine_labels", "coarse_label": "coarse_labels"}
  _NAME_KEYS = {"label": "fine_label_names", "coarse_label": "coarse_label_names"}

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=__doc__,
        features=tfds.features.FeaturesDict({
            "id": tfds.features.Text(),
            "image": tfds.features.Tensor(shape=(32, 32, 3), dtype=np.uint8),
            "label": tfds.features.ClassLabel(num_classes=100),
            "coarse_label": tfds.features.ClassLabel(num_classes=20),
        }),
        supervised_keys=("image", "label"),
        homepage=CIFAR_URL,
    )


RAW_BUILDERS = {"cifar10": Cifar10Raw, "cifar100": Cifar100Raw}


def prepare_cifar_raw(name: str = "cifar10", data_dir: str | os.PathLike[str] | None = None,
                      manual_dir: str | os.PathLike[str] | None = None) -> tfds.core.DatasetBuilder:
  """The `cifar10_raw` / `cifar100_raw` builder in `data_dir`, generated from the tarball if not yet prepared.

  Args:
    name: `"cifar10"` or `"cifar100"`.
    data_dir: TFDS data dir (default TFDS's); the dataset goes to `<data_dir>/<name>_raw/1.0.0/`.
    manual_dir: folder holding the tarball; default `<data_dir>/downloads/manual/`.
  """
  if name not in RAW_BUILDERS:
    raise ValueError(f"no raw CIFAR builder for {name!r}; known: {sorted(RAW_BUILDERS)}")
  builder = RAW_BUILDERS[name](data_dir=None if data_dir is None else os.fspath(data_dir),
                               file_format="array_record")
  if not builder.is_prepared():
    config = tfds.download.DownloadConfig(manual_dir=None if manual_dir is None else os.fspath(manual_dir))
    builder.download_and_prepare(download_config=config)
  return builder
