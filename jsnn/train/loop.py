r"""``train_and_evaluate(config, workdir, ...)``: the one trainer (flax examples, big_vision).

The trainer receives the model, the data and the loss as arguments and never imports
``jsnn.models`` or ``jsnn.data``; ``experiments/main.py`` resolves them from the config by name.
What it does, in order:

1. validates the config before anything is compiled (:func:`jsnn.train.config.validate_config`:
   unknown names list the valid ones; a batch not divisible by the device count is a
   ``ValueError``);
2. builds the mesh, the model (``model_factory(rngs=nnx.Rngs(seed))``), the optimiser and the
   :class:`~jsnn.train.TrainState`, places it with its shardings, and **resumes** from the newest
   valid checkpoint in ``<workdir>/checkpoints`` (state, data position, metrics);
3. compiles the train and eval steps ahead of time (``jit`` with in/out shardings and
   ``donate_argnums=0``; the compile time is reported separately);
4. loops: at each epoch start the host sets ``state.epoch`` and ``method_state_fn(epoch)``
   (traced values, no recompilation); every ``log_every_steps`` it fetches the step metrics and
   **stops on NaN/inf** loss or gradient norm with a ``RuntimeError`` naming the step (checkpoints
   are only written after this check, so the last one on disk is good); it evaluates and
   checkpoints on schedule and at the end;
5. writes ``metrics.jsonl``, ``summary.json``, ``curves.png`` and prints a summary table
   (:mod:`jsnn.train.reporting`).

Same config and seed give identical metrics on CPU: initialisation, data order and step keys
depend only on the seed, and host-side sums are accumulated in a fixed order.
"""

from __future__ import annotations

import functools
import logging
import pathlib
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from tqdm.auto import tqdm

from jsnn.train import config as cfg
from jsnn.train import reporting
from jsnn.train.checkpoint import Checkpointer
from jsnn.train.inputs import TrainData
from jsnn.train.sharding import (batch_sharding, global_batch, make_mesh, replicated,
                                 state_shardings)
from jsnn.train.state import TrainState, create_sharded_train_state
from jsnn.train.step import EvalFn, LossFn, eval_step, train_step

__all__ = ["train_and_evaluate", "train_step", "eval_step"]

_LOG = logging.getLogger(__name__)
_CHECKED = ("loss", "grad_norm")


def train_and_evaluate(config: Any, workdir: str | pathlib.Path, *,
                       model_factory: Callable[..., nnx.Module], data: TrainData,
                       loss_fn: LossFn, eval_fn: EvalFn,
                       method_state_fn: Callable[[int], Any] | None = None,
                       tx=None, config_name: str = "", mesh=None) -> TrainState:
  """Trains, evaluates and checkpoints; resumes automatically from ``workdir``.

  Args:
    config: the run's config (keys in :mod:`jsnn.train.config`).
    workdir: output directory (checkpoints, metrics.jsonl, summary.json, curves.png).
    model_factory: ``model_factory(rngs=nnx.Rngs(seed)) -> nnx.Module``.
    data: a :class:`~jsnn.train.inputs.TrainData` (host-local batches, resumable iterator).
    loss_fn: ``loss_fn(model, batch, method_state, rng) -> (loss, aux)``.
    eval_fn: ``eval_fn(model, batch, method_state) -> {"loss_sum", "correct", "count"}``.
    method_state_fn: ``epoch -> method_state`` (host side, called at each epoch start), e.g. a
      ``jsnn.methods.Method``'s ``epoch_state``; ``None``: no method state.
    tx: an optax transformation replacing the one built from ``config.optimizer``.
    config_name: recorded in summary.json.
    mesh: a ``jax.sharding.Mesh`` with axis ``data`` (default: all devices).

  Returns:
    The final :class:`~jsnn.train.TrainState`.

  Raises:
    ValueError: invalid config (before compiling).
    RuntimeError: the loss or gradient norm became NaN/inf (the message names the step).
  """
  start = reporting.process_start_time()
  mesh = make_mesh() if mesh is None else mesh
  cfg.validate_config(config, num_devices=mesh.devices.size, process_count=jax.process_count())
  runner = _Runner(config, pathlib.Path(workdir), mesh, data, start, config_name)
  try:
    runner.setup(model_factory, loss_fn, eval_fn, method_state_fn, tx)
    runner.run()
    return runner.finish()
  finally:
    runner.close()


