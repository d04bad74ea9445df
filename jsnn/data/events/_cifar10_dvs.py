"""`cifar10_dvs`: CIFAR10-DVS (Li et al. 2017), 10 x 1000 AEDAT 2.0 recordings, 128x128, from manual_dir.

**There is no official train/test split.** Two configs, both per class, both by the **number** `i` in
the file name `cifar10_<class>_<i>.aedat` (`i = 0 .. 999`):

* `split_9to1` (default): `i < int(0.9 n)` is `train`, the rest `test`, with `n` the recordings of
  the class (1000): samples **0-899 train, 900-999 test** of every class. This is the split of CLIF
  (`HuuYuLong/Complementary-LIF`, `utils/cifar10_dvs.py:643-645`: `index = np.arange(0,
  int(split_ratio * 1000))` for train, `np.arange(int(split_ratio * 1000), 1000)` for test, file
  names built from the index), AdaLi (`paran-ia/AdaLi`, `data_process/cifar10_dvs.py:641-643`, the same
  code) and TET's numbered `gather_addr(root, start_id, end_id)` (`preprocess/dvscifar_dataloader.py:60`;
  the Gus-Lab version uses 0.7, the BIL update and the paper 0.9). Version 1.0.0 of this builder took
  the first `ceil(0.9 n)` files in *string-sorted* name order instead (`_0, _1, _10, _100, ...`, as
  SpikingJelly's `split_to_train_test_set(..., random_split=False)` over a DatasetFolder), which put
  90 of the 1,000 test clips in a different split; 1.1.0 uses the numeric split.
* `tebn`: samples `0 .. n/10 - 1` by index in the file name are `test` (0-99 of 1000), the rest `train`
  (TEBN; SpikingJelly's `CIFAR10DVSTEBNSplit`). Accuracies on this split run higher than on random
  splits; do not compare across splits.
"""

from __future__ import annotations

import os
import re
import zipfile
from typing import Any

import tensorflow_datasets as tfds

from jsnn.data.events._formats import read_aedat2
from jsnn.data.events._tfds_events import EventsBuilder

CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_INDEX = re.compile(r"_(\d+)\.aedat$")


def _class_files(root, class_name: str) -> list[tuple[str, str | None]]:
  """`(file name, zip path or None)` of one class, from `<root>/<class>/` or `<root>/<class>.zip`."""
  folder = os.path.join(root, class_name)
  if os.path.isdir(folder):
    return [(os.path.join(folder, f), None) for f in os.listdir(folder) if f.endswith(".aedat")]
  archive = os.path.join(root, f"{class_name}.zip")
  if os.path.isfile(archive):
    with zipfile.ZipFile(archive) as zf:
      return [(m, archive) for m in zf.namelist() if m.endswith(".aedat")]
  return []


def _indexed(files: list[str], config: str) -> list[tuple[int, str]]:
  indexed = []
  for f in files:
    match = _INDEX.search(os.path.basename(f))
    if not match:
      raise ValueError(f"the {config} split needs file names ending in _<index>.aedat "
                       f"(cifar10_<class>_<i>.aedat as in the figshare zips), got {f}")
    indexed.append((int(match.group(1)), f))
  return sorted(indexed)


def split_class(files: list[str], config: str) -> tuple[list[str], list[str]]:
  """`(train, test)` file lists of one class under config `split_9to1` or `tebn`, by file-name index.

  `split_9to1`: index `< int(0.9 n)` is train (0-899 of 1000); `tebn`: index `< n // 10` is test
  (0-99 of 1000); `n` = number of files of the class. Both lists are in index order.
  """
  indexed = _indexed(files, config)
  if config == "split_9to1":
    cut = int(len(indexed) * 0.9)
    return [f for i, f in indexed if i < cut], [f for i, f in indexed if i >= cut]
  n_test = len(indexed) // 10
  return [f for i, f in indexed if i >= n_test], [f for i, f in indexed if i < n_test]


class Cifar10Dvs(EventsBuilder):
  """CIFAR10-DVS events; see the module docstring for the two split configs."""

  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {"1.0.0": "Raw events per recording; SpikingJelly's AEDAT 2.0 decoding.",
                   "1.1.0": "split_9to1 by the number in the file name (0-899 train, 900-999 test per "
                            "class, as CLIF/AdaLi/TET), not by string-sorted name."}
  BUILDER_CONFIGS = [
      tfds.core.BuilderConfig(name="split_9to1", description="index < int(0.9 n) per class = train (0-899 of 1000)"),
      tfds.core.BuilderConfig(name="tebn", description="index < n/10 per class = test (TEBN split)"),
  ]
  SENSOR_SIZE = (128, 128)
  CLASS_NAMES = CLASS_NAMES
  DESCRIPTION = __doc__
  HOMEPAGE = "https://figshare.com/articles/dataset/CIFAR10-DVS_New/4724671"
  CITATION = ("@article{li2017cifar10dvs, title={CIFAR10-DVS: An Event-Stream Dataset for Object "
              "Classification}, author={Li, Hongmin and Liu, Hanchao and Ji, Xiangyang and Li, Guoqi and Shi, Luping},"
              " journal={Frontiers in Neuroscience}, volume={11}, pages={309}, year={2017}}")
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      "CIFAR10-DVS needs the 10 class archives airplane.zip, automobile.zip, bird.zip, cat.zip, deer.zip, dog.zip,"
      " frog.zip, horse.zip, ship.zip, truck.zip from https://figshare.com/articles/dataset/CIFAR10-DVS_New/4724671"
      " (each holds <class>/cifar10_<class>_<i>.aedat, i = 0..999). Put the zips, or their extracted <class>/ "
      "folders, directly in manual_dir.")

  def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
    root = self._manual_root(dl_manager)
    per_class = {c: _class_files(root, c) for c in CLASS_NAMES}
    missing = [c for c, files in per_class.items() if not files]
    if missing:
      raise FileNotFoundError(self._missing(root, "no .aedat files for class(es) " + ", ".join(
          f"{c} (looked for {c}/*.aedat and {c}.zip)" for c in missing)))
    train, test = [], []
    for label, name in enumerate(CLASS_NAMES):
      archive = {f: z for f, z in per_class[name]}
      tr, te = split_class(list(archive), self.builder_config.name)
      train += [(f, archive[f], label) for f in tr]
      test += [(f, archive[f], label) for f in te]
    # TFDS cannot write an empty split (a tiny class folder gives no test file): leave it out.
    return {split: self._generate_examples(items) for split, items in (("train", train), ("test", test)) if items}

  def _generate_examples(self, items: list[tuple[str, str | None, int]]):
    for path, archive, label in items:
      if archive is None:
        events = read_aedat2(path)
        name = path
      else:
        with zipfile.ZipFile(archive) as zf:
          name = f"{archive}:{path}"
          events = read_aedat2(zf.read(path), name=name)
      yield os.path.basename(path), self._example(events, label, os.path.basename(path))
