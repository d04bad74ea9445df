"""Static-image pipelines under `tfds.testing.mock_data` and the numpy augmentations they use.

CIFAR-10 and ImageNet2012 read through `tfds.data_source` (ArrayRecord, no TensorFlow) + grain:
shapes, normalisation with the spec's constants, augmentation actually applied, determinism with a
seed, and restoring a saved iterator state continues with the same next batch.
"""

from __future__ import annotations

import numpy as np
import pytest

# The data stack is the `data` extra; skip (visibly, -ra) where it is not installed.
pytest.importorskip("tensorflow_datasets")
pytest.importorskip("grain")

import tensorflow_datasets as tfds  # noqa: E402

import jsnn.data as jd  # noqa: E402

CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
CIFAR100_MEAN, CIFAR100_STD = (0.5071, 0.4867, 0.4408), (0.2675, 0.2565, 0.2761)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
N_MOCK = 24


@pytest.fixture
def mock_tfds():
  with tfds.testing.mock_data(num_examples=N_MOCK):
    yield


def normalised(image_u8, mean, std):
  return (image_u8.astype(np.float32) / np.float32(255) - np.float32(mean)) / np.float32(std)


def test_normalisation_constants_are_the_spec_values():
  assert jd.MEAN_STD["cifar10"] == (CIFAR10_MEAN, CIFAR10_STD)
  assert jd.MEAN_STD["cifar100"] == (CIFAR100_MEAN, CIFAR100_STD)
  assert jd.MEAN_STD["imagenet2012"] == (IMAGENET_MEAN, IMAGENET_STD)
  with pytest.raises(KeyError, match="known"):
    jd.mean_std("svhn")


@pytest.mark.parametrize("name,mean,std", [("cifar10", CIFAR10_MEAN, CIFAR10_STD),
                                           ("cifar100", CIFAR100_MEAN, CIFAR100_STD)])
def test_cifar_eval_batches_are_the_normalised_records(mock_tfds, name, mean, std):
  src = tfds.data_source(name, split="test")
  batches = list(jd.cifar_pipeline("test", name=name, batch_size=10))
  assert [b["image"].shape for b in batches] == [(10, 32, 32, 3), (10, 32, 32, 3), (4, 32, 32, 3)]
  images = np.concatenate([b["image"] for b in batches])
  labels = np.concatenate([b["label"] for b in batches])
  assert images.dtype == np.float32 and labels.dtype == np.int32
  for i in range(N_MOCK):
    np.testing.assert_array_equal(images[i], normalised(src[i]["image"], mean, std))
    assert labels[i] == src[i]["label"]


def crop_flip_candidates(image_u8, padding=4):
  padded = np.pad(image_u8, ((padding, padding), (padding, padding), (0, 0)))
  for top in range(2 * padding + 1):
    for left in range(2 * padding + 1):
      window = padded[top:top + 32, left:left + 32]
      yield window
      yield window[:, ::-1]


def test_cifar_train_batches_are_random_crops_and_flips(mock_tfds):
  src = tfds.data_source("cifar10", split="train")
  batch = next(iter(jd.cifar_pipeline("train", batch_size=N_MOCK, seed=0, shuffle=False)))
  assert batch["image"].shape == (N_MOCK, 32, 32, 3) and batch["label"].dtype == np.int32
  identical = 0
  for i in range(N_MOCK):
    candidates = [normalised(c, CIFAR10_MEAN, CIFAR10_STD) for c in crop_flip_candidates(src[i]["image"])]
    assert any(np.array_equal(batch["image"][i], c) for c in candidates), f"image {i} is not a crop/flip"
    identical += np.array_equal(batch["image"][i], candidates[2 * (4 * 9 + 4)])  # the centred, unflipped crop
  assert identical < N_MOCK // 2  # augmentation really happens


