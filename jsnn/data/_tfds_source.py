"""Opening a prepared TFDS dataset as an ArrayRecord random-access source, without TensorFlow.

`tfds.data_source` reads `*.array_record-*` files with numpy decoding; nothing here imports TF
(platform notes §1: `tfds.load` / `as_dataset` would need it, `data_source` does not).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow_datasets as tfds

PREPARE_STATIC_HINT = (
    "Prepare it once as ArrayRecord files, e.g. `tfds build {name} --file_format=array_record "
    "--data_dir={data_dir}`. TFDS's generation code for the stock CIFAR/ImageNet builders calls "
    "tf.io.gfile and TF's image encoder, so run that one step in an environment with TensorFlow "
    "(`pip install tensorflow-cpu tensorflow-datasets`) and copy the data_dir over; reading it here "
    "needs no TensorFlow. ImageNet2012 also needs ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar "
    "(https://image-net.org/download-images) in <data_dir>/downloads/manual/. Without TensorFlow, use the "
    "`{name}_raw` builder instead (`source=\"raw\"`, jsnn.data.prepare_cifar_raw / prepare_imagenet_raw), "
    "which reads the official archives from <data_dir>/downloads/manual/.")
SOURCES = ("auto", "stock", "raw")


def open_source(name: str, split: str, data_dir: str | None = None, *, hint: str = "",
                builder_kwargs: dict[str, Any] | None = None) -> Any:
  """`tfds.data_source(name, split, data_dir)` over ArrayRecord files, with actionable errors.

  Never downloads: a missing dataset raises instead of starting a (TensorFlow-requiring, or
  manual) generation. Works under `tfds.testing.mock_data`.

  Args:
    name: registered TFDS name, optionally with config/version (`"cifar10_dvs/split_9to1"`).
    split: split name or TFDS slice (`"train"`, `"test[:10%]"`).
    data_dir: TFDS data dir; default TFDS's (`~/tensorflow_datasets`).
    hint: how to prepare this dataset; `{name}` and `{data_dir}` are filled in.
    builder_kwargs: extra builder arguments (`file_format` is always `"array_record"`).

  Returns:
    a random-access source: `len(src)`, `src[i]` -> dict of numpy arrays.

  Raises:
    FileNotFoundError: the dataset (or this split) has not been prepared in `data_dir`.
  """
  kwargs = {**(builder_kwargs or {}), "file_format": "array_record"}
  try:
    return tfds.data_source(name, split=split, data_dir=data_dir, download=False, builder_kwargs=kwargs)
  except (KeyError, AssertionError, FileNotFoundError) as err:
    where = data_dir or "the default TFDS data_dir (~/tensorflow_datasets)"
    message = (f"TFDS dataset {name!r} split {split!r} is not prepared as ArrayRecord in {where} "
               f"({type(err).__name__}: {err}). ")
    raise FileNotFoundError(message + hint.format(name=name, data_dir=data_dir or "<data_dir>")) from err


def open_stock_or_raw(name: str, split: str, data_dir: str | None, *, source: str,
                      prepare_raw: Callable[[], Any], hint: str = "") -> Any:
  """The stock TFDS dataset `name`, or its TensorFlow-free `<name>_raw` twin (same feature names).

  `source="stock"`: `name` only (must be prepared). `source="raw"`: `<name>_raw`, generated first by
  `prepare_raw()` (from the manual_dir archives) if not prepared yet. `source="auto"`: the stock dataset
  if it is prepared (or mocked), otherwise the raw one as with `"raw"`; if neither can be had, the error
  says how to get either.
  """
  if source not in SOURCES:
    raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
  if source == "stock":
    return open_source(name, split, data_dir, hint=hint)
  stock_error = None
  if source == "auto":
    try:
      return open_source(name, split, data_dir, hint=hint)
    except FileNotFoundError as err:
      stock_error = err
  try:
    prepare_raw()
  except FileNotFoundError as raw_error:
    if stock_error is None:
      raise
    raise FileNotFoundError(f"{stock_error}\nThe TensorFlow-free {name}_raw could not be prepared either: "
                            f"{raw_error}") from raw_error
  return open_source(f"{name}_raw", split, data_dir)
