"""Adapters to the trainer's data contract (`jsnn.train.inputs.TrainData`), by duck typing.

`experiments/main.py` calls a data builder as `builder(input_config, *, seed, process_index,
process_count)` and needs back an object with `steps_per_epoch`, `train_iterator(position)` (a
checkpointable iterator of host-local batches; `position` is a value of its `get_state()`) and
`eval_batches()` (host-local batches of one shape, the last one padded, with `"mask"`). The
builders here return that for the `jsnn.data` pipelines; `jsnn.data` still imports nothing of the
trainer. `input_config` keys: `batch_size` and `eval_batch_size` (global, divisible by the process
count), `eval_max_batches`, `data_dir` (default `~/tensorflow_datasets`), `worker_count`, plus the
dataset's own options listed per builder.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import grain

from jsnn.data._digits import digits_pipeline, prepare_digits


class PipelineData:
  """`steps_per_epoch` + `train_iterator(position)` + `eval_batches()` over two pipeline factories.

  Args:
    train: `() -> grain.IterDataset` of endless (or long enough) training batches.
    evaluate: `() -> grain.IterDataset` of padded evaluation batches with `"mask"`.
    steps_per_epoch: training batches per epoch on every host.
    eval_max_batches: optional cap on evaluation batches (`runlocal` configs).
  """

  def __init__(self, train: Callable[[], grain.IterDataset], evaluate: Callable[[], grain.IterDataset],
               steps_per_epoch: int, eval_max_batches: int | None = None):
    self._train, self._evaluate = train, evaluate
    self.steps_per_epoch = int(steps_per_epoch)
    self.eval_max_batches = eval_max_batches

  def train_iterator(self, position: Any = None) -> grain.DatasetIterator:
    """A training iterator, moved to `position` (a `get_state()` value) unless that is None."""
    it = iter(self._train())
    if position is not None:
      it.set_state(position)
    return it

  def eval_batches(self) -> Iterator[dict[str, Any]]:
    """The evaluation batches, in order, padded with `"mask"`."""
    it = iter(self._evaluate())
    return itertools.islice(it, self.eval_max_batches) if self.eval_max_batches else it


def _host_sizes(cfg: Mapping[str, Any], process_count: int) -> tuple[int, int]:
  batch = int(cfg["batch_size"])
  eval_batch = int(cfg.get("eval_batch_size") or batch)
  for name, size in (("batch_size", batch), ("eval_batch_size", eval_batch)):
    if size <= 0 or size % process_count:
      raise ValueError(f"{name}={size} must be positive and divisible by the {process_count} processes")
  return batch // process_count, eval_batch // process_count


def _data_dir(cfg: Mapping[str, Any]) -> str:
  return os.path.expanduser(cfg.get("data_dir") or "~/tensorflow_datasets")


def digits_data(input_config: Mapping[str, Any], *, seed: int, process_index: int = 0,
                process_count: int = 1) -> PipelineData:
  """sklearn digits through TFDS (`sklearn_digits`, prepared on first use).

  Images `[B, 8, 8, 1]`, or `[B, 64]` with `flatten=True` in the config (the MLP configs' layout).
  """
  batch, eval_batch = _host_sizes(input_config, process_count)
  data_dir = _data_dir(input_config)
  num_train = prepare_digits(data_dir).info.splits["train"].num_examples
  shard = dict(shard_index=process_index, shard_count=process_count, flatten=bool(input_config.get("flatten")))
  return PipelineData(
      lambda: digits_pipeline(data_dir, "train", batch_size=batch, seed=seed, num_epochs=None,
                              drop_remainder=True, **shard),
      lambda: digits_pipeline(data_dir, "test", batch_size=eval_batch, pad_to_batch=True, **shard),
      steps_per_epoch=(num_train // process_count) // batch, eval_max_batches=input_config.get("eval_max_batches"))


def _split_len(name: str, split: str, data_dir: str) -> int:
  from jsnn.data._tfds_source import open_source  # pylint: disable=g-import-not-at-top

  return len(open_source(name, split, data_dir))


def cifar_data(input_config: Mapping[str, Any], *, seed: int, process_index: int = 0,
               process_count: int = 1) -> PipelineData:
  """CIFAR-10/100 (`dataset`: cifar10 (default) or cifar100; `autoaugment`, `cutout` as in `cifar_pipeline`)."""
  from jsnn.data._static import cifar_pipeline  # pylint: disable=g-import-not-at-top

  batch, eval_batch = _host_sizes(input_config, process_count)
  data_dir, name = _data_dir(input_config), input_config.get("dataset") or "cifar10"
  common = dict(name=name, data_dir=data_dir, shard_index=process_index, shard_count=process_count,
                worker_count=int(input_config.get("worker_count") or 0))
  aug = dict(autoaugment=bool(input_config.get("autoaugment", False)), cutout=input_config.get("cutout"))
  return PipelineData(
      lambda: cifar_pipeline("train", batch_size=batch, seed=seed, num_epochs=None, **aug, **common),
      lambda: cifar_pipeline("test", batch_size=eval_batch, pad_to_batch=True, **common),
      steps_per_epoch=(_split_len(name, "train", data_dir) // process_count) // batch,
      eval_max_batches=input_config.get("eval_max_batches"))


def events_data(input_config: Mapping[str, Any], *, seed: int, process_index: int = 0,
                process_count: int = 1) -> PipelineData:
  """An event dataset (`dataset`: cifar10_dvs[/tebn], dvs128_gesture, n_mnist) as frames `[T, B, H, W, 2]`.

  Options: `frames_number` (T), `split_by`, `normalize`, `binarize`, `size`, `quantize`,
  `flip_roll`, `max_shift`, `rotate` (see `jsnn.data.events.frames_pipeline`).
  """
  from jsnn.data.events import _pipeline as ev  # pylint: disable=g-import-not-at-top

  batch, eval_batch = _host_sizes(input_config, process_count)
  data_dir, name = _data_dir(input_config), input_config["dataset"]
  keys = ("split_by", "normalize", "binarize", "size", "quantize", "flip_roll", "max_shift", "rotate")
  options = {k: input_config[k] for k in keys if input_config.get(k) is not None}
  common = dict(data_dir=data_dir, frames_number=int(input_config["frames_number"]), shard_index=process_index,
                shard_count=process_count, worker_count=int(input_config.get("worker_count") or 0), **options)
  return PipelineData(
      lambda: ev.events_pipeline(name, "train", batch_size=batch, seed=seed, num_epochs=None, **common),
      lambda: ev.events_pipeline(name, "test", batch_size=eval_batch, pad_to_batch=True, **common),
      steps_per_epoch=(_split_len(name, "train", data_dir) // process_count) // batch,
      eval_max_batches=input_config.get("eval_max_batches"))



def imagenet_data(input_config: Mapping[str, Any], *, seed: int, process_index: int = 0,
                  process_count: int = 1) -> PipelineData:
  """ImageNet-1k (`imagenet2012`, or the TensorFlow-free `imagenet2012_raw`), `[B, 224, 224, 3]`.

  Options: `image_size` (224), `resize_size` (256), `source` (`"auto"`, `"stock"`, `"raw"`),
  `manual_dir`, `worker_count` (JPEG decoding runs in the pipeline: use several workers). Every
  host reads its own `1 / process_count` of the files (`host_shard`), so no host sees another's
  examples.
  """
  from jsnn.data._static import imagenet_pipeline  # pylint: disable=g-import-not-at-top

  batch, eval_batch = _host_sizes(input_config, process_count)
  data_dir = _data_dir(input_config)
  common = dict(data_dir=data_dir, shard_index=process_index, shard_count=process_count,
                worker_count=int(input_config.get("worker_count") or 0),
                image_size=int(input_config.get("image_size") or 224),
                resize_size=int(input_config.get("resize_size") or 256),
                source=input_config.get("source") or "auto", manual_dir=input_config.get("manual_dir"))
  train = lambda: imagenet_pipeline("train", batch_size=batch, seed=seed, num_epochs=None, **common)
  num_train = _stock_or_raw_len("imagenet2012", data_dir, common["source"], common["manual_dir"])
  return PipelineData(
      train, lambda: imagenet_pipeline("validation", batch_size=eval_batch, pad_to_batch=True, **common),
      steps_per_epoch=(num_train // process_count) // batch,
      eval_max_batches=input_config.get("eval_max_batches"))


def _stock_or_raw_len(name: str, data_dir: str, source: str, manual_dir: str | None) -> int:
  """Training examples of `name` or of its `_raw` twin, whichever `source` resolves to."""
  from jsnn.data import _static  # pylint: disable=g-import-not-at-top
  from jsnn.data._imagenet_builder import prepare_imagenet_raw  # pylint: disable=g-import-not-at-top
  from jsnn.data._tfds_source import open_stock_or_raw  # pylint: disable=g-import-not-at-top

  return len(open_stock_or_raw(name, "train", data_dir, source=source, hint=_static.PREPARE_STATIC_HINT,
                               prepare_raw=lambda: prepare_imagenet_raw(data_dir, manual_dir)))
