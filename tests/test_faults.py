"""The trainer never loses data: each operator mistake or failure of issue #13 as a test.

Config changes are refused with nothing moved or truncated; an explicit override resumes; the
workdir lock (held, stale); corrupt checkpoints (fallback keeps the good one; all corrupt or none
restorable: a hard error unless forced); SIGTERM mid-epoch saves that step and resumes exactly;
remote paths reach orbax unchanged; bad config values, typos, model names and labels fail before
compiling with the message asserted.
"""

from __future__ import annotations

import functools
import glob
import json
import logging
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

import jsnn
import jsnn.methods
from experiments.configs import digits, digits_mlp
from jsnn import train
from jsnn.train import cli
from jsnn.train import checkpoint as ckpt_lib
from jsnn.train import workdir as wd
from helpers import SlowData, save_params

ROOT = pathlib.Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.usefixtures("fast_compile")


def _config(**overrides):
  cfg = digits_mlp.get_config("method=tet,hidden=32,T=2")
  cfg.total_steps = 10
  cfg.checkpoint_every_steps = 5
  cfg.eval_every_steps = 5
  cfg.log_every_steps = 5
  cfg.progress = cfg.plot = False
  for key, value in overrides.items():
    node = cfg
    *parents, leaf = key.split(".")
    for p in parents:
      node = node[p]
    node[leaf] = value
  return cfg


def _run(cfg, workdir, **kwargs):
  data = kwargs.pop("data", None) or digits_mlp.digits_data(cfg.input, seed=cfg.seed)
  method = jsnn.methods.from_config(cfg.method, cfg.method_kw.to_dict())
  return train.train_and_evaluate(
      cfg, workdir, model_factory=functools.partial(digits_mlp.SpikingMLP, **cfg.model),
      data=data, loss_fn=method.loss_fn(), eval_fn=method.eval_fn(), **kwargs)


def _snapshot(workdir: pathlib.Path) -> dict[str, bytes]:
  """Every file under ``workdir`` with its bytes (the lock file excluded)."""
  return {str(p.relative_to(workdir)): p.read_bytes() for p in sorted(workdir.rglob("*"))
          if p.is_file()}


def _steps(workdir):
  with open(workdir / "metrics.jsonl") as f:
    return [json.loads(line)["step"] for line in f]


# -- resume policy -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """A finished 10-step run (checkpoints 5 and 10, evaluations at 5 and 10)."""
  workdir = tmp_path_factory.mktemp("trained")
  _run(_config(), workdir)
  return workdir


def _copy(src: pathlib.Path, dst: pathlib.Path) -> pathlib.Path:
  import shutil
  shutil.copytree(src, dst)
  return dst


def test_config_change_is_refused_with_nothing_moved_or_truncated(trained, tmp_path):
  workdir = _copy(trained, tmp_path / "w")
  before = _snapshot(workdir)
  assert "checkpoints/10/jsnn_manifest.json" in before and _steps(workdir) == [5, 10]
  for key, value, shown in [("model.hidden", 16, "model.hidden: 32 -> 16"),
                            ("model.T", 4, "model.T: 2 -> 4"),
                            ("method_kw.lamb", 0.5, "method_kw.lamb: 0.001 -> 0.5")]:
    cfg = _config(**{key: value})

    def factory(**_):
      raise AssertionError("nothing may be built for a refused config")

    with pytest.raises(train.ConfigChangedError) as e:
      train.train_and_evaluate(cfg, workdir, model_factory=factory, data=digits_mlp.digits_data(
          cfg.input, seed=0), loss_fn=None, eval_fn=None)
    msg = str(e.value)
    assert shown in msg, msg
    assert "Nothing was changed in the workdir" in msg
    assert "use a new --workdir" in msg and f"--allow_config_change={key}" in msg
    assert _snapshot(workdir) == before  # nothing moved, truncated or rewritten
    assert not (tmp_path / "w" / "checkpoints.corrupt").exists()


def test_operational_keys_may_change_and_identical_config_resumes(trained, tmp_path):
  workdir = _copy(trained, tmp_path / "w")
  cfg = _config(progress=True, keep_checkpoints=3, log_every_steps=2)
  state = _run(cfg, workdir)
  assert int(state.step) == 10
  summary = json.loads((workdir / "summary.json").read_text())
  assert summary["resumed_from_step"] == 10 and _steps(workdir) == [5, 10]


