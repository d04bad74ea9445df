"""train_and_evaluate end to end (in process, sklearn digits): outputs, determinism, NaN stop,
corrupt-checkpoint fallback."""

from __future__ import annotations

import functools
import glob
import json
import os

import jax
import numpy as np
import pytest

import jsnn
import jsnn.methods
from experiments.configs import digits_mlp
from jsnn import train
from jsnn.train.checkpoint import Checkpointer

METRIC_KEYS = {"step", "epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr",
               "wall_time_s"}
SUMMARY_KEYS = {"final_test_accuracy", "best_test_accuracy", "wall_time_s", "compile_time_s",
                "steps", "seed", "config_name", "jsnn_version", "devices"}


pytestmark = pytest.mark.usefixtures("fast_compile")


def _config(**overrides):
  cfg = digits_mlp.get_config("method=tet,hidden=32,T=2")
  cfg.total_steps = 20
  cfg.checkpoint_every_steps = 5
  cfg.eval_every_steps = 10
  cfg.log_every_steps = 10
  cfg.progress = False
  cfg.plot = False
  for key, value in overrides.items():
    node = cfg
    *parents, leaf = key.split(".")
    for p in parents:
      node = node[p]
    node[leaf] = value
  return cfg


def _run(cfg, workdir, data=None):
  data = data or digits_mlp.digits_data(cfg.input, seed=cfg.seed)
  method = jsnn.methods.from_config(cfg.method, cfg.method_kw.to_dict())
  return train.train_and_evaluate(
      cfg, workdir, model_factory=functools.partial(digits_mlp.SpikingMLP, **cfg.model),
      data=data, loss_fn=method.loss_fn(), eval_fn=method.eval_fn(),
      config_name="digits_mlp:test")


def _records(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f]


def _without_time(records):
  return [{k: v for k, v in r.items() if k != "wall_time_s"} for r in records]


def test_outputs_metrics_summary_plot_checkpoints(tmp_path, capsys):
  state = _run(_config(plot=True, keep_checkpoints=2), tmp_path)
  records = _records(tmp_path)
  assert [r["step"] for r in records] == [10, 20]
  assert all(METRIC_KEYS <= set(r) for r in records)
  assert all(0.0 <= r["test_accuracy"] <= 1.0 for r in records)
  summary = json.loads((tmp_path / "summary.json").read_text())
  assert SUMMARY_KEYS <= set(summary)
  assert summary["steps"] == 20 and summary["config_name"] == "digits_mlp:test"
  assert summary["final_test_accuracy"] == records[-1]["test_accuracy"]
  assert summary["best_test_accuracy"] == max(r["test_accuracy"] for r in records)
  assert summary["devices"]["count"] == jax.device_count()
  assert summary["jsnn_version"] == jsnn.__version__
  assert summary["wall_time_s"] >= summary["compile_time_s"] > 0
  assert (tmp_path / "curves.png").stat().st_size > 1000
  assert sorted(os.listdir(tmp_path / "checkpoints")) == ["15", "20"]  # max_to_keep=2
  assert int(state.step) == 20
  out = capsys.readouterr().out
  assert "final test accuracy" in out and "test_acc" in out


def test_same_seed_same_metrics_and_params(tmp_path):
  a = _run(_config(), tmp_path / "a")
  b = _run(_config(), tmp_path / "b")
  assert _without_time(_records(tmp_path / "a")) == _without_time(_records(tmp_path / "b"))
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(a.params), jax.device_get(b.params))
  c = _run(_config(seed=1), tmp_path / "c")
  assert _without_time(_records(tmp_path / "c")) != _without_time(_records(tmp_path / "a"))
  del c


class _NaNAt:
  """Wraps a TrainData; the batch of training step `bad_step` (1-based) is poisoned: `poison`
  (a per-example term added to the loss) becomes NaN, or with `images=True` the images do."""

  def __init__(self, data, bad_step, images=False):
    self.data, self.bad_step, self.images = data, bad_step, images
    self.steps_per_epoch = data.steps_per_epoch

  def eval_batches(self):
    return self.data.eval_batches()

  def train_iterator(self, position=None):
    inner, data = self.data.train_iterator(position), self

    class _It:
      def __next__(self):
        pos = inner.get_state()
        step = pos["epoch"] * data.steps_per_epoch + pos["index"] + 1
        batch = next(inner)
        bad = step == data.bad_step
        batch["poison"] = np.full(len(batch["label"]), np.nan if bad and not data.images else 0.0,
                                  np.float32)
        if bad and data.images:
          batch["image"] = np.full_like(batch["image"], np.nan)
        return batch

      def get_state(self):
        return inner.get_state()

    return _It()


def _poisoned_loss(method):
  base = method.loss_fn()

  def loss_fn(model, batch, method_state, rng):
    value, aux = base(model, batch, method_state, rng)
    return value + jax.numpy.mean(batch["poison"]), aux

  return loss_fn


