"""numpy parsers for the raw event formats: AEDAT 2.0 (CIFAR10-DVS), AEDAT 3.1 (DVS128 Gesture) and the
N-MNIST 40-bit binary. Each takes a path or the file's bytes and returns `Events`; a truncated or
corrupt file raises `EventFileError` naming the file and the byte offset.

The parsers are strict: an empty or header-only file (no events), a missing or foreign header (an
AEDAT 2.0 reader given header-less or random bytes, an N-MNIST reader given an AEDAT file: the
message says which format the bytes look like), coordinates outside the sensor and timestamps
that go backwards all raise `EventFileError` with the byte offset of the offending event.
`on_unsorted="sort"` sorts the events by time (stable) instead, and `"keep"` keeps the file's order
as SpikingJelly does (time-split framing then assumes sorted timestamps and drops events).

Decodings follow SpikingJelly (`datasets/cifar10_dvs.py`, `datasets/utils.py: load_aedat_v3,
load_ATIS_bin`) so frames match its datasets.
"""

from __future__ import annotations

import os
import struct

import numpy as np

from jsnn.data.events._events import EventFileError, Events

Source = str | os.PathLike[str] | bytes

ON_UNSORTED = ("raise", "sort", "keep")
_AEDAT3_PACKET_HEADER = struct.Struct("<HHIIIIII")  # type, source, size, ts offset, ts overflow, capacity, number, valid
_POLARITY_EVENT = 1


def _load(source: Source, name: str | None) -> tuple[bytes, str]:
  if isinstance(source, bytes | bytearray | memoryview):
    return bytes(source), name or "<bytes>"
  with open(source, "rb") as f:
    return f.read(), name or os.fspath(source)


def _looks_like(data: bytes) -> str:
  """What ``data`` looks like, for format-mismatch messages."""
  if not data:
    return "an empty file"
  for version, label in ((b"#!AER-DAT2", "AEDAT 2.0 (CIFAR10-DVS, read_aedat2)"),
                         (b"#!AER-DAT3", "AEDAT 3.x (DVS128 Gesture, read_aedat31)"),
                         (b"#!AER-DAT4", "AEDAT 4 (not supported; convert with dv-processing)")):
    if data.startswith(version):
      return f"an {label} file"
  if data.startswith(b"#"):
    return f"a text header of an unknown format ({data[:40].splitlines()[0]!r})"
  if len(data) % 5 == 0:
    return "header-less binary (the N-MNIST .bin layout: 5 bytes per event, read_nmnist_bin)"
  return "header-less binary of no known event layout"


def _check_events(events: Events, offsets: np.ndarray, name: str, *, height: int, width: int,
                  on_unsorted: str) -> Events:
  """Sensor bounds and time order, with the byte offset of the first offending event."""
  if on_unsorted not in ON_UNSORTED:
    raise ValueError(f"on_unsorted={on_unsorted!r}; valid: {', '.join(ON_UNSORTED)}")
  for coord, limit, axis in ((events.x, width, "x"), (events.y, height, "y")):
    bad = np.flatnonzero(coord >= limit)
    if bad.size:
      i = int(bad[0])
      raise EventFileError(name, int(offsets[i]), f"event {i} has {axis}={int(coord[i])} outside the "
                           f"{height}x{width} (HxW) sensor ({bad.size} such events; corrupt file or "
                           "wrong format)")
  back = np.flatnonzero(np.diff(events.t) < 0)
  if back.size:
    if on_unsorted == "sort":
      order = np.argsort(events.t, kind="stable")
      return Events(*(a[order] for a in events))
    if on_unsorted == "raise":
      i = int(back[0]) + 1
      raise EventFileError(name, int(offsets[i]), f"timestamp goes backwards at event {i} "
                           f"({int(events.t[i - 1])} -> {int(events.t[i])}; {back.size} such steps). "
                           "Pass on_unsorted='sort' to sort the events by time, or 'keep' for "
                           "SpikingJelly's behaviour (file order)")
  return events


def _header_lines(data: bytes, name: str) -> list[tuple[int, bytes]]:
  """`(offset, line)` for the leading lines that start with `#` (line endings kept)."""
  lines, offset = [], 0
  while data.startswith(b"#", offset):
    end = data.find(b"\n", offset)
    if end < 0:
      raise EventFileError(name, offset, "header line without a newline (file truncated inside the header)")
    lines.append((offset, data[offset:end + 1]))
    offset = end + 1
  return lines


