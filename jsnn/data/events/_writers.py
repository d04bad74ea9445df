"""Writers for the raw formats `_formats` reads: synthetic datasets for tests and benchmarks.

Each writer is the exact inverse of its reader (round-trip tested), so files built from known events
give known frames.
"""

from __future__ import annotations

import os
import struct

import numpy as np

from jsnn.data.events._events import Events, as_events, check_sensor_bounds

Path = str | os.PathLike[str]


def encode_aedat2(events: Events, *, header: bytes = b"#!AER-DAT2.0\r\n# written by jsnn\r\n") -> bytes:
  """CIFAR10-DVS AEDAT 2.0 bytes whose `read_aedat2` gives back `events` (x, y < 128)."""
  ev = as_events(events)
  check_sensor_bounds(ev, 128, 128, source="encode_aedat2")
  raw_x, raw_y, raw_p = 127 - ev.y.astype(np.uint32), 127 - ev.x.astype(np.uint32), 1 - ev.p.astype(np.uint32)
  pairs = np.stack([(raw_y << 8) | (raw_x << 1) | raw_p, ev.t.astype(np.uint32)], axis=1)
  return header + pairs.astype(">u4").tobytes()


def encode_aedat31(events: Events, *, packet_events: int = 4096) -> bytes:
  """AEDAT 3.1 bytes (DVS128 source, polarity packets, valid bit set) that `read_aedat31` reads back.

  Packets hold at most `packet_events` events and never mix timestamp-overflow epochs (`t >> 31`).
  """
  ev = as_events(events)
  out = [b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n"]
  overflow = ev.t >> 31
  start = 0
  while start < ev.t.size:
    stop = min(start + packet_events, ev.t.size)
    stop = start + int(np.argmax(np.append(overflow[start:stop] != overflow[start], True)))
    aer = (ev.x[start:stop].astype(np.uint32) << 17) | (ev.y[start:stop].astype(np.uint32) << 2) | (
        ev.p[start:stop].astype(np.uint32) << 1) | 1
    body = np.stack([aer, (ev.t[start:stop] & 0x7FFFFFFF).astype(np.uint32)], axis=1).astype("<u4")
    n = stop - start
    out += [struct.pack("<HHIIIIII", 1, 1, 8, 4, int(overflow[start]), n, n, n), body.tobytes()]
    start = stop
  return b"".join(out)


def encode_nmnist_bin(events: Events) -> bytes:
  """N-MNIST 40-bit-per-event bytes (x, y < 256, t < 2**23)."""
  ev = as_events(events)
  t = ev.t.astype(np.int64)
  if t.size and (t.min() < 0 or t.max() >= 1 << 23):
    raise ValueError("N-MNIST timestamps must be in [0, 2**23)")
  raw = np.stack([ev.x, ev.y, (ev.p.astype(np.int64) << 7) | (t >> 16), (t >> 8) & 0xFF, t & 0xFF], axis=1)
  return raw.astype(np.uint8).tobytes()


def _write(path: Path, data: bytes) -> None:
  os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
  with open(path, "wb") as f:
    f.write(data)


def write_aedat2(path: Path, events: Events) -> None:
  """Writes `encode_aedat2(events)` to `path` (parent folders created)."""
  _write(path, encode_aedat2(events))


def write_aedat31(path: Path, events: Events, *, packet_events: int = 4096) -> None:
  """Writes `encode_aedat31(events)` to `path` (parent folders created)."""
  _write(path, encode_aedat31(events, packet_events=packet_events))


def write_nmnist_bin(path: Path, events: Events) -> None:
  """Writes `encode_nmnist_bin(events)` to `path` (parent folders created)."""
  _write(path, encode_nmnist_bin(events))