def test_override_resumes_and_keeps_the_previous_config(trained, tmp_path):
  workdir = _copy(trained, tmp_path / "w")
  state = _run(_config(total_steps=15), workdir, allow_config_changes=["total_steps"])
  assert int(state.step) == 15
  summary = json.loads((workdir / "summary.json").read_text())
  assert summary["resumed_from_step"] == 10
  assert _steps(workdir) == [5, 10, 15]
  assert json.loads((workdir / "config.json").read_text())["total_steps"] == 15
  old = glob.glob(str(workdir / "config.*.json"))
  assert len(old) == 1 and json.loads(pathlib.Path(old[0]).read_text())["total_steps"] == 10


def test_structure_mismatch_is_a_hard_error_never_corruption_unless_forced(trained, tmp_path):
  workdir = _copy(trained, tmp_path / "w")
  before = _snapshot(workdir)
  cfg = _config(**{"model.hidden": 16})
  with pytest.raises(train.NoRestorableCheckpointError) as e:
    _run(cfg, workdir, allow_config_changes=["model.hidden"])
  msg = str(e.value)
  assert "checkpoints exist in" in msg and "but none restores" in msg
  assert "step 10:" in msg and "step 5:" in msg
  assert "structure/shape mismatch" in msg and "saved shape (64, 32), expected (64, 16)" in msg
  assert "not corruption; nothing was moved or deleted" in msg and "--force_restart" in msg
  after = _snapshot(workdir)
  assert {k: v for k, v in after.items() if k.startswith("checkpoints/")} == {
      k: v for k, v in before.items() if k.startswith("checkpoints/")}
  assert after["metrics.jsonl"] == before["metrics.jsonl"]
  assert not (workdir / "checkpoints.corrupt").exists()

  state = _run(cfg, workdir, allow_config_changes=["model.hidden"], force_restart=True)
  assert int(state.step) == 10
  aside = glob.glob(str(workdir / "checkpoints.unrestorable-*"))
  assert len(aside) == 1 and sorted(os.listdir(aside[0])) == ["10", "5"]
  assert json.loads((workdir / "summary.json").read_text())["resumed_from_step"] == 0
  # The old rows are not lost: the new run's rows replace them, the old ones are kept aside.
  rolled = [json.loads(line) for line in (workdir / "metrics.rolledback.jsonl").read_text()
            .splitlines()]
  assert [r["step"] for r in rolled] == [5, 10] and rolled[0]["rolled_back_to_step"] == 0
  assert _steps(workdir) == [5, 10]


def _truncate_state_files(step_dir: pathlib.Path) -> None:
  for f in glob.glob(str(step_dir / "state" / "d" / "*")):
    with open(f, "r+b") as fh:
      fh.truncate(8)


def test_corrupt_latest_falls_back_and_keeps_the_good_one(trained, tmp_path):
  workdir = _copy(trained, tmp_path / "w")
  good = _snapshot(workdir / "checkpoints" / "5")
  _truncate_state_files(workdir / "checkpoints" / "10")
  with pytest.warns(RuntimeWarning, match=r"checkpoint 10 .* is corrupt or partial \(_Corrupt: "
                                          r"\d+ file\(s\) differ from jsnn_manifest.json"):
    _run(_config(), workdir)
  assert json.loads((workdir / "summary.json").read_text())["resumed_from_step"] == 5
  assert (workdir / "checkpoints" / "5").is_dir()
  assert _snapshot(workdir / "checkpoints" / "5") == good  # the good one is untouched
  assert len(os.listdir(workdir / "checkpoints.corrupt")) == 1
  assert _steps(workdir) == [5, 10]
  rolled = (workdir / "metrics.rolledback.jsonl").read_text().splitlines()
  assert [json.loads(r)["step"] for r in rolled] == [10]  # rewritten by the resumed run, kept