@pytest.mark.parametrize("images", [False, True], ids=["nan_loss", "nan_input"])
def test_nan_stops_with_step_and_keeps_last_good_checkpoint(tmp_path, images):
  cfg = _config()
  data = _NaNAt(digits_mlp.digits_data(cfg.input, seed=cfg.seed), bad_step=7, images=images)
  method = jsnn.methods.from_config(cfg.method, cfg.method_kw.to_dict())
  # NaN images give finite logits (NaN never crosses the threshold) but NaN gradients.
  what = "grad_norm" if images else "loss"
  with pytest.raises(RuntimeError, match=rf"{what} became nan at step 7 \(epoch 0\).*last good "
                                         r"checkpoint is step 5"):
    train.train_and_evaluate(
        cfg, tmp_path, model_factory=functools.partial(digits_mlp.SpikingMLP, **cfg.model),
        data=data, loss_fn=_poisoned_loss(method), eval_fn=method.eval_fn())
  assert sorted(os.listdir(tmp_path / "checkpoints")) == ["5"]
  assert not (tmp_path / "summary.json").exists()
  # The checkpoint left behind is finite and restores.
  state = train.create_train_state(digits_mlp.SpikingMLP(**cfg.model, rngs=_rngs()),
                                   train.make_optimizer(cfg, 22, 20)[0])[1]
  ckpt = Checkpointer(tmp_path / "checkpoints")
  restored = ckpt.restore_latest(state)
  ckpt.close()
  assert restored.step == 5
  assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves((restored.state.params,
                                                              restored.state.opt_state,
                                                              restored.state.model_state)))


def _rngs():
  from flax import nnx
  return nnx.Rngs(0)


def test_checkpointer_refuses_nan_state(tmp_path):
  ckpt = Checkpointer(tmp_path / "ckpt", async_save=False)
  state = {"w": jax.numpy.array([1.0, np.nan]), "b": jax.numpy.ones(2)}
  with pytest.raises(RuntimeError, match=r"refusing to write checkpoint 3: non-finite values in "
                                         r"\['w'\]"):
    ckpt.save(3, state)
  ckpt.close()
  assert ckpt.all_steps() == []


def test_corrupt_latest_checkpoint_falls_back_to_previous(tmp_path):
  _run(_config(keep_checkpoints=3), tmp_path)
  assert sorted(int(s) for s in os.listdir(tmp_path / "checkpoints")) == [10, 15, 20]
  for f in glob.glob(str(tmp_path / "checkpoints" / "20" / "state" / "d" / "*")):
    with open(f, "r+b") as fh:
      fh.truncate(8)
  with pytest.warns(RuntimeWarning, match="checkpoint 20 .* is corrupt or partial"):
    _run(_config(keep_checkpoints=3, total_steps=25), tmp_path)
  summary = json.loads((tmp_path / "summary.json").read_text())
  assert summary["resumed_from_step"] == 15
  assert [r["step"] for r in _records(tmp_path)] == [10, 20, 25]
  assert len(os.listdir(tmp_path / "checkpoints.corrupt")) == 1


def test_fingerprint_mismatch_counts_as_corrupt(tmp_path):
  """Silent corruption (arrays restore but differ from what was saved) is caught too."""
  ckpt = Checkpointer(tmp_path / "ckpt", max_to_keep=3, async_save=False)
  state = {"w": jax.numpy.arange(4.0)}
  for step in (1, 2):
    ckpt.save(step, jax.tree.map(lambda x: x * step, state), data={"i": step})
  ckpt.close()
  meta_file = next(iter(glob.glob(str(tmp_path / "ckpt" / "2" / "meta" / "*"))))
  with open(meta_file) as f:
    meta = json.load(f)
  meta["fingerprint"][0][0] += 1.0
  with open(meta_file, "w") as f:
    f.write(json.dumps(meta))
  os.remove(tmp_path / "ckpt" / "2" / "jsnn_manifest.json")  # only the fingerprint can tell
  ckpt = Checkpointer(tmp_path / "ckpt", max_to_keep=3, async_save=False)
  with pytest.warns(RuntimeWarning, match="do not match the fingerprint"):
    restored = ckpt.restore_latest(state)
  ckpt.close()
  assert restored.step == 1 and restored.data == {"i": 1}
  np.testing.assert_array_equal(restored.state["w"], np.arange(4.0))


def test_bytes_data_position_round_trips(tmp_path):
  """grain's DataLoader iterators give their position as bytes."""
  ckpt = Checkpointer(tmp_path / "ckpt", async_save=False)
  ckpt.save(4, {"w": jax.numpy.ones(3)}, data=b'{"last_seen_indices": {"0": 7}}\x00')
  ckpt.close()
  ckpt = Checkpointer(tmp_path / "ckpt", async_save=False)
  restored = ckpt.restore_latest({"w": jax.numpy.zeros(3)})
  ckpt.close()
  assert restored.step == 4 and restored.data == b'{"last_seen_indices": {"0": 7}}\x00'
