"""Exact resume: a run killed with SIGKILL after a checkpoint and restarted in the same workdir ends
with the same parameters and the same metrics sequence as an uninterrupted run.

Each run is a child interpreter (this module's `_child`) training the digits MLP for 2 epochs
(44 steps, a checkpoint every 5 steps, an evaluation every 11).
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _child(workdir: str, sleep_s: float):
  import functools

  import jax

  import jsnn
  import jsnn.methods
  from experiments.configs import digits_mlp
  from jsnn import train
  from helpers import SlowData, save_params  # the same batches, handed out slowly

  jax.config.update("jax_numpy_dtype_promotion", "strict")  # as tests/conftest.py
  jax.config.update("jax_numpy_rank_promotion", "raise")
  cfg = digits_mlp.get_config("method=tet,hidden=32,T=2")
  cfg.num_epochs = 2
  cfg.checkpoint_every_steps, cfg.eval_every_steps, cfg.log_every_steps = 5, 11, 5
  cfg.keep_checkpoints = 3
  cfg.progress = cfg.plot = False
  data = digits_mlp.digits_data(cfg.input, seed=cfg.seed)

  method = jsnn.methods.from_config(cfg.method, cfg.method_kw.to_dict())
  state = train.train_and_evaluate(
      cfg, workdir, model_factory=functools.partial(digits_mlp.SpikingMLP, **cfg.model),
      data=SlowData(data, sleep_s), loss_fn=method.loss_fn(), eval_fn=method.eval_fn())
  save_params(os.path.join(workdir, "final_params.npz"), state.params)


def _command(workdir, sleep_s):
  return [sys.executable, "-c", f"import test_train_resume as t; t._child({str(workdir)!r}, "
                                f"{sleep_s})"]


def _env():
  # Fewer XLA optimisations: half the compile time (flax's train_test does the same); all three
  # runs use the same setting, so their numbers are comparable bit for bit.
  return dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
              JAX_DISABLE_MOST_OPTIMIZATIONS="true")


def _run(workdir, sleep_s=0.0):
  proc = subprocess.run(_command(workdir, sleep_s), cwd=ROOT, env=_env(), capture_output=True,
                        text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr[-4000:]
  return proc


def _metrics(workdir):
  with open(workdir / "metrics.jsonl") as f:
    return [{k: v for k, v in json.loads(line).items() if k != "wall_time_s"} for line in f]


def test_sigkill_after_checkpoint_then_resume_is_exact(tmp_path):
  straight, killed = tmp_path / "straight", tmp_path / "killed"
  _run(straight)

  proc = subprocess.Popen(_command(killed, 0.05), cwd=ROOT, env=_env(),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.time() + 90
  try:
    while not (killed / "checkpoints" / "10").is_dir():  # committed (orbax renames on commit)
      assert proc.poll() is None, "the child ended before its first checkpoint"
      assert time.time() < deadline, "timed out waiting for checkpoint 10"
      time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
  finally:
    proc.kill()
    proc.wait(timeout=30)
  assert proc.returncode == -signal.SIGKILL
  assert not (killed / "summary.json").exists()

  out = _run(killed)
  summary = json.loads((killed / "summary.json").read_text())
  assert 10 <= summary["resumed_from_step"] < 44, summary
  assert "resumed from checkpoint" in out.stdout

  assert [m["step"] for m in _metrics(straight)] == [11, 22, 33, 44]
  assert _metrics(killed) == _metrics(straight)
  a, b = np.load(straight / "final_params.npz"), np.load(killed / "final_params.npz")
  assert sorted(a.files) == sorted(b.files)
  for name in a.files:
    np.testing.assert_array_equal(a[name], b[name], err_msg=name)
