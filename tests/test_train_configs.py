"""Every experiment config (``experiments/configs/*.py`` with a ``get_config``, ``common`` aside):
its docstring says how to run it and what it targets, its default and ``runlocal`` variants
validate before anything compiles, and ``runlocal`` trains one step and evaluates one batch through
``experiments.main.run`` on mock data (``tfds.testing.mock_data``) with the config's own model
family, loss, method state and dataset adapter.

Mock data: the stock TFDS CIFAR-10/100 and ImageNet2012 builders get random records of the right
feature spec from their code (``MockPolicy.USE_CODE``: the tfds wheel ships no metadata files).
The event builders (``cifar10_dvs``, ``dvs128_gesture``, ``n_mnist``) store variable-length event
lists whose random mock would have ``t``, ``x``, ``y``, ``p`` of different lengths and addresses
outside the sensor, so their ``as_data_source`` is replaced by well-formed random streams
(``mock_data(as_data_source_fn=...)``). Configs on other data (digits, mnist5k) run on their real,
offline data in a temporary ``data_dir``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import pathlib
import re

import jax
import numpy as np
import pytest
from flax import nnx

import jsnn
from experiments import main
from jsnn import train

pytest.importorskip("tensorflow_datasets")
pytest.importorskip("grain")

import tensorflow_datasets as tfds  # noqa: E402

CONFIG_DIR = pathlib.Path(__file__).resolve().parent.parent / "experiments" / "configs"
NOT_CONFIGS = {"__init__", "common"}
N_MOCK = 32           # mock examples per split (>= every runlocal batch)
N_EVENTS = 64         # events per mock recording (>= every runlocal T)
TFDS_NAME = {"cifar": lambda c: c.input.get("dataset") or "cifar10",
             "imagenet": lambda c: "imagenet2012",
             "events": lambda c: c.input.dataset}
# The slowest runlocal variants (a trunk plus two surrogate modules to compile): ~28 s of CPU
# each against 9-25 s for the others (one pytest process per test, incl. ~5 s of start-up). They
# still run in CI; `-m "not slow"` skips them.
SLOW = {"sml_imagenet", "sml_cifar"}


def config_names() -> list[str]:
  """Every module in experiments/configs that defines ``get_config`` (found without importing)."""
  return sorted(p.stem for p in CONFIG_DIR.glob("*.py")
                if p.stem not in NOT_CONFIGS and "def get_config(" in p.read_text())


def load(name: str):
  return importlib.import_module(f"experiments.configs.{name}")


def with_slow_marks(names):
  return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in names]


# ------------------------------------------------------------------------------------ fast checks


def test_discovery_finds_the_paper_configs():
  assert {"tet_cifar", "tet_dvs", "tet_imagenet", "sml_cifar", "sml_imagenet", "clif_cifar",
          "clif_dvs", "adali_cifar", "psg_cifar", "digits"} <= set(config_names())


@pytest.mark.parametrize("name", config_names())
def test_docstring_gives_the_command_and_a_number(name):
  doc = load(name).__doc__ or ""
  assert "python -m experiments.main" in doc, f"{name}: no run command in the docstring"
  assert f"experiments/configs/{name}.py" in doc, f"{name}: the command does not name this file"
  assert re.search(r"\d+\.\d\d", doc), f"{name}: no target/expected number in the docstring"
  assert "runlocal" in doc, f"{name}: the runlocal variant is not documented"
  if "Paper:" in doc:  # a paper row: the metric the paper reports
    assert "best test accuracy over epochs" in " ".join(doc.replace("*", "").split()), name


def _check_names_resolve(cfg) -> None:
  """Everything ``main.run`` resolves, resolved without building or compiling anything."""
  main.resolve_model(cfg.model_name)
  main.resolve_data(cfg.input.name)
  method = main.resolve_method(cfg)   # method names and arguments are checked here
  method.epoch_state(0, max(2, int(cfg.num_epochs)))


@pytest.mark.parametrize("name", config_names())
def test_default_and_runlocal_variants_validate(name):
  module = load(name)
  full = module.get_config(None)
  # The paper-scale batches split over 8 devices (one GPU node, a TPU v4-8/v5e-8 slice).
  train.validate_config(full, num_devices=8)
  _check_names_resolve(full)
  local = module.get_config("runlocal")
  train.validate_config(local, num_devices=1)
  _check_names_resolve(local)
  assert local.total_steps == 1 and local.input.eval_max_batches == 1
  assert local.model_name == full.model_name and local.method == full.method
  assert local.input.name == full.input.name


def documented_args(name: str) -> list[str]:
  """The ``:args`` of every ``--config experiments/configs/<name>.py[:args]`` in the docstring."""
  doc = load(name).__doc__ or ""
  return re.findall(rf"--config experiments/configs/{name}\.py(?::(\S*))?", doc)


@pytest.mark.parametrize("name", config_names())
def test_documented_commands_give_valid_configs(name):
  args = documented_args(name)
  assert args, f"{name}: no --config experiments/configs/{name}.py command in the docstring"
  for arg in args:
    cfg = load(name).get_config(arg or None)
    train.validate_config(cfg, num_devices=1)
    _check_names_resolve(cfg)


# ------------------------------------------------------------------------------ runlocal end-to-end


def _fake_event_source(builder, split, *args, **kwargs):
  """``as_data_source`` stand-in: ``N_MOCK`` time-ordered streams inside the sensor."""
  del args, kwargs
  height, width = builder.SENSOR_SIZE
  num_classes = builder.info.features["label"].num_classes
  rng = np.random.default_rng(0 if str(split).startswith("train") else 1)
  records = []
  for i in range(N_MOCK):
    records.append({
        "events": {"t": np.sort(rng.integers(0, 100_000, N_EVENTS)).astype(np.int64),
                   "x": rng.integers(0, width, N_EVENTS).astype(np.uint16),
                   "y": rng.integers(0, height, N_EVENTS).astype(np.uint16),
                   "p": rng.integers(0, 2, N_EVENTS).astype(np.uint8)},
        "label": np.int64(i % num_classes), "file_name": f"mock_{i}".encode()})
  return records


def _mock(cfg):
  if cfg.input.name == "events":
    return tfds.testing.mock_data(num_examples=N_MOCK, as_data_source_fn=_fake_event_source)
  return tfds.testing.mock_data(num_examples=N_MOCK, policy=tfds.testing.MockPolicy.USE_CODE)


def _num_classes(cfg) -> int | None:
  name = TFDS_NAME.get(cfg.input.name)
  return None if name is None else tfds.builder(name(cfg)).info.features["label"].num_classes


def _output_shapes(cfg, batch):
  """Abstract output of the config's model on one batch (traced, not compiled)."""
  method = main.resolve_method(cfg)
  model = method.prepare(main.resolve_model(cfg.model_name)(**dict(cfg.model), rngs=nnx.Rngs(0)),
                         rngs=nnx.Rngs(1))
  model.eval()
  graphdef, state = nnx.split(model)
  x = batch["frames"] if "frames" in batch else batch["image"]
  out = jax.eval_shape(lambda s, x: nnx.merge(graphdef, s)(x), state, x)
  return [o.shape for o in out] if isinstance(out, (list, tuple)) else [out.shape]