def test_all_checkpoints_corrupt_is_a_hard_error(trained, tmp_path):
  workdir = _copy(trained, tmp_path / "w")
  for step in ("5", "10"):
    _truncate_state_files(workdir / "checkpoints" / step)
  before = _snapshot(workdir)
  with pytest.raises(train.NoRestorableCheckpointError,
                     match=r"(?s)but none restores.*step 10: fails its checksums.*step 5: fails "
                           r"its checksums.*--force_restart"):
    _run(_config(), workdir)
  assert _snapshot(workdir) == before
  assert not (workdir / "checkpoints.corrupt").exists()


def test_metrics_rows_up_to_the_restored_step_are_kept(tmp_path):
  path = tmp_path / "metrics.jsonl"
  path.write_text("".join(json.dumps({"step": s}) + "\n" for s in (5, 10, 15)) + '{"step": 2')
  log = train.reporting.MetricsLog(path)
  log.resume(10)
  assert [r["step"] for r in log.records] == [5, 10]
  assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [5, 10]
  aside = [json.loads(line) for line in (tmp_path / "metrics.rolledback.jsonl").read_text()
           .splitlines()]
  assert aside == [{"step": 15, "rolled_back_to_step": 10},
                   {"unparsed_line": '{"step": 2', "rolled_back_to_step": 10}]


# -- lock ---------------------------------------------------------------------------------------------


def test_lock_held_by_a_live_process_refuses(tmp_path):
  holder = wd.WorkdirLock(tmp_path)
  try:
    with pytest.raises(train.WorkdirLockedError) as e:
      _run(_config(), tmp_path)
    msg = str(e.value)
    assert f"workdir {tmp_path} is in use" in msg
    assert f"held by PID {os.getpid()} on host {socket.gethostname()} since" in msg
    assert "use another --workdir" in msg
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "config.json").exists()
  finally:
    holder.release()
  assert not (tmp_path / "jsnn.lock").exists()


def test_stale_lock_of_a_dead_pid_is_taken_over(tmp_path, caplog):
  dead = subprocess.Popen([sys.executable, "-c", "pass"])
  dead.wait()
  (tmp_path / "jsnn.lock").write_text(json.dumps(
      {"host": socket.gethostname(), "pid": dead.pid, "start_time": "2026-01-01T00:00:00+00:00"}))
  with caplog.at_level(logging.WARNING, logger="jsnn.train.workdir"):
    lock = wd.WorkdirLock(tmp_path)
  assert f"removing the stale lock {tmp_path / 'jsnn.lock'} of PID {dead.pid}" in caplog.text
  assert json.loads((tmp_path / "jsnn.lock").read_text())["pid"] == os.getpid()
  lock.release()
  # A lock of another host is never taken over (its PID means nothing here).
  (tmp_path / "jsnn.lock").write_text(json.dumps({"host": "other-host", "pid": dead.pid}))
  with pytest.raises(train.WorkdirLockedError, match=f"held by PID {dead.pid} on host other-host"):
    wd.WorkdirLock(tmp_path)


def test_two_trainers_on_one_workdir_the_second_fails(tmp_path):
  code = ("import sys, time; sys.path.insert(0, {root!r}); from jsnn.train import workdir as wd; "
          "lock = wd.WorkdirLock({w!r}); print('locked', flush=True); time.sleep(30)")
  proc = subprocess.Popen([sys.executable, "-c", code.format(root=str(ROOT), w=str(tmp_path))],
                          stdout=subprocess.PIPE, text=True)
  try:
    assert proc.stdout.readline().strip() == "locked"
    with pytest.raises(train.WorkdirLockedError, match=f"held by PID {proc.pid}"):
      _run(_config(), tmp_path)
  finally:
    proc.kill()
    proc.communicate()


# -- remote paths -------------------------------------------------------------------------------------


def test_remote_workdir_reaches_orbax_unchanged(monkeypatch):
  seen = []

  class Captured(Exception):
    pass

  def fake_manager(directory, options=None):
    seen.append(directory)
    raise Captured

  monkeypatch.setattr(ckpt_lib.ocp, "CheckpointManager", fake_manager)
  for uri in ("gs://bucket/run", "s3://bucket/a/b"):
    with pytest.raises(Captured):
      train.Checkpointer(wd.as_path(uri) / "checkpoints")
    assert str(seen[-1]) == f"{uri}/checkpoints"
  with pytest.raises(Captured):
    train.Checkpointer("relative/dir")
  assert str(seen[-1]) == os.path.abspath("relative/dir")
  assert str(wd.as_path("gs://bucket/run")) == "gs://bucket/run"
  assert str(pathlib.Path("gs://bucket/run").absolute()).endswith("gs:/bucket/run")  # the old bug


