"""``base_config()``: every key the trainer reads, with its default (an ``ml_collections``
``ConfigDict``). Configs start from it and state only what differs; keys must exist before the
config is locked so that command-line overrides such as ``--config.optimizer.lr=1e-3`` work, and
a key that is not here is refused (:func:`jsnn.train.config.check_keys`, with a "did you mean"
suggestion).

Free-form sections (their keys belong to the model, the dataset builder or the method and are not
checked here): ``model``, ``method_kw``, ``input`` (beyond the keys below).
"""

from __future__ import annotations

import ml_collections

__all__ = ["base_config"]


def base_config() -> ml_collections.ConfigDict:
  """The trainer's keys with their defaults (documented in :mod:`jsnn.train.config`)."""
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.num_epochs = 1
  c.total_steps = ml_collections.FieldReference(None, field_type=int)
  c.model_name = ""
  c.model = ml_collections.ConfigDict()
  c.method = "tet"  # a jsnn.methods name, or names joined by "+" ("clif+tet")
  c.method_kw = ml_collections.ConfigDict()  # its arguments (per name for a composition)
  c.input = ml_collections.ConfigDict(dict(name="", batch_size=64))
  c.input.eval_batch_size = ml_collections.FieldReference(None, field_type=int)
  c.input.eval_max_batches = ml_collections.FieldReference(None, field_type=int)
  # TFDS data dir (default ~/tensorflow_datasets) and grain worker processes, settable from the
  # command line (--config.input.data_dir=...) because they exist before the config is locked.
  c.input.data_dir = ml_collections.FieldReference(None, field_type=str)
  c.input.worker_count = ml_collections.FieldReference(None, field_type=int)
  c.optimizer = ml_collections.ConfigDict(dict(
      name="adam", lr=1e-3, schedule="cosine", schedule_unit="epoch", warmup=0,
      weight_decay=0.0, momentum=0.9, nesterov=False, b1=0.9, b2=0.999))
  c.optimizer.grad_clip_norm = ml_collections.FieldReference(None, field_type=float)
  # "dynamic": float16 AMP's loss scaling (jsnn.train.loss_scale), with model.options=Options(dtype=float16).
  c.optimizer.loss_scale = ml_collections.FieldReference(None, field_type=str)
  c.eval_every_steps = ml_collections.FieldReference(None, field_type=int)
  c.checkpoint_every_steps = ml_collections.FieldReference(None, field_type=int)
  c.keep_checkpoints = 2
  c.keep_best_checkpoint = True
  c.async_checkpointing = True
  c.log_every_steps = 10
  c.log_firing_rates = True  # per-layer firing rates of jsnn.nn.SpikingNeuron at each log step
  c.writer = "jsonl"  # or "tensorboard" (tensorboardX, no TensorFlow)
  c.profile_steps = ml_collections.FieldReference(None, field_type=str)  # e.g. "10:15"
  c.sharding = ml_collections.ConfigDict(dict(mode="replicate", fsdp_min_size=4096))
  c.multihost = False
  c.progress = True
  c.plot = True
  return c
