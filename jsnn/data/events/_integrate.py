"""Event -> frame integration, identical to SpikingJelly (`datasets/utils.py`), channel-last.

A frame is the per-pixel event **count** per polarity: channel 0 counts `p == 0`, channel 1 `p != 0`.
Frames are float32 `[T, H, W, 2]` (SpikingJelly: float64 `[T, 2, H, W]`; `np.moveaxis(sj, 1, -1)`
equals ours exactly, counts below 2**24 being exact in float32).

* `split_by="number"`: `di = N // T`; frame j covers events `[j·di, (j+1)·di)`, and the **last frame
  takes the remainder** up to N.
* `split_by="time"`: `dt = (t[-1] - t[0]) // T` (integer division); frame j covers the index range from
  the first to the last event with `t0 + j·dt <= t < t0 + (j+1)·dt`; the last frame extends to N.
  SpikingJelly raises IndexError on an empty window; here an empty window gives an empty frame.
* fixed duration, `anchor="event"` (SpikingJelly 0.0.0.0.12-0.0.0.0.14): each frame starts at its
  first remaining event `t_l` and takes the events up to the first with `t - t_l > duration`.
  `anchor="grid"` (SpikingJelly 2.0 master): `T = ceil((t[-1] - t_min) / duration)` frames on the grid
  `[k·d, (k+1)·d)` from `t_min`, the last frame taking all remaining events.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from jsnn.data.events._events import Events, as_events, check_sensor_bounds

_SPLITS = ("number", "time")


def frame_segment_indices(t: np.ndarray, split_by: str, frames_number: int) -> tuple[np.ndarray, np.ndarray]:
  """SpikingJelly's `cal_fixed_frames_number_segment_index`: `(j_l, j_r)` event-index ranges, `[T]` each.

  Raises:
    ValueError: unknown `split_by`, `frames_number < 1`, or no events.
  """
  if split_by not in _SPLITS:
    raise ValueError(f"split_by must be one of {_SPLITS}, got {split_by!r}")
  if frames_number < 1:
    raise ValueError(f"frames_number must be >= 1, got {frames_number}")
  t = np.asarray(t)
  n = t.size
  if n == 0:
    raise ValueError("cannot split an empty event stream into frames")
  j = np.arange(frames_number, dtype=np.int64)
  if split_by == "number":
    di = n // frames_number
    j_l, j_r = j * di, (j + 1) * di
  else:
    t = t.astype(np.int64)
    dt = (t[-1] - t[0]) // frames_number
    t_l = t[0] + dt * j
    if np.all(t[1:] >= t[:-1]):  # time-ordered (the normal case): binary search
      j_l, j_r = np.searchsorted(t, t_l, side="left"), np.searchsorted(t, t_l + dt, side="left")
    else:  # SpikingJelly's rule verbatim: first and last index of the events inside each window
      inside = (t[None, :] >= t_l[:, None]) & (t[None, :] < (t_l + dt)[:, None])  # [T, N]
      found = inside.any(axis=1)
      empty_at = np.searchsorted(np.sort(t), t_l, side="left")
      j_l = np.where(found, np.argmax(inside, axis=1), empty_at)
      j_r = np.where(found, n - np.argmax(inside[:, ::-1], axis=1), empty_at)
  j_r[-1] = n
  return j_l.astype(np.int64), j_r.astype(np.int64)


def integrate_events_segment_to_frame(events: Events | Mapping[str, np.ndarray], height: int, width: int,
                                      j_l: int = 0, j_r: int | None = None) -> np.ndarray:
  """Counts events `[j_l, j_r)` into one float32 frame `[H, W, 2]` (channel = `p != 0`).

  Raises:
    ValueError: an event outside the `height x width` sensor.
  """
  ev = as_events(events)
  check_sensor_bounds(ev, height, width)
  return _count(ev, height, width, j_l, j_r)


def _count(ev: Events, height: int, width: int, j_l: int, j_r: int | None) -> np.ndarray:
  x, y, p = ev.x[j_l:j_r].astype(np.int64), ev.y[j_l:j_r].astype(np.int64), ev.p[j_l:j_r].astype(np.int64)
  position = (y * width + x) * 2 + p
  return np.bincount(position, minlength=2 * height * width).reshape(height, width, 2).astype(np.float32)


def _frames_from_segments(ev: Events, height: int, width: int, j_l, j_r) -> np.ndarray:
  check_sensor_bounds(ev, height, width)
  return np.stack([_count(ev, height, width, int(a), int(b)) for a, b in zip(j_l, j_r)])


def integrate_events_by_fixed_frames_number(events: Events | Mapping[str, np.ndarray], split_by: str,
                                            frames_number: int, height: int, width: int) -> np.ndarray:
  """`T = frames_number` frames, float32 `[T, H, W, 2]`, as SpikingJelly's function of this name.

  Args:
    events: `Events` or a `{'t','x','y','p'}` mapping (time-ordered for `split_by="time"`).
    split_by: `"number"` (equal event counts, remainder to the last frame) or `"time"`.
    frames_number: T.
    height, width: sensor size.

  Raises:
    ValueError: empty stream, bad arguments, or an event outside the sensor.
  """
  ev = as_events(events)
  j_l, j_r = frame_segment_indices(ev.t, split_by, frames_number)
  return _frames_from_segments(ev, height, width, j_l, j_r)


def _duration_segments(t: np.ndarray, duration: int, anchor: str) -> list[tuple[int, int]]:
  n = t.size
  if anchor == "grid":
    t0 = t - t.min()
    count = max(int(math.ceil(t0[-1] / duration)), 1)
    frame_index = t0 // duration
    bounds = [0] + [int(np.searchsorted(frame_index, i + 1, side="left")) for i in range(count - 1)] + [n]
    return list(zip(bounds[:-1], bounds[1:]))
  ordered = bool(np.all(t[1:] >= t[:-1]))
  segments, left = [], 0
  while left < n:
    limit = t[left] + duration
    if ordered:
      right = int(np.searchsorted(t, limit, side="right"))
    else:
      beyond = np.flatnonzero(t[left:] > limit)
      right = left + int(beyond[0]) if beyond.size else n
    segments.append((left, right))
    left = right
  return segments


def integrate_events_by_fixed_duration(events: Events | Mapping[str, np.ndarray], duration: int, height: int,
                                       width: int, *, anchor: str = "event") -> np.ndarray:
  """Frames of a fixed time span each, float32 `[T, H, W, 2]` with T set by the stream's length.

  Args:
    events: `Events` or a `{'t','x','y','p'}` mapping.
    duration: frame span, in the timestamps' unit (microseconds).
    height, width: sensor size.
    anchor: `"event"` (SpikingJelly 0.0.0.0.12-14, default) or `"grid"` (SpikingJelly 2.0); see the
      module docstring. A stream of one timestamp gives one frame in both (SpikingJelly 2.0 fails).

  Raises:
    ValueError: empty stream, `duration < 1`, unknown anchor, or an event outside the sensor.
  """
  if anchor not in ("event", "grid"):
    raise ValueError(f"anchor must be 'event' or 'grid', got {anchor!r}")
  if duration < 1:
    raise ValueError(f"duration must be >= 1, got {duration}")
  ev = as_events(events)
  if ev.t.size == 0:
    raise ValueError("cannot integrate an empty event stream")
  segments = _duration_segments(ev.t, int(duration), anchor)
  return _frames_from_segments(ev, height, width, [a for a, _ in segments], [b for _, b in segments])
