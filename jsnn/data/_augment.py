"""Host-side (numpy) image augmentations of the CIFAR recipes, on `[H, W, C]` arrays.

Each op takes the image and a `np.random.Generator` and reproduces the torchvision / reference-code op
the papers use, draw for draw in distribution (not bit-for-bit in random stream: torch's RNG is not
numpy's). `shared/spec/tet_sml_clif.md` §2.5 (TET), §3.5 (SML), §4.6 (CLIF).
"""

from __future__ import annotations

import math

import numpy as np


def random_crop_with_padding(image: np.ndarray, rng: np.random.Generator, *, size: int | None = None,
                             padding: int = 4) -> np.ndarray:
  """torchvision `RandomCrop(size, padding)`: zero-pad every side, crop a uniformly placed window.

  Args:
    image: `[H, W, C]`.
    rng: random generator.
    size: output side (square); default the input height.
    padding: zero padding added on each side before cropping.

  Returns:
    `[size, size, C]`, same dtype.
  """
  height, width = image.shape[:2]
  size = height if size is None else size
  padded = np.pad(image, ((padding, padding), (padding, padding), (0, 0)))
  top = int(rng.integers(0, height + 2 * padding - size + 1))
  left = int(rng.integers(0, width + 2 * padding - size + 1))
  return padded[top:top + size, left:left + size]


def random_horizontal_flip(image: np.ndarray, rng: np.random.Generator, *, p: float = 0.5) -> np.ndarray:
  """torchvision `RandomHorizontalFlip(p)` on `[H, W, C]` (or any `[..., H, W, C]`)."""
  return image[..., ::-1, :] if rng.random() < p else image


def cutout(image: np.ndarray, rng: np.random.Generator, *, length: int = 16, n_holes: int = 1) -> np.ndarray:
  """DeVries & Taylor Cutout (SML's `Cutout(n_holes=1, length=16)`): zero a square, clipped at borders.

  The centre is uniform over all pixels, so the square can be partly outside the image. SML applies
  it after `ToTensor` and before `Normalize`, i.e. to the [0, 1] image: the hole becomes
  `-mean/std` after normalisation. Apply it in that position to match.

  Args:
    image: `[H, W, C]`.
    rng: random generator.
    length: side of the square.
    n_holes: number of squares.

  Returns:
    a copy with the holes set to 0.
  """
  out = image.copy()
  height, width = image.shape[:2]
  for _ in range(n_holes):
    cy, cx = int(rng.integers(height)), int(rng.integers(width))
    y1, y2 = max(cy - length // 2, 0), min(cy + length // 2, height)
    x1, x2 = max(cx - length // 2, 0), min(cx + length // 2, width)
    out[y1:y2, x1:x2] = 0
  return out


def torchtoolbox_cutout(image: np.ndarray, rng: np.random.Generator, *, p: float = 0.5,
                        scale: tuple[float, float] = (0.02, 0.4), ratio: tuple[float, float] = (0.4, 2.5),
                        value: tuple[int, int] = (0, 255), fill: str = "pil") -> np.ndarray:
  """torchtoolbox 0.1.8.2 `transform.Cutout()` as CLIF applies it: on the uint8 PIL image.

  With probability `p`: area `s ~ U(scale)·H·W`, aspect `r ~ U(ratio)`, `w = int(sqrt(s/r))`,
  `h = int(sqrt(s·r))`, top-left uniform (inclusive bounds, torchtoolbox's `img.size` naming kept:
  the column offset ranges over `[0, H - w]`, the row offset over `[0, W - h]`), one value
  `c ~ U{value[0]..value[1]}`.

  `fill="pil"` (default) reproduces what that code really does: `PIL.Image.paste(c, box)` with an int
  on an RGB image fills the box with the packed colour `(c, 0, 0)` (checked on Pillow 13), so the
  patch is red-channel only. `fill="gray"` fills every channel with `c` (the documented intent).

  Args:
    image: uint8 `[H, W, C]`.
    rng: random generator.
    p, scale, ratio, value: torchtoolbox defaults.
    fill: "pil" or "gray" (see above).

  Returns:
    the (possibly) erased copy.
  """
  if fill not in ("pil", "gray"):
    raise ValueError(f"fill must be 'pil' or 'gray', got {fill!r}")
  if rng.random() >= p:
    return image
  rows, cols = image.shape[:2]
  area = rng.uniform(*scale) * rows * cols
  aspect = rng.uniform(*ratio)
  w, h = int(math.sqrt(area / aspect)), int(math.sqrt(area * aspect))
  left = int(rng.integers(0, max(rows - w, 0) + 1))
  top = int(rng.integers(0, max(cols - h, 0) + 1))
  c = int(rng.integers(value[0], value[1] + 1))
  out = image.copy()
  box = out[top:top + h, left:left + w]
  if fill == "gray" or out.shape[-1] == 1:
    box[...] = c
  else:
    box[...] = 0
    box[..., 0] = c
  return out