# -- SIGTERM ------------------------------------------------------------------------------------------


def _child(workdir: str, sleep_s: float):
  """A 2-epoch digits MLP run (eval every 11, checkpoints per epoch), batches handed out slowly."""
  jax.config.update("jax_numpy_dtype_promotion", "strict")
  jax.config.update("jax_numpy_rank_promotion", "raise")
  cfg = digits_mlp.get_config("method=tet,hidden=32,T=2")
  cfg.num_epochs = 2
  cfg.eval_every_steps, cfg.log_every_steps = 11, 11
  cfg.progress = cfg.plot = False
  data = digits_mlp.digits_data(cfg.input, seed=cfg.seed)

  def progress(iterator_state):
    if sleep_s:
      with open(os.path.join(workdir, "progress"), "w") as f:
        f.write(json.dumps(iterator_state))

  try:
    state = _run(cfg, workdir, data=SlowData(data, sleep_s, progress))
  except train.TrainingInterrupted as e:
    print(e, flush=True)
    sys.exit(128 + e.signum)
  save_params(os.path.join(workdir, "final_params.npz"), state.params)


def _child_command(workdir, sleep_s):
  return [sys.executable, "-c", f"import test_faults as t; t._child({str(workdir)!r}, {sleep_s})"]


def _env():
  return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
              JAX_DISABLE_MOST_OPTIMIZATIONS="true")


