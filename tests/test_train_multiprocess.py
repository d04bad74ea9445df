"""A real multi-controller run: 2 JAX processes on localhost (CPU, gloo collectives).

Closest thing to a TPU pod this machine has: ``jax.distributed.initialize`` with a
``127.0.0.1`` coordinator, one CPU device per process, a global mesh of 2 devices, each process
feeding its own half of every global batch. Checked:

* the digits MLP and a mock-event model fed **time-major** frames ``[T=3, B, 6, 6, 2]`` (batch axis
  1, declared by the data; ``T=3`` does not divide the 2 devices) give the 1-process result within
  float tolerance (the global reductions are summed in another order);
* the checkpoint holds every process's own data position, and a SIGKILL of one process (the other
  is then killed too, as a scheduler would) resumes exactly: the final parameters and metrics are
  bitwise those of an uninterrupted 2-process run.

Each run is a pair of child interpreters (``_worker``). Marked slow: the three tests took 239 s
together on the shared, loaded 2-core machine (about 50 s per 1-vs-2-process comparison).
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _mock_events(seed: int, n: int, T: int = 3, size: int = 6, classes: int = 4):
  """Binary event frames ``[N, T, size, size, 2]``: class ``c`` lights up column block ``c``."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, classes, n).astype(np.int32)
  frames = (rng.random((n, T, size, size, 2)) < 0.1).astype(np.float32)
  for i, c in enumerate(labels):
    frames[i, :, :, c:c + 2, c % 2] = (rng.random((T, size, 2)) < 0.8)
  return {"frames": frames, "label": labels}


class _TimeMajor:
  """An ``ArrayData`` whose ``frames [B, T, ...]`` come out time-major ``[T, B, ...]``."""

  batch_axes = {"frames": 1}

  def __init__(self, inner):
    self.inner, self.steps_per_epoch = inner, inner.steps_per_epoch

  @staticmethod
  def _tm(batch):
    return {**batch, "frames": np.ascontiguousarray(np.swapaxes(batch["frames"], 0, 1))}

  def train_iterator(self, position=None):
    inner, tm = self.inner.train_iterator(position), self._tm

    class It:
      def __next__(self):
        return tm(next(inner))

      get_state = inner.get_state
    return It()

  def eval_batches(self):
    return (self._tm(b) for b in self.inner.eval_batches())


def _event_net():
  from flax import nnx

  import jsnn
  from jsnn import nn as jn

  class EventNet(nnx.Module):
    def __init__(self, *, rngs):
      self.fc1 = jn.Linear(6 * 6 * 2, 32, rngs=rngs)
      self.sn = jn.SpikingNeuron(jsnn.neurons.tet_lif)
      self.fc2 = jn.Linear(32, 4, rngs=rngs)

    def __call__(self, frames):  # [T, B, H, W, 2] -> [T, B, 4]
      return self.fc2(self.sn(self.fc1(frames.reshape(frames.shape[:2] + (-1,)))))

  return EventNet


def _worker(process_id: int, num_processes: int, port: int, workdir: str, kind: str,
            sleep_s: float):
  import functools

  import jax

  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  if num_processes > 1:
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}",
                               num_processes=num_processes, process_id=process_id)
  jax.config.update("jax_numpy_dtype_promotion", "strict")
  jax.config.update("jax_numpy_rank_promotion", "raise")

  import jsnn.methods
  from experiments.configs import digits_mlp
  from jsnn import train
  from helpers import SlowData

  cfg = digits_mlp.get_config("method=tet,hidden=32,T=2")
  cfg.total_steps, cfg.checkpoint_every_steps, cfg.eval_every_steps = 16, 4, 8
  cfg.log_every_steps, cfg.keep_checkpoints = 4, 10
  cfg.progress = cfg.plot = False
  split = dict(process_index=jax.process_index(), process_count=jax.process_count())
  if kind == "digits":
    data = digits_mlp.digits_data(cfg.input, seed=cfg.seed, **split)
    factory = functools.partial(digits_mlp.SpikingMLP, **cfg.model)
    input_key = "image"
  else:
    cfg.model = {}
    cfg.input.batch_size, cfg.input.eval_batch_size = 32, 64
    data = _TimeMajor(train.ArrayData(_mock_events(0, 256), _mock_events(1, 100), batch_size=32,
                                      eval_batch_size=64, seed=cfg.seed, **split))
    factory = _event_net()
    input_key = "frames"
  if sleep_s:
    data = SlowData(data, sleep_s)
  method = jsnn.methods.from_config(cfg.method, cfg.method_kw.to_dict())
  state = train.train_and_evaluate(
      cfg, workdir, model_factory=factory, data=data,
      loss_fn=method.loss_fn(input_key=input_key), eval_fn=method.eval_fn(input_key=input_key),
      num_classes=4 if kind != "digits" else 10)
  # The state is replicated: every process holds whole copies.
  params = jax.tree_util.tree_flatten_with_path(
      jax.tree.map(lambda x: np.asarray(x.addressable_data(0)), state.params))[0]
  if jax.process_index() == 0:
    np.savez(os.path.join(workdir, "final_params.npz"),
             **{jax.tree_util.keystr(p): v for p, v in params})


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _env():
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
             JAX_PLATFORMS="cpu", JAX_DISABLE_MOST_OPTIMIZATIONS="true")
  env.pop("XLA_FLAGS", None)  # one CPU device per process
  return env


