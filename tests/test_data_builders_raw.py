"""TensorFlow-free `cifar10_raw` / `cifar100_raw` / `imagenet2012_raw` builders on tiny synthetic archives.

The archives mimic the official formats (CIFAR python pickles in `cifar-1x-python.tar.gz`; ImageNet's tar of
per-class tars and the flat val tar); each is built with `download_and_prepare(DownloadConfig(manual_dir=...))`,
read back through `tfds.data_source` and the jsnn pipelines, and compared exactly.
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile

import numpy as np
import pytest

pytest.importorskip("tensorflow_datasets")
pytest.importorskip("grain")
PIL_Image = pytest.importorskip("PIL.Image")

import tensorflow_datasets as tfds  # noqa: E402

import jsnn.data as jd  # noqa: E402
from jsnn.data import _imagenet_builder  # noqa: E402

CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
  info = tarfile.TarInfo(name)
  info.size = len(data)
  tar.addfile(info, io.BytesIO(data))


def _pickled(d: dict) -> bytes:
  # The official files are Python 2 pickles with byte-string keys.
  return pickle.dumps({k.encode(): v for k, v in d.items()}, protocol=2)


def write_cifar(manual_dir, name: str, *, seed: int = 0, extracted: bool = False) -> dict[str, dict[str, np.ndarray]]:
  """Writes a tiny official-format CIFAR archive; returns `{split: {"data", "label"[, "coarse_label"]}}`."""
  rng = np.random.default_rng(seed)
  os.makedirs(manual_dir, exist_ok=True)
  if name == "cifar10":
    folder, archive = "cifar-10-batches-py", "cifar-10-python.tar.gz"
    files = {f"data_batch_{i}": ("train", 3) for i in range(1, 6)} | {"test_batch": ("test", 4)}
    meta_name, meta = "batches.meta", {"label_names": [f"c{i}".encode() for i in range(10)]}
  else:
    folder, archive = "cifar-100-python", "cifar-100-python.tar.gz"
    files = {"train": ("train", 7), "test": ("test", 5)}
    meta_name, meta = "meta", {"fine_label_names": [f"f{i}".encode() for i in range(100)],
                               "coarse_label_names": [f"k{i}".encode() for i in range(20)]}
  truth: dict[str, dict[str, list]] = {"train": {}, "test": {}}
  contents = {meta_name: _pickled(meta)}
  for file_name, (split, n) in files.items():
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    if name == "cifar10":
      labels = {"label": rng.integers(0, 10, n).tolist()}
      batch = {"data": data, "labels": labels["label"]}
    else:
      labels = {"label": rng.integers(0, 100, n).tolist(), "coarse_label": rng.integers(0, 20, n).tolist()}
      batch = {"data": data, "fine_labels": labels["label"], "coarse_labels": labels["coarse_label"]}
    contents[file_name] = _pickled(batch)
    truth[split].setdefault("data", []).append(data)
    for k, v in labels.items():
      truth[split].setdefault(k, []).extend(v)
  if extracted:
    os.makedirs(os.path.join(manual_dir, folder))
    for file_name, data in contents.items():
      with open(os.path.join(manual_dir, folder, file_name), "wb") as f:
        f.write(data)
  else:
    with tarfile.open(os.path.join(manual_dir, archive), "w:gz") as tar:
      for file_name, data in contents.items():
        _add_bytes(tar, f"{folder}/{file_name}", data)
  return {split: {"data": np.concatenate(t["data"]), **{k: np.asarray(v) for k, v in t.items() if k != "data"}}
          for split, t in truth.items()}


def read_all(name: str, split: str, data_dir) -> list[dict]:
  src = tfds.data_source(name, split=split, data_dir=os.fspath(data_dir))
  return [src[i] for i in range(len(src))]


@pytest.mark.parametrize("name,extracted", [("cifar10", False), ("cifar100", False), ("cifar100", True)])
def test_cifar_raw_builds_the_official_pickles_exactly(tmp_path, name, extracted):
  truth = write_cifar(tmp_path / "manual", name, extracted=extracted)
  builder = {"cifar10": jd.Cifar10Raw, "cifar100": jd.Cifar100Raw}[name](
      data_dir=os.fspath(tmp_path / "data"), file_format="array_record")
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=os.fspath(tmp_path / "manual")))
  assert builder.name == f"{name}_raw"
  label_names = builder.info.features["label"].names
  assert label_names[:2] == (["c0", "c1"] if name == "cifar10" else ["f0", "f1"])
  if name == "cifar100":
    assert builder.info.features["coarse_label"].names[19] == "k19"
  for split, n in (("train", 15 if name == "cifar10" else 7), ("test", 4 if name == "cifar10" else 5)):
    records = read_all(f"{name}_raw", split, tmp_path / "data")
    assert len(records) == n
    for r in records:
      i = int(r["id"].decode().split("_")[1])
      assert r["id"].decode() == f"{split}_{i:05d}"
      row = truth[split]["data"][i]
      assert r["image"].dtype == np.uint8 and r["image"].shape == (32, 32, 3)
      # CHW planes -> HWC: pixel (y, x) channel c is row[c * 1024 + y * 32 + x].
      assert r["image"][5, 7, 2] == row[2 * 1024 + 5 * 32 + 7]
      np.testing.assert_array_equal(r["image"], row.reshape(3, 32, 32).transpose(1, 2, 0))
      assert r["label"] == truth[split]["label"][i]
      if name == "cifar100":
        assert r["coarse_label"] == truth[split]["coarse_label"][i]


def test_cifar_pipeline_reads_the_raw_builder(tmp_path):
  truth = write_cifar(tmp_path / "manual", "cifar10", seed=1)
  data_dir, manual_dir = os.fspath(tmp_path / "data"), os.fspath(tmp_path / "manual")
  # "auto" with no stock cifar10 prepared: generates cifar10_raw from the tarball, then reads it.
  batches = list(jd.cifar_pipeline("test", name="cifar10", data_dir=data_dir, manual_dir=manual_dir, batch_size=3))
  assert [b["image"].shape for b in batches] == [(3, 32, 32, 3), (1, 32, 32, 3)]
  records = read_all("cifar10_raw", "test", data_dir)
  images = np.concatenate([b["image"] for b in batches])
  labels = np.concatenate([b["label"] for b in batches])
  for i, r in enumerate(records):
    j = int(r["id"].decode().split("_")[1])
    hwc = truth["test"]["data"][j].reshape(3, 32, 32).transpose(1, 2, 0)
    expected = (hwc.astype(np.float32) / np.float32(255) - np.float32(CIFAR10_MEAN)) / np.float32(CIFAR10_STD)
    np.testing.assert_array_equal(images[i], expected)
    assert labels[i] == truth["test"]["label"][j]
  # "raw" reuses the prepared data (no manual_dir needed any more); CIFAR-100's coarse labels come through too.
  train = next(iter(jd.cifar_pipeline("train", name="cifar10", data_dir=data_dir, source="raw", batch_size=15)))
  assert train["image"].shape == (15, 32, 32, 3)
  assert sorted(train["label"].tolist()) == sorted(truth["train"]["label"].tolist())
  with pytest.raises(ValueError, match="source must be one of"):
    jd.cifar_pipeline("test", data_dir=data_dir, source="tfrecord", batch_size=3)


def test_cifar100_coarse_labels_through_the_pipeline(tmp_path):
  truth = write_cifar(tmp_path / "manual", "cifar100", seed=2)
  batch = next(iter(jd.cifar_pipeline("test", name="cifar100", data_dir=os.fspath(tmp_path / "data"),
                                      manual_dir=os.fspath(tmp_path / "manual"), source="raw",
                                      label_key="coarse_label", batch_size=5)))
  assert sorted(batch["label"].tolist()) == sorted(truth["test"]["coarse_label"].tolist())


def test_cifar_missing_tarball_errors_say_what_and_where(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  (manual / "unrelated.txt").write_text("x")
  with pytest.raises(FileNotFoundError, match=r"cifar-100-python\.tar\.gz") as info:
    jd.prepare_cifar_raw("cifar100", tmp_path / "data", manual)
  message = str(info.value)
  assert "https://www.cs.toronto.edu/~kriz/cifar.html" in message and os.fspath(manual) in message
  # No manual dir at all (tfds's own AssertionError is turned into the same FileNotFoundError).
  with pytest.raises(FileNotFoundError, match=r"cifar-10-python\.tar\.gz.*kriz/cifar\.html"):
    jd.prepare_cifar_raw("cifar10", tmp_path / "data", tmp_path / "nowhere")
  # The pipeline's "auto" error tells about both the stock and the raw route.
  with pytest.raises(FileNotFoundError, match=r"(?s)not prepared as ArrayRecord.*cifar10_raw could not be prepared"):
    jd.cifar_pipeline("test", data_dir=os.fspath(tmp_path / "data2"), batch_size=2)
  with pytest.raises(FileNotFoundError, match="not prepared as ArrayRecord"):
    jd.cifar_pipeline("test", data_dir=os.fspath(tmp_path / "data2"), source="stock", batch_size=2)


# ---------------------------------------------------------------- ImageNet


def _wnids() -> list[str]:
  return jd.Imagenet2012Raw(data_dir="/nonexistent-unused").info.features["label"].names


def _jpeg(rng, size=(10, 8), mode="RGB", fmt="JPEG") -> bytes:
  shape = (size[1], size[0]) + ((len(mode),) if mode != "L" else ())
  image = PIL_Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode)
  out = io.BytesIO()
  image.save(out, format=fmt)
  return out.getvalue()


def write_imagenet(manual_dir, label_format: str, seed: int = 0) -> dict[str, tuple[bytes, str, bool]]:
  """Tiny ILSVRC2012 train/val tars; returns `{file name: (original bytes, wnid, stored as is)}`."""
  rng = np.random.default_rng(seed)
  os.makedirs(manual_dir, exist_ok=True)
  wnids = _wnids()
  classes = [wnids[0], wnids[1], wnids[999]]
  truth = {}
  with tarfile.open(os.path.join(manual_dir, "ILSVRC2012_img_train.tar"), "w") as train:
    for c, wnid in enumerate(classes):
      inner = io.BytesIO()
      with tarfile.open(fileobj=inner, mode="w") as class_tar:
        for k in range(2):
          name = f"{wnid}_{k}.JPEG"
          # One grayscale JPEG (kept as is), one PNG and one CMYK JPEG in disguise (re-encoded to RGB JPEG).
          kind = {(0, 1): ("L", "JPEG"), (1, 0): ("RGB", "PNG"), (2, 1): ("CMYK", "JPEG")}.get((c, k), ("RGB", "JPEG"))
          data = _jpeg(rng, mode=kind[0], fmt=kind[1])
          truth[name] = (data, wnid, kind[0] != "CMYK" and kind[1] == "JPEG")
          _add_bytes(class_tar, name, data)
      _add_bytes(train, f"{wnid}.tar", inner.getvalue())
  val_names = [f"ILSVRC2012_val_{i:08d}.JPEG" for i in (3, 1, 2, 4)]  # tar order is not the sorted order
  val_wnids = {name: classes[i % 3] for i, name in enumerate(val_names)}
  with tarfile.open(os.path.join(manual_dir, "ILSVRC2012_img_val.tar"), "w") as val:
    for name in val_names:
      data = _jpeg(rng, size=(12, 9))
      truth[name] = (data, val_wnids[name], True)
      _add_bytes(val, name, data)
  ordered = sorted(val_names)
  if label_format == "plain":
    text = "".join(f"{val_wnids[n]}\n" for n in ordered)
    (manual_dir / "val_labels.txt").write_text(text)
  elif label_format == "pairs":
    (manual_dir / "val_labels.txt").write_text("".join(f"{n[:-5]}\t{val_wnids[n]}\n" for n in val_names))
  else:  # Kaggle's LOC_val_solution.csv
    rows = "".join(f"{n[:-5]},{val_wnids[n]} 1 2 3 4 {val_wnids[n]} 5 6 7 8\n" for n in val_names)
    (manual_dir / "LOC_val_solution.csv").write_text("ImageId,PredictionString\n" + rows)
  return truth


def _decoded(data: bytes) -> np.ndarray:
  with PIL_Image.open(io.BytesIO(data)) as image:
    array = np.asarray(image.convert("RGB"))
  return array


@pytest.mark.parametrize("label_format", ["plain", "pairs", "csv"])
def test_imagenet_raw_builds_the_official_tars_exactly(tmp_path, label_format):
  manual = tmp_path / "manual"
  truth = write_imagenet(manual, label_format)
  builder = jd.Imagenet2012Raw(data_dir=os.fspath(tmp_path / "data"), file_format="array_record")
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=os.fspath(manual)))
  wnids = builder.info.features["label"].names
  assert len(wnids) == 1000 and wnids == sorted(wnids)
  assert wnids == tfds.builder_cls("imagenet2012")(data_dir="/nonexistent-unused").info.features["label"].names
  seen = {}
  for split, n in (("train", 6), ("validation", 4)):
    records = read_all("imagenet2012_raw", split, tmp_path / "data")
    assert len(records) == n
    for r in records:
      name = r["file_name"].decode()
      original, wnid, stored_as_is = truth[name]
      assert r["label"] == wnids.index(wnid)
      assert r["image"].dtype == np.uint8 and r["image"].ndim == 3 and r["image"].shape[-1] == 3
      if stored_as_is:
        # Plain RGB / grayscale JPEGs are stored byte for byte: reading decodes to PIL's pixels of the original.
        np.testing.assert_array_equal(r["image"], _decoded(original))
      else:  # PNG / CMYK: converted to RGB and re-encoded as JPEG (quality 95) by PIL
        with PIL_Image.open(io.BytesIO(original)) as image:
          reencoded = io.BytesIO()
          image.convert("RGB").save(reencoded, format="JPEG", quality=95)
        np.testing.assert_array_equal(r["image"], _decoded(reencoded.getvalue()))
      seen[name] = r
  assert set(seen) == set(truth) and sum(not t[2] for t in truth.values()) == 2


def test_imagenet_pipeline_reads_the_raw_builder(tmp_path):
  manual = tmp_path / "manual"
  truth = write_imagenet(manual, "plain", seed=3)
  data_dir = os.fspath(tmp_path / "data")
  batches = list(jd.imagenet_pipeline("validation", data_dir=data_dir, manual_dir=os.fspath(manual), source="raw",
                                      batch_size=4, image_size=8, resize_size=9))
  assert len(batches) == 1 and batches[0]["image"].shape == (4, 8, 8, 3)
  records = read_all("imagenet2012_raw", "validation", data_dir)
  wnids = _wnids()
  assert batches[0]["label"].tolist() == [wnids.index(truth[r["file_name"].decode()][1]) for r in records]
  train = next(iter(jd.imagenet_pipeline("train", data_dir=data_dir, batch_size=6, image_size=8)))  # "auto" -> raw
  assert train["image"].shape == (6, 8, 8, 3) and train["image"].dtype == np.float32
  assert sorted(train["label"].tolist()) == [0, 0, 1, 1, 999, 999]


def test_imagenet_missing_and_mislabelled_inputs(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  (manual / "readme.txt").write_text("x")
  with pytest.raises(FileNotFoundError, match=r"ILSVRC2012_img_train\.tar.*ILSVRC2012_img_val\.tar") as info:
    jd.prepare_imagenet_raw(tmp_path / "data", manual)
  assert "https://image-net.org/download-images" in str(info.value) and os.fspath(manual) in str(info.value)
  # A val tar without a label file cannot use TFDS's bundled 50000 official labels.
  rng = np.random.default_rng(0)
  with tarfile.open(manual / "ILSVRC2012_img_val.tar", "w") as val:
    _add_bytes(val, "ILSVRC2012_val_00000001.JPEG", _jpeg(rng))
  with pytest.raises(ValueError, match="val_labels.txt"):
    jd.prepare_imagenet_raw(tmp_path / "data", manual)
  (manual / "val_labels.txt").write_text("ILSVRC2012_val_00000002 n01440764\n")
  with pytest.raises(ValueError, match="no label for 1 validation images"):
    _imagenet_builder.read_validation_labels(manual, ["ILSVRC2012_val_00000001.JPEG"])