@pytest.mark.slow
def test_sigterm_mid_epoch_saves_that_step_and_resumes_exactly(tmp_path):
  straight, stopped = tmp_path / "straight", tmp_path / "stopped"
  straight.mkdir()
  stopped.mkdir()
  out = subprocess.run(_child_command(straight, 0.0), cwd=ROOT, env=_env(), capture_output=True,
                       text=True, timeout=180)
  assert out.returncode == 0, out.stderr[-3000:]

  proc = subprocess.Popen(_child_command(stopped, 0.05), cwd=ROOT, env=_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  deadline = time.time() + 120
  while True:  # wait until step 14 of 44 is being fetched (mid-epoch: no checkpoint is due)
    assert proc.poll() is None, proc.communicate()[1][-3000:]
    assert time.time() < deadline
    try:
      position = json.loads((stopped / "progress").read_text())
    except (OSError, ValueError):
      position = {"epoch": 0, "index": 0}
    if position["epoch"] == 0 and position["index"] >= 13:
      break
    time.sleep(0.01)
  proc.send_signal(signal.SIGTERM)
  stdout, stderr = proc.communicate(timeout=120)
  assert proc.returncode == 128 + signal.SIGTERM, stderr[-3000:]
  step = int(stdout.split("stopped after step ")[1].split()[0])
  assert 13 <= step < 22  # mid-epoch
  assert f"saved checkpoint {step}" in stdout and "Rerun the same command to resume." in stdout
  assert str(step) in os.listdir(stopped / "checkpoints")
  assert not (stopped / "jsnn.lock").exists()

  os.remove(stopped / "progress")
  out = subprocess.run(_child_command(stopped, 0.0), cwd=ROOT, env=_env(), capture_output=True,
                       text=True, timeout=180)
  assert out.returncode == 0, out.stderr[-3000:]
  assert json.loads((stopped / "summary.json").read_text())["resumed_from_step"] == step

  def rows(w):
    return [{k: v for k, v in json.loads(line).items() if k != "wall_time_s"}
            for line in (w / "metrics.jsonl").read_text().splitlines()]

  assert [r["step"] for r in rows(straight)] == [11, 22, 33, 44]
  assert rows(stopped) == rows(straight)
  with np.load(straight / "final_params.npz") as a, np.load(stopped / "final_params.npz") as b:
    assert sorted(a.files) == sorted(b.files)
    for name in a.files:
      np.testing.assert_array_equal(a[name], b[name], err_msg=name)
  summary = json.loads((straight / "summary.json").read_text())
  best = summary["best_step"]
  assert summary["best_checkpoint"] == str(straight / "checkpoints" / str(best))
  assert str(best) in os.listdir(straight / "checkpoints")


# -- best checkpoint ----------------------------------------------------------------------------------


def test_best_checkpoint_is_kept_beside_the_latest(tmp_path):
  ckpt = train.Checkpointer(tmp_path / "c", max_to_keep=1, keep_best=True, async_save=False)
  for step, acc in ((1, 0.5), (2, 0.9), (3, None), (4, 0.7), (5, None)):
    ckpt.save(step, {"w": jax.numpy.full(2, float(step))},
              metrics=None if acc is None else {"test_accuracy": acc})
  assert ckpt.all_steps() == [2, 5] and ckpt.best_step() == 2
  ckpt.close()


# -- config errors before compiling ---------------------------------------------------------------------


def _no_build(**_):
  raise AssertionError("the model must not be built for an invalid config")


@pytest.mark.parametrize("key,value,message", [
    ("model.T", 0, "model.T must be a positive integer, got 0 (time steps: T >= 1)."),
    ("model.T", -1, "model.T must be a positive integer, got -1 (time steps: T >= 1)."),
    ("model.hidden", 0, "model.hidden must be a positive integer, got 0."),
    ("optimizer.lr", 0.0, "optimizer.lr must be a positive number, got 0.0."),
    ("optimizer.b2", 1.0, "optimizer.b2 must be in [0, 1), got 1.0."),
    ("seed", -3, "seed must be a non-negative integer, got -3."),
    ("log_every_steps", 0, "log_every_steps must be a positive integer, got 0."),
    ("profile_steps", "5:2", "profile_steps='5:2' must be 'START:STOP' with START < STOP"),
    ("writer", "wandb", "writer='wandb' is unknown; valid: jsonl, tensorboard."),
])
def test_bad_values_raise_before_anything_is_built(tmp_path, key, value, message):
  cfg = _config(**{key: value})
  with pytest.raises(ValueError) as e:
    train.train_and_evaluate(cfg, tmp_path / "w", model_factory=_no_build, data=None,
                             loss_fn=None, eval_fn=None)
  assert message in str(e.value)
  assert not (tmp_path / "w").exists()


def test_digits_c1_zero_and_batch_larger_than_split(tmp_path):
  cfg = digits.get_config("c1=0,runlocal")
  with pytest.raises(ValueError, match=r"model.c1 must be a positive integer, got 0\."):
    cli.run(cfg, str(tmp_path / "a"))
  cfg = digits.get_config("runlocal")
  cfg.input.batch_size = 4096
  cfg.input.data_dir = str(tmp_path / "tfds")
  with pytest.raises(ValueError, match=r"the training data gives 0 steps per epoch: "
                                       r"input.batch_size=4096 is larger than the training split"):
    cli.run(cfg, str(tmp_path / "b"))
  assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_zero_steps_per_epoch_is_a_clear_error(tmp_path):
  class Empty:
    steps_per_epoch = 0

  with pytest.raises(ValueError, match=r"gives 0 steps per epoch: input.batch_size=64 is larger "
                                       r"than the training split"):
    train.train_and_evaluate(_config(), tmp_path / "w", model_factory=_no_build, data=Empty(),
                             loss_fn=None, eval_fn=None)
  assert not (tmp_path / "w").exists()


def test_unknown_key_in_a_python_config_is_refused_with_a_suggestion(tmp_path):
  cfg = _config()
  cfg.unlock()
  cfg.optimizer.learning_rte = 0.1
  cfg.eval_every_step = 3
  with pytest.raises(ValueError) as e:
    train.train_and_evaluate(cfg, tmp_path / "w", model_factory=_no_build, data=None,
                             loss_fn=None, eval_fn=None)
  msg = str(e.value)
  assert "unknown config key 'optimizer.learning_rte'. Did you mean 'lr'?" in msg
  assert "unknown config key 'eval_every_step'. Did you mean 'eval_every_steps'?" in msg
  assert not (tmp_path / "w").exists()


def test_cli_typo_prints_a_suggestion_not_a_traceback(tmp_path):
  cmd = [sys.executable, "-m", "jsnn.train", "--config",
         "experiments/configs/digits_mlp.py:runlocal", "--config.optimizer.learning_rte=0.1",
         "--workdir", str(tmp_path / "w")]
  proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, env=_env())
  assert proc.returncode == 2
  assert ("--config.optimizer.learning_rte: unknown config key 'optimizer.learning_rte'. "
          "Did you mean 'lr'?") in proc.stderr
  assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) <= 3
  assert not (tmp_path / "w").exists()


