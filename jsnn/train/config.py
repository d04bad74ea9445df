r"""The trainer's config keys: validation (before anything compiles) and the optimiser.

Keys read by :func:`jsnn.train.train_and_evaluate` (``ml_collections.ConfigDict`` or any mapping
with attribute access; defaults in :data:`DEFAULTS`)::

  seed                      int; model init, data order and the step RNG
  num_epochs | total_steps  training length (total_steps wins; runlocal configs set it)
  input.batch_size          global training batch (split over devices and processes)
  input.eval_batch_size     global evaluation batch (default input.batch_size)
  optimizer.name            "adam" | "adamw" | "sgd"
  optimizer.lr              peak learning rate
  optimizer.schedule        "constant" | "cosine" | "warmup_cosine"
  optimizer.schedule_unit   "epoch" (PyTorch CosineAnnealingLR stepped per epoch) | "step"
  optimizer.warmup          warmup length in schedule units (warmup_cosine)
  optimizer.weight_decay, optimizer.momentum, optimizer.nesterov, optimizer.b1, optimizer.b2,
  optimizer.grad_clip_norm  (None: no clipping)
  optimizer.loss_scale      None, or "dynamic": float16 AMP's GradScaler rule around the whole
                            optimiser (jsnn.train.loss_scale; the model must be a LossScaledModel,
                            which experiments/main.py builds when this is set)
  eval_every_steps          None: once per epoch (and always at the end)
  checkpoint_every_steps    None: once per epoch (and always at the end)
  keep_checkpoints, async_checkpointing, log_every_steps
  sharding.mode             "replicate" | "fsdp";  sharding.fsdp_min_size
  multihost                 call jax.distributed.initialize()
  progress, plot            tqdm progress bar; PNG of the curves
"""

from __future__ import annotations

import math
from typing import Any, Callable

import jax.numpy as jnp
import optax

from jsnn.train.loss_scale import dynamic_loss_scale
from jsnn.train.sharding import SHARDING_MODES

__all__ = ["DEFAULTS", "OPTIMIZERS", "SCHEDULES", "SCHEDULE_UNITS", "get", "validate_config",
           "total_steps", "make_schedule", "make_optimizer"]

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "warmup_cosine")
SCHEDULE_UNITS = ("epoch", "step")

DEFAULTS: dict[str, Any] = {
    "seed": 0, "num_epochs": None, "total_steps": None,
    "input.eval_batch_size": None,
    "optimizer.schedule": "cosine", "optimizer.schedule_unit": "epoch", "optimizer.warmup": 0,
    "optimizer.weight_decay": 0.0, "optimizer.momentum": 0.9, "optimizer.nesterov": False,
    "optimizer.b1": 0.9, "optimizer.b2": 0.999, "optimizer.grad_clip_norm": None,
    "optimizer.loss_scale": None,
    "eval_every_steps": None, "checkpoint_every_steps": None, "keep_checkpoints": 2,
    "async_checkpointing": True, "log_every_steps": 10,
    "sharding.mode": "replicate", "sharding.fsdp_min_size": 2**12,
    "multihost": False, "progress": True, "plot": True,
}


def get(config: Any, key: str, default: Any = None) -> Any:
  """``config.a.b`` for ``key="a.b"``, else ``default`` (or :data:`DEFAULTS`' value)."""
  node = config
  for part in key.split("."):
    try:
      node = node[part]
    except (KeyError, TypeError, AttributeError):
      return DEFAULTS.get(key, default)
  return DEFAULTS.get(key, default) if node is None else node


def _o(opt: Any, key: str) -> Any:
  """``opt[key]`` of an optimiser node, with the ``optimizer.<key>`` default."""
  return get(opt, key, DEFAULTS.get(f"optimizer.{key}"))


def _choice(errors: list, config, key: str, valid: tuple) -> None:
  value = get(config, key)
  if value not in valid:
    errors.append(f"{key}={value!r} is unknown; valid: {', '.join(valid)}.")


def _positive_int(errors: list, config, key: str, required: bool = False) -> None:
  value = get(config, key)
  if value is None and not required:
    return
  if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
    errors.append(f"{key} must be a positive integer, got {value!r}.")


