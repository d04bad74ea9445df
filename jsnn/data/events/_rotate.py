"""CLIF's clip-level random rotation of DVS frames, `RandomRotation(degree=15)` with `expand=True`.

CLIF (`HuuYuLong/Complementary-LIF`) trains CIFAR10-DVS with `ToPILImage -> Resize(48) ->
RandomHorizontalFlip -> RandomRotation -> ToTensor` on the list of T frames (`train.py:176-184`).
Its `utils/augmentation.py:361-375` `RandomRotation(consistent=True, degree=15, p=1.0)` draws **one
integer angle per clip**, `np.random.randint(-15, 15)` (so -15 .. 14 degrees: the upper end is
exclusive), and rotates every frame with PIL's `Image.rotate(deg, expand=True)`: counter-clockwise
about the frame centre, nearest-neighbour sampling, zero fill, on a canvas enlarged to hold the whole
rotated frame (48x48 becomes 56x56 at 8 degrees and 60x60 at 14 or -15 degrees).

**Batching choice.** The enlarged canvas depends on the angle, so clips of one batch have different
sizes; torch's default collate cannot stack them (CLIF's loader would fail on such a batch), and a
jitted step needs one shape. Here the frame is rotated on PIL's enlarged canvas exactly as CLIF does
(the same Pillow call, per channel, mode "F"), then **centre-cropped back** to the input size. The
crop keeps the spatial scale the convolutions see (resizing the canvas back instead would add a
0.81-1.0 zoom that CLIF does not have) and keeps the evaluation size (CLIF tests on 48x48); what is
lost is the content rotated past the 48x48 square (the corners). On the kept square the result equals
PIL's `rotate(deg, expand=False)` up to the half-pixel placement of the crop when the canvas grows by
an odd number of pixels.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["rotate_frames", "random_rotation"]


def _rotate_2d(frame: np.ndarray, degrees: int) -> np.ndarray:
  image = Image.fromarray(np.ascontiguousarray(frame, np.float32), mode="F")
  return np.asarray(image.rotate(degrees, resample=Image.Resampling.NEAREST, expand=True, fillcolor=0.0))


def rotate_frames(frames: np.ndarray, degrees: int) -> np.ndarray:
  """Rotates every frame of `[T, H, W, C]` by `degrees` (counter-clockwise) with PIL's `expand=True`,
  then centre-crops the enlarged canvas back to `H x W`.

  Args:
    frames: float `[T, H, W, C]` (any C; each channel is rotated alike).
    degrees: the angle in degrees (CLIF draws integers in [-15, 14]).

  Returns:
    float32 `[T, H, W, C]`: values of `frames` (nearest neighbour) or 0 where the rotated frame does
    not cover a pixel. The canvas of size `(h', w')` is cropped at rows `(h' - H) // 2 ...`,
    columns `(w' - W) // 2 ...`.
  """
  frames = np.asarray(frames)
  if frames.ndim != 4:
    raise ValueError(f"expected frames [T, H, W, C], got shape {frames.shape}")
  _, h, w, _ = frames.shape
  out = np.stack([np.stack([_rotate_2d(f[..., c], degrees) for c in range(f.shape[-1])], axis=-1)
                  for f in frames])
  top, left = (out.shape[1] - h) // 2, (out.shape[2] - w) // 2
  return np.ascontiguousarray(out[:, top:top + h, left:left + w], np.float32)


def random_rotation(frames: np.ndarray, rng: np.random.Generator, *, max_degrees: int = 15) -> np.ndarray:
  """CLIF's clip-level rotation: one angle `rng.integers(-max_degrees, max_degrees)` (upper end
  exclusive, as `np.random.randint`) for all frames and channels; see :func:`rotate_frames`."""
  if int(max_degrees) != max_degrees or max_degrees < 1:
    raise ValueError(f"max_degrees must be a positive integer (CLIF: 15), got {max_degrees!r}")
  return rotate_frames(frames, int(rng.integers(-max_degrees, max_degrees)))