def test_user_model_from_any_importable_module(tmp_path, monkeypatch):
  (tmp_path / "mytask.py").write_text(
      "from flax import nnx\n"
      "from typing import Any\n"
      "class TinySNN(nnx.Module):\n"
      "  def __init__(self, *, rngs):\n"
      "    self.fc = nnx.Linear(2, 2, rngs=rngs)\n")
  monkeypatch.syspath_prepend(str(tmp_path))
  assert cli.resolve_model("mytask:TinySNN").__name__ == "TinySNN"
  with pytest.raises(ValueError) as e:
    cli.resolve_model("mytask:TinySnn")
  msg = str(e.value)
  assert "mytask has no 'TinySnn'; valid: TinySNN. Did you mean 'TinySNN'?" in msg
  assert "Any" not in msg and "nnx" not in msg  # nothing imported into the module
  with pytest.raises(ValueError, match=r"unknown model 'vgsnn'; valid: .*Did you mean 'vggsnn'\?"):
    cli.resolve_model("vgsnn")
  with pytest.raises(ValueError, match=r"cannot import 'nosuchmodule'"):
    cli.resolve_model("nosuchmodule:Net")
  with pytest.raises(ValueError, match=r"unknown dataset 'digit'; valid: .*Did you mean 'digits'\?"):
    cli.resolve_data("digit")
  assert callable(cli.resolve_model("vggsnn:VGGSNN"))  # zoo names keep working


# -- labels and NaN ---------------------------------------------------------------------------------


def test_out_of_range_labels_are_caught_on_the_host(tmp_path):
  from jsnn.train.loop import _check_labels

  cfg = _config()
  base = digits_mlp.digits_data(cfg.input, seed=0)
  train_arrays = dict(base.train)
  train_arrays["label"] = train_arrays["label"].copy()
  train_arrays["label"][base.permutation(0)[70]] = 12  # row 6 of the second batch
  data = train.ArrayData(train_arrays, base.test, batch_size=64, eval_batch_size=360)
  with pytest.raises(ValueError) as e:
    _run(cfg, tmp_path / "w", data=data, num_classes=10)
  msg = str(e.value)
  assert ("training batch of step 2 (epoch 0): labels out of range [0, 10): values [12] at rows "
          "[6]") in msg and "model's number of classes" in msg
  with pytest.raises(ValueError, match=r"evaluation batch 0: labels \('label'\) must be integers"):
    _check_labels({"label": np.zeros(3, np.float32)}, "label", 10, "evaluation batch 0")
  _check_labels({"label": np.array([0, 99]), "mask": np.array([1.0, 0.0])}, "label", 10, "x")


def test_num_classes_comes_from_the_model_output():
  cfg = _config()
  data = digits_mlp.digits_data(cfg.input, seed=0)
  factory = functools.partial(digits_mlp.SpikingMLP, **cfg.model)
  assert cli._num_classes(factory, data, "image") == 10


def test_nan_message_lists_labels_as_a_cause(tmp_path):
  from jsnn.train.loop import _nan_message

  class NoCheckpoints:
    directory = tmp_path

    def wait(self):
      pass

    def all_steps(self):
      return []

  msg = _nan_message("loss", float("nan"), 7, NoCheckpoints(), 22)
  assert msg.startswith("loss became nan at step 7 (epoch 0)")
  assert "labels outside [0, num_classes)" in msg and "optimizer.grad_clip_norm" in msg


# -- streams ------------------------------------------------------------------------------------------


