"""`dvs128_gesture`: IBM DVS128 Gesture (Amir et al. 2017), 11 gestures, 128x128, AEDAT 3.1, from manual_dir.

Each recording `userXX_<lighting>.aedat` comes with `userXX_<lighting>_labels.csv`
(`class,startTime_usec,endTime_usec`, classes 1..11). As SpikingJelly does, every csv row becomes one
sample with the events `start <= t < end` and label `class - 1`; `trials_to_train.txt` /
`trials_to_test.txt` give the official split (users 1-23 train, 24-29 test: 1176 / 288 samples).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

from jsnn.data.events._formats import read_aedat31
from jsnn.data.events._tfds_events import EventsBuilder

CLASS_NAMES = ("hand_clapping", "right_hand_wave", "left_hand_wave", "right_arm_clockwise",
               "right_arm_counter_clockwise", "left_arm_clockwise", "left_arm_counter_clockwise", "arm_roll",
               "air_drums", "air_guitar", "other_gestures")
_TRIALS = {"train": "trials_to_train.txt", "test": "trials_to_test.txt"}


def read_labels_csv(path: str) -> np.ndarray:
  """`[rows, 3]` int64 (class 1..11, start, end) of a `*_labels.csv` (header line skipped)."""
  return np.loadtxt(path, dtype=np.int64, delimiter=",", skiprows=1, ndmin=2)


class Dvs128Gesture(EventsBuilder):
  """DVS128 Gesture events, one example per labelled csv row."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Raw events per gesture; SpikingJelly's csv slicing (start <= t < end)."}
  SENSOR_SIZE = (128, 128)
  CLASS_NAMES = CLASS_NAMES
  DESCRIPTION = __doc__
  HOMEPAGE = "https://research.ibm.com/interactive/dvsgesture/"
  CITATION = ("@inproceedings{amir2017low, title={A Low Power, Fully Event-Based Gesture Recognition System}, "
              "author={Amir, Arnon and others}, booktitle={CVPR}, year={2017}}")
  MANUAL_DOWNLOAD_INSTRUCTIONS = (
      "DVS128 Gesture must be downloaded by hand (licence): get DvsGesture.tar.gz from "
      "https://ibm.ent.box.com/s/3hiq58ww1pbbjrinh367ykfdf60xsfm8/folder/50167556794 and extract it into "
      "manual_dir, so that manual_dir/DvsGesture/ (or manual_dir itself) holds trials_to_train.txt, "
      "trials_to_test.txt and every userXX_<lighting>.aedat with its userXX_<lighting>_labels.csv.")

  def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
    root = self._manual_root(dl_manager)
    folder = os.path.join(root, "DvsGesture")
    folder = folder if os.path.isdir(folder) else os.fspath(root)
    absent_lists = [t for t in _TRIALS.values() if not os.path.isfile(os.path.join(folder, t))]
    if absent_lists:
      raise FileNotFoundError(self._missing(root, f"{' and '.join(absent_lists)} not found in {folder}"))
    splits = {}
    for split, trials in _TRIALS.items():
      with open(os.path.join(folder, trials), encoding="utf-8") as f:
        names = [line.strip() for line in f if line.strip()]
      pairs = [(os.path.join(folder, n), os.path.join(folder, os.path.splitext(n)[0] + "_labels.csv")) for n in names]
      absent = [p for pair in pairs for p in pair if not os.path.isfile(p)]
      if absent:
        raise FileNotFoundError(self._missing(root, f"{len(absent)} file(s) listed in {trials} are missing, "
                                              f"e.g. {', '.join(absent[:3])}"))
      splits[split] = self._generate_examples(pairs)
    return splits

  def _generate_examples(self, pairs: list[tuple[str, str]]):
    for aedat, csv in pairs:
      events = read_aedat31(aedat)
      stem = os.path.splitext(os.path.basename(aedat))[0]
      counts = [0] * len(CLASS_NAMES)
      for cls, start, end in read_labels_csv(csv):
        label = int(cls) - 1
        if not 0 <= label < len(CLASS_NAMES):
          raise ValueError(f"{csv}: class {cls} outside 1..{len(CLASS_NAMES)}")
        mask = (events.t >= start) & (events.t < end)
        sample = type(events)(*(a[mask] for a in events))
        key = f"{stem}_{label}_{counts[label]}"
        counts[label] += 1
        yield key, self._example(sample, label, key)
