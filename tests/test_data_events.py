"""Event parsers, SpikingJelly-exact integration and frame transforms (`jsnn.data.events`).

* Integration agrees exactly with a direct numpy transcription of SpikingJelly's functions
  (`datasets/utils.py`: 0.0.0.0.14 and 2.0 master) on random streams.
* Hand-computed frames for both split modes, including the last-frame remainder rule.
* Each raw format decodes hand-packed bytes as documented and round-trips through its writer.
* Bad input: truncated/corrupt files name the file and byte offset; out-of-sensor events are rejected.
"""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

# The data stack is the `data` extra; skip (visibly, -ra) where it is not installed.
pytest.importorskip("tensorflow_datasets")
pytest.importorskip("grain")

from jsnn.data import events as je  # noqa: E402

# --------------------------------------------------------------------------------------------------
# A direct transcription of SpikingJelly's numpy functions (the reference; layout [T, 2, H, W]).


def sj_cal_fixed_frames_number_segment_index(events_t, split_by, frames_num):
  j_l = np.zeros(shape=[frames_num], dtype=int)
  j_r = np.zeros(shape=[frames_num], dtype=int)
  N = events_t.size
  if split_by == "number":
    di = N // frames_num
    for i in range(frames_num):
      j_l[i] = i * di
      j_r[i] = j_l[i] + di
  elif split_by == "time":
    dt = (events_t[-1] - events_t[0]) // frames_num
    idx = np.arange(N)
    for i in range(frames_num):
      t_l = dt * i + events_t[0]
      t_r = t_l + dt
      mask = np.logical_and(events_t >= t_l, events_t < t_r)
      idx_masked = idx[mask]
      j_l[i] = idx_masked[0]
      j_r[i] = idx_masked[-1] + 1
  j_r[-1] = N
  return j_l, j_r


def sj_integrate_events_segment_to_frame(x, y, p, H, W, j_l=0, j_r=-1):
  frame = np.zeros(shape=[2, H * W])
  x = x[j_l:j_r].astype(int)
  y = y[j_l:j_r].astype(int)
  p = p[j_l:j_r]
  mask = [p == 0]
  mask.append(np.logical_not(mask[0]))
  for c in range(2):
    position = y[mask[c]] * W + x[mask[c]]
    events_number_per_pos = np.bincount(position)
    frame[c][np.arange(events_number_per_pos.size)] += events_number_per_pos
  return frame.reshape((2, H, W))


def sj_integrate_events_by_fixed_frames_number(events, split_by, frames_num, H, W):
  t, x, y, p = (events[key] for key in ("t", "x", "y", "p"))
  j_l, j_r = sj_cal_fixed_frames_number_segment_index(t, split_by, frames_num)
  frames = np.zeros([frames_num, 2, H, W])
  for i in range(frames_num):
    frames[i] = sj_integrate_events_segment_to_frame(x, y, p, H, W, j_l[i], j_r[i])
  return frames


def sj_integrate_events_by_fixed_duration_v014(events, duration, H, W):
  x, y, t, p = events["x"], events["y"], events["t"], events["p"]
  N = t.size
  frames = []
  left = 0
  right = 0
  while True:
    t_l = t[left]
    while True:
      if right == N or t[right] - t_l > duration:
        break
      else:
        right += 1
    frames.append(np.expand_dims(sj_integrate_events_segment_to_frame(x, y, p, H, W, left, right), 0))
    left = right
    if right == N:
      return np.concatenate(frames)


def sj_integrate_events_by_fixed_duration_master(events, duration, H, W):
  x, y, t, p = events["x"], events["y"], events["t"], events["p"]
  N = t.size
  t = t - t.min()
  frames_num = int(math.ceil(t[-1] / duration))
  frames = np.zeros([frames_num, 2, H, W])
  frame_index = t // duration
  left = 0
  for i in range(frames_num - 1):
    right = np.searchsorted(frame_index, i + 1, side="left")
    frames[i] = sj_integrate_events_segment_to_frame(x, y, p, H, W, left, right)
    left = right
  frames[-1] = sj_integrate_events_segment_to_frame(x, y, p, H, W, left, N)
  return frames


def random_stream(rng, n, height, width, *, span=100_000, ordered=True):
  t = rng.integers(0, span, n)
  t = np.sort(t) if ordered else t
  return {"t": t.astype(np.int64), "x": rng.integers(0, width, n), "y": rng.integers(0, height, n),
          "p": rng.integers(0, 2, n)}