def test_step_keys_are_independent_of_init_keys():
  init = jax.random.key(0)
  init_keys = {tuple(np.asarray(jax.random.key_data(jax.random.fold_in(init, n))).tolist())
               for n in range(512)}
  root = train.step_key(0)
  step_keys = {tuple(np.asarray(jax.random.key_data(jax.random.fold_in(root, k))).tolist())
               for k in range(512)}
  assert not init_keys & step_keys
  assert len(step_keys) == 512


# -- malformed event files -------------------------------------------------------------------------


def _events(t, x, y, p=None):
  from jsnn.data import events as je
  p = np.zeros(len(t), np.uint8) if p is None else p
  return je.as_events({"t": np.asarray(t), "x": np.asarray(x), "y": np.asarray(y), "p": p})


def test_malformed_event_files_raise_with_path_and_offset(tmp_path):
  from jsnn.data import events as je

  header2 = b"#!AER-DAT2.0\r\n# written by jsnn\r\n"
  cases = [
      (je.read_aedat2, b"", r"empty\.aedat: not an AEDAT 2\.0 file: no '#!AER-DAT2\.0' header line; "
                            r"the bytes look like an empty file at byte offset 0", "empty.aedat"),
      (je.read_aedat2, header2, rf"hdr\.aedat: no events: the file holds only the AEDAT 2\.0 header "
                                rf"at byte offset {len(header2)}", "hdr.aedat"),
      (je.read_aedat2, np.random.default_rng(0).bytes(800),
       r"rnd\.aedat: not an AEDAT 2\.0 file: no '#!AER-DAT2\.0' header line; the bytes look like "
       r"header-less binary \(the N-MNIST \.bin layout", "rnd.aedat"),
      (je.read_aedat2, je.encode_aedat2(_events([0, 1], [1, 2], [3, 4]))[len(header2):],
       r"nohdr\.aedat: not an AEDAT 2\.0 file", "nohdr.aedat"),
      (je.read_nmnist_bin, b"", r"e\.bin: no events: the file is empty at byte offset 0", "e.bin"),
      (je.read_nmnist_bin, je.encode_aedat2(_events([0, 1], [1, 2], [3, 4])),
       r"v2\.bin: not an N-MNIST \.bin file \(which has no header\): the bytes look like an AEDAT "
       r"2\.0 \(CIFAR10-DVS, read_aedat2\) file at byte offset 0", "v2.bin"),
      (je.read_nmnist_bin, np.random.default_rng(1).bytes(500),
       r"r\.bin: event 0 has x=\d+ outside the 34x34 \(HxW\) sensor .* at byte offset 0", "r.bin"),
      (je.read_nmnist_bin, je.encode_nmnist_bin(_events([5, 9, 3, 12], [1, 2, 3, 4], [1, 1, 1, 1])),
       r"b\.bin: timestamp goes backwards at event 2 \(9 -> 3; 1 such steps\)\. Pass "
       r"on_unsorted='sort' .* 'keep' for SpikingJelly's behaviour \(file order\) at byte offset 10",
       "b.bin"),
      (je.read_aedat2, je.encode_aedat2(_events([5, 9, 3], [1, 2, 3], [1, 1, 1])),
       rf"b\.aedat: timestamp goes backwards at event 2 .* at byte offset {len(header2) + 16}",
       "b.aedat"),
      (je.read_aedat31, b"#!AER-DAT3.1\r\n#!END-HEADER\r\n",
       r"h\.aedat: no events: the file holds no polarity events", "h.aedat"),
      (je.read_aedat31, b"\x00" * 64, r"z\.aedat: not an AEDAT 3\.1 file: no '#!AER-DAT3\.1' "
                                      r"header; the bytes look like header-less binary", "z.aedat"),
      (je.read_aedat31, je.encode_aedat31(_events([5, 9, 3], [1, 2, 3], [1, 1, 1])),
       r"b3\.aedat: timestamp goes backwards at event 2", "b3.aedat"),
  ]
  for read, data, pattern, name in cases:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(je.EventFileError, match=pattern) as e:
      read(path)
    assert e.value.path == str(path)


