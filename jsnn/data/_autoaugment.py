"""AutoAugment's CIFAR-10 policy (`CIFAR10Policy`), the `--autoaugment` option of SML's CIFAR recipe.

A transcription of the widely copied DeepVoltaire `autoaugment.py` (which SML uses): 25 sub-policies,
each two PIL ops with a probability and a magnitude index into fixed ranges; shear/translate/rotate
fill with gray 128; shear, translate and the enhance ops pick a random sign. Randomness comes from
a `np.random.Generator` instead of Python's `random`.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

_FILL = (128, 128, 128)

RANGES: dict[str, np.ndarray] = {
    "shearX": np.linspace(0, 0.3, 10),
    "shearY": np.linspace(0, 0.3, 10),
    "translateX": np.linspace(0, 150 / 331, 10),
    "translateY": np.linspace(0, 150 / 331, 10),
    "rotate": np.linspace(0, 30, 10),
    "color": np.linspace(0.0, 0.9, 10),
    "posterize": np.round(np.linspace(8, 4, 10), 0).astype(int),
    "solarize": np.linspace(256, 0, 10),
    "contrast": np.linspace(0.0, 0.9, 10),
    "sharpness": np.linspace(0.0, 0.9, 10),
    "brightness": np.linspace(0.0, 0.9, 10),
    "autocontrast": np.zeros(10),
    "equalize": np.zeros(10),
    "invert": np.zeros(10),
}

# (p1, op1, magnitude index 1, p2, op2, magnitude index 2)
CIFAR10_POLICY: tuple[tuple[float, str, int, float, str, int], ...] = (
    (0.1, "invert", 7, 0.2, "contrast", 6),
    (0.7, "rotate", 2, 0.3, "translateX", 9),
    (0.8, "sharpness", 1, 0.9, "sharpness", 3),
    (0.5, "shearY", 8, 0.7, "translateY", 9),
    (0.5, "autocontrast", 8, 0.9, "equalize", 2),
    (0.2, "shearY", 7, 0.3, "posterize", 7),
    (0.4, "color", 3, 0.6, "brightness", 7),
    (0.3, "sharpness", 9, 0.7, "brightness", 9),
    (0.6, "equalize", 5, 0.5, "equalize", 1),
    (0.6, "contrast", 7, 0.6, "sharpness", 5),
    (0.7, "color", 7, 0.5, "translateX", 8),
    (0.3, "equalize", 7, 0.4, "autocontrast", 8),
    (0.4, "translateY", 3, 0.2, "sharpness", 6),
    (0.9, "brightness", 6, 0.2, "color", 8),
    (0.5, "solarize", 2, 0.0, "invert", 3),
    (0.2, "equalize", 0, 0.6, "autocontrast", 0),
    (0.2, "equalize", 8, 0.6, "equalize", 4),
    (0.9, "color", 9, 0.6, "equalize", 6),
    (0.8, "autocontrast", 4, 0.2, "solarize", 8),
    (0.1, "brightness", 3, 0.7, "color", 0),
    (0.4, "solarize", 5, 0.9, "autocontrast", 3),
    (0.9, "translateY", 9, 0.7, "translateY", 9),
    (0.9, "autocontrast", 2, 0.8, "solarize", 3),
    (0.8, "equalize", 8, 0.1, "invert", 3),
    (0.7, "translateY", 9, 0.9, "autocontrast", 1),
)

_SIGNED = ("shearX", "shearY", "translateX", "translateY", "color", "contrast", "sharpness", "brightness")
_ENHANCERS = {"color": ImageEnhance.Color, "contrast": ImageEnhance.Contrast,
              "sharpness": ImageEnhance.Sharpness, "brightness": ImageEnhance.Brightness}


def _affine(img: Image.Image, coeffs: tuple[float, ...], resample: Image.Resampling) -> Image.Image:
  return img.transform(img.size, Image.Transform.AFFINE, coeffs, resample, fillcolor=_FILL)


def _rotate_with_fill(img: Image.Image, degrees: float) -> Image.Image:
  rot = img.convert("RGBA").rotate(degrees)
  return Image.composite(rot, Image.new("RGBA", rot.size, (128,) * 4), rot).convert(img.mode)


def apply_op(img: Image.Image, op: str, magnitude: float, rng: np.random.Generator) -> Image.Image:
  """Applies one AutoAugment op (DeepVoltaire semantics) to a PIL image."""
  sign = int(rng.choice((-1, 1))) if op in _SIGNED else 1
  if op == "shearX":
    return _affine(img, (1, magnitude * sign, 0, 0, 1, 0), Image.Resampling.BICUBIC)
  if op == "shearY":
    return _affine(img, (1, 0, 0, magnitude * sign, 1, 0), Image.Resampling.BICUBIC)
  if op == "translateX":
    return _affine(img, (1, 0, magnitude * img.size[0] * sign, 0, 1, 0), Image.Resampling.NEAREST)
  if op == "translateY":
    return _affine(img, (1, 0, 0, 0, 1, magnitude * img.size[1] * sign), Image.Resampling.NEAREST)
  if op == "rotate":
    return _rotate_with_fill(img, float(magnitude))
  if op in _ENHANCERS:
    return _ENHANCERS[op](img).enhance(1 + magnitude * sign)
  if op == "posterize":
    return ImageOps.posterize(img, int(magnitude))
  if op == "solarize":
    return ImageOps.solarize(img, float(magnitude))
  if op == "autocontrast":
    return ImageOps.autocontrast(img)
  if op == "equalize":
    return ImageOps.equalize(img)
  if op == "invert":
    return ImageOps.invert(img)
  raise ValueError(f"unknown AutoAugment op {op!r}; known: {sorted(RANGES)}")


def cifar10_policy(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """Applies one uniformly chosen sub-policy of AutoAugment's CIFAR-10 policy.

  Args:
    image: uint8 RGB `[H, W, 3]`.
    rng: random generator.

  Returns:
    uint8 `[H, W, 3]`.
  """
  p1, op1, m1, p2, op2, m2 = CIFAR10_POLICY[int(rng.integers(len(CIFAR10_POLICY)))]
  img = Image.fromarray(image)
  if rng.random() < p1:
    img = apply_op(img, op1, RANGES[op1][m1], rng)
  if rng.random() < p2:
    img = apply_op(img, op2, RANGES[op2][m2], rng)
  return np.asarray(img)