def chw(frames_thwc):
  return np.moveaxis(frames_thwc, -1, 1)


# --------------------------------------------------------------------------------------------------
# Parity with SpikingJelly on random streams.


@pytest.mark.parametrize("split_by", ["number", "time"])
@pytest.mark.parametrize("seed", range(6))
def test_fixed_frames_number_matches_spikingjelly(split_by, seed):
  rng = np.random.default_rng(seed)
  height, width = [(34, 34), (128, 128), (7, 13)][seed % 3]
  n, frames_number = int(rng.integers(500, 4000)), int(rng.integers(1, 17))
  stream = random_stream(rng, n, height, width)
  ours = je.integrate_events_by_fixed_frames_number(stream, split_by, frames_number, height, width)
  ref = sj_integrate_events_by_fixed_frames_number(stream, split_by, frames_number, height, width)
  assert ours.shape == (frames_number, height, width, 2) and ours.dtype == np.float32
  np.testing.assert_array_equal(chw(ours), ref)
  assert ours.sum() == n  # the remainder rule loses no event
  j_l, j_r = je.frame_segment_indices(stream["t"], split_by, frames_number)
  ref_l, ref_r = sj_cal_fixed_frames_number_segment_index(stream["t"], split_by, frames_number)
  np.testing.assert_array_equal(j_l, ref_l)
  np.testing.assert_array_equal(j_r, ref_r)


@pytest.mark.parametrize("seed", range(3))
def test_time_split_matches_spikingjelly_on_unordered_timestamps(seed):
  # SpikingJelly takes the first and last *index* inside each window; reproduce it for unsorted t too.
  rng = np.random.default_rng(100 + seed)
  stream = random_stream(rng, 3000, 16, 16, ordered=False)
  stream["t"][0], stream["t"][-1] = 0, 99_999  # SpikingJelly's dt uses t[-1] - t[0]
  ours = je.integrate_events_by_fixed_frames_number(stream, "time", 8, 16, 16)
  np.testing.assert_array_equal(chw(ours), sj_integrate_events_by_fixed_frames_number(stream, "time", 8, 16, 16))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("anchor,reference", [("event", sj_integrate_events_by_fixed_duration_v014),
                                              ("grid", sj_integrate_events_by_fixed_duration_master)])
def test_fixed_duration_matches_spikingjelly(seed, anchor, reference):
  rng = np.random.default_rng(200 + seed)
  stream = random_stream(rng, int(rng.integers(200, 3000)), 34, 34, span=int(rng.integers(5_000, 300_000)))
  duration = int(rng.integers(500, 20_000))
  ours = je.integrate_events_by_fixed_duration(stream, duration, 34, 34, anchor=anchor)
  ref = reference(stream, duration, 34, 34)
  assert ours.shape[0] == ref.shape[0] >= 1
  np.testing.assert_array_equal(chw(ours), ref)
  assert ours.sum() == stream["t"].size


def test_fixed_duration_event_anchor_on_unordered_timestamps_matches_v014():
  rng = np.random.default_rng(7)
  stream = random_stream(rng, 400, 8, 8, span=10_000, ordered=False)
  ours = je.integrate_events_by_fixed_duration(stream, 1_500, 8, 8, anchor="event")
  np.testing.assert_array_equal(chw(ours), sj_integrate_events_by_fixed_duration_v014(stream, 1_500, 8, 8))


# --------------------------------------------------------------------------------------------------
# Hand-computed frames.


def hand_frames(stream, ranges, height, width):
  """Frames written out event by event from explicit index ranges (no bincount)."""
  frames = np.zeros((len(ranges), height, width, 2), np.float32)
  for f, (lo, hi) in enumerate(ranges):
    for i in range(lo, hi):
      frames[f, stream["y"][i], stream["x"][i], int(stream["p"][i] != 0)] += 1
  return frames


# 23 events on a 3x4 sensor, with repeats at (y=1, x=2) so that counts exceed 1.
HAND = {
    "t": np.array([0, 1, 2, 3, 10, 11, 25, 26, 27, 30, 31, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 80]),
    "x": np.array([2, 2, 0, 3, 2, 1, 2, 2, 0, 3, 3, 2, 1, 0, 2, 2, 2, 1, 0, 3, 2, 2, 2]),
    "y": np.array([1, 1, 0, 2, 1, 1, 1, 1, 2, 0, 0, 1, 2, 2, 1, 1, 1, 0, 0, 2, 1, 1, 1]),
    "p": np.array([1, 1, 0, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1]),
}


