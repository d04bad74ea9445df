"""Per-dataset channel means/stds the papers normalise with, and the float conversion they imply.

Sources (`shared/spec/tet_sml_clif.md` §2.5, §4.6; TET `data_loaders.py`): CIFAR-10 uses
(0.4914, 0.4822, 0.4465) / (0.2023, 0.1994, 0.2010) in TET, SML and CLIF (these are the widely copied
stds, not the true per-pixel stds 0.247/0.243/0.261); CIFAR-100 (0.5071, 0.4867, 0.4408) /
(0.2675, 0.2565, 0.2761); ImageNet the torchvision constants; Tiny-ImageNet CLIF's.
"""

from __future__ import annotations

import numpy as np

MEAN_STD: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    "cifar100": ((0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761)),
    "imagenet2012": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "tiny_imagenet": ((0.4802, 0.4481, 0.3975), (0.2302, 0.2265, 0.2262)),
}


def mean_std(name: str) -> tuple[np.ndarray, np.ndarray]:
  """`(mean, std)` as float32 `[3]` arrays for a dataset name in `MEAN_STD`.

  Raises:
    KeyError: unknown name (the message lists the known ones).
  """
  if name not in MEAN_STD:
    raise KeyError(f"no normalisation constants for {name!r}; known: {sorted(MEAN_STD)}")
  mean, std = MEAN_STD[name]
  return np.asarray(mean, np.float32), np.asarray(std, np.float32)


def to_float_normalized(image_hwc: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
  """uint8 `[H, W, C]` -> float32 `(x / 255 - mean) / std`, in float32 as torchvision computes it.

  Accepts float input already in [0, 1] as well (then only the normalisation is applied).
  """
  x = image_hwc.astype(np.float32)
  if image_hwc.dtype == np.uint8:
    x = x / np.float32(255.0)
  return (x - mean) / std