class _Runner:
  """The state of one ``train_and_evaluate`` call (split into steps to keep each one short)."""

  def __init__(self, config, workdir, mesh, data, start, config_name):
    self.config, self.workdir, self.mesh, self.data = config, workdir, mesh, data
    self.start, self.config_name = start, config_name
    self.main = jax.process_index() == 0
    self.spe = int(data.steps_per_epoch)
    self.num_steps = cfg.total_steps(config, self.spe)
    self.eval_every = cfg.get(config, "eval_every_steps") or self.spe
    self.ckpt_every = cfg.get(config, "checkpoint_every_steps") or self.spe
    self.log_every = cfg.get(config, "log_every_steps")
    self.metrics = reporting.MetricsLog(workdir / "metrics.jsonl", enabled=self.main)
    self.ckpt = Checkpointer(workdir / "checkpoints", max_to_keep=cfg.get(config, "keep_checkpoints"),
                             async_save=cfg.get(config, "async_checkpointing"))
    self.pending: list[tuple[int, dict]] = []
    self.accum = {"loss_sum": 0.0, "accuracy_sum": 0.0, "count": 0}
    self.pbar = None
    self.last_loss = float("nan")

  # -- setup ---------------------------------------------------------------------------------------

  def setup(self, model_factory, loss_fn, eval_fn, method_state_fn, tx):
    seed = int(cfg.get(self.config, "seed"))
    self.lr_fn = cfg.make_schedule(self.config["optimizer"], self.spe, self.num_steps)
    if tx is None:
      tx, self.lr_fn = cfg.make_optimizer(self.config, self.spe, self.num_steps)
    self.method_state_fn = method_state_fn
    shardings_fn = functools.partial(
        state_shardings, mesh=self.mesh, mode=cfg.get(self.config, "sharding.mode"),
        fsdp_min_size=cfg.get(self.config, "sharding.fsdp_min_size"))
    # Initialised under jit with sharded outputs: no device ever holds the whole state.
    graphdef, self.state, self.shardings = create_sharded_train_state(
        model_factory, tx, shardings_fn=shardings_fn, seed=seed,
        method_state=method_state_fn(0) if method_state_fn else None)
    self._resume()
    self._compile(graphdef, loss_fn, eval_fn, tx)

  def _resume(self):
    restored = self.ckpt.restore_latest(self.state)
    self.resumed_from = 0 if restored is None else restored.step
    position = None
    if restored is not None:
      self.state, position = restored.state, restored.data
      self.accum = dict(restored.meta.get("train_accum", self.accum))
      if self.main:
        print(f"resumed from checkpoint {restored.step} in {self.ckpt.directory}", flush=True)
    self.metrics.resume(self.resumed_from)
    self.iterator = self.data.train_iterator(position)
    if self.main:
      self.workdir.mkdir(parents=True, exist_ok=True)
      if hasattr(self.config, "to_json_best_effort"):
        (self.workdir / "config.json").write_text(self.config.to_json_best_effort(indent=2))

  def _compile(self, graphdef, loss_fn, eval_fn, tx):
    t0 = time.time()
    bsh, rep = batch_sharding(self.mesh), replicated(self.mesh)
    self.bsh = bsh
    train = jax.jit(functools.partial(train_step, graphdef=graphdef, loss_fn=loss_fn, tx=tx),
                    in_shardings=(self.shardings, bsh), out_shardings=(self.shardings, rep),
                    donate_argnums=0)
    evaluate = jax.jit(functools.partial(eval_step, graphdef=graphdef, eval_fn=eval_fn),
                       in_shardings=(self.shardings, bsh), out_shardings=rep)
    self.first_batch = next(self.iterator) if self.resumed_from < self.num_steps else None
    self.train_fn = self.eval_fn = None
    if self.first_batch is not None:
      self.train_fn = train.lower(self.state, self._abstract(self.first_batch)).compile()
    first_eval = next(iter(self.data.eval_batches()), None)
    if first_eval is not None:
      self.eval_fn = evaluate.lower(self.state, self._abstract(first_eval)).compile()
    self.compile_time = time.time() - t0

  def _abstract(self, local_batch):
    rows = jax.process_count()
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct((x.shape[0] * rows,) + x.shape[1:],
                                                       x.dtype, sharding=self.bsh), local_batch)

  # -- loop ----------------------------------------------------------------------------------------

  def run(self):
    step = self.resumed_from
    self.loop_start = time.time()
    self.pbar = tqdm(total=self.num_steps, initial=step, unit="step", dynamic_ncols=True,
                     disable=not (self.main and cfg.get(self.config, "progress")))
    while step < self.num_steps:
      if step % self.spe == 0:
        self._start_epoch(step // self.spe)
      batch = self.first_batch if self.first_batch is not None else next(self.iterator)
      self.first_batch = None
      self.state, metrics = self.train_fn(self.state, global_batch(batch, self.bsh))
      step += 1
      self.pending.append((step, metrics))
      if step % self.log_every == 0:
        self._flush()
      if step % self.eval_every == 0 or step == self.num_steps:
        self._flush()
        self._evaluate(step)
      if step % self.ckpt_every == 0 or step == self.num_steps:
        self._flush()
        self._save(step)
    self.loop_time = time.time() - self.loop_start

  def _start_epoch(self, epoch: int):
    updates = {"epoch": jax.device_put(jnp.asarray(epoch, jnp.int32), self.shardings.epoch)}
    if self.method_state_fn is not None:
      updates["method_state"] = jax.device_put(self.method_state_fn(epoch),
                                               self.shardings.method_state)
    self.state = self.state.replace(**updates)

  def _flush(self):
    """Fetches the pending step metrics, stops on NaN/inf, updates the running means."""
    if not self.pending:
      return
    host = jax.device_get([m for _, m in self.pending])
    for (step, _), m in zip(self.pending, host):
      for key in _CHECKED:
        if key in m and not np.isfinite(m[key]):
          self.pending = []
          raise RuntimeError(self._nan_message(key, float(m[key]), step))
      self.accum["loss_sum"] += float(m["loss"])
      self.accum["accuracy_sum"] += float(m.get("accuracy", np.nan))
      self.accum["count"] += 1
      self.last_loss = float(m["loss"])
    self.pbar.update(len(self.pending))
    self.pending = []
    n = max(self.accum["count"], 1)
    last = self.metrics.records[-1]["test_accuracy"] if self.metrics.records else float("nan")
    self.pbar.set_postfix(loss=f"{self.last_loss:.4f}",
                          acc=f"{self.accum['accuracy_sum'] / n:.4f}", test_acc=f"{last:.4f}",
                          refresh=False)

  def _nan_message(self, key, value, step):
    self.ckpt.wait()
    steps = self.ckpt.all_steps()
    where = (f"the last good checkpoint is step {steps[-1]} in {self.ckpt.directory}" if steps
             else "no checkpoint was written")
    return (f"{key} became {value} at step {step} (epoch {(step - 1) // self.spe}); training "
            f"stopped and no checkpoint was written after it; {where}. Lower the learning rate, "
            "check the inputs for NaN, or enable optimizer.grad_clip_norm.")

  def _evaluate(self, step: int):
    sums = None
    if self.eval_fn is not None:
      for batch in self.data.eval_batches():
        out = self.eval_fn(self.state, global_batch(batch, self.bsh))
        sums = out if sums is None else jax.tree.map(jnp.add, sums, out)
    sums = jax.device_get(sums) if sums is not None else {"count": 0}
    count = max(float(sums["count"]), 1.0)
    n = max(self.accum["count"], 1)
    record = {
        "step": step, "epoch": (step - 1) // self.spe,
        "train_loss": self.accum["loss_sum"] / n,
        "train_accuracy": self.accum["accuracy_sum"] / n,
        "test_loss": float(sums.get("loss_sum", np.nan)) / count,
        "test_accuracy": float(sums.get("correct", np.nan)) / count,
        "lr": float(self.lr_fn(step - 1)) if self.lr_fn is not None else None,
        "wall_time_s": round(time.time() - self.start, 3),
    }
    self.metrics.append(record)
    self.accum = {"loss_sum": 0.0, "accuracy_sum": 0.0, "count": 0}

  def _save(self, step: int):
    self.ckpt.save(step, self.state, data=self.iterator.get_state(),
                   meta={"train_accum": self.accum, "config_name": self.config_name})

  # -- end -----------------------------------------------------------------------------------------

  def finish(self) -> TrainState:
    self.ckpt.wait()
    records = self.metrics.records
    if not records:
      raise RuntimeError("no evaluation was recorded; nothing to summarise.")
    best = max(records, key=lambda r: (r["test_accuracy"], -r["step"]))
    summary = {
        "final_test_accuracy": records[-1]["test_accuracy"],
        "best_test_accuracy": best["test_accuracy"], "best_step": best["step"],
        "final_test_loss": records[-1]["test_loss"],
        "wall_time_s": round(time.time() - self.start, 3),
        "compile_time_s": round(self.compile_time, 3),
        "train_loop_time_s": round(getattr(self, "loop_time", 0.0), 3),
        "steps": self.num_steps, "resumed_from_step": self.resumed_from,
        "seed": int(cfg.get(self.config, "seed")), "config_name": self.config_name,
        "jsnn_version": _jsnn_version(), "devices": _devices(self.mesh),
    }
    if self.main:
      reporting.write_summary(self.workdir / "summary.json", summary)
      if cfg.get(self.config, "plot"):
        reporting.plot_curves(self.workdir / "curves.png", records, self.config_name)
      if self.pbar is not None:
        self.pbar.close()
      print(reporting.summary_table(records, summary), flush=True)
    return self.state

  def close(self):
    if self.pbar is not None:
      self.pbar.close()
    self.ckpt.close()


def _jsnn_version() -> str:
  import jsnn
  return jsnn.__version__


def _devices(mesh) -> dict[str, Any]:
  first = mesh.devices.flat[0]
  return {"count": int(mesh.devices.size), "platform": first.platform,
          "kind": first.device_kind, "process_count": jax.process_count()}

