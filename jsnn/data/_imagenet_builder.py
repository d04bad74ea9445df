"""`imagenet2012_raw`: ILSVRC2012 from the official tars, without TensorFlow.

TFDS's stock `imagenet2012` builder needs TensorFlow to generate (tf.io.gfile, TF's JPEG fixes). This one
reads the same archives with `tarfile` and PIL and writes ArrayRecord files with the stock builder's
features, so `tfds.data_source` / `jsnn.data.imagenet_pipeline` read them with no TensorFlow:

* `image`: `tfds.features.Image(encoding_format="jpeg")`, the original JPEG bytes stored as they are
  (decoded by PIL when read). The few non-JPEG or non-RGB/non-grayscale files (ILSVRC2012 has one PNG
  and ~22 CMYK JPEGs) are converted to RGB and re-encoded as JPEG (quality 95) with PIL.
* `label`: `ClassLabel` over the 1000 WordNet ids in sorted order (TFDS's `imagenet2012/labels.txt`,
  so the indices equal the stock builder's and torchvision's `ImageFolder`'s).
* `file_name`: e.g. `"n01440764_10026.JPEG"` / `"ILSVRC2012_val_00000001.JPEG"`.

Input (`manual_dir`, default `<data_dir>/downloads/manual/`, from https://image-net.org/download-images):

* `ILSVRC2012_img_train.tar` -> split `train`: a tar of per-class tars `<wnid>.tar`, each holding that
  class's JPEGs.
* `ILSVRC2012_img_val.tar` -> split `validation`: the 50000 `ILSVRC2012_val_<8 digits>.JPEG` files. Their labels
  come from the first of these found in `manual_dir`:

  1. `val_labels.txt`: one line per image, either `<wnid>` alone (line i is the i-th file name in sorted
     order, i.e. `ILSVRC2012_val_00000001.JPEG` first), or `<file name> <wnid>` (space-, tab- or
     comma-separated; the `.JPEG` suffix is optional);
  2. `LOC_val_solution.csv` (Kaggle's ImageNet localisation challenge): a header line, then
     `ILSVRC2012_val_00008726,n02119789 255 142 454 329 ...`; the first word of the second column is the label;
  3. otherwise TFDS's bundled `imagenet2012/validation_labels.txt` (the official labels, wnid per line in
     sorted file-name order), which fits only the full official val tar.

At least one of the two tars must be present; a missing one just leaves its split out (as in the stock builder).
"""

from __future__ import annotations

import io
import logging
import os
import pathlib
import tarfile
from collections.abc import Iterator
from typing import Any

import tensorflow_datasets as tfds

IMAGENET_URL = "https://image-net.org/download-images"
TRAIN_TAR = "ILSVRC2012_img_train.tar"
VAL_TAR = "ILSVRC2012_img_val.tar"
VAL_LABEL_FILES = ("val_labels.txt", "LOC_val_solution.csv")
_LABELS_PATH = "datasets/imagenet2012/labels.txt"
_VALIDATION_LABELS_PATH = "datasets/imagenet2012/validation_labels.txt"
JPEG_QUALITY = 95


def _missing_error(manual_dir: Any) -> FileNotFoundError:
  return FileNotFoundError(
      f"imagenet2012_raw: neither {TRAIN_TAR} nor {VAL_TAR} was found in the manual_dir {manual_dir}. "
      f"Download them from {IMAGENET_URL} (registration needed) and put them, unextracted, in that folder "
      "(default <data_dir>/downloads/manual/, or pass download_config=tfds.download.DownloadConfig(manual_dir=...)), "
      f"optionally with a validation label file ({' or '.join(VAL_LABEL_FILES)}; see jsnn.data._imagenet_builder).")


def _strip_jpeg(name: str) -> str:
  name = name.rsplit("/", 1)[-1]
  return name[:-5] if name.upper().endswith(".JPEG") else name


def read_validation_labels(manual_dir: pathlib.Path, file_names: list[str]) -> dict[str, str]:
  """`{val file name: wnid}` for `file_names` (base names), from the first label source in the module doc."""
  stems = sorted(_strip_jpeg(f) for f in file_names)
  by_stem: dict[str, str] = {}
  txt, csv = manual_dir / VAL_LABEL_FILES[0], manual_dir / VAL_LABEL_FILES[1]
  if txt.is_file():
    rows = [line.replace(",", " ").split() for line in txt.read_text().splitlines() if line.strip()]
    if all(len(r) == 1 for r in rows):
      if len(rows) != len(stems):
        raise ValueError(f"{txt} has {len(rows)} labels for {len(stems)} validation images")
      by_stem = dict(zip(stems, (r[0] for r in rows)))
    else:
      by_stem = {_strip_jpeg(r[0]): r[1] for r in rows}
    source = txt
  elif csv.is_file():
    lines = csv.read_text().splitlines()
    for line in lines[1:]:
      if line.strip():
        image_id, prediction = line.split(",", 1)
        by_stem[_strip_jpeg(image_id.strip())] = prediction.split()[0]
    source = csv
  else:
    source = pathlib.Path(os.fspath(tfds.core.tfds_path(_VALIDATION_LABELS_PATH)))
    labels = source.read_text().split()
    if len(labels) != len(stems):
      raise ValueError(f"TFDS's bundled validation labels ({len(labels)}) fit only the official {VAL_TAR}, which "
                       f"has 50000 images; this one has {len(stems)}. Put a {VAL_LABEL_FILES[0]} in {manual_dir}.")
    by_stem = dict(zip(stems, labels))
  missing = [s for s in stems if s not in by_stem]
  if missing:
    raise ValueError(f"{source} has no label for {len(missing)} validation images, e.g. {missing[:3]}")
  return {f: by_stem[_strip_jpeg(f)] for f in file_names}


