"""What the three event-dataset TFDS builders share: the stored features, the manual-files check and
the per-sample validation.

Every example stores the raw events of one sample (variable length) plus its label and source file:
`{"events": {"t": int64 [N], "x": uint16 [N], "y": uint16 [N], "p": uint8 [N]}, "label", "file_name"}`.
Frames are integrated at read time (`jsnn.data.events.events_pipeline`), so one prepared dataset
serves any T, split mode and resize. Prepared with `prepare(...)`; read with `tfds.data_source`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import tensorflow_datasets as tfds

from jsnn.data.events._events import Events, check_sensor_bounds


def event_features(class_names: Sequence[str]) -> tfds.features.FeaturesDict:
  """The feature spec every event builder stores."""
  return tfds.features.FeaturesDict({
      "events": tfds.features.FeaturesDict({
          "t": tfds.features.Tensor(shape=(None,), dtype=np.int64),
          "x": tfds.features.Tensor(shape=(None,), dtype=np.uint16),
          "y": tfds.features.Tensor(shape=(None,), dtype=np.uint16),
          "p": tfds.features.Tensor(shape=(None,), dtype=np.uint8),
      }),
      "label": tfds.features.ClassLabel(names=list(class_names)),
      "file_name": tfds.features.Text(),
  })


class EventsBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Base of the event-stream builders: raw files from `manual_dir` -> ArrayRecord events."""

  SENSOR_SIZE: ClassVar[tuple[int, int]]  # (height, width)
  CLASS_NAMES: ClassVar[tuple[str, ...]]
  DESCRIPTION: ClassVar[str] = ""
  HOMEPAGE: ClassVar[str] = ""
  CITATION: ClassVar[str] = ""
  MANUAL_DOWNLOAD_INSTRUCTIONS: ClassVar[str] = ""

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(builder=self, description=self.DESCRIPTION, features=event_features(self.CLASS_NAMES),
                                 homepage=self.HOMEPAGE, citation=self.CITATION)

  def _manual_root(self, dl_manager: tfds.download.DownloadManager) -> os.PathLike[str]:
    try:
      return dl_manager.manual_dir
    except AssertionError as err:
      raise FileNotFoundError(self._missing(str(getattr(dl_manager, "_manual_dir", "<manual_dir>")),
                                            "the folder is missing or empty")) from err

  def _missing(self, manual_dir: str | os.PathLike[str], what: str) -> str:
    return (f"{self.name}: raw files not found in manual_dir {os.fspath(manual_dir)}: {what}.\n"
            f"{self.MANUAL_DOWNLOAD_INSTRUCTIONS}\nPass the folder as "
            f"jsnn.data.events.prepare({self.name!r}, data_dir=..., manual_dir=<folder>) (default manual_dir: "
            f"<data_dir>/downloads/manual).")

  def _example(self, events: Events, label: int, file_name: str) -> dict[str, Any]:
    height, width = self.SENSOR_SIZE
    check_sensor_bounds(events, height, width, source=file_name)
    return {"events": {"t": events.t, "x": events.x, "y": events.y, "p": events.p}, "label": int(label),
            "file_name": file_name}
