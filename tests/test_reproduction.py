"""``docs/reproduction.md`` covers every config, and the recipe fixes of the configs stay pinned.

The table test: every config module appears in a row, every row names an existing config, and the row's
command arguments are accepted by that config. The recipe tests pin the official behaviour each config
claims (file:line in the config docstrings).
"""

from __future__ import annotations

import importlib
import pathlib
import re

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

from jsnn import nn as jn

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "reproduction.md"
CONFIG_DIR = ROOT / "experiments" / "configs"
ROW = re.compile(r"^\|.*?`experiments/configs/(\w+)\.py`(?: `([^`]*)`)?")


def config_names() -> set[str]:
  return {p.stem for p in CONFIG_DIR.glob("*.py") if "def get_config(" in p.read_text()}


def doc_rows() -> list[tuple[str, str | None]]:
  rows = []
  for line in DOC.read_text().splitlines():
    match = ROW.match(line)
    if match:
      rows.append((match.group(1), match.group(2)))
  return rows


def load(name: str):
  return importlib.import_module(f"experiments.configs.{name}")


def test_every_config_is_in_the_table_and_every_row_names_a_config():
  rows = doc_rows()
  assert len(rows) >= 30, f"the table parser found only {len(rows)} rows"
  named = {name for name, _ in rows}
  assert config_names() - named == set(), f"configs missing from docs/reproduction.md: {config_names() - named}"
  assert named - config_names() == set(), f"rows naming no config: {named - config_names()}"


@pytest.mark.parametrize("name,arg", sorted({r for r in doc_rows() if r[1] is not None}))
def test_every_row_command_gives_a_config(name, arg):
  config = load(name).get_config(arg)
  assert config.model_name and config.num_epochs


def _norms(model):
  return [m for _, m in nnx.iter_modules(model) if isinstance(m, jn.BatchNorm)]


def _build(config):
  from experiments import main  # pylint: disable=g-import-not-at-top
  return main.resolve_model(config.model_name)(**dict(config.model), rngs=nnx.Rngs(0))


def test_adali_cifar100_uses_time_merged_bn():
  # AdaLi models/resnet.py:6, :128: SpikingJelly multi-step BatchNorm2d = time-merged statistics.
  config = load("adali_cifar").get_config("dataset=cifar100")
  assert config.model.norm == "time_merged"
  norms = _norms(_build(load("adali_cifar").get_config("dataset=cifar100,runlocal")))
  assert norms and all(type(m) is jn.BatchNorm for m in norms)  # not PerStepBatchNorm
  assert load("adali_cifar").get_config("dataset=cifar10").model.norm == "time_merged"


def test_sml_autoaugment_is_off_by_default_and_a_flag():
  # SML README:17-21 omits --autoaug (store_true, Train_distribute_pallel.py:474).
  sml = load("sml_cifar")
  assert sml.get_config().input.autoaugment is False
  assert sml.get_config("autoaug=true").input.autoaugment is True


def test_tet_cifar_bn_statistics_per_128_samples_and_runlocal_exercises_groups():
  tet = load("tet_cifar")
  assert tet.get_config().model.norm == "time_merged@128"
  assert tet.get_config("bn_group=0").model.norm == "time_merged"
  assert load("psg_cifar").get_config().model.norm == "time_merged@128"
  norms = _norms(_build(tet.get_config("runlocal")))
  assert norms and all(m.stat_group_size == 8 for m in norms)
  assert tet.get_config("runlocal").input.batch_size % 8 == 0
  with pytest.raises(ValueError, match="bn_group"):
    tet.get_config("bn_group=-1")


def test_sml_and_clif_keep_whole_batch_statistics():
  for name in ("sml_cifar", "sml_imagenet"):  # SyncBN (--sync-bn)
    assert load(name).get_config().model.norm == "time_merged"
  for name in ("clif_cifar", "clif_dvs"):  # one GPU, one BN call per time step
    assert load(name).get_config().model.norm == "per_step"


def test_clif_dvs_rotates_and_amp_is_an_option():
  clif_dvs = load("clif_dvs")
  assert clif_dvs.get_config().input.rotate == 15
  assert "rotate" not in clif_dvs.get_config("dataset=dvs128_gesture").input
  for name in ("clif_cifar", "clif_dvs"):
    assert load(name).get_config().optimizer.loss_scale is None  # float32 by default
    amp = load(name).get_config("amp=true")
    assert amp.model.options.dtype == jnp.float16 and amp.optimizer.loss_scale == "dynamic"


@pytest.mark.slow
@pytest.mark.usefixtures("fast_compile")
def test_clif_amp_runlocal_trains_a_loss_scaled_float16_step(tmp_path):
  import test_train_configs as configs_test  # the mock-data helpers of the runlocal tests
  from experiments import main  # pylint: disable=g-import-not-at-top

  cfg = load("clif_cifar").get_config("runlocal,amp=true")
  cfg.input.data_dir = str(tmp_path / "tfds")
  with configs_test._mock(cfg):  # pylint: disable=protected-access
    state = main.run(cfg, str(tmp_path / "work"), config_name="clif_cifar:runlocal,amp=true")
  assert int(state.step) == 1
  assert float(state.params["loss_scale"]) == 2.0 ** 16 and int(state.opt_state.good_steps) == 1
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(state.params))  # float32 master weights
