"""Static-image pipelines (CIFAR-10/100, ImageNet2012) over TFDS ArrayRecord sources.

Batches are `{"image": float32 [B, H, W, C] (normalised), "label": int32 [B]}`; the model broadcasts
images over T itself (style rule 1). Augmentation runs on the host, per example, in the pipeline.

Recipes (train split; eval is normalisation only, or Resize 256 + CenterCrop 224 on ImageNet):

| paper | call |
|---|---|
| TET (CIFAR) | `cifar_pipeline(...)`  (RandomCrop 32 pad 4 + HFlip + Normalize) |
| SML (CIFAR) | `cifar_pipeline(..., autoaugment=True, cutout="devries")` (either flag alone too) |
| CLIF (CIFAR) | `cifar_pipeline(..., cutout="torchtoolbox")` (crop, Cutout on uint8, flip) |
| TET/SML (ImageNet) | `imagenet_pipeline(...)` (RandomResizedCrop 224 + HFlip) |
"""

from __future__ import annotations

import dataclasses
from typing import Any

import grain
import numpy as np

from jsnn.data import _augment, _autoaugment, _imagenet_ops
from jsnn.data._cifar_builder import prepare_cifar_raw
from jsnn.data._imagenet_builder import prepare_imagenet_raw
from jsnn.data._normalize import mean_std, to_float_normalized
from jsnn.data._pipeline import make_pipeline
from jsnn.data._tfds_source import PREPARE_STATIC_HINT, open_stock_or_raw

_CUTOUTS = (None, "devries", "torchtoolbox")