def _check_version(lines: list[tuple[int, bytes]], expected: bytes, name: str) -> None:
  if lines and lines[0][1].startswith(b"#!AER-DAT") and not lines[0][1].startswith(b"#!AER-DAT" + expected):
    found = lines[0][1].strip().decode("ascii", "replace")
    raise EventFileError(name, 0, f"expected an AEDAT {expected.decode()} file, found header {found!r}")


def _aedat2_body(source: Source, name: str | None) -> tuple[bytes, str, int]:
  data, name = _load(source, name)
  lines = _header_lines(data, name)
  _check_version(lines, b"2", name)
  if not lines or not lines[0][1].startswith(b"#!AER-DAT2"):
    raise EventFileError(name, 0, "not an AEDAT 2.0 file: no '#!AER-DAT2.0' header line; the bytes "
                         f"look like {_looks_like(data)}")
  start = lines[-1][0] + len(lines[-1][1])
  if start == len(data):
    raise EventFileError(name, start, "no events: the file holds only the AEDAT 2.0 header")
  return data, name, start


def read_aedat2_raw(source: Source, *, name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
  """AEDAT 2.0 body as `(addresses, timestamps)`, both uint32 `[N]` (big-endian pairs after the header).

  Raises:
    EventFileError: not AEDAT 2 (no `#!AER-DAT2` header: the message says what the bytes look like),
      no events, or a body that is not a whole number of 8-byte events.
  """
  data, name, start = _aedat2_body(source, name)
  body = len(data) - start
  if body % 8:
    raise EventFileError(name, start + body - body % 8, f"truncated event: {body % 8} trailing bytes "
                         "(AEDAT 2.0 events are 8 bytes: big-endian uint32 address, uint32 timestamp)")
  pairs = np.frombuffer(data, dtype=">u4", offset=start).reshape(-1, 2)
  return pairs[:, 0].astype(np.uint32), pairs[:, 1].astype(np.uint32)


def read_aedat2(source: Source, *, name: str | None = None, on_unsorted: str = "raise") -> Events:
  """CIFAR10-DVS `.aedat` (AEDAT 2.0, DVS128 jAER addresses) -> `Events` on a 128x128 sensor.

  SpikingJelly's decoding: raw `rx = (a & 0xFE) >> 1`, `ry = (a & 0x7F00) >> 8`, `rp = a & 1`, then
  `x = 127 - ry`, `y = 127 - rx`, `p = 1 - rp` (the transpose/flip that makes images upright).

  Args:
    source: a path or the file's bytes.
    name: the name used in errors (default: the path, or `<bytes>`).
    on_unsorted: `"raise"` (default), `"sort"` or `"keep"` for timestamps that go backwards.

  Raises:
    EventFileError: see `read_aedat2_raw`; timestamps going backwards (with `on_unsorted="raise"`).
  """
  if not isinstance(source, bytes | bytearray | memoryview):
    source, name = _load(source, name)
  data, name, start = _aedat2_body(source, name)
  addresses, timestamps = read_aedat2_raw(data, name=name)
  raw_x = (addresses & 0xFE) >> 1
  raw_y = (addresses & 0x7F00) >> 8
  raw_p = addresses & 1
  events = Events(timestamps.astype(np.int64), (127 - raw_y).astype(np.uint16),
                  (127 - raw_x).astype(np.uint16), (1 - raw_p).astype(np.uint8))
  offsets = start + 8 * np.arange(len(timestamps), dtype=np.int64)
  return _check_events(events, offsets, name, height=128, width=128, on_unsorted=on_unsorted)


def _aedat31_polarity(packet: bytes, capacity: int, size: int) -> Events:
  raw = np.frombuffer(packet, dtype=np.uint8).reshape(capacity, size)
  aer = np.ascontiguousarray(raw[:, 0:4]).view("<u4").ravel()
  ts = np.ascontiguousarray(raw[:, 4:8]).view("<u4").ravel()
  return Events(ts.astype(np.int64), ((aer >> 17) & 0x7FFF).astype(np.uint16),
                ((aer >> 2) & 0x7FFF).astype(np.uint16), ((aer >> 1) & 1).astype(np.uint8))


def read_aedat31(source: Source, *, name: str | None = None, on_unsorted: str = "raise") -> Events:
  """AEDAT 3.1 (DVS128 Gesture) polarity events -> `Events`.

  After the `#` header (ending with `#!END-HEADER`) come packets: a 28-byte little-endian header
  (type, source, event size, ts offset, ts overflow, capacity, number, valid) and `capacity * size`
  bytes. Polarity packets (type 1) hold `uint32 data` (x = bits 17-31, y = bits 2-16, p = bit 1) and
  `int32 t`; `t |= overflow << 31`. Like SpikingJelly, all `capacity` slots are read and the
  validity bit is not filtered; other packet types are skipped.

  `on_unsorted`: `"raise"` (default), `"sort"` or `"keep"` for timestamps that go backwards.

  Raises:
    EventFileError: missing `#!END-HEADER`, wrong version, a packet header or body cut short, a
      polarity packet with events smaller than 8 bytes, `number > capacity`, no polarity events,
      coordinates outside 128x128, or timestamps going backwards (`on_unsorted="raise"`).
  """
  data, name = _load(source, name)
  lines = _header_lines(data, name)
  _check_version(lines, b"3", name)
  if not lines:
    raise EventFileError(name, 0, "not an AEDAT 3.1 file: no '#!AER-DAT3.1' header; the bytes look "
                         f"like {_looks_like(data)}")
  if not lines[-1][1].startswith(b"#!END-HEADER"):
    raise EventFileError(name, lines[-1][0] + len(lines[-1][1]) if lines else 0,
                         "AEDAT 3.1 header has no '#!END-HEADER' line")
  offset, chunks, offsets = lines[-1][0] + len(lines[-1][1]), [], []
  while offset < len(data):
    if len(data) - offset < _AEDAT3_PACKET_HEADER.size:
      raise EventFileError(name, offset, f"truncated packet header ({len(data) - offset} of 28 bytes)")
    e_type, _, size, _, overflow, capacity, number, _ = _AEDAT3_PACKET_HEADER.unpack_from(data, offset)
    body = offset + _AEDAT3_PACKET_HEADER.size
    if number > capacity:
      raise EventFileError(name, offset, f"corrupt packet header: eventNumber {number} > eventCapacity {capacity}")
    if body + capacity * size > len(data):
      raise EventFileError(name, offset, f"truncated packet: header declares {capacity} x {size} bytes, "
                           f"only {len(data) - body} remain")
    if e_type == _POLARITY_EVENT and capacity:
      if size < 8:
        raise EventFileError(name, offset, f"corrupt polarity packet: event size {size} < 8 bytes")
      events = _aedat31_polarity(data[body:body + capacity * size], capacity, size)
      chunks.append(events._replace(t=events.t | (np.int64(overflow) << 31)))
      offsets.append(body + size * np.arange(capacity, dtype=np.int64))
    offset = body + capacity * size
  if not chunks:
    raise EventFileError(name, offset, "no events: the file holds no polarity events (header only, "
                         "or only other packet types)")
  events = Events(*(np.concatenate(parts) for parts in zip(*chunks)))
  return _check_events(events, np.concatenate(offsets), name, height=128, width=128,
                       on_unsorted=on_unsorted)


def read_nmnist_bin(source: Source, *, name: str | None = None, on_unsorted: str = "raise") -> Events:
  """N-MNIST `.bin` (ATIS, 40 bits per event) -> `Events` on a 34x34 sensor.

  Bytes per event: x, y, then `p = bit 7` and a 23-bit big-endian timestamp in the last 3 bytes
  (SpikingJelly `load_ATIS_bin`, tonic `read_mnist_file`).

  Args:
    source: a path or the file's bytes.
    name: the name used in errors.
    on_unsorted: `"raise"` (default), `"sort"` or `"keep"` for timestamps that go backwards.

  Raises:
    EventFileError: an empty file, an AEDAT file (the message names the format), a length that is
      not a multiple of 5 bytes, coordinates outside 34x34, or timestamps going backwards.
  """
  data, name = _load(source, name)
  if not data:
    raise EventFileError(name, 0, "no events: the file is empty")
  if data.startswith(b"#"):
    raise EventFileError(name, 0, f"not an N-MNIST .bin file (which has no header): the bytes look "
                         f"like {_looks_like(data)}")
  if len(data) % 5:
    raise EventFileError(name, len(data) - len(data) % 5, f"truncated event: {len(data) % 5} trailing bytes "
                         "(N-MNIST events are 5 bytes: x, y, polarity+timestamp[22:16], timestamp[15:0])")
  raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, 5).astype(np.int64)
  t = ((raw[:, 2] & 0x7F) << 16) | (raw[:, 3] << 8) | raw[:, 4]
  events = Events(t, raw[:, 0].astype(np.uint16), raw[:, 1].astype(np.uint16),
                  (raw[:, 2] >> 7).astype(np.uint8))
  return _check_events(events, 5 * np.arange(len(t), dtype=np.int64), name, height=34, width=34,
                       on_unsorted=on_unsorted)