def _start(workdir, kind, num_processes, sleep_s=0.0):
  port = _free_port()
  return [subprocess.Popen(
      [sys.executable, "-c", f"import test_train_multiprocess as t; t._worker({i}, "
                             f"{num_processes}, {port}, {str(workdir)!r}, {kind!r}, {sleep_s})"],
      cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
      for i in range(num_processes)]


def _finish(procs, timeout=300):
  outs = [p.communicate(timeout=timeout) for p in procs]
  for p, (_, err) in zip(procs, outs):
    assert p.returncode == 0, err[-4000:]
  return outs


def _rows(workdir):
  return [{k: v for k, v in json.loads(line).items() if k != "wall_time_s"}
          for line in (workdir / "metrics.jsonl").read_text().splitlines()]


def _params(workdir):
  with np.load(workdir / "final_params.npz") as f:
    return {k: f[k] for k in f.files}


@pytest.mark.parametrize("kind", ["digits", "events"])
def test_two_processes_match_one_process(tmp_path, kind):
  t0 = time.time()
  one, two = tmp_path / "one", tmp_path / "two"
  _finish(_start(one, kind, 1))
  _finish(_start(two, kind, 2))
  a, b = _rows(one), _rows(two)
  assert [r["step"] for r in a] == [r["step"] for r in b] == [8, 16]
  for ra, rb in zip(a, b):
    for key in ("train_loss", "test_loss", "test_accuracy", "train_accuracy"):
      np.testing.assert_allclose(rb[key], ra[key], rtol=1e-4, atol=1e-5, err_msg=key)
  pa, pb = _params(one), _params(two)
  assert sorted(pa) == sorted(pb)
  for name in pa:
    np.testing.assert_allclose(pb[name], pa[name], rtol=1e-4, atol=1e-5, err_msg=name)
  summary = json.loads((two / "summary.json").read_text())
  assert summary["devices"] == {**summary["devices"], "count": 2, "process_count": 2}
  assert len(_saved_positions(two / "checkpoints" / "16")) == 2
  print(f"{kind}: 1 and 2 processes in {time.time() - t0:.1f} s")


def _saved_positions(step_dir: pathlib.Path):
  for f in (step_dir / "data").rglob("*"):
    if f.is_file():
      try:
        return json.loads(f.read_text())["positions"]
      except (ValueError, KeyError, UnicodeDecodeError):
        continue
  return None


def test_kill_one_process_then_resume_exactly(tmp_path):
  t0 = time.time()
  straight, killed = tmp_path / "straight", tmp_path / "killed"
  _finish(_start(straight, "digits", 2))
  positions = _saved_positions(straight / "checkpoints" / "16")
  assert positions is not None and len(positions) == 2
  assert [p["index"] for p in positions] == [16, 16]  # each process's own iterator

  procs = _start(killed, "digits", 2, sleep_s=0.1)
  deadline = time.time() + 240
  try:
    while not (killed / "checkpoints" / "8").is_dir():
      assert all(p.poll() is None for p in procs), procs[0].communicate()[1][-3000:]
      assert time.time() < deadline, "timed out waiting for checkpoint 8"
      time.sleep(0.02)
    procs[1].send_signal(signal.SIGKILL)  # one host dies ...
    time.sleep(1.0)
    procs[0].send_signal(signal.SIGKILL)  # ... and the scheduler stops the other
  finally:
    for p in procs:
      p.kill()
      p.communicate(timeout=60)
  assert not (killed / "summary.json").exists()

  outs = _finish(_start(killed, "digits", 2))
  summary = json.loads((killed / "summary.json").read_text())
  assert 8 <= summary["resumed_from_step"] < 16, summary
  assert "resumed from checkpoint" in outs[0][0]
  assert _rows(killed) == _rows(straight)
  pa, pb = _params(straight), _params(killed)
  for name in pa:
    np.testing.assert_array_equal(pb[name], pa[name], err_msg=name)
  print(f"kill/resume with 2 processes in {time.time() - t0:.1f} s")