@pytest.mark.usefixtures("fast_compile")
@pytest.mark.parametrize("name", with_slow_marks(config_names()))
def test_runlocal_trains_one_step_and_evaluates(tmp_path, name):
  cfg = load(name).get_config("runlocal")
  mocked = cfg.input.name in TFDS_NAME
  cfg.input.data_dir = str(tmp_path / "tfds")  # never ~/tensorflow_datasets
  work = tmp_path / "work"
  with _mock(cfg) if mocked else contextlib.nullcontext():
    state = main.run(cfg, str(work), config_name=f"{name}:runlocal")
    num_classes = _num_classes(cfg)
    batch = next(iter(main.resolve_data(cfg.input.name)(cfg.input, seed=0).eval_batches()))
  assert int(state.step) == 1
  records = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in records] == [1]
  assert all(math.isfinite(v) for k, v in records[0].items() if "loss" in k), records[0]
  summary = json.loads((work / "summary.json").read_text())
  assert summary["steps"] == 1 and math.isfinite(summary["final_test_loss"])
  assert 0.0 <= summary["best_test_accuracy"] <= 1.0
  assert 0.0 <= summary["final_test_accuracy"] <= 1.0
  shapes = _output_shapes(cfg, batch)
  T, B = cfg.model.T, batch["label"].shape[0]
  classes = shapes[0][-1]
  assert shapes[0] == (T, B, classes), shapes
  assert all(s == (B, classes) for s in shapes[1:]), shapes  # SML's surrogate-module outputs
  if num_classes is not None:
    assert classes == num_classes == cfg.model.num_classes
  method = main.resolve_method(cfg)
  if method.epoch_values is not None:  # AdaLi: the epoch's surrogate is traced method state
    assert isinstance(state.method_state, jsnn.surrogate.AsymmetricRectangle)
  if method.learn_surrogate:  # PSG: learned surrogate shapes, with their own optimiser
    assert "surrogate" in jax.tree.leaves(jsnn.transforms.psg_label_fn(state.params))



# ------------------------------------------------------------------------------ memory option

def remat_config_names() -> list[str]:
  return [n for n in config_names()
          if "set_remat(c, arg.remat)" in (CONFIG_DIR / f"{n}.py").read_text()]


def test_the_zoo_configs_take_remat():
  assert set(remat_config_names()) >= {"tet_cifar", "tet_dvs", "tet_imagenet", "sml_cifar",
                                       "sml_imagenet", "clif_cifar", "clif_dvs", "adali_cifar",
                                       "psg_cifar"}


@pytest.mark.parametrize("name", remat_config_names())
def test_remat_arg_sets_the_model_options(name):
  cfg = load(name).get_config("runlocal,remat=layer")
  assert cfg.model.options.remat == "layer"
  train.validate_config(cfg, num_devices=1)
  assert load(name).get_config("runlocal,remat=2").model.options.remat == 2
  assert "options" not in load(name).get_config("runlocal").model or (
      load(name).get_config("runlocal").model.options.remat is None)
  with pytest.raises(ValueError, match="remat must be one of"):
    load(name).get_config("remat=sideways")


def test_remat_keeps_the_amp_dtype():
  cfg = load("clif_cifar").get_config("amp,remat=layer")
  assert cfg.model.options.remat == "layer" and cfg.model.options.dtype == np.float16


@pytest.mark.usefixtures("fast_compile")
def test_runlocal_with_layer_remat_trains(tmp_path):
  """VGGSNN (TET, DVS frames) with every layer rematerialised and 1-bit spike inputs."""
  cfg = load("tet_dvs").get_config("runlocal,remat=layer")
  cfg.input.data_dir = str(tmp_path / "tfds")
  with _mock(cfg):
    state = main.run(cfg, str(tmp_path / "work"), config_name="tet_dvs:runlocal,remat=layer")
  assert int(state.step) == 1
  record = json.loads((tmp_path / "work" / "metrics.jsonl").read_text().splitlines()[0])
  assert all(math.isfinite(v) for k, v in record.items() if "loss" in k), record