@dataclasses.dataclass(frozen=True)
class CifarTransform:
  """TFDS CIFAR record -> `{"image": float32 [32, 32, 3], "label": int32}`.

  Train order (one order serves all three papers): RandomCrop(pad) -> [torchtoolbox Cutout (CLIF)]
  -> HFlip -> [AutoAugment CIFAR10Policy (SML)] -> /255 -> [Cutout(1, length) (SML)] -> Normalize.
  Called as `t(record)` (eval: no randomness) or `t(record, rng)` (train).
  """

  mean: tuple[float, ...]
  std: tuple[float, ...]
  train: bool = True
  autoaugment: bool = False
  cutout: str | None = None
  cutout_length: int = 16
  padding: int = 4
  label_key: str = "label"

  def __post_init__(self):
    if self.cutout not in _CUTOUTS:
      raise ValueError(f"cutout must be one of {_CUTOUTS}, got {self.cutout!r}")

  def __call__(self, record: dict[str, Any], rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    image = np.asarray(record["image"])
    if self.train:
      if rng is None:
        raise ValueError("a train transform needs an rng (use it in random_map)")
      image = _augment.random_crop_with_padding(image, rng, padding=self.padding)
      if self.cutout == "torchtoolbox":
        image = _augment.torchtoolbox_cutout(image, rng)
      image = _augment.random_horizontal_flip(image, rng)
      if self.autoaugment:
        image = _autoaugment.cifar10_policy(image, rng)
    mean, std = np.asarray(self.mean, np.float32), np.asarray(self.std, np.float32)
    x = image.astype(np.float32) / np.float32(255.0)
    if self.train and self.cutout == "devries":
      x = _augment.cutout(x, rng, length=self.cutout_length)
    return {"image": to_float_normalized(x, mean, std), "label": np.int32(record[self.label_key])}


@dataclasses.dataclass(frozen=True)
class ImageNetTransform:
  """TFDS ImageNet record -> `{"image": float32 [size, size, 3], "label": int32}`.

  Train: RandomResizedCrop(size, scale (0.08, 1), ratio (3/4, 4/3)) + HFlip; eval:
  Resize(resize_size) + CenterCrop(size); both bilinear on PIL, then ToTensor + Normalize.
  """

  mean: tuple[float, ...]
  std: tuple[float, ...]
  train: bool = True
  size: int = 224
  resize_size: int = 256

  def __call__(self, record: dict[str, Any], rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    image = np.asarray(record["image"])
    if image.ndim == 2 or image.shape[-1] == 1:
      image = np.repeat(image.reshape(image.shape[0], image.shape[1], 1), 3, axis=-1)
    if self.train:
      if rng is None:
        raise ValueError("a train transform needs an rng (use it in random_map)")
      image = _imagenet_ops.random_resized_crop(image, rng, size=self.size)
      image = _augment.random_horizontal_flip(image, rng)
    else:
      image = _imagenet_ops.center_crop(_imagenet_ops.resize_shorter_side(image, self.resize_size), self.size)
    mean, std = np.asarray(self.mean, np.float32), np.asarray(self.std, np.float32)
    return {"image": to_float_normalized(image, mean, std), "label": np.int32(record["label"])}


def _defaults(split: str, train: bool | None, shuffle: bool | None,
              drop_remainder: bool | None) -> tuple[bool, bool, bool]:
  train = split.startswith("train") if train is None else train
  return train, train if shuffle is None else shuffle, train if drop_remainder is None else drop_remainder


def _image_pipeline(source, transform, *, train: bool, **kwargs) -> grain.IterDataset:
  if train:
    return make_pipeline(source, augment=transform, **kwargs)
  return make_pipeline(source, preprocess=transform, **kwargs)


def cifar_pipeline(split: str = "train", *, name: str = "cifar10", data_dir: str | None = None,
                   batch_size: int, seed: int = 0, train: bool | None = None, shuffle: bool | None = None,
                   num_epochs: int | None = 1, drop_remainder: bool | None = None,
                   autoaugment: bool = False, cutout: str | None = None, cutout_length: int = 16,
                   label_key: str = "label", pad_to_batch: bool = False, shard_index: int | None = None,
                   shard_count: int | None = None, worker_count: int = 0, source: str = "auto",
                   manual_dir: str | None = None) -> grain.IterDataset:
  """CIFAR-10/100 batches `{"image": float32 [B, 32, 32, 3], "label": int32 [B]}` from TFDS.

  Args:
    split: TFDS split (`"train"`, `"test"`, or a slice such as `"train[:90%]"`).
    name: `"cifar10"` or `"cifar100"` (selects the normalisation constants too).
    data_dir: TFDS data dir holding the ArrayRecord version of the dataset.
    batch_size: per-host batch size.
    seed: shuffle + augmentation seed.
    train: augment; default `split.startswith("train")`. Also the default of `shuffle` and
      `drop_remainder`.
    num_epochs: passes (`None` = forever).
    autoaugment: SML's AutoAugment CIFAR10Policy.
    cutout: `None`, `"devries"` (SML's Cutout(1, cutout_length)) or `"torchtoolbox"` (CLIF's).
    label_key: `"label"`, or `"coarse_label"` for CIFAR-100's 20 super-classes.
    pad_to_batch: evaluation batches padded to `batch_size` with a `"mask"` (see `make_pipeline`).
    shard_index, shard_count, worker_count: see `make_pipeline`.
    source: `"stock"` (TFDS's `cifar10`/`cifar100`), `"raw"` (the TensorFlow-free `cifar10_raw`/`cifar100_raw`,
      generated from `cifar-1x-python.tar.gz` in `manual_dir` on first use), or `"auto"`: stock if prepared,
      else raw.
    manual_dir: where the raw builder finds the tarball; default `<data_dir>/downloads/manual/`.

  Returns:
    a `grain.IterDataset` (iterate it; `get_state`/`set_state` on the iterator).
  """
  train, shuffle, drop_remainder = _defaults(split, train, shuffle, drop_remainder)
  mean, std = mean_std(name)
  transform = CifarTransform(tuple(mean.tolist()), tuple(std.tolist()), train=train, autoaugment=autoaugment,
                             cutout=cutout, cutout_length=cutout_length, label_key=label_key)
  source = open_stock_or_raw(name, split, data_dir, source=source, hint=PREPARE_STATIC_HINT,
                             prepare_raw=lambda: prepare_cifar_raw(name, data_dir, manual_dir))
  return _image_pipeline(source, transform, train=train, batch_size=batch_size, seed=seed, shuffle=shuffle,
                         num_epochs=num_epochs, drop_remainder=drop_remainder, pad_to_batch=pad_to_batch,
                         shard_index=shard_index, shard_count=shard_count, worker_count=worker_count)


def imagenet_pipeline(split: str = "train", *, data_dir: str | None = None, batch_size: int, seed: int = 0,
                      train: bool | None = None, shuffle: bool | None = None, num_epochs: int | None = 1,
                      drop_remainder: bool | None = None, image_size: int = 224, resize_size: int = 256,
                      pad_to_batch: bool = False, shard_index: int | None = None, shard_count: int | None = None,
                      worker_count: int = 0, source: str = "auto", manual_dir: str | None = None) -> grain.IterDataset:
  """ImageNet2012 batches `{"image": float32 [B, 224, 224, 3], "label": int32 [B]}` from TFDS.

  Train: RandomResizedCrop(224) + HFlip; eval (`"validation"`): Resize(256) + CenterCrop(224).
  JPEG decoding happens in the pipeline (PIL), so use `worker_count` > 0 for real training.
  Arguments as in `cifar_pipeline`; `source="raw"` is the TensorFlow-free `imagenet2012_raw` (generated from
  the ILSVRC2012 tars in `manual_dir` on first use: hours, single process; see `jsnn.data._imagenet_builder`).
  """
  train, shuffle, drop_remainder = _defaults(split, train, shuffle, drop_remainder)
  mean, std = mean_std("imagenet2012")
  transform = ImageNetTransform(tuple(mean.tolist()), tuple(std.tolist()), train=train, size=image_size,
                                resize_size=resize_size)
  source = open_stock_or_raw("imagenet2012", split, data_dir, source=source, hint=PREPARE_STATIC_HINT,
                             prepare_raw=lambda: prepare_imagenet_raw(data_dir, manual_dir))
  return _image_pipeline(source, transform, train=train, batch_size=batch_size, seed=seed, shuffle=shuffle,
                         num_epochs=num_epochs, drop_remainder=drop_remainder, pad_to_batch=pad_to_batch,
                         shard_index=shard_index, shard_count=shard_count, worker_count=worker_count)