def _to_jpeg(file_name: str, data: bytes) -> bytes:
  """The file's bytes if it is an RGB or grayscale JPEG, else the image as an RGB JPEG (PIL)."""
  from PIL import Image  # pylint: disable=g-import-not-at-top

  with Image.open(io.BytesIO(data)) as image:
    if image.format == "JPEG" and image.mode in ("RGB", "L"):
      return data
    logging.info("imagenet2012_raw: re-encoding %s (%s, %s) as an RGB JPEG", file_name, image.format, image.mode)
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def _iter_tar(fileobj_or_path: Any) -> Iterator[tuple[str, bytes]]:
  """(member base name, bytes) for every regular file of a tar, streaming (no seeking)."""
  is_path = isinstance(fileobj_or_path, (str, os.PathLike))
  kwargs = {"name": fileobj_or_path} if is_path else {"fileobj": fileobj_or_path}
  with tarfile.open(mode="r|*", **kwargs) as tar:
    for info in tar:
      if info.isfile():
        fobj = tar.extractfile(info)
        assert fobj is not None
        yield info.name.rsplit("/", 1)[-1], fobj.read()


class Imagenet2012Raw(tfds.core.GeneratorBasedBuilder):
  """ILSVRC2012 (1.28M train / 50000 validation images, 1000 classes) from the official tars, TensorFlow-free."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Read from ILSVRC2012_img_{train,val}.tar with tarfile + PIL; stock features."}
  MANUAL_DOWNLOAD_INSTRUCTIONS = (f"Put {TRAIN_TAR} and/or {VAL_TAR} from {IMAGENET_URL} in manual_dir, plus "
                                  f"optionally {VAL_LABEL_FILES[0]} or {VAL_LABEL_FILES[1]}.")

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=__doc__,
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(encoding_format="jpeg"),
            "label": tfds.features.ClassLabel(names_file=os.fspath(tfds.core.tfds_path(_LABELS_PATH))),
            "file_name": tfds.features.Text(),
        }),
        supervised_keys=("image", "label"),
        homepage="https://image-net.org/",
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager) -> dict[str, Any]:
    try:
      manual_dir = pathlib.Path(os.fspath(dl_manager.manual_dir))
    except AssertionError as err:  # tfds: "Manual directory ... does not exist or is empty"
      raise _missing_error(getattr(dl_manager, "_manual_dir", None)) from err
    train_path, val_path = manual_dir / TRAIN_TAR, manual_dir / VAL_TAR
    if not train_path.is_file() and not val_path.is_file():
      raise _missing_error(manual_dir)
    splits = {}
    if train_path.is_file():
      splits["train"] = self._generate_examples(train_path)
    else:
      logging.warning("imagenet2012_raw: %s not found; preparing without the train split", train_path)
    if val_path.is_file():
      with tarfile.open(val_path, "r|*") as tar:
        names = [info.name.rsplit("/", 1)[-1] for info in tar if info.isfile()]
      splits["validation"] = self._generate_examples(val_path, read_validation_labels(manual_dir, names))
    else:
      logging.warning("imagenet2012_raw: %s not found; preparing without the validation split", val_path)
    return splits

  def _generate_examples(self, path: pathlib.Path,
                         val_labels: dict[str, str] | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """Train (`val_labels` None): the tar of `<wnid>.tar`s; validation: the flat tar, labelled by `val_labels`."""
    if val_labels is not None:
      for file_name, image in _iter_tar(path):
        yield file_name, {"image": _to_jpeg(file_name, image), "label": val_labels[file_name], "file_name": file_name}
      return
    for class_tar, data in _iter_tar(path):
      if not class_tar.endswith(".tar"):
        continue
      wnid = class_tar[:-4]
      for file_name, image in _iter_tar(io.BytesIO(data)):
        yield file_name, {"image": _to_jpeg(file_name, image), "label": wnid, "file_name": file_name}


def prepare_imagenet_raw(data_dir: str | os.PathLike[str] | None = None,
                         manual_dir: str | os.PathLike[str] | None = None) -> Imagenet2012Raw:
  """The `imagenet2012_raw` builder in `data_dir`, generated from the tars if not yet prepared (hours for the
  full train tar, single process).

  Args:
    data_dir: TFDS data dir (default TFDS's); the dataset goes to `<data_dir>/imagenet2012_raw/1.0.0/`.
    manual_dir: folder holding the tars; default `<data_dir>/downloads/manual/`.
  """
  builder = Imagenet2012Raw(data_dir=None if data_dir is None else os.fspath(data_dir), file_format="array_record")
  if not builder.is_prepared():
    config = tfds.download.DownloadConfig(manual_dir=None if manual_dir is None else os.fspath(manual_dir))
    builder.download_and_prepare(download_config=config)
  return builder