def validate_config(config: Any, *, num_devices: int, process_count: int = 1) -> None:
  """Checks the trainer's config keys; meant to run before anything is compiled.

  Raises:
    ValueError: listing every problem, e.g. an unknown optimiser (with the valid names) or a batch
      size not divisible by the number of devices.
  """
  errors: list[str] = []
  _choice(errors, config, "optimizer.name", OPTIMIZERS)
  _choice(errors, config, "optimizer.schedule", SCHEDULES)
  _choice(errors, config, "optimizer.schedule_unit", SCHEDULE_UNITS)
  _choice(errors, config, "sharding.mode", SHARDING_MODES)
  lr = get(config, "optimizer.lr")
  if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr > 0:
    errors.append(f"optimizer.lr must be a positive number, got {lr!r}.")
  if get(config, "num_epochs") is None and get(config, "total_steps") is None:
    errors.append("set num_epochs or total_steps.")
  for key in ("num_epochs", "total_steps", "eval_every_steps", "checkpoint_every_steps",
              "keep_checkpoints", "log_every_steps", "input.eval_batch_size"):
    _positive_int(errors, config, key)
  _positive_int(errors, config, "input.batch_size", required=True)
  for key in ("input.batch_size", "input.eval_batch_size"):
    size = get(config, key)
    if isinstance(size, int) and size > 0:
      if size % num_devices:
        errors.append(f"{key}={size} is not divisible by the number of devices ({num_devices});"
                      f" use a multiple of {num_devices}.")
      if size % process_count:
        errors.append(f"{key}={size} is not divisible by the number of processes "
                      f"({process_count}).")
  loss_scale = get(config, "optimizer.loss_scale")
  if loss_scale not in (None, "dynamic"):
    errors.append(f"optimizer.loss_scale={loss_scale!r} is unknown; valid: None, 'dynamic'.")
  if errors:
    raise ValueError("invalid config:\n  " + "\n  ".join(errors))


def total_steps(config: Any, steps_per_epoch: int) -> int:
  """``total_steps`` if set, else ``num_epochs * steps_per_epoch``."""
  steps = get(config, "total_steps")
  return int(steps) if steps is not None else int(get(config, "num_epochs")) * steps_per_epoch


def make_schedule(opt: Any, steps_per_epoch: int, num_steps: int) -> Callable:
  """The learning-rate schedule ``count -> lr`` (traced; also callable on the host).

  With ``schedule_unit="epoch"`` the rate is constant within an epoch and follows
  ``lr * (1 + cos(pi * e / E)) / 2`` for epoch ``e`` of ``E`` (PyTorch ``CosineAnnealingLR(T_max=E)``
  stepped per epoch, as TET, SML, CLIF and AdaLi do); ``"step"`` uses the step index instead.
  """
  base = float(_o(opt, "lr"))
  kind = _o(opt, "schedule")
  unit = steps_per_epoch if _o(opt, "schedule_unit") == "epoch" else 1
  units = max(1, math.ceil(num_steps / unit))
  warmup = int(_o(opt, "warmup")) if kind == "warmup_cosine" else 0

  def schedule(count):
    if kind == "constant":
      return jnp.asarray(base, jnp.float32)
    u = (jnp.asarray(count, jnp.int32) // unit).astype(jnp.float32)
    decay_len = max(1, units - warmup)
    t = jnp.clip(u - warmup, 0.0, float(decay_len)) / decay_len
    lr = 0.5 * base * (1.0 + jnp.cos(jnp.pi * t))
    if warmup:
      lr = jnp.where(u < warmup, base * (u + 1.0) / warmup, lr)
    return lr

  return schedule


def _base_optimizer(opt: Any, lr: Callable) -> optax.GradientTransformation:
  name, wd = _o(opt, "name"), float(_o(opt, "weight_decay"))
  if name == "adam":
    tx = optax.adam(lr, b1=_o(opt, "b1"), b2=_o(opt, "b2"))
    return optax.chain(optax.add_decayed_weights(wd), tx) if wd else tx
  if name == "adamw":
    return optax.adamw(lr, b1=_o(opt, "b1"), b2=_o(opt, "b2"), weight_decay=wd)
  # PyTorch SGD: the weight decay is added to the gradient before the momentum.
  tx = optax.sgd(lr, momentum=_o(opt, "momentum") or None, nesterov=bool(_o(opt, "nesterov")))
  return optax.chain(optax.add_decayed_weights(wd), tx) if wd else tx


def make_optimizer(config: Any, steps_per_epoch: int, num_steps: int,
                   wrap: Callable | None = None) -> tuple[optax.GradientTransformation, Callable]:
  """``(tx, lr_schedule)`` from ``config.optimizer`` (see the module docstring).

  Args:
    config: the run's config.
    steps_per_epoch, num_steps: for the schedule.
    wrap: ``wrap(tx, relative_lr) -> tx`` applied last, e.g. a ``jsnn.methods.Method``'s
      ``wrap_optimizer`` (``relative_lr(count)`` is the schedule divided by its peak rate).
  """
  opt = config["optimizer"]
  schedule = make_schedule(opt, steps_per_epoch, num_steps)
  tx = _base_optimizer(opt, schedule)
  clip = _o(opt, "grad_clip_norm")
  if clip:
    tx = optax.chain(optax.clip_by_global_norm(float(clip)), tx)
  if wrap is not None:
    peak = float(_o(opt, "lr"))
    tx = wrap(tx, lambda count: schedule(count) / peak)
  if _o(opt, "loss_scale") == "dynamic":  # outermost: clipping and PSG see unscaled gradients
    tx = dynamic_loss_scale(tx)
  return tx, schedule