def test_number_split_by_hand_with_remainder():
  # N=23, T=5: di=4 -> [0,4) [4,8) [8,12) [12,16) and the last frame takes the remainder [16,23) (7 events).
  frames = je.integrate_events_by_fixed_frames_number(HAND, "number", 5, 3, 4)
  np.testing.assert_array_equal(frames, hand_frames(HAND, [(0, 4), (4, 8), (8, 12), (12, 16), (16, 23)], 3, 4))
  assert frames[0, 1, 2, 1] == 2  # events 0 and 1: same pixel, ON
  assert frames.reshape(5, -1).sum(1).tolist() == [4, 4, 4, 4, 7]


def test_time_split_by_hand_with_remainder():
  # t spans 0..80, T=4: dt=20, windows [0,20) [20,40) [40,60) [60,80); the last frame extends to t=80.
  frames = je.integrate_events_by_fixed_frames_number(HAND, "time", 4, 3, 4)
  np.testing.assert_array_equal(frames, hand_frames(HAND, [(0, 6), (6, 12), (12, 22), (22, 23)], 3, 4))
  # T=3: dt = 80 // 3 = 26 -> [0,26) [26,52) [52,78) is empty; the last frame still ends at N.
  frames = je.integrate_events_by_fixed_frames_number(HAND, "time", 3, 3, 4)
  np.testing.assert_array_equal(frames, hand_frames(HAND, [(0, 7), (7, 22), (22, 23)], 3, 4))


def test_fixed_duration_by_hand():
  # anchor "event": frames start at their first event t_l and take t <= t_l + 20:
  # t_l = 0 -> t 0..11; t_l = 25 -> 25..45; t_l = 46 -> 46..49; t_l = 80.
  frames = je.integrate_events_by_fixed_duration(HAND, 20, 3, 4, anchor="event")
  np.testing.assert_array_equal(frames, hand_frames(HAND, [(0, 6), (6, 18), (18, 22), (22, 23)], 3, 4))
  # anchor "grid": ceil(80/30)=3 frames [0,30) [30,60) and the rest.
  frames = je.integrate_events_by_fixed_duration(HAND, 30, 3, 4, anchor="grid")
  np.testing.assert_array_equal(frames, hand_frames(HAND, [(0, 9), (9, 22), (22, 23)], 3, 4))


def test_fewer_events_than_frames_puts_everything_in_the_last_frame():
  stream = {k: v[:3] for k, v in HAND.items()}
  frames = je.integrate_events_by_fixed_frames_number(stream, "number", 5, 3, 4)
  assert frames[:4].sum() == 0 and frames[4].sum() == 3


# --------------------------------------------------------------------------------------------------
# Raw formats: documented decoding of hand-packed bytes, round trips, errors.


def test_aedat2_decodes_cifar10_dvs_addresses():
  # address: ry in bits 8-14, rx in bits 1-7, rp in bit 0; SpikingJelly: x = 127-ry, y = 127-rx, p = 1-rp.
  body = struct.pack(">II", (5 << 8) | (9 << 1) | 1, 1000) + struct.pack(">II", (0 << 8) | (127 << 1) | 0, 1001)
  ev = je.read_aedat2(b"#!AER-DAT2.0\r\n# comment\r\n" + body)
  assert ev.x.tolist() == [122, 127] and ev.y.tolist() == [118, 0] and ev.p.tolist() == [0, 1]
  assert ev.t.tolist() == [1000, 1001]


def test_aedat31_decodes_polarity_packets_and_skips_others():
  aer = (5 << 17) | (7 << 2) | (1 << 1) | 1
  header = b"#!AER-DAT3.1\r\n#Source 1: DVS128\r\n#!END-HEADER\r\n"
  special = struct.pack("<HHIIIIII", 0, 1, 8, 4, 0, 1, 1, 1) + struct.pack("<II", 0xDEAD, 7)  # type 0: skipped
  polarity = struct.pack("<HHIIIIII", 1, 1, 8, 4, 1, 2, 2, 2) + struct.pack("<IIII", aer, 100, aer ^ 2, 101)
  ev = je.read_aedat31(header + special + polarity)
  assert ev.x.tolist() == [5, 5] and ev.y.tolist() == [7, 7] and ev.p.tolist() == [1, 0]
  assert ev.t.tolist() == [100 + (1 << 31), 101 + (1 << 31)]  # t | overflow << 31


