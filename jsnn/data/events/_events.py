"""The event-stream container and its sensor-bounds check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np


class EventFileError(ValueError):
  """A raw event file is truncated or corrupt; `path` and byte `offset` say where."""

  def __init__(self, path: str, offset: int, reason: str):
    super().__init__(f"{path}: {reason} at byte offset {offset}")
    self.path = path
    self.offset = offset


class Events(NamedTuple):
  """One event stream: `N` events as parallel arrays (SpikingJelly's `{'t','x','y','p'}` dict).

  Attributes:
    t: int64 `[N]` timestamps (microseconds in all three datasets).
    x: uint16 `[N]` column, `0 <= x < width`.
    y: uint16 `[N]` row, `0 <= y < height`.
    p: uint8 `[N]` polarity, 0 or 1 (frames put `p == 0` in channel 0, `p != 0` in channel 1).
  """

  t: np.ndarray
  x: np.ndarray
  y: np.ndarray
  p: np.ndarray


def as_events(events: Events | Mapping[str, np.ndarray] | np.ndarray) -> Events:
  """`Events` from an `Events`, a mapping with keys t, x, y, p (SpikingJelly's dict) or a structured
  array with fields t, x, y, p (Tonic's event arrays, any field order and integer/bool dtypes), validated.

  Raises:
    ValueError: a mapping or structured array without t, x, y or p (the message lists what is
      missing and what is there), arrays that are not 1-D, differ in length, or hold negative
      coordinates.
  """
  if isinstance(events, np.ndarray) and events.dtype.names is not None:
    names = events.dtype.names
    missing = [k for k in "txyp" if k not in names]
    if missing:
      raise ValueError(f"a structured event array needs fields t, x, y, p (Tonic's 2-D sensor events); "
                       f"missing {missing}, got fields {list(names)}")
    events = Events(*(np.asarray(events[k]) for k in "txyp"))
  elif isinstance(events, np.ndarray):
    raise ValueError(f"expected Events, a mapping with keys t, x, y, p, or a structured array with those fields "
                     f"(Tonic), got a plain array of dtype {events.dtype} and shape {events.shape}")
  if not isinstance(events, Events):
    missing = [k for k in "txyp" if k not in events]
    if missing:
      raise ValueError(f"an event mapping needs keys t, x, y, p; missing {missing}")
    events = Events(*(np.asarray(events[k]) for k in "txyp"))
  arrays = [np.asarray(a) for a in events]
  sizes = {a.shape for a in arrays}
  if len(sizes) != 1 or arrays[0].ndim != 1:
    raise ValueError(f"t, x, y, p must be 1-D arrays of one length, got shapes {[a.shape for a in arrays]}")
  t, x, y, p = arrays
  for name, coord in (("x", x), ("y", y)):
    if coord.size and np.issubdtype(coord.dtype, np.signedinteger) and coord.min() < 0:
      raise ValueError(f"event {int(np.argmin(coord))} has negative {name}={int(coord.min())}")
  return Events(t.astype(np.int64, copy=False), x.astype(np.uint16, copy=False),
                y.astype(np.uint16, copy=False), (p != 0).astype(np.uint8))


def check_sensor_bounds(events: Events, height: int, width: int, *, source: str = "events") -> None:
  """Raises a ValueError naming the first event whose `(x, y)` lies outside a `height x width` sensor.

  Out-of-range coordinates must be rejected, not binned: `y * W + x` would silently land an event
  with `x >= W` in the next row's pixels.
  """
  for name, coord, limit, side in (("x", events.x, width, "width"), ("y", events.y, height, "height")):
    bad = np.flatnonzero(coord >= limit)
    if bad.size:
      i = int(bad[0])
      raise ValueError(f"{source}: event {i} (of {coord.size}, {bad.size} out of range) has {name}={int(coord[i])} "
                       f"outside the sensor {side} {limit} (valid {name} is 0..{limit - 1}; sensor is "
                       f"{height}x{width} HxW)")
