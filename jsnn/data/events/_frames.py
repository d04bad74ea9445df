"""Per-sample frame transforms of the DVS recipes, on float32 `[T, H, W, 2]` frames.

**Resizing to 48x48 (TET, CLIF).** Both repos resize each frame with
`ToPILImage() -> Resize(48) -> ToTensor()`. A 2-channel frame becomes a PIL **"LA"** image, so PIL
resamples it with channel 1 (polarity ON) acting as alpha: channel 0 is premultiplied by it before
the bilinear (antialiased) filter and divided back after. Both pixel values are uint8, so the output
is quantised to multiples of 1/255. What reaches the uint8 image differs:

* `quantize="truncate"` (TET): frames already in [0, 1] (TET divides each frame by its max,
  `normalize_by_max`), `uint8(trunc(float32(x) * 255))` as torch's `.byte()` does.
* `quantize="wrap"` (CLIF): raw counts `c`, `uint8((c * 255) mod 256)`: torch's `mul(255).byte()`
  wraps, so counts 1, 2, 3 become 255, 254, 253 — effectively a binary presence map.
* `quantize=None`: a float bilinear resize per channel (PIL mode "F", same filter), no uint8, no
  alpha coupling — the clean version of the op.

`resize_frames(..., quantize="truncate"/"wrap")` reproduces the two repos' PIL round trip exactly
(same Pillow calls). `binarize` gives the presence map CLIF effectively trains on without the wrap
artefacts (`1 - (c - 1)/255` for `c >= 1` stays within 4 % of 1 for counts up to 11).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

_QUANTIZE = (None, "truncate", "wrap")


def normalize_by_max(frames: np.ndarray) -> np.ndarray:
  """TET's DVS preprocessing: each frame `[H, W, 2]` divided by its max over both polarities.

  An all-zero frame stays zero (TET's code would produce NaN). Computed in float64 and cast to
  float32, as TET computes in numpy and stores a float32 tensor.
  """
  frames = np.asarray(frames, np.float64)
  peak = frames.reshape(frames.shape[0], -1).max(axis=1).reshape(-1, 1, 1, 1)
  return np.divide(frames, peak, out=np.zeros_like(frames), where=peak > 0).astype(np.float32)


def _to_uint8(frames: np.ndarray, quantize: str) -> np.ndarray:
  if quantize == "truncate":
    scaled = np.asarray(frames, np.float32) * np.float32(255.0)
    if scaled.min(initial=0.0) < 0 or scaled.max(initial=0.0) >= 256:
      raise ValueError("quantize='truncate' expects frames in [0, 1] (normalise them first, e.g. normalize_by_max)")
    return scaled.astype(np.uint8)
  counts = np.asarray(frames)
  if not np.array_equal(counts, np.round(counts)) or counts.min(initial=0) < 0:
    raise ValueError("quantize='wrap' expects raw non-negative integer counts")
  return ((counts.astype(np.int64) * 255) % 256).astype(np.uint8)


def resize_frames(frames: np.ndarray, size: int | tuple[int, int] = 48, *, quantize: str | None = None) -> np.ndarray:
  """Resizes every frame of float32 `[T, H, W, C]` to `[T, h, w, C]` with PIL bilinear.

  Args:
    frames: `[T, H, W, C]` (C = 2 for the PIL "LA" round trip).
    size: output side, or `(h, w)`.
    quantize: `None`, `"truncate"` (TET) or `"wrap"` (CLIF); see the module docstring.

  Returns:
    float32 `[T, h, w, C]`; with quantisation the values are multiples of 1/255.
  """
  if quantize not in _QUANTIZE:
    raise ValueError(f"quantize must be one of {_QUANTIZE}, got {quantize!r}")
  h, w = (size, size) if isinstance(size, int) else size
  frames = np.asarray(frames)
  if frames.ndim != 4:
    raise ValueError(f"expected frames [T, H, W, C], got shape {frames.shape}")
  if quantize is None:
    out = [[np.asarray(Image.fromarray(np.ascontiguousarray(f[..., c], np.float32)).resize(
        (w, h), Image.Resampling.BILINEAR)) for c in range(f.shape[-1])] for f in frames]
    return np.asarray(out, np.float32).transpose(0, 2, 3, 1)
  if frames.shape[-1] != 2:
    raise ValueError(f"the PIL 'LA' round trip needs 2 channels, got {frames.shape[-1]}")
  u8 = _to_uint8(frames, quantize)
  out = [np.asarray(Image.fromarray(f).resize((w, h), Image.Resampling.BILINEAR)) for f in u8]
  return np.asarray(out, np.float32) / np.float32(255.0)


def binarize(frames: np.ndarray) -> np.ndarray:
  """Event-presence frames: float32 `frames > 0`."""
  return (np.asarray(frames) > 0).astype(np.float32)


def random_flip_and_roll(frames: np.ndarray, rng: np.random.Generator, *, max_shift: int = 5,
                         flip_prob: float = 0.5) -> np.ndarray:
  """TET's clip-level DVS augmentation on `[T, H, W, C]`.

  With probability `flip_prob` the whole clip is flipped left-right; then it is rolled
  **circularly** by independent integer shifts in `[-max_shift, max_shift]` along H and W
  (`torch.roll(data, (off1, off2), dims=(H, W))`, TET `data_loaders.py:88-94`). One draw per clip,
  shared by all T frames. `max_shift=0` leaves only the flip (CLIF's clip-level HFlip).
  """
  if rng.random() < flip_prob:
    frames = frames[:, :, ::-1]
  shifts = (int(rng.integers(-max_shift, max_shift + 1)), int(rng.integers(-max_shift, max_shift + 1)))
  return np.roll(frames, shifts, axis=(1, 2))