def test_nmnist_decodes_40_bit_events():
  t = 0x5ABCDE  # 23 bits
  ev = je.read_nmnist_bin(bytes([33, 2, 0x80 | (t >> 16), (t >> 8) & 0xFF, t & 0xFF, 0, 1, 0, 0, 5]))
  assert ev.x.tolist() == [33, 0] and ev.y.tolist() == [2, 1] and ev.p.tolist() == [1, 0]
  assert ev.t.tolist() == [t, 5]


@pytest.mark.parametrize("encode,read,size", [(je.encode_aedat2, je.read_aedat2, 128),
                                              (je.encode_aedat31, je.read_aedat31, 128),
                                              (je.encode_nmnist_bin, je.read_nmnist_bin, 34)])
def test_writers_round_trip(encode, read, size):
  rng = np.random.default_rng(0)
  stream = random_stream(rng, 5000, size, size, span=(1 << 23) - 1)
  if encode is je.encode_aedat31:
    stream["t"][-10:] += 1 << 31  # crosses a timestamp-overflow epoch: a new packet
    data = encode(je.as_events(stream), packet_events=1000)
  else:
    data = encode(je.as_events(stream))
  ev = read(data)
  for key, arr in zip("txyp", ev):
    np.testing.assert_array_equal(arr, stream[key], err_msg=key)


def test_truncated_aedat2_names_file_and_offset(tmp_path):
  path = tmp_path / "cifar10_cat_3.aedat"
  data = je.encode_aedat2(je.as_events({k: v[:5] for k, v in HAND.items()}))
  path.write_bytes(data[:-3])
  header = len(b"#!AER-DAT2.0\r\n# written by jsnn\r\n")
  with pytest.raises(je.EventFileError, match=rf"cifar10_cat_3\.aedat.*byte offset {header + 32}") as info:
    je.read_aedat2(path)
  assert info.value.offset == header + 32 and info.value.path == str(path)


def test_truncated_and_corrupt_aedat31_name_offset(tmp_path):
  data = je.encode_aedat31(je.as_events(HAND))
  header_len = data.index(b"#!END-HEADER\r\n") + len(b"#!END-HEADER\r\n")
  path = tmp_path / "user01_led.aedat"
  path.write_bytes(data[:-5])  # packet body cut short
  with pytest.raises(je.EventFileError, match=rf"user01_led\.aedat.*truncated packet.*byte offset {header_len}"):
    je.read_aedat31(path)
  path.write_bytes(data + b"\x01\x00\x01")  # a packet header cut short after the last packet
  with pytest.raises(je.EventFileError, match=rf"truncated packet header.*byte offset {len(data)}"):
    je.read_aedat31(path)
  corrupt = bytearray(data)
  struct.pack_into("<I", corrupt, header_len + 4, 2)  # polarity event size 2 < 8
  with pytest.raises(je.EventFileError, match=rf"event size 2.*byte offset {header_len}"):
    je.read_aedat31(bytes(corrupt), name="corrupt.aedat")
  no_end = data.replace(b"#!END-HEADER\r\n", b"")
  with pytest.raises(je.EventFileError, match="END-HEADER"):
    je.read_aedat31(no_end, name="x.aedat")
  with pytest.raises(je.EventFileError, match="expected an AEDAT 3 file.*AER-DAT2.0.*byte offset 0"):
    je.read_aedat31(je.encode_aedat2(je.as_events(HAND)), name="v2.aedat")


def test_truncated_nmnist_names_offset(tmp_path):
  path = tmp_path / "00007.bin"
  path.write_bytes(je.encode_nmnist_bin(je.as_events(HAND))[:-2])
  with pytest.raises(je.EventFileError, match=rf"00007\.bin.*byte offset {22 * 5}"):
    je.read_nmnist_bin(path)


