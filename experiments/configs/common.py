"""Helpers shared by the configs: ``parse_arg`` (big_vision's ``bvcc.parse_arg``) and the trainer's
default keys (``base_config``), so each config only states what differs."""

from __future__ import annotations

from typing import Any

import ml_collections

__all__ = ["parse_arg", "base_config"]

_TRUE, _FALSE = ("1", "true", "yes", "y", "on"), ("0", "false", "no", "n", "off")


def _coerce(key: str, text: str, default: Any) -> Any:
  if isinstance(default, bool):
    if text.lower() in _TRUE + _FALSE:
      return text.lower() in _TRUE
    raise ValueError(f"config arg {key}={text!r}: expected a boolean ({'/'.join(_TRUE[:2])}, "
                     f"{'/'.join(_FALSE[:2])}).")
  if default is None or isinstance(default, str):
    return text
  try:
    return type(default)(text)
  except ValueError:
    raise ValueError(f"config arg {key}={text!r}: expected {type(default).__name__}.") from None


def parse_arg(arg: str | None, **spec: Any) -> ml_collections.ConfigDict:
  """Parses the ``:arg`` of ``--config file.py:arg`` against defaults.

  ``arg`` is a comma-separated list of ``key=value`` items; a bare ``key`` sets a boolean to True
  (``"method=tet,runlocal"``). Values take the type of their default.

  Raises:
    ValueError: an unknown key (the valid ones are listed) or a value of the wrong type.

  Examples:
    >>> a = parse_arg("method=clif,runlocal", method="tet", runlocal=False, T=4)
    >>> (a.method, a.runlocal, a.T)
    ('clif', True, 4)
  """
  values = dict(spec)
  for item in filter(None, (s.strip() for s in (arg or "").split(","))):
    key, sep, text = item.partition("=")
    key = key.strip()
    if key not in spec:
      raise ValueError(f"unknown config arg {key!r}; valid: {', '.join(sorted(spec))}.")
    if not sep:
      if not isinstance(spec[key], bool):
        raise ValueError(f"config arg {key!r} needs a value ({key}=...).")
      values[key] = True
    else:
      values[key] = _coerce(key, text.strip(), spec[key])
  return ml_collections.ConfigDict(values)


def base_config() -> ml_collections.ConfigDict:
  """Every key the trainer reads (see ``jsnn/train/config.py``), with its default.

  Keys must exist before ``lock_config`` so that command-line overrides such as
  ``--config.optimizer.lr=1e-3`` work.
  """
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
  c.async_checkpointing = True
  c.log_every_steps = 10
  c.sharding = ml_collections.ConfigDict(dict(mode="replicate", fsdp_min_size=4096))
  c.multihost = False
  c.progress = True
  c.plot = True
  return c


def shrink_for_runlocal(c: ml_collections.ConfigDict) -> None:
  """``runlocal``: one train step and one eval step on a 40-image batch, no progress bar or plot."""
  c.total_steps = 1
  c.input.batch_size = 16
  c.input.eval_batch_size = 40
  c.input.eval_max_batches = 1
  c.progress = False
  c.plot = False
