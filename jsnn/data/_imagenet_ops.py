"""ImageNet crops as torchvision does them on PIL images (bilinear): train RandomResizedCrop(224) +
flip, eval Resize(256) + CenterCrop(224) (TET `build_imagenet`, SML's ImageNet branch)."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image


def random_resized_crop_box(height: int, width: int, rng: np.random.Generator, *,
                            scale: tuple[float, float] = (0.08, 1.0),
                            ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> tuple[int, int, int, int]:
  """torchvision `RandomResizedCrop.get_params`: `(top, left, h, w)` of the crop window.

  Ten tries of area `~U(scale)·H·W` and log-uniform aspect ratio; then the central fallback crop
  clamped to `ratio`.
  """
  area = height * width
  log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
  for _ in range(10):
    target_area = area * rng.uniform(scale[0], scale[1])
    aspect = math.exp(rng.uniform(log_lo, log_hi))
    w = int(round(math.sqrt(target_area * aspect)))
    h = int(round(math.sqrt(target_area / aspect)))
    if 0 < w <= width and 0 < h <= height:
      return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
  in_ratio = width / height
  if in_ratio < min(ratio):
    w, h = width, int(round(width / min(ratio)))
  elif in_ratio > max(ratio):
    h, w = height, int(round(height * max(ratio)))
  else:
    h, w = height, width
  return (height - h) // 2, (width - w) // 2, h, w


def random_resized_crop(image: np.ndarray, rng: np.random.Generator, *, size: int = 224,
                        scale: tuple[float, float] = (0.08, 1.0),
                        ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> np.ndarray:
  """uint8 `[H, W, C]` -> a random crop resized (bilinear) to `[size, size, C]`."""
  top, left, h, w = random_resized_crop_box(image.shape[0], image.shape[1], rng, scale=scale, ratio=ratio)
  img = Image.fromarray(image)
  out = img.resize((size, size), Image.Resampling.BILINEAR, box=(left, top, left + w, top + h))
  return np.asarray(out)


def resize_shorter_side(image: np.ndarray, size: int = 256) -> np.ndarray:
  """torchvision `Resize(size)`: shorter side to `size`, longer side `int(size * long / short)`."""
  height, width = image.shape[:2]
  if height <= width:
    new_h, new_w = size, int(size * width / height)
  else:
    new_h, new_w = int(size * height / width), size
  if (new_h, new_w) == (height, width):
    return image
  return np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.Resampling.BILINEAR))


def center_crop(image: np.ndarray, size: int = 224) -> np.ndarray:
  """torchvision `CenterCrop(size)` (offsets `round((H - size) / 2)`; zero-pads smaller images)."""
  height, width = image.shape[:2]
  if height < size or width < size:
    pad_h, pad_w = max(size - height, 0), max(size - width, 0)
    image = np.pad(image, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    height, width = image.shape[:2]
  top, left = int(round((height - size) / 2.0)), int(round((width - size) / 2.0))
  return image[top:top + size, left:left + size]