def test_events_outside_the_sensor_are_rejected():
  stream = {k: v.copy() for k, v in HAND.items()}
  stream["x"][5] = 4  # width is 4: valid x is 0..3
  with pytest.raises(ValueError, match=r"event 5 .*x=4 outside the sensor width 4 \(valid x is 0\.\.3"):
    je.integrate_events_by_fixed_frames_number(stream, "number", 2, 3, 4)
  stream = {k: v.copy() for k, v in HAND.items()}
  stream["y"][0] = 3
  with pytest.raises(ValueError, match="y=3 outside the sensor height 3"):
    je.integrate_events_by_fixed_duration(stream, 10, 3, 4)
  with pytest.raises(ValueError, match="negative x"):
    je.as_events({**HAND, "x": HAND["x"] - 3})


def test_bad_arguments():
  with pytest.raises(ValueError, match="split_by"):
    je.integrate_events_by_fixed_frames_number(HAND, "duration", 2, 3, 4)
  with pytest.raises(ValueError, match="empty"):
    je.integrate_events_by_fixed_frames_number({k: v[:0] for k, v in HAND.items()}, "number", 2, 3, 4)
  with pytest.raises(ValueError, match="one length"):
    je.as_events({**HAND, "p": HAND["p"][:-1]})
  with pytest.raises(ValueError, match="anchor"):
    je.integrate_events_by_fixed_duration(HAND, 10, 3, 4, anchor="start")


# --------------------------------------------------------------------------------------------------
# Frame transforms.


def test_normalize_by_max_per_frame_and_empty_frames():
  frames = np.zeros((3, 2, 2, 2), np.float32)
  frames[0, 0, 0, 0], frames[0, 1, 1, 1] = 4, 2
  frames[2, 0, 1, 1] = 7
  out = je.normalize_by_max(frames)
  assert out.dtype == np.float32
  assert out[0, 0, 0, 0] == 1 and out[0, 1, 1, 1] == 0.5 and out[2, 0, 1, 1] == 1
  assert np.all(out[1] == 0)  # TET's code would divide 0/0


def test_resize_quantized_is_multiples_of_1_over_255_and_couples_channels_like_pil_la():
  rng = np.random.default_rng(0)
  counts = rng.poisson(0.7, (3, 128, 128, 2)).astype(np.float32)
  for quantize, frames in (("truncate", je.normalize_by_max(counts)), ("wrap", counts)):
    out = je.resize_frames(frames, 48, quantize=quantize)
    assert out.shape == (3, 48, 48, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out * 255, np.round(out * 255), atol=1e-4)
  # PIL resamples "LA" premultiplied: where the ON channel (alpha) is 0, the OFF channel is lost.
  off_only = np.zeros((1, 8, 8, 2), np.float32)
  off_only[..., 0] = 1.0
  assert np.all(je.resize_frames(off_only, 4, quantize="truncate") == 0)
  np.testing.assert_allclose(je.resize_frames(off_only, 4)[..., 0], 1.0, atol=1e-6)  # float resize keeps it


def test_wrap_quantization_reproduces_torch_byte_wraparound():
  # torchvision ToPILImage on raw counts: mul(255).byte() wraps, counts 1,2,3,4 -> 255,254,253,252 (spec §4.6).
  frames = np.ones((4, 6, 6, 2), np.float32)
  frames[:, :, :, 0] = np.arange(1, 5, dtype=np.float32)[:, None, None]
  out = je.resize_frames(frames, 3, quantize="wrap")
  np.testing.assert_allclose(out[:, 0, 0, 0] * 255, [255, 254, 253, 252], atol=1e-4)
  np.testing.assert_allclose(out[..., 1], 1.0)
  with pytest.raises(ValueError, match="raw non-negative integer counts"):
    je.resize_frames(frames / 3, 3, quantize="wrap")
  with pytest.raises(ValueError, match=r"\[0, 1\]"):
    je.resize_frames(frames, 3, quantize="truncate")


def test_binarize():
  frames = np.array([0.0, 1.0, 3.0, 0.5], np.float32).reshape(1, 2, 2, 1)
  assert je.binarize(frames).ravel().tolist() == [0.0, 1.0, 1.0, 1.0]


