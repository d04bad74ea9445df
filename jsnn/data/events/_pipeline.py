"""Event datasets -> time-major frame batches `{"frames": float32 [T, B, H, W, 2], "label": int32 [B]}`.

Recipes (`shared/spec/tet_sml_clif.md` §2.5, §4.6), all with `split_by="number"`:

| paper / set | arguments |
|---|---|
| TET, CIFAR10-DVS (T=10) | `normalize="max", size=48, quantize="truncate", flip_roll=True` |
| CLIF, CIFAR10-DVS (T=10) | `size=48, quantize="wrap", flip_roll=True, max_shift=0, rotate=15` (RandomRotation(15, expand=True), centre-cropped back to 48x48: see `_rotate.py`) |
| CLIF, DVS128 Gesture (T=20) | defaults (raw counts, 128x128, no augmentation) |
| presence maps | `binarize=True` (optionally `size=48`) |

Two differences from TET's own preprocessing remain (it ships pre-made `.pt` frames): it integrates
with `r2 = (i + 1) * (N // 10)` for every chunk, i.e. it drops the remainder events that SpikingJelly
(and this module) put in the last frame; and its events come from the MATLAB `dat2mat.m` conversion,
whose axes are SpikingJelly's transposed/flipped (`x = 127 - x_raw, y = y_raw` per SpikingJelly's
note), so its frames are a transposed/mirrored view of ours.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import grain
import numpy as np
import tensorflow_datasets as tfds

from jsnn.data._pipeline import make_pipeline
from jsnn.data._tfds_source import open_source
from jsnn.data.events import _frames, _rotate
from jsnn.data.events._events import Events
from jsnn.data.events._integrate import integrate_events_by_fixed_frames_number


@dataclasses.dataclass(frozen=True)
class FramesTransform:
  """Stored event record -> `{"frames": float32 [T, h, w, 2], "label": int32}`.

  Order: integrate (SpikingJelly) -> [normalize "max"] -> [binarize] -> [resize, quantize] ->
  [clip-level flip + circular roll, only when called with an rng and `flip_roll`] ->
  [clip-level rotation by an integer angle in `[-rotate, rotate)`, only with an rng and `rotate > 0`
  (CLIF's order: Resize -> HFlip -> RandomRotation)].
  """

  height: int
  width: int
  frames_number: int
  split_by: str = "number"
  normalize: str | None = None
  binarize: bool = False
  size: int | None = None
  quantize: str | None = None
  flip_roll: bool = False
  max_shift: int = 5
  rotate: int = 0

  def __post_init__(self):
    if int(self.rotate) != self.rotate or self.rotate < 0:
      raise ValueError(f"rotate must be a non-negative integer number of degrees (CLIF: 15), got {self.rotate!r}")
    if self.normalize not in (None, "max"):
      raise ValueError(f"normalize must be None or 'max', got {self.normalize!r}")
    if self.quantize is not None and self.size is None:
      raise ValueError("quantize applies to the PIL resize; set size (e.g. 48)")
    if self.quantize == "truncate" and self.normalize is None and not self.binarize:
      raise ValueError("quantize='truncate' (TET) needs frames in [0, 1]: use normalize='max' or binarize=True")
    if self.quantize == "wrap" and (self.normalize is not None or self.binarize):
      raise ValueError("quantize='wrap' (CLIF) works on raw counts: leave normalize=None, binarize=False")

  def __call__(self, record: dict[str, Any], rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    ev = record["events"]
    events = Events(*(np.asarray(ev[k]) for k in "txyp"))
    frames = integrate_events_by_fixed_frames_number(events, self.split_by, self.frames_number, self.height,
                                                     self.width)
    if self.normalize == "max":
      frames = _frames.normalize_by_max(frames)
    if self.binarize:
      frames = _frames.binarize(frames)
    if self.size is not None:
      frames = _frames.resize_frames(frames, self.size, quantize=self.quantize)
    if rng is not None and self.flip_roll:
      frames = _frames.random_flip_and_roll(frames, rng, max_shift=self.max_shift)
    if rng is not None and self.rotate:
      frames = _rotate.random_rotation(frames, rng, max_degrees=self.rotate)
    return {"frames": np.ascontiguousarray(frames, np.float32), "label": np.int32(record["label"])}


def to_time_major(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """`frames [B, T, ...] -> [T, B, ...]` (style rule 1: time-major from the data onwards)."""
  return {**batch, "frames": np.ascontiguousarray(np.swapaxes(batch["frames"], 0, 1))}


def sensor_size(name: str) -> tuple[int, int]:
  """`(height, width)` of a registered event dataset (`"cifar10_dvs"`, `"dvs128_gesture"`, `"n_mnist"`)."""
  return tuple(tfds.builder_cls(name.split("/")[0].split(":")[0]).SENSOR_SIZE)


def frames_pipeline(source, *, sensor_size: tuple[int, int], batch_size: int, frames_number: int,
                    split_by: str = "number", train: bool = False, seed: int = 0, shuffle: bool | None = None,
                    num_epochs: int | None = 1, drop_remainder: bool | None = None, normalize: str | None = None,
                    binarize: bool = False, size: int | None = None, quantize: str | None = None,
                    flip_roll: bool = False, max_shift: int = 5, rotate: int = 0, pad_to_batch: bool = False,
                    shard_index: int | None = None, shard_count: int | None = None,
                    worker_count: int = 0) -> grain.IterDataset:
  """Frame batches from any random-access source of event records (`{"events": {t,x,y,p}, "label"}`).

  Args:
    source: random-access records, e.g. `tfds.data_source(...)` of an event builder.
    sensor_size: `(height, width)` of the recordings.
    batch_size: per-host batch size.
    frames_number: T.
    split_by: `"number"` or `"time"` (SpikingJelly's rules).
    train: augment (if `flip_roll`); also the default of `shuffle` and `drop_remainder`.
    seed: shuffle + augmentation seed.
    num_epochs: passes (`None` = forever).
    normalize, binarize, size, quantize: see `FramesTransform` and the module's recipe table.
    flip_roll, max_shift: TET's clip-level flip + circular roll (train only).
    rotate: CLIF's clip-level RandomRotation, max degrees (train only; 0 = off; CLIF: 15).
    pad_to_batch: evaluation batches padded to `batch_size` with a `"mask"` (see `make_pipeline`).
    shard_index, shard_count, worker_count: see `jsnn.data.make_pipeline`.

  Returns:
    a `grain.IterDataset` of `{"frames": float32 [T, B, h, w, 2], "label": int32 [B]}`.
  """
  height, width = sensor_size
  transform = FramesTransform(height, width, frames_number, split_by, normalize, binarize, size, quantize,
                              flip_roll, max_shift, rotate)
  shuffle = train if shuffle is None else shuffle
  drop_remainder = train if drop_remainder is None else drop_remainder
  common = dict(batch_size=batch_size, seed=seed, shuffle=shuffle, num_epochs=num_epochs,
                drop_remainder=drop_remainder, pad_to_batch=pad_to_batch, finalize=to_time_major,
                shard_index=shard_index,
                shard_count=shard_count, worker_count=worker_count)
  if train and (flip_roll or rotate):
    return make_pipeline(source, augment=transform, **common)
  return make_pipeline(source, preprocess=transform, **common)


def prepare(name: str, *, data_dir: str, manual_dir: str | None = None) -> tfds.core.DatasetBuilder:
  """Builds an event dataset's ArrayRecord files from its raw files in `manual_dir` (once).

  Args:
    name: `"cifar10_dvs"` (optionally `"cifar10_dvs/tebn"`), `"dvs128_gesture"` or `"n_mnist"`.
    data_dir: TFDS data dir to write to.
    manual_dir: folder with the raw downloads; default `<data_dir>/downloads/manual`.

  Returns:
    the prepared builder (`builder.as_data_source(split)` reads it).

  Raises:
    FileNotFoundError: raw files missing (the message says which, where to get them, where to put them).
    EventFileError: a truncated/corrupt raw file (names the file and byte offset).
    ValueError: an event outside the sensor (names the file and event).
  """
  builder = tfds.builder(name, data_dir=data_dir, file_format="array_record")
  if not builder.is_prepared():
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
  return builder


def events_pipeline(name: str, split: str = "train", *, data_dir: str | None = None, batch_size: int,
                    frames_number: int, train: bool | None = None, **kwargs) -> grain.IterDataset:
  """Frame batches of a prepared event dataset: `frames_pipeline` over `tfds.data_source(name, split)`.

  Args:
    name: `"cifar10_dvs"`, `"cifar10_dvs/tebn"`, `"dvs128_gesture"` or `"n_mnist"`.
    split: `"train"` / `"test"` or a TFDS slice.
    data_dir: where `prepare` wrote the dataset.
    batch_size, frames_number: per-host B and T.
    train: default `split.startswith("train")`.
    **kwargs: the remaining `frames_pipeline` arguments (split_by, seed, normalize, size, quantize,
      binarize, flip_roll, max_shift, num_epochs, shuffle, drop_remainder, pad_to_batch, sharding,
      worker_count).

  Returns:
    a `grain.IterDataset` of `{"frames": float32 [T, B, h, w, 2], "label": int32 [B]}`.
  """
  hint = "Build it from the raw files first: jsnn.data.events.prepare({name!r}, data_dir=..., manual_dir=...)."
  source = open_source(name, split, data_dir, hint=hint)
  train = split.startswith("train") if train is None else train
  return frames_pipeline(source, sensor_size=sensor_size(name), batch_size=batch_size,
                         frames_number=frames_number, train=train, **kwargs)