@pytest.mark.parametrize("kwargs", [{}, {"autoaugment": True, "cutout": "devries"}, {"cutout": "torchtoolbox"}])
def test_cifar_train_is_deterministic_given_the_seed(mock_tfds, kwargs):
  def run(seed):
    return list(jd.cifar_pipeline("train", batch_size=8, seed=seed, num_epochs=2, **kwargs))

  first, again, other = run(1), run(1), run(2)
  assert len(first) == 2 * (N_MOCK // 8)
  for a, b in zip(first, again):
    np.testing.assert_array_equal(a["image"], b["image"])
    np.testing.assert_array_equal(a["label"], b["label"])
  assert not all(np.array_equal(a["image"], b["image"]) for a, b in zip(first, other))
  epoch1 = np.sort(np.concatenate([b["label"] for b in first[:3]]))
  epoch2 = np.sort(np.concatenate([b["label"] for b in first[3:]]))
  np.testing.assert_array_equal(epoch1, epoch2)  # each epoch is a permutation of the same records
  assert not np.array_equal(first[0]["label"], first[3]["label"]) or not np.array_equal(
      first[0]["image"], first[3]["image"])  # reshuffled / re-augmented per epoch


def test_devries_cutout_leaves_a_minus_mean_over_std_hole(mock_tfds):
  batch = next(iter(jd.cifar_pipeline("train", batch_size=N_MOCK, seed=0, cutout="devries")))
  hole = normalised(np.zeros((1, 1, 3), np.uint8), CIFAR10_MEAN, CIFAR10_STD)[0, 0]
  at_hole = np.all(np.isclose(batch["image"], hole, atol=1e-6), axis=-1)
  assert all(at_hole[i].sum() >= 8 * 8 for i in range(N_MOCK))  # at least a quarter of the 16x16 square


@pytest.mark.parametrize("pipeline,kwargs", [
    (jd.cifar_pipeline, {"autoaugment": True}),
    (jd.imagenet_pipeline, {}),
])
def test_restoring_iterator_state_continues_with_the_same_batch(mock_tfds, pipeline, kwargs):
  ds = pipeline("train", batch_size=4, seed=5, num_epochs=None, **kwargs)
  it = iter(ds)
  for _ in range(7):  # crosses an epoch boundary (6 batches per epoch)
    next(it)
  state = it.get_state()
  expected = [next(it) for _ in range(3)]
  restored = iter(pipeline("train", batch_size=4, seed=5, num_epochs=None, **kwargs))
  restored.set_state(state)
  for want in expected:
    got = next(restored)
    np.testing.assert_array_equal(got["image"], want["image"])
    np.testing.assert_array_equal(got["label"], want["label"])


def test_imagenet_train_and_eval_batches(mock_tfds):
  src = tfds.data_source("imagenet2012", split="validation")
  train = next(iter(jd.imagenet_pipeline("train", batch_size=6, seed=0)))
  assert train["image"].shape == (6, 224, 224, 3) and train["image"].dtype == np.float32
  assert train["label"].dtype == np.int32
  again = next(iter(jd.imagenet_pipeline("train", batch_size=6, seed=0)))
  np.testing.assert_array_equal(train["image"], again["image"])
  val = next(iter(jd.imagenet_pipeline("validation", batch_size=6)))
  assert val["image"].shape == (6, 224, 224, 3)
  expected = jd.center_crop(jd.resize_shorter_side(src[0]["image"], 256), 224)
  np.testing.assert_array_equal(val["image"][0], normalised(expected, IMAGENET_MEAN, IMAGENET_STD))
  np.testing.assert_array_equal(val["label"], [src[i]["label"] for i in range(6)])


def test_per_host_shards_are_disjoint_and_cover_the_split():
  records = [{"id": np.int64(i)} for i in range(23)]
  ids = []
  for shard in range(3):
    ds = jd.make_pipeline(records, batch_size=4, shard_index=shard, shard_count=3, shuffle=True, seed=9)
    ids.append(np.concatenate([b["id"] for b in ds]))
  assert sorted(np.concatenate(ids).tolist()) == list(range(23))
  # drop_remainder trims the split to a multiple of shard_count: every host sees the same batch count.
  counts = [len(list(jd.make_pipeline(records, batch_size=2, shard_index=s, shard_count=3, drop_remainder=True)))
            for s in range(3)]
  assert counts == [3, 3, 3]
  assert jd.host_shard() == (0, 1)
  with pytest.raises(ValueError, match="shard_index"):
    jd.host_shard(3, 3)
  with pytest.raises(ValueError, match="too few for one batch"):
    jd.make_pipeline(records, batch_size=30, drop_remainder=True)


def test_unprepared_static_dataset_error_explains_preparation(tmp_path):
  with pytest.raises(FileNotFoundError, match=r"not prepared(.|\n)*tfds build cifar10 --file_format=array_record"):
    jd.cifar_pipeline("train", data_dir=str(tmp_path), batch_size=2)


# ---------------------------------------------------------------------------------------------- ops


def test_random_crop_and_flip_ops():
  image = np.arange(32 * 32 * 3, dtype=np.uint8).reshape(32, 32, 3)
  rng = np.random.default_rng(0)
  offsets = set()
  for _ in range(1500):
    out = jd.random_crop_with_padding(image, rng)
    assert out.shape == image.shape and out.dtype == np.uint8
    offsets.add(next(k for k, c in enumerate(crop_flip_candidates(image)) if np.array_equal(out, c)) // 2)
  assert offsets == set(range(81))  # all 9x9 offsets, padding 4 each side
  flips = [np.array_equal(jd.random_horizontal_flip(image, rng), image[:, ::-1]) for _ in range(400)]
  assert 150 < sum(flips) < 250


def test_devries_cutout_square():
  image = np.ones((32, 32, 3), np.float32)
  for seed in range(50):
    out = jd.cutout(image, np.random.default_rng(seed), length=16)
    rows, cols = np.nonzero(np.all(out == 0, axis=-1))
    assert rows.size and rows.max() - rows.min() < 16 and cols.max() - cols.min() < 16
    assert rows.size == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)  # one clipped square


def test_torchtoolbox_cutout_fills_like_pil_paste_of_an_int():
  image = np.full((32, 32, 3), 77, np.uint8)
  for seed in range(40):
    out = jd.torchtoolbox_cutout(image, np.random.default_rng(seed), p=1.0)
    box = np.any(out != 77, axis=-1)
    area = box.sum()
    assert 0.02 * 1024 * 0.5 <= area <= 0.4 * 1024 + 1
    assert np.all(out[box][:, 1:] == 0)  # PIL paste(int) on RGB: (c, 0, 0)
    gray = jd.torchtoolbox_cutout(image, np.random.default_rng(seed), p=1.0, fill="gray")
    values = gray[np.any(gray != 77, axis=-1)]
    assert np.all(values == values[:, :1])
  assert np.array_equal(jd.torchtoolbox_cutout(image, np.random.default_rng(0), p=0.0), image)


def test_autoaugment_policy_ops():
  rng = np.random.default_rng(0)
  image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
  outs = [jd.cifar10_policy(image, np.random.default_rng(s)) for s in range(60)]
  assert all(o.shape == image.shape and o.dtype == np.uint8 for o in outs)
  assert sum(not np.array_equal(o, image) for o in outs) > 20
  np.testing.assert_array_equal(jd.cifar10_policy(image, np.random.default_rng(3)),
                                jd.cifar10_policy(image, np.random.default_rng(3)))
  from jsnn.data import _autoaugment as aa  # the op table itself

  pil = aa.Image.fromarray(image)
  np.testing.assert_array_equal(np.asarray(aa.apply_op(pil, "invert", 0, rng)), 255 - image)
  np.testing.assert_array_equal(np.asarray(aa.apply_op(pil, "solarize", aa.RANGES["solarize"][0], rng)), image)
  np.testing.assert_array_equal(np.asarray(aa.apply_op(pil, "posterize", 4, rng)), image & 0xF0)
  shifted = np.asarray(aa.apply_op(pil, "translateX", aa.RANGES["translateX"][9], rng))
  assert np.all(shifted[:, :10] == 128) or np.all(shifted[:, -10:] == 128)  # 150/331 * 32 px of gray fill
  assert aa.RANGES["posterize"].tolist() == [8, 8, 7, 7, 6, 6, 5, 5, 4, 4]
  assert len(aa.CIFAR10_POLICY) == 25


def test_random_resized_crop_box_follows_torchvision():
  rng = np.random.default_rng(0)
  for _ in range(300):
    top, left, h, w = jd._imagenet_ops.random_resized_crop_box(300, 400, rng)
    assert 0 <= top <= 300 - h and 0 <= left <= 400 - w
    assert 0.08 * 120_000 * 0.9 <= h * w <= 120_000 and 3 / 4 * 0.9 <= w / h <= 4 / 3 * 1.1
  # impossible scale: the fallback central crop clamped to the ratio range
  assert jd._imagenet_ops.random_resized_crop_box(100, 1000, rng, scale=(2.0, 2.0)) == (0, 433, 100, 133)
  assert jd.resize_shorter_side(np.zeros((300, 400, 3), np.uint8), 256).shape == (256, 341, 3)
  assert jd.center_crop(np.zeros((256, 341, 3), np.uint8), 224).shape == (224, 224, 3)


def test_cifar_data_meets_the_trainer_contract(mock_tfds):
  data = jd.cifar_data({"batch_size": 8, "eval_batch_size": 10, "cutout": "torchtoolbox"}, seed=0)
  assert data.steps_per_epoch == N_MOCK // 8
  assert next(data.train_iterator())["image"].shape == (8, 32, 32, 3)
  evals = list(data.eval_batches())
  assert [b["image"].shape[0] for b in evals] == [10, 10, 10]
  assert [float(b["mask"].sum()) for b in evals] == [10.0, 10.0, 4.0]


def test_padded_eval_shards_have_equal_batches_and_masks_cover_each_record_once():
  records = [{"id": np.int64(i)} for i in range(23)]
  seen = []
  for shard in range(3):
    batches = list(jd.make_pipeline(records, batch_size=3, pad_to_batch=True, shard_index=shard, shard_count=3))
    assert len(batches) == 3 and all(b["id"].shape == (3,) for b in batches)  # ceil(ceil(23/3)/3) on every host
    for b in batches:
      seen += b["id"][b["mask"] == 1].tolist()
  assert sorted(seen) == list(range(23))
  with pytest.raises(ValueError, match="pad_to_batch is for evaluation"):
    jd.make_pipeline(records, batch_size=3, pad_to_batch=True, shuffle=True)