def test_flip_and_roll_is_one_circular_clip_level_transform():
  frames = np.random.default_rng(0).random((4, 12, 12, 2)).astype(np.float32)
  seen_shifts, seen_flips = set(), set()
  for seed in range(200):
    out = je.random_flip_and_roll(frames, np.random.default_rng(seed))
    matches = [(flip, dy, dx) for flip in (False, True) for dy in range(-5, 6) for dx in range(-5, 6)
               if np.array_equal(out, np.roll(frames[:, :, ::-1] if flip else frames, (dy, dx), axis=(1, 2)))]
    assert matches, "not a flip + circular roll of the whole clip"
    flip, dy, dx = matches[0]
    seen_flips.add(flip)
    seen_shifts.update((dy, dx))
  assert seen_flips == {False, True} and seen_shifts == set(range(-5, 6))
  np.testing.assert_array_equal(np.sort(out, axis=None), np.sort(frames, axis=None))  # circular: nothing lost


# A hand-made 5x5 frame (H, W): a pixel at the top centre (channel 0), the right centre (channel 1)
# and the centre. PIL rotates counter-clockwise about the centre (2.5, 2.5) with nearest sampling.
HAND_FRAME = np.zeros((1, 5, 5, 2), np.float32)
HAND_FRAME[0, 0, 2, 0], HAND_FRAME[0, 2, 4, 1], HAND_FRAME[0, 2, 2, 0] = 1.0, 0.5, 0.25


def test_rotation_of_a_hand_made_frame():
  np.testing.assert_array_equal(je.rotate_frames(HAND_FRAME, 0), HAND_FRAME)
  out = je.rotate_frames(HAND_FRAME, 90)  # counter-clockwise: top centre -> left centre, right -> top
  expected = np.zeros_like(HAND_FRAME)
  expected[0, 2, 0, 0], expected[0, 0, 2, 1], expected[0, 2, 2, 0] = 1.0, 0.5, 0.25
  np.testing.assert_array_equal(out, expected)
  # 14 degrees: expand=True makes a 7x7 canvas (corners at 2.5 +- 2.5 (cos + sin) = [-0.53, 5.53]),
  # cropped at offset 1. Nearest sampling maps two output pixels onto each off-centre source pixel
  # (worked out from PIL's inverse map floor(R^-1 (p + 0.5 - c) + c)).
  out = je.rotate_frames(HAND_FRAME, 14)
  expected = np.zeros_like(HAND_FRAME)
  expected[0, 0, 1, 0] = expected[0, 0, 2, 0] = 1.0
  expected[0, 1, 4, 1] = expected[0, 2, 4, 1] = 0.5
  expected[0, 2, 2, 0] = 0.25
  np.testing.assert_array_equal(out, expected)


def test_rotation_equals_clifs_pil_la_rotate_with_expand_then_centre_crop():
  from PIL import Image
  rng = np.random.default_rng(0)
  for degrees in (-15, -7, 1, 8, 14):
    # uint8 frames as CLIF has them after ToPILImage -> Resize(48): a 2-channel "LA" image.
    u8 = (rng.random((48, 48, 2)) < 0.3) * rng.integers(1, 256, (48, 48, 2))
    u8 = u8.astype(np.uint8)
    canvas = np.asarray(Image.fromarray(u8, mode="LA").rotate(degrees, expand=True))
    top, left = (canvas.shape[0] - 48) // 2, (canvas.shape[1] - 48) // 2
    assert canvas.shape[0] == {-15: 60, 14: 60, 8: 56}.get(degrees, canvas.shape[0])
    out = je.rotate_frames(u8[None].astype(np.float32) / 255, degrees)
    np.testing.assert_array_equal(out[0] * 255, canvas[top:top + 48, left:left + 48].astype(np.float32))


def test_random_rotation_draws_one_integer_angle_per_clip_in_clifs_range():
  frames = np.random.default_rng(1).random((3, 9, 9, 2)).astype(np.float32)
  seen = set()
  for seed in range(300):
    out = je.random_rotation(frames, np.random.default_rng(seed))
    angle = int(np.random.default_rng(seed).integers(-15, 15))
    np.testing.assert_array_equal(out, je.rotate_frames(frames, angle))  # all T frames alike
    seen.add(angle)
  assert min(seen) == -15 and max(seen) == 14  # np.random.randint(-15, 15): upper end exclusive
  with pytest.raises(ValueError, match="positive integer"):
    je.random_rotation(frames, np.random.default_rng(0), max_degrees=0)
  with pytest.raises(ValueError, match=r"expected frames \[T, H, W, C\]"):
    je.rotate_frames(frames[0], 5)
  with pytest.raises(ValueError, match="non-negative integer"):
    je.FramesTransform(128, 128, 10, rotate=-1)
