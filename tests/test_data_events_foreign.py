"""Tonic-style structured event arrays and any (events, label) dataset as a grain source (issue 15)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import jsnn.data.events as ev

# Tonic's DVS dtype (tonic.io.make_structured_array): x, y, p, t in this order.
TONIC_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("p", "?"), ("t", "<i8")])


def _tonic_events(n: int, seed: int, height: int = 6, width: int = 8) -> np.ndarray:
  rng = np.random.RandomState(seed)
  a = np.zeros(n, TONIC_DTYPE)
  a["x"] = rng.randint(0, width, n)
  a["y"] = rng.randint(0, height, n)
  a["p"] = rng.rand(n) < 0.5
  a["t"] = np.sort(rng.randint(0, 10_000, n))
  return a


def test_as_events_accepts_tonic_structured_arrays():
  a = _tonic_events(50, 0)
  e = ev.as_events(a)
  d = ev.as_events({k: a[k] for k in "txyp"})          # the SpikingJelly dict of the same events
  for got, want in zip(e, d):
    np.testing.assert_array_equal(got, want)
  assert e.t.dtype == np.int64 and e.x.dtype == np.uint16 and e.p.dtype == np.uint8
  np.testing.assert_array_equal(e.p, a["p"].astype(np.uint8))


def test_as_events_structured_errors():
  audio = np.zeros(3, np.dtype([("x", "<i2"), ("p", "?"), ("t", "<i8")]))   # Tonic audio events
  with pytest.raises(ValueError, match=r"needs fields t, x, y, p .* missing \['y'\], got fields \['x', 'p', 't'\]"):
    ev.as_events(audio)
  with pytest.raises(ValueError, match=r"got a plain array of dtype float64 and shape \(3, 4\)"):
    ev.as_events(np.zeros((3, 4)))
  bad = _tonic_events(5, 1)
  bad["x"][2] = -1
  with pytest.raises(ValueError, match=r"event 2 has negative x=-1"):
    ev.as_events(bad)


class _Dataset:
  """Tonic's interface: `__getitem__ -> (events, target)`, `__len__` (no Tonic import)."""

  def __init__(self, n):
    self.items = [(_tonic_events(40 + i, i), i % 3) for i in range(n)]

  def __getitem__(self, i):
    return self.items[i]

  def __len__(self):
    return len(self.items)


def test_event_dataset_source_feeds_frames_pipeline():
  ds = _Dataset(5)
  src = ev.EventDatasetSource(ds, sensor_size=(6, 8))
  assert len(src) == 5
  pickle.loads(pickle.dumps(src))                        # grain workers need it picklable
  it = ev.frames_pipeline(src, sensor_size=(6, 8), batch_size=2, frames_number=3)
  batches = list(it)
  assert [b["frames"].shape for b in batches] == [(3, 2, 6, 8, 2)] * 2 + [(3, 1, 6, 8, 2)]
  np.testing.assert_array_equal(np.concatenate([b["label"] for b in batches]), [0, 1, 2, 0, 1])
  # every event lands in exactly one frame (split_by="number" integrates all of them)
  total = sum(float(b["frames"].sum()) for b in batches)
  assert total == sum(40 + i for i in range(5))
  one = ev.integrate_events_by_fixed_frames_number(ev.as_events(ds[0][0]), "number", 3, 6, 8)
  np.testing.assert_array_equal(batches[0]["frames"][:, 0], one)


def test_event_dataset_source_errors():
  with pytest.raises(TypeError, match=r"needs a dataset with __len__ and __getitem__ .* got int"):
    ev.EventDatasetSource(3)
  with pytest.raises(TypeError, match=r"item 0 must be an \(events, label\) pair, got ndarray of length 4"):
    ev.EventDatasetSource([_tonic_events(4, 0)])[0]
  with pytest.raises(ValueError, match=r"item 0 has label 0.5; expected an integer class index"):
    ev.EventDatasetSource([(_tonic_events(4, 0), 0.5)])[0]
  with pytest.raises(ValueError, match=r"item 0: event \d+ .* has x=\d+ outside the sensor width 2"):
    ev.EventDatasetSource([(_tonic_events(40, 0), 1)], sensor_size=(6, 2))[0]