def test_unsorted_events_can_be_sorted_or_kept():
  from jsnn.data import events as je

  data = je.encode_nmnist_bin(_events([5, 9, 3, 12], [1, 2, 3, 4], [1, 1, 1, 1]))
  assert je.read_nmnist_bin(data, on_unsorted="sort").t.tolist() == [3, 5, 9, 12]
  assert je.read_nmnist_bin(data, on_unsorted="sort").x.tolist() == [3, 1, 2, 4]
  assert je.read_nmnist_bin(data, on_unsorted="keep").t.tolist() == [5, 9, 3, 12]
  with pytest.raises(ValueError, match=r"on_unsorted='drop'; valid: raise, sort, keep"):
    je.read_nmnist_bin(data, on_unsorted="drop")


def test_out_of_range_aedat31_coordinates_name_the_byte_offset():
  from jsnn.data import events as je

  data = bytearray(je.encode_aedat31(_events([1, 2], [1, 2], [3, 4])))
  body = data.index(b"#!END-HEADER\r\n") + len(b"#!END-HEADER\r\n") + 28
  aer = (200 << 17) | (4 << 2)  # x = 200 on a 128-wide sensor, second event
  struct_offset = body + 8
  data[struct_offset:struct_offset + 4] = aer.to_bytes(4, "little")
  with pytest.raises(je.EventFileError, match=rf"event 1 has x=200 outside the 128x128 \(HxW\) "
                                              rf"sensor .* at byte offset {struct_offset}"):
    je.read_aedat31(bytes(data), name="g.aedat")


# -- monitoring -------------------------------------------------------------------------------------


def _dead_layer_net():
  from flax import nnx

  from jsnn import nn as jn

  class DeadLayerNet(nnx.Module):
    """Two spiking layers on ``[B, 64]`` images (T=2); ``dead`` gets only negative input."""

    def __init__(self, *, rngs):
      self.fc1 = jn.Linear(64, 16, rngs=rngs)
      self.live = jn.SpikingNeuron(jsnn.neurons.tet_lif)
      self.dead = jn.SpikingNeuron(jsnn.neurons.tet_lif)
      self.fc2 = jn.Linear(16, 10, rngs=rngs)

    def __call__(self, x):
      h = self.fc1(jax.numpy.broadcast_to(x[None], (2,) + x.shape))
      return self.fc2(self.live(h) + self.dead(-jax.numpy.abs(h) - 1.0))

  return DeadLayerNet


def test_monitoring_rows_writers_profile_and_dead_layer_warning(tmp_path, caplog):
  cfg = _config(total_steps=4, log_every_steps=2, eval_every_steps=4, checkpoint_every_steps=4,
                writer="tensorboard", profile_steps="1:2")
  cfg.model = {}

  class Collect:
    rows: list = []

    def write(self, step, scalars, kind):
      self.rows.append((step, kind, dict(scalars)))

    def close(self):
      self.rows.append("closed")

  extra = Collect()
  method = jsnn.methods.from_config(cfg.method, cfg.method_kw.to_dict())
  with caplog.at_level(logging.WARNING, logger="jsnn.train.loop"):
    train.train_and_evaluate(
        cfg, tmp_path, model_factory=_dead_layer_net(),
        data=digits_mlp.digits_data(cfg.input, seed=0), loss_fn=method.loss_fn(),
        eval_fn=method.eval_fn(), writer=extra)
  rows = [json.loads(line) for line in (tmp_path / "train_metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in rows] == [2, 4]
  for r in rows:
    assert r["steps_per_s"] > 0 and r["lr"] == pytest.approx(3e-3) and np.isfinite(r["loss"])
    assert r["firing_rate/dead"] == 0.0 and 0.0 < r["firing_rate/live"] < 1.0
  assert "layer dead never fires (firing rate 0.0 at all 2 log steps" in caplog.text
  assert "layer live" not in caplog.text
  assert [(s, k) for s, k, _ in extra.rows[:-1]] == [(2, "train"), (4, "train"), (4, "eval")]
  assert extra.rows[-1] == "closed" and "test_accuracy" in extra.rows[2][2]
  assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
  assert list((tmp_path / "profile").rglob("*.xplane.pb"))
  assert [r["step"] for r in map(json.loads, (tmp_path / "metrics.jsonl").read_text()
                                 .splitlines())] == [4]
