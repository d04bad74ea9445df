"""The offline end-to-end path: sklearn digits -> TFDS builder -> ArrayRecord -> data_source -> grain."""

from __future__ import annotations

import time

import numpy as np
import pytest

# The data stack is the `data` extra; skip (visibly, -ra) where it is not installed.
pytest.importorskip("tensorflow_datasets")
pytest.importorskip("grain")

import jsnn.data as jd  # noqa: E402

sklearn = pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
  data_dir = tmp_path_factory.mktemp("tfds")
  start = time.perf_counter()
  jd.prepare_digits(data_dir)
  seconds = time.perf_counter() - start
  assert seconds < 15, f"preparing the digits took {seconds:.1f} s (expected ~1-2 s)"
  return str(data_dir)


def test_splits_are_the_quickstart_stratified_split(digits_dir):
  from sklearn.datasets import load_digits
  from sklearn.model_selection import train_test_split

  builder = jd.prepare_digits(digits_dir)  # already prepared: just opens it
  assert builder.info.splits["train"].num_examples == 1437
  assert builder.info.splits["test"].num_examples == 360
  digits = load_digits()
  x_train, x_test, y_train, y_test = train_test_split(digits.images, digits.target, test_size=0.2,
                                                      stratify=digits.target, random_state=0)
  for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
    src = builder.as_data_source(split)
    stored = np.stack([r["image"][..., 0] for r in src]).reshape(len(src), -1).astype(np.float64)
    labels = np.array([r["label"] for r in src])
    order, want = np.lexsort(stored.T), np.lexsort(x.reshape(len(x), -1).T)
    np.testing.assert_array_equal(stored[order], x.reshape(len(x), -1)[want])
    np.testing.assert_array_equal(labels[order], y[want])


def test_pipeline_batches_cover_the_split_once_per_epoch(digits_dir):
  batches = list(jd.digits_pipeline(digits_dir, "train", batch_size=64, seed=0))
  assert len(batches) == 23 and batches[-1]["image"].shape == (1437 - 22 * 64, 8, 8, 1)
  images = np.concatenate([b["image"] for b in batches])
  labels = np.concatenate([b["label"] for b in batches])
  assert images.dtype == np.float32 and labels.dtype == np.int32
  assert images.min() == 0.0 and images.max() == 1.0  # x / 16
  assert np.bincount(labels).tolist() == np.bincount(
      [int(r["label"]) for r in jd.prepare_digits(digits_dir).as_data_source("train")]).tolist()
  test = list(jd.digits_pipeline(digits_dir, "test", batch_size=100))
  assert [b["label"].shape[0] for b in test] == [100, 100, 100, 60]


def test_pipeline_shuffle_is_seeded_and_state_restores(digits_dir):
  a = next(iter(jd.digits_pipeline(digits_dir, "train", batch_size=32, seed=1)))
  b = next(iter(jd.digits_pipeline(digits_dir, "train", batch_size=32, seed=1)))
  c = next(iter(jd.digits_pipeline(digits_dir, "train", batch_size=32, seed=2)))
  np.testing.assert_array_equal(a["image"], b["image"])
  assert not np.array_equal(a["label"], c["label"])
  it = iter(jd.digits_pipeline(digits_dir, "train", batch_size=100, seed=3, num_epochs=None))
  for _ in range(20):  # past the first epoch (15 batches)
    next(it)
  state = it.get_state()
  want = next(it)
  other = iter(jd.digits_pipeline(digits_dir, "train", batch_size=100, seed=3, num_epochs=None))
  other.set_state(state)
  got = next(other)
  np.testing.assert_array_equal(got["image"], want["image"])
  np.testing.assert_array_equal(got["label"], want["label"])


def test_array_pipeline_epochs_shards_and_errors():
  arrays = {"x": np.arange(23, dtype=np.float32)[:, None], "id": np.arange(23)}
  batches = list(jd.array_pipeline(arrays, batch_size=5, shuffle=True, seed=4, num_epochs=2))
  assert [len(b["id"]) for b in batches] == [5, 5, 5, 5, 3] * 2
  first, second = np.concatenate([b["id"] for b in batches[:5]]), np.concatenate([b["id"] for b in batches[5:]])
  assert sorted(first) == sorted(second) == list(range(23)) and not np.array_equal(first, second)
  np.testing.assert_array_equal(batches[0]["x"][:, 0], batches[0]["id"])  # rows stay aligned
  shards = [np.concatenate([b["id"] for b in jd.array_pipeline(arrays, batch_size=2, shard_index=s, shard_count=2,
                                                                drop_remainder=True)]) for s in range(2)]
  assert len(shards[0]) == len(shards[1]) == 10 and not set(shards[0]) & set(shards[1])
  with pytest.raises(ValueError, match="leading length"):
    jd.array_pipeline({"x": np.zeros(3), "y": np.zeros(4)}, batch_size=2)
  with pytest.raises(ValueError, match="too few for one batch"):
    jd.array_pipeline(arrays, batch_size=30, drop_remainder=True)


@pytest.mark.parametrize("process_count", [1, 2])
def test_digits_data_meets_the_trainer_contract(digits_dir, process_count):
  cfg = {"batch_size": 64, "eval_batch_size": 100, "data_dir": digits_dir}
  hosts = [jd.digits_data(cfg, seed=0, process_index=i, process_count=process_count)
           for i in range(process_count)]
  per_host = 64 // process_count
  assert {h.steps_per_epoch for h in hosts} == {(1437 // process_count) // per_host}
  # eval: every host the same number of equally shaped batches; the masks cover the 360 examples once
  evals = [list(h.eval_batches()) for h in hosts]
  assert len({len(e) for e in evals}) == 1
  assert {b["image"].shape for e in evals for b in e} == {(100 // process_count, 8, 8, 1)}
  assert sum(float(b["mask"].sum()) for e in evals for b in e) == 360
  # train: positioned iterators continue exactly (the position is JSON-serialisable)
  import json

  it = hosts[0].train_iterator()
  for _ in range(hosts[0].steps_per_epoch + 3):
    batch = next(it)
  assert batch["image"].shape == (per_host, 8, 8, 1)
  position = json.loads(json.dumps(it.get_state()))
  want = next(it)
  got = next(hosts[0].train_iterator(position))
  np.testing.assert_array_equal(got["label"], want["label"])
  capped = jd.digits_data({**cfg, "eval_max_batches": 1, "flatten": True}, seed=0)
  assert [b["image"].shape for b in capped.eval_batches()] == [(100, 64)]
  with pytest.raises(ValueError, match="divisible"):
    jd.digits_data({"batch_size": 63, "data_dir": digits_dir}, seed=0, process_count=2)
