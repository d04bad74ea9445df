"""`n_mnist`: N-MNIST (Orchard et al. 2015), MNIST digits recorded by an ATIS on a pan-tilt, 34x34.

Train 60,000 / test 10,000 `.bin` files (40-bit events) under `Train/<digit>/` and `Test/<digit>/`.
"""

from __future__ import annotations

import os
import zipfile
from typing import Any

import tensorflow_datasets as tfds

from jsnn.data.events._formats import read_nmnist_bin
from jsnn.data.events._tfds_events import EventsBuilder

_SPLITS = {"train": "Train", "test": "Test"}


def _split_files(root, top: str) -> list[tuple[str, str | None, int]]:
  """`(path or member, zip or None, digit)` from `<root>/<Top>/<d>/*.bin` or `<root>/<Top>.zip`."""
  folder = os.path.join(root, top)
  if os.path.isdir(folder):
    return [(os.path.join(folder, d, f), None, int(d)) for d in sorted(os.listdir(folder)) if d.isdigit()
            for f in sorted(os.listdir(os.path.join(folder, d))) if f.endswith(".bin")]
  archive = os.path.join(root, f"{top}.zip")
  if os.path.isfile(archive):
    with zipfile.ZipFile(archive) as zf:
      members = sorted(m for m in zf.namelist() if m.endswith(".bin"))
    return [(m, archive, int(m.split("/")[-2])) for m in members]
  return []


class NMnist(EventsBuilder):
  """N-MNIST events (saccades over MNIST digits)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Raw events per digit recording."}
  SENSOR_SIZE = (34, 34)
  CLASS_NAMES = tuple(str(d) for d in range(10))
  DESCRIPTION = __doc__
  HOMEPAGE = "https://www.garrickorchard.com/datasets/n-mnist"
  CITATION = ("@article{orchard2015converting, title={Converting Static Image Datasets to Spiking Neuromorphic "
              "Datasets Using Saccades}, author={Orchard, Garrick and Jayawant, Ajinkya and Cohen, Gregory K and "
              "Thakor, Nitish}, journal={Frontiers in Neuroscience}, volume={9}, pages={437}, year={2015}}")
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      "N-MNIST needs Train.zip and Test.zip from https://www.garrickorchard.com/datasets/n-mnist (also mirrored "
      "on figshare / Prophesee). Put the two zips, or their extracted Train/ and Test/ folders "
      "(Train/<digit>/<id>.bin), directly in manual_dir.")

  def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
    root = self._manual_root(dl_manager)
    splits = {}
    for split, top in _SPLITS.items():
      files = _split_files(root, top)
      if not files:
        raise FileNotFoundError(self._missing(root, f"no .bin files in {top}/<digit>/ or {top}.zip"))
      splits[split] = self._generate_examples(files)
    return splits

  def _generate_examples(self, files: list[tuple[str, str | None, int]]):
    for path, archive, digit in files:
      key = f"{digit}/{os.path.basename(path)}"
      if archive is None:
        events = read_nmnist_bin(path)
      else:
        with zipfile.ZipFile(archive) as zf:
          events = read_nmnist_bin(zf.read(path), name=f"{archive}:{path}")
      yield key, self._example(events, digit, key)
