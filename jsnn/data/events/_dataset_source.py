"""A grain random-access source over any `(events, label)` dataset object (Tonic, custom classes).

No Tonic import: any object with `__len__` and `__getitem__(i) -> (events, label)` works, where
`events` is a Tonic structured array (fields t, x, y, p), a SpikingJelly-style dict or `Events`.
The records have the layout of the TFDS event builders, so `frames_pipeline` takes them as is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jsnn.data.events._events import as_events, check_sensor_bounds


class EventDatasetSource:
  """`source[i] -> {"events": {"t", "x", "y", "p"}, "label": int64}` for `frames_pipeline`.

  A grain random-access data source (`__len__`, `__getitem__`), picklable when the wrapped dataset
  is, so it also works with grain worker processes.

  Args:
    dataset: any object with `__len__` and `__getitem__(i) -> (events, label)`, e.g.
      `tonic.datasets.NMNIST(save_to, train=True)` (do not pass a Tonic `transform` that turns events
      into frames: the frames pipeline integrates events itself, SpikingJelly-exactly).
    sensor_size: optional `(height, width)`; when given every record is checked against it (an
      `x >= width` would otherwise land in the next row's pixels). Tonic's `sensor_size` is
      `(width, height, polarities)`: pass `(sensor_size[1], sensor_size[0])`.

  Raises:
    TypeError: at construction, a dataset without `__len__` / `__getitem__`; on access, an item
      that is not an `(events, label)` pair.
    ValueError: on access, events without t, x, y, p, a non-integer label, or an event outside
      `sensor_size`.

  Examples:
    >>> import numpy as np, jsnn.data.events as ev
    >>> dtype = np.dtype([("x", "<i2"), ("y", "<i2"), ("p", "?"), ("t", "<i8")])   # Tonic's
    >>> data = [(np.zeros(3, dtype), 1)]
    >>> record = ev.EventDatasetSource(data)[0]
    >>> sorted(record["events"]), record["label"]
    (['p', 't', 'x', 'y'], np.int64(1))
  """

  def __init__(self, dataset: Any, *, sensor_size: tuple[int, int] | None = None):
    if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
      raise TypeError(f"EventDatasetSource needs a dataset with __len__ and __getitem__ returning "
                      f"(events, label), got {type(dataset).__name__}.")
    self.dataset = dataset
    self.sensor_size = None if sensor_size is None else (int(sensor_size[0]), int(sensor_size[1]))

  def __len__(self) -> int:
    return len(self.dataset)

  def __getitem__(self, index: int) -> dict[str, Any]:
    item = self.dataset[int(index)]
    if not isinstance(item, (tuple, list)) or len(item) != 2:
      raise TypeError(f"EventDatasetSource: item {index} must be an (events, label) pair, got "
                      f"{type(item).__name__}" + (f" of length {len(item)}" if hasattr(item, "__len__") else ""))
    raw, label = item
    events = as_events(raw)
    if self.sensor_size is not None:
      check_sensor_bounds(events, *self.sensor_size, source=f"item {index}")
    label_array = np.asarray(label)
    if label_array.ndim != 0 or not np.issubdtype(label_array.dtype, np.integer):
      raise ValueError(f"EventDatasetSource: item {index} has label {label!r}; expected an integer class "
                       "index (one label per recording).")
    return {"events": events._asdict(), "label": np.int64(label_array)}

  def __repr__(self) -> str:
    return f"EventDatasetSource({type(self.dataset).__name__}, len={len(self)})"
