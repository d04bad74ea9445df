"""Synthetic raw files in each native format -> TFDS builders -> ArrayRecord -> grain frame batches.

The tests write CIFAR10-DVS (AEDAT 2.0, folders and zips), DVS128 Gesture (AEDAT 3.1 + labels csv +
trial lists) and N-MNIST (40-bit .bin, folders and zips) files with known events, build the TFDS
datasets from `manual_dir`, and check that the time-major frames equal counts computed by hand
(per-event frame index, remainder to the last frame) for `split_by="number"` and `"time"`.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

# The data stack is the `data` extra; skip (visibly, -ra) where it is not installed.
pytest.importorskip("tensorflow_datasets")
pytest.importorskip("grain")

from jsnn.data import events as je  # noqa: E402

T = 4


def make_events(seed: int, n: int, height: int, width: int, *, t0: int = 0, span: int = 50_000) -> je.Events:
  """A time-ordered stream with N not divisible by T (so the remainder rule matters)."""
  rng = np.random.default_rng(seed)
  t = t0 + np.sort(rng.integers(0, span, n))
  t[0], t[-1] = t0, t0 + span  # fixed span: the time windows are known
  return je.Events(t.astype(np.int64), rng.integers(0, width, n).astype(np.uint16),
                   rng.integers(0, height, n).astype(np.uint16), rng.integers(0, 2, n).astype(np.uint8))


def hand_frames(ev: je.Events, frames_number: int, split_by: str, height: int, width: int) -> np.ndarray:
  """Counts per frame from a per-event frame index: `i // (N // T)` or `(t - t0) // dt`, clamped to T-1."""
  n = ev.t.size
  frames = np.zeros((frames_number, height, width, 2), np.float32)
  dt = (int(ev.t[-1]) - int(ev.t[0])) // frames_number
  for i in range(n):
    if split_by == "number":
      k = i // (n // frames_number) if n >= frames_number else frames_number - 1
    else:
      k = (int(ev.t[i]) - int(ev.t[0])) // dt
    frames[min(k, frames_number - 1), ev.y[i], ev.x[i], int(ev.p[i])] += 1
  return frames


def assert_pipeline_frames(name, data_dir, split, expected: dict[str, je.Events], height, width):
  """Every sample of `split`, read through `events_pipeline`, equals its hand-computed frames."""
  src = je.prepare(name, data_dir=data_dir).as_data_source(split)
  keys = [r["file_name"].decode() if isinstance(r["file_name"], bytes) else r["file_name"] for r in src]
  assert sorted(keys) == sorted(expected)
  for split_by in ("number", "time"):
    ds = je.events_pipeline(name, split, data_dir=data_dir, batch_size=1, frames_number=T, split_by=split_by,
                            shuffle=False, drop_remainder=False)
    batches = list(ds)
    assert len(batches) == len(keys)
    for key, batch in zip(keys, batches):
      assert batch["frames"].shape == (T, 1, height, width, 2) and batch["frames"].dtype == np.float32
      assert batch["label"].dtype == np.int32
      np.testing.assert_array_equal(batch["frames"][:, 0], hand_frames(expected[key], T, split_by, height, width),
                                    err_msg=f"{key} split_by={split_by}")
      assert batch["frames"].sum() == expected[key].t.size


# ---------------------------------------------------------------------------------------------- N-MNIST


def write_nmnist(manual, *, zipped: bool) -> dict[str, dict[str, je.Events]]:
  expected = {"train": {}, "test": {}}
  for split, top in (("train", "Train"), ("test", "Test")):
    for digit in range(10):
      for k in range(2):
        ev = make_events(digit * 10 + k + (500 if split == "test" else 0), 37 + digit, 34, 34, span=300_000)
        member = f"{top}/{digit}/{k:05d}.bin"
        expected[split][f"{digit}/{k:05d}.bin"] = ev
        if zipped:
          with zipfile.ZipFile(os.path.join(manual, f"{top}.zip"), "a") as zf:
            zf.writestr(member, je.encode_nmnist_bin(ev))
        else:
          je.write_nmnist_bin(os.path.join(manual, member), ev)
  return expected


@pytest.mark.parametrize("zipped", [False, True])
def test_nmnist_builder_frames_equal_hand_counts(tmp_path, zipped):
  manual = tmp_path / "manual"
  manual.mkdir()
  expected = write_nmnist(manual, zipped=zipped)
  data_dir = str(tmp_path / "tfds")
  builder = je.prepare("n_mnist", data_dir=data_dir, manual_dir=str(manual))
  assert builder.info.splits["train"].num_examples == 20 and builder.info.splits["test"].num_examples == 20
  for split in ("train", "test"):
    assert_pipeline_frames("n_mnist", data_dir, split, expected[split], 34, 34)
  labels = [int(r["label"]) for r in builder.as_data_source("test")]
  assert sorted(labels) == sorted([d for d in range(10) for _ in range(2)])


def test_nmnist_missing_files_error_says_what_where_and_how(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  (manual / "README.txt").write_text("not the data")
  with pytest.raises(FileNotFoundError) as info:
    je.prepare("n_mnist", data_dir=str(tmp_path / "tfds"), manual_dir=str(manual))
  message = str(info.value)
  for part in ("Train.zip", "Test.zip", "garrickorchard.com", str(manual), "manual_dir"):
    assert part in message, (part, message)
  with pytest.raises(FileNotFoundError, match="missing or empty"):
    je.prepare("n_mnist", data_dir=str(tmp_path / "tfds2"), manual_dir=str(tmp_path / "nowhere"))


def test_nmnist_out_of_sensor_and_truncated_files_fail_the_build(tmp_path):
  manual = tmp_path / "manual"
  write_nmnist(manual, zipped=False)
  bad = make_events(1, 10, 34, 34)
  je.write_nmnist_bin(manual / "Train" / "3" / "00009.bin", bad._replace(x=np.full(10, 40, np.uint16)))
  with pytest.raises(ValueError, match=r"00009\.bin: event 0 .* x=40 outside the sensor width 34"):
    je.prepare("n_mnist", data_dir=str(tmp_path / "tfds"), manual_dir=str(manual))
  (manual / "Train" / "3" / "00009.bin").write_bytes(je.encode_nmnist_bin(bad)[:-1])
  with pytest.raises(je.EventFileError, match=r"00009\.bin: .* byte offset 45"):
    je.prepare("n_mnist", data_dir=str(tmp_path / "tfds3"), manual_dir=str(manual))


# ---------------------------------------------------------------------------------------------- CIFAR10-DVS

INDICES = (0, 1, 2, 3, 4, 5, 6, 7, 10, 11)  # name order: 0 1 10 11 2 3 4 5 6 7


def write_cifar10_dvs(manual) -> dict[str, je.Events]:
  expected = {}
  for label, cls in enumerate(je.Cifar10Dvs.CLASS_NAMES):
    for i in INDICES:
      name = f"cifar10_{cls}_{i}.aedat"
      ev = make_events(label * 100 + i, 41 + i, 128, 128)
      expected[name] = ev
      if label % 2:  # odd classes as <class>.zip, even ones as extracted <class>/ folders
        with zipfile.ZipFile(os.path.join(manual, f"{cls}.zip"), "a") as zf:
          zf.writestr(f"{cls}/{name}", je.encode_aedat2(ev))
      else:
        je.write_aedat2(os.path.join(manual, cls, name), ev)
  return expected


def test_cifar10_dvs_builder_split_9to1_and_frames(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  expected = write_cifar10_dvs(manual)
  data_dir = str(tmp_path / "tfds")
  builder = je.prepare("cifar10_dvs", data_dir=data_dir, manual_dir=str(manual))
  assert builder.builder_config.name == "split_9to1"
  # int(0.9 * 10) = 9: indices < 9 train, by the *number* in the name (CLIF's np.arange split), so
  # 10 and 11 are test although they sort before 2 as strings.
  test_names = {f"cifar10_{c}_{i}.aedat" for c in je.Cifar10Dvs.CLASS_NAMES for i in (10, 11)}
  assert_pipeline_frames("cifar10_dvs", data_dir, "test", {k: expected[k] for k in test_names}, 128, 128)
  assert_pipeline_frames("cifar10_dvs", data_dir, "train",
                         {k: v for k, v in expected.items() if k not in test_names}, 128, 128)
  for record in builder.as_data_source("train"):
    cls = record["file_name"].decode().split("_")[1]
    assert je.Cifar10Dvs.CLASS_NAMES[int(record["label"])] == cls


def test_cifar10_dvs_split_9to1_first_and_last_indices_per_class():
  # The real layout: 1000 recordings per class, listed in arbitrary (here string-sorted) order.
  from jsnn.data.events._cifar10_dvs import split_class
  for cls in je.Cifar10Dvs.CLASS_NAMES:
    files = sorted(f"{cls}/cifar10_{cls}_{i}.aedat" for i in range(1000))
    train, test = split_class(files, "split_9to1")
    index = lambda f: int(f.rsplit("_", 1)[1].split(".")[0])
    assert [index(f) for f in train] == list(range(900))      # first 0, last 899
    assert [index(f) for f in test] == list(range(900, 1000))  # first 900, last 999
    train, test = split_class(files, "tebn")
    assert (index(test[0]), index(test[-1]), len(test)) == (0, 99, 100)
    assert (index(train[0]), index(train[-1]), len(train)) == (100, 999, 900)
  with pytest.raises(ValueError, match=r"_<index>\.aedat"):
    split_class(["airplane/recording.aedat"], "split_9to1")


def test_cifar10_dvs_tebn_config_and_resized_pipeline(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  write_cifar10_dvs(manual)
  data_dir = str(tmp_path / "tfds")
  builder = je.prepare("cifar10_dvs/tebn", data_dir=data_dir, manual_dir=str(manual))
  names = sorted(r["file_name"].decode() for r in builder.as_data_source("test"))
  assert names == sorted(f"cifar10_{c}_0.aedat" for c in je.Cifar10Dvs.CLASS_NAMES)  # index < n/10
  ds = je.events_pipeline("cifar10_dvs/tebn", "train", data_dir=data_dir, batch_size=8, frames_number=10,
                          normalize="max", size=48, quantize="truncate", flip_roll=True, seed=1)
  batch = next(iter(ds))
  assert batch["frames"].shape == (10, 8, 48, 48, 2) and batch["label"].shape == (8,)
  # CLIF's rotation (expand=True, then centre-cropped back) keeps the batch's 48x48 shape.
  rotated = je.events_pipeline("cifar10_dvs/tebn", "train", data_dir=data_dir, batch_size=8, frames_number=10,
                               size=48, quantize="wrap", flip_roll=True, max_shift=0, rotate=15, seed=1)
  assert next(iter(rotated))["frames"].shape == (10, 8, 48, 48, 2)
  assert 0.0 <= batch["frames"].min() and batch["frames"].max() <= 1.0


def test_cifar10_dvs_missing_classes_listed(tmp_path):
  manual = tmp_path / "manual"
  je.write_aedat2(manual / "airplane" / "cifar10_airplane_0.aedat", make_events(0, 20, 128, 128))
  with pytest.raises(FileNotFoundError) as info:
    je.prepare("cifar10_dvs", data_dir=str(tmp_path / "tfds"), manual_dir=str(manual))
  message = str(info.value)
  for part in ("automobile (looked for automobile/*.aedat and automobile.zip)", "truck", "figshare", str(manual)):
    assert part in message, (part, message)
  assert "airplane (looked" not in message


# ---------------------------------------------------------------------------------------------- DVS128 Gesture

GESTURE_TRIALS = {"train": ("user01_fluorescent", "user02_led"), "test": ("user24_natural",)}
# (class 1..11, start, end): a repeated class and overlapping windows, as in the real csvs.
GESTURE_ROWS = [(1, 1_000, 20_000), (5, 21_000, 40_000), (5, 39_000, 60_000), (11, 61_000, 79_999)]


def write_gesture(manual) -> dict[str, dict[str, je.Events]]:
  folder = manual / "DvsGesture"
  expected = {"train": {}, "test": {}}
  for split, trials in GESTURE_TRIALS.items():
    (folder / f"trials_to_{split}.txt").parent.mkdir(parents=True, exist_ok=True)
    (folder / f"trials_to_{split}.txt").write_text("".join(f"{t}.aedat\n" for t in trials) + "\n")
    for r, trial in enumerate(trials):
      recording = make_events(300 + r + 10 * len(split), 5000, 128, 128, span=80_000)
      je.write_aedat31(folder / f"{trial}.aedat", recording, packet_events=700)
      (folder / f"{trial}_labels.csv").write_text(
          "class,startTime_usec,endTime_usec\n" + "".join(f"{c},{s},{e}\n" for c, s, e in GESTURE_ROWS))
      seen = [0] * 11
      for c, start, end in GESTURE_ROWS:
        mask = (recording.t >= start) & (recording.t < end)
        expected[split][f"{trial}_{c - 1}_{seen[c - 1]}"] = je.Events(*(a[mask] for a in recording))
        seen[c - 1] += 1
  return expected


def test_dvs128_gesture_builder_slices_by_csv_and_frames(tmp_path):
  manual = tmp_path / "manual"
  expected = write_gesture(manual)
  data_dir = str(tmp_path / "tfds")
  builder = je.prepare("dvs128_gesture", data_dir=data_dir, manual_dir=str(manual))
  assert builder.info.splits["train"].num_examples == 8 and builder.info.splits["test"].num_examples == 4
  for split in ("train", "test"):
    assert_pipeline_frames("dvs128_gesture", data_dir, split, expected[split], 128, 128)
  labels = sorted(int(r["label"]) for r in builder.as_data_source("test"))
  assert labels == [0, 4, 4, 10]


def test_dvs128_gesture_missing_files(tmp_path):
  manual = tmp_path / "manual"
  write_gesture(manual)
  os.remove(manual / "DvsGesture" / "user02_led_labels.csv")
  with pytest.raises(FileNotFoundError, match=r"1 file\(s\) listed in trials_to_train.txt are missing.*user02_led_"
                     r"labels\.csv(.|\n)*DvsGesture\.tar\.gz(.|\n)*ibm\.ent\.box\.com"):
    je.prepare("dvs128_gesture", data_dir=str(tmp_path / "tfds"), manual_dir=str(manual))
  os.remove(manual / "DvsGesture" / "trials_to_test.txt")
  with pytest.raises(FileNotFoundError, match="trials_to_test.txt not found"):
    je.prepare("dvs128_gesture", data_dir=str(tmp_path / "tfds2"), manual_dir=str(manual))


def test_events_pipeline_on_unprepared_dataset_says_how_to_prepare(tmp_path):
  with pytest.raises(FileNotFoundError, match=r"not prepared(.|\n)*jsnn\.data\.events\.prepare\('n_mnist'"):
    je.events_pipeline("n_mnist", "train", data_dir=str(tmp_path), batch_size=2, frames_number=4)


def test_events_data_meets_the_trainer_contract_with_padded_eval(tmp_path):
  manual = tmp_path / "manual"
  manual.mkdir()
  write_nmnist(manual, zipped=False)
  data_dir = str(tmp_path / "tfds")
  je.prepare("n_mnist", data_dir=data_dir, manual_dir=str(manual))
  import jsnn.data as jd

  data = jd.events_data({"dataset": "n_mnist", "data_dir": data_dir, "batch_size": 6, "eval_batch_size": 8,
                         "frames_number": 3, "flip_roll": True}, seed=0)
  assert data.steps_per_epoch == 3
  batch = next(data.train_iterator())
  assert batch["frames"].shape == (3, 6, 34, 34, 2)
  evals = list(data.eval_batches())
  assert [b["frames"].shape[1] for b in evals] == [8, 8, 8]
  assert [b["mask"].tolist() for b in evals][-1] == [1.0] * 4 + [0.0] * 4
  assert evals[-1]["frames"].shape == (3, 8, 34, 34, 2)
