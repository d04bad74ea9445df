r"""``train_and_evaluate(config, workdir, ...)``: the one trainer (flax examples, big_vision).

The trainer receives the model, the data and the loss as arguments and never imports
``jsnn.models`` or ``jsnn.data``; :mod:`jsnn.train.cli` resolves them from the config by name.
It is one function with locals and small helpers; in order:

1. **checks the config** before anything is built or written: unknown keys (with a "did you
   mean"), names, numeric ranges, batch divisibility, steps per epoch > 0;
2. **locks the workdir** (``jsnn.lock``, :class:`jsnn.train.workdir.WorkdirLock`) and compares the
   config with the workdir's ``config.json``: a different config is refused before anything is
   read or moved, unless the changed keys are listed in ``allow_config_changes``;
3. builds the mesh, the model (``model_factory(rngs=nnx.Rngs(seed))``), the optimiser and the
   :class:`~jsnn.train.TrainState`, places it with its shardings, and **resumes** from the newest
   checkpoint (state, every process's data position, loop sums; see
   :mod:`jsnn.train.checkpoint` for the policy: only checkpoints failing their own checksums are
   moved aside, and "checkpoints exist but none restores" is an error unless ``force_restart``);
   ``metrics.jsonl`` keeps every row up to the restored step (later rows, which the resumed run
   writes again, are moved to ``metrics.rolledback.jsonl``);
4. loops: at each epoch start the host sets ``state.epoch`` and ``method_state_fn(epoch)``
   (traced values, no recompilation); each batch's labels are checked on the host; the train step
   is compiled ahead of time on the first batch (``jit`` with in/out shardings and
   ``donate_argnums=0``; the compile time is reported separately); every ``log_every_steps`` it
   fetches the step metrics, **stops on NaN/inf** loss or gradient norm with a ``RuntimeError``
   naming the step and the usual causes (checkpoints are only written after this check, so the
   last one on disk is good) and writes a monitoring row (``kind: "train"``: loss, steps/s, lr,
   and the per-layer firing rates when the loss reports them); it evaluates and checkpoints on
   schedule, after each new best test accuracy (kept by the checkpointer) and at the end;
5. **SIGTERM / SIGINT** (preemption, Ctrl-C): the current step is finished, a checkpoint of it is
   written, and :class:`TrainingInterrupted` is raised ("rerun the same command to resume"); with
   several processes the request is shared at the next log step, so all save the same step;
6. writes ``metrics.jsonl``, ``summary.json`` (naming the best checkpoint), ``curves.png`` and
   prints a summary table (:mod:`jsnn.train.reporting`).

Same config and seed give identical metrics on CPU: initialisation, data order and step keys
depend only on the seed (three independent streams, :func:`jsnn.train.state.rng_streams`), and
host-side sums are accumulated in a fixed order.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import signal
import threading
import time
from typing import Any, Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from tqdm.auto import tqdm

from jsnn.train import config as cfg
from jsnn.train import reporting
from jsnn.train import workdir as wd
from jsnn.train.checkpoint import Checkpointer, NoRestorableCheckpointError
from jsnn.train.inputs import TrainData
from jsnn.train.sharding import (batch_shardings, global_batch, make_mesh, replicated,
                                 state_shardings)
from jsnn.train.state import TrainState, create_sharded_train_state, merge_model, split_model
from jsnn.train.step import EvalFn, LossFn, eval_step, train_step

__all__ = ["train_and_evaluate", "train_step", "eval_step", "TrainingInterrupted"]

_LOG = logging.getLogger(__name__)
_CHECKED = ("loss", "grad_norm")


class TrainingInterrupted(Exception):
  """SIGTERM/SIGINT stopped training after a checkpoint of the current step was written."""

  def __init__(self, message: str, signum: int, step: int):
    super().__init__(message)
    self.signum, self.step = signum, step


def train_and_evaluate(config: Any, workdir: Any, *,
                       model_factory: Callable[..., nnx.Module], data: TrainData,
                       loss_fn: LossFn, eval_fn: EvalFn,
                       method_state_fn: Callable[[int], Any] | None = None,
                       structure_fn: Callable[[nnx.Module, int], dict | None] | None = None,
                       tx=None, config_name: str = "", mesh=None,
                       num_classes: int | None = None, label_key: str = "label",
                       allow_config_changes: Sequence[str] = (),
                       force_restart: bool = False,
                       writer: reporting.Writer | None = None) -> TrainState:
  """Trains, evaluates and checkpoints; resumes automatically from ``workdir``.

  Args:
    config: the run's config (keys in :mod:`jsnn.train.config`).
    workdir: output directory (any ``etils.epath`` path: local, ``gs://...``): checkpoints,
      metrics.jsonl, summary.json, curves.png, config.json, jsnn.lock.
    model_factory: ``model_factory(rngs=nnx.Rngs(seed)) -> nnx.Module``.
    data: a :class:`~jsnn.train.inputs.TrainData` (host-local batches, resumable iterator;
      optional ``batch_axes`` declaring each key's batch axis, e.g. ``{"frames": 1}`` for
      time-major ``[T, B, ...]``).
    loss_fn: ``loss_fn(model, batch, method_state, rng) -> (loss, aux)``.
    eval_fn: ``eval_fn(model, batch, method_state) -> {"loss_sum", "correct", "count"}``.
    method_state_fn: ``epoch -> method_state`` (host side, called at each epoch start), e.g. a
      ``jsnn.methods.Method``'s ``epoch_state``; ``None``: no method state.
    structure_fn: ``structure_fn(model, epoch) -> dict | None`` (host side, at each epoch start
      and on resume): may change static attributes of the model (e.g. a ``jsnn.methods.Method``'s
      time-step stages, TIT) and returns the epoch's attributes (recorded in ``metrics.jsonl``),
      or None. A change recompiles the steps once per structure; the train state carries over
      unchanged.
    tx: an optax transformation replacing the one built from ``config.optimizer``.
    config_name: recorded in summary.json.
    mesh: a ``jax.sharding.Mesh`` with axis ``data`` (default: all devices).
    num_classes: labels must lie in ``[0, num_classes)`` (checked on the host for every batch;
      ``None``: only integer dtype and ``>= 0`` are checked).
    label_key: the batch key of the labels.
    allow_config_changes: config keys (or prefixes; ``"*"``: all) allowed to differ from the
      workdir's ``config.json`` (e.g. ``["num_epochs"]`` to train an existing run longer).
    force_restart: if checkpoints exist but none restores, move them aside
      (``checkpoints.unrestorable-<time>``) and train from step 0 instead of raising.
    writer: extra scalar sink (:class:`jsnn.train.reporting.Writer`); default from
      ``config.writer`` (``"tensorboard"`` adds a tensorboardX writer).

  Returns:
    The final :class:`~jsnn.train.TrainState`.

  Raises:
    ValueError: invalid config or data (before compiling), or labels out of range.
    jsnn.train.workdir.ConfigChangedError: the config differs from the workdir's.
    jsnn.train.workdir.WorkdirLockedError: another trainer holds the workdir.
    jsnn.train.checkpoint.NoRestorableCheckpointError: checkpoints exist but none restores.
    RuntimeError: the loss or gradient norm became NaN/inf (the message names the step).
    TrainingInterrupted: SIGTERM/SIGINT (a checkpoint of the current step was written).
  """
  start = reporting.process_start_time()
  mesh = make_mesh() if mesh is None else mesh
  cfg.check_keys(config)
  cfg.validate_config(config, num_devices=mesh.devices.size, process_count=jax.process_count())
  check_steps_per_epoch(config, data)
  steps_per_epoch = int(data.steps_per_epoch)
  workdir = wd.as_path(workdir)
  main = jax.process_index() == 0
  num_steps = cfg.total_steps(config, steps_per_epoch)
  eval_every = cfg.get(config, "eval_every_steps") or steps_per_epoch
  ckpt_every = cfg.get(config, "checkpoint_every_steps") or steps_per_epoch
  log_every = cfg.get(config, "log_every_steps")
  profile = cfg.profile_range(config)
  seed = int(cfg.get(config, "seed"))
  keep_best = bool(cfg.get(config, "keep_best_checkpoint"))

  lock = _lock(workdir)
  with contextlib.ExitStack() as cleanup:
    cleanup.callback(lock.release)
    changes = _check_config(workdir, config, allow_config_changes)
    # The learning rate of config.optimizer (also reported when the caller built tx from it).
    lr_fn = cfg.make_schedule(config["optimizer"], steps_per_epoch, num_steps)
    if tx is None:
      tx, lr_fn = cfg.make_optimizer(config, steps_per_epoch, num_steps)
    shardings_fn = functools.partial(
        state_shardings, mesh=mesh, mode=cfg.get(config, "sharding.mode"),
        fsdp_min_size=cfg.get(config, "sharding.fsdp_min_size"))
    # Initialised under jit with sharded outputs: no device ever holds the whole state.
    graphdef, state, shardings = create_sharded_train_state(
        model_factory, tx, shardings_fn=shardings_fn, seed=seed,
        method_state=method_state_fn(0) if method_state_fn else None)

    ckpt = _checkpointer(workdir, config)
    cleanup.callback(lambda: ckpt.close())
    try:
      restored = ckpt.restore_latest(state)
    except NoRestorableCheckpointError:
      if not force_restart:
        raise
      ckpt.close()
      _move_aside(workdir / "checkpoints", "unrestorable")
      ckpt = _checkpointer(workdir, config)
      restored = None
    resumed_from, position = 0, None
    accum = {"loss_sum": 0.0, "accuracy_sum": 0.0, "count": 0}
    if restored is not None:
      state, position, resumed_from = restored.state, restored.data, restored.step
      accum = dict(restored.meta.get("train_accum", accum))
      if main:
        print(f"resumed from checkpoint {resumed_from} in {ckpt.directory}", flush=True)
    if main:
      wd.write_config(workdir, config, changed=bool(changes))
    metrics_log = reporting.MetricsLog(workdir / "metrics.jsonl", enabled=main)
    metrics_log.resume(resumed_from)
    writers = reporting.make_writers(cfg.get(config, "writer"), workdir, resumed_from,
                                     enabled=main, extra=writer)
    cleanup.callback(lambda: [w.close() for w in writers])
    iterator = data.train_iterator(position)

    bsh = batch_shardings(mesh, getattr(data, "batch_axes", None))
    rep = replicated(mesh)

    def make_steps(graphdef):
      return {
          "train": jax.jit(functools.partial(train_step, graphdef=graphdef, loss_fn=loss_fn,
                                             tx=tx),
                           out_shardings=(shardings, rep), donate_argnums=0),
          "eval": jax.jit(functools.partial(eval_step, graphdef=graphdef, eval_fn=eval_fn),
                          out_shardings=rep),
          "rates": jax.jit(functools.partial(_firing_rates, graphdef=graphdef, eval_fn=eval_fn),
                           out_shardings=rep),
      }

    # The model's static structure (one per stage of structure_fn, e.g. TIT's T) and its steps.
    structure = {"graphdef": graphdef, "attrs": {}, "key": "", "steps": make_steps(graphdef)}
    watch_rates = bool(cfg.get(config, "log_firing_rates"))
    interval_rates: dict[str, list[float]] = {}
    compiled: dict[str, Any] = {}
    compile_time = [0.0]

    def run_compiled(name, *args):
      key = name + structure["key"]
      if key not in compiled:  # ahead-of-time, so the compile time is reported on its own
        t0 = time.time()
        compiled[key] = structure["steps"][name].lower(*args).compile()
        compile_time[0] += time.time() - t0
      return compiled[key](*args)

    def set_structure(state, epoch):
      if structure_fn is None:
        return
      model = merge_model(structure["graphdef"], state.params, state.model_state)
      attrs = structure_fn(model, epoch)
      if attrs and dict(attrs) != structure["attrs"]:
        structure["graphdef"] = split_model(model)[0]
        structure["attrs"] = dict(attrs)
        structure["key"] = repr(sorted(attrs.items()))
        structure["steps"] = make_steps(structure["graphdef"])
        if main:
          print(f"epoch {epoch}: model structure {structure['attrs']}", flush=True)

    def to_device(local_batch, where):
      _check_labels(local_batch, label_key, num_classes, where)
      return global_batch(local_batch, bsh(local_batch))

    def start_epoch(state, epoch):
      updates = {"epoch": jax.device_put(jnp.asarray(epoch, jnp.int32), shardings.epoch)}
      if method_state_fn is not None:
        updates["method_state"] = jax.device_put(method_state_fn(epoch), shardings.method_state)
      return state.replace(**updates)

    def run_eval(state, step):
      sums = None
      for i, batch in enumerate(data.eval_batches()):
        out = run_compiled("eval", state, to_device(batch, f"evaluation batch {i}"))
        sums = out if sums is None else jax.tree.map(jnp.add, sums, out)
      sums = jax.device_get(sums) if sums is not None else {"count": 0}
      count = max(float(sums["count"]), 1.0)
      n = max(accum["count"], 1)
      return {
          "step": step, "epoch": (step - 1) // steps_per_epoch,
          "train_loss": accum["loss_sum"] / n, "train_accuracy": accum["accuracy_sum"] / n,
          "test_loss": float(sums.get("loss_sum", np.nan)) / count,
          "test_accuracy": float(sums.get("correct", np.nan)) / count,
          "lr": float(lr_fn(step - 1)) if lr_fn is not None else None,
          "wall_time_s": round(time.time() - start, 3), **structure["attrs"],
      }

    def save(step, state, metrics=None):
      ckpt.save(step, state, data=iterator.get_state(),
                meta={"train_accum": accum, "config_name": config_name}, metrics=metrics)

    stop = cleanup.enter_context(_StopOnSignal())
    pbar = cleanup.enter_context(tqdm(
        total=num_steps, initial=resumed_from, unit="step", dynamic_ncols=True,
        disable=not (main and cfg.get(config, "progress"))))
    pending: list[tuple[int, Any]] = []
    last_batch = None
    best = max((r["test_accuracy"] for r in metrics_log.records), default=-1.0)
    last_log = (resumed_from, time.time())
    step = resumed_from
    loop_start = time.time()
    if step % steps_per_epoch:   # resumed inside an epoch: that epoch's structure
      set_structure(state, step // steps_per_epoch)
    while step < num_steps:
      if step % steps_per_epoch == 0:
        set_structure(state, step // steps_per_epoch)
        state = start_epoch(state, step // steps_per_epoch)
      if profile and step == profile[0]:
        jax.profiler.start_trace(str(workdir / "profile"))
      batch = to_device(next(iterator),
                        f"training batch of step {step + 1} (epoch {step // steps_per_epoch})")
      if watch_rates and (step + 1) % log_every == 0:
        last_batch = batch  # kept (not donated) for the firing-rate probe after the step
      state, step_metrics = run_compiled("train", state, batch)
      step += 1
      pending.append((step, step_metrics))
      if profile and step == profile[1]:
        jax.block_until_ready(state)
        jax.profiler.stop_trace()
      is_eval = step % eval_every == 0 or step == num_steps
      is_log = step % log_every == 0
      if is_log or is_eval or step % ckpt_every == 0 or stop.requested():
        rows = _fetch(pending, accum, ckpt, steps_per_epoch)
        pbar.update(len(pending))
        pending = []
        if is_log and rows:
          now = time.time()
          row = _train_row(rows, step, (step - last_log[0]) / max(now - last_log[1], 1e-9),
                           lr_fn, start)
          if watch_rates and last_batch is not None:
            rates = jax.device_get(run_compiled("rates", state, last_batch))
            for layer, rate in sorted(rates.items()):
              row[f"firing_rate/{layer}"] = float(rate)
              interval_rates.setdefault(layer, []).append(float(rate))
            last_batch = None
          last_log = (step, time.time())
          for w in writers:
            w.write(step, row, kind="train")
      record = None
      if is_eval:
        record = run_eval(state, step)
        metrics_log.append(record)
        _warn_dead_layers(interval_rates, step)
        interval_rates = {}
        for w in writers:
          w.write(step, {k: v for k, v in record.items() if k not in ("step", "epoch")},
                  kind="eval")
        accum = {"loss_sum": 0.0, "accuracy_sum": 0.0, "count": 0}
        pbar.set_postfix(loss=f"{record['train_loss']:.4f}", test_acc=f"{record['test_accuracy']:.4f}",
                         refresh=False)
      new_best = record is not None and record["test_accuracy"] > best
      if new_best:
        best = record["test_accuracy"]
      if step % ckpt_every == 0 or step == num_steps or (new_best and keep_best):
        save(step, state, record)
      if (step < num_steps and (jax.process_count() == 1 or is_log or is_eval)
          and stop.shared(jax.process_count() > 1)):
        if not (step % ckpt_every == 0 or (new_best and keep_best)):
          save(step, state, record)
        ckpt.wait()
        raise TrainingInterrupted(
            f"{stop.name} received: stopped after step {step} of {num_steps} and saved "
            f"checkpoint {step} in {ckpt.directory}. Rerun the same command to resume.",
            stop.signum or signal.SIGTERM, step)
    loop_time = time.time() - loop_start

    ckpt.wait()
    records = metrics_log.records
    if not records:
      raise RuntimeError("no evaluation was recorded; nothing to summarise.")
    best_record = max(records, key=lambda r: (r["test_accuracy"], -r["step"]))
    best_step = ckpt.best_step()
    summary = {
        "final_test_accuracy": records[-1]["test_accuracy"],
        "best_test_accuracy": best_record["test_accuracy"], "best_step": best_record["step"],
        "best_checkpoint": (str(ckpt.directory / str(best_step))
                            if best_step == best_record["step"] else None),
        "final_test_loss": records[-1]["test_loss"],
        "wall_time_s": round(time.time() - start, 3),
        "compile_time_s": round(compile_time[0], 3),
        "train_loop_time_s": round(loop_time, 3),
        "steps": num_steps, "resumed_from_step": resumed_from,
        "seed": seed, "config_name": config_name,
        "jsnn_version": _jsnn_version(), "devices": _devices(mesh),
    }
    if main:
      reporting.write_summary(workdir / "summary.json", summary)
      if cfg.get(config, "plot"):
        reporting.plot_curves(workdir / "curves.png", records, config_name)
      pbar.close()
      print(reporting.summary_table(records, summary), flush=True)
    return state


# -- helpers (in the order the trainer uses them) --------------------------------------------------


def check_steps_per_epoch(config: Any, data: TrainData) -> None:
  """``ValueError`` when the data gives no full training batch per epoch."""
  steps_per_epoch = int(data.steps_per_epoch)
  if steps_per_epoch <= 0:
    raise ValueError(f"the training data gives {steps_per_epoch} steps per epoch: "
                     f"input.batch_size={cfg.get(config, 'input.batch_size')} is larger than the "
                     "training split (per process); use a smaller batch.")


def _agree(ok: bool) -> bool:
  """Process 0's ``ok`` on every process (a no-op on one process)."""
  if jax.process_count() == 1:
    return ok
  from jax.experimental import multihost_utils
  return bool(multihost_utils.broadcast_one_to_all(np.int32(ok)))


def _lock(workdir) -> wd.WorkdirLock | contextlib.nullcontext:
  """Process 0 takes the workdir lock; every process fails if it could not."""
  lock, error = None, None
  if jax.process_index() == 0:
    try:
      lock = wd.WorkdirLock(workdir)
    except wd.WorkdirLockedError as e:
      error = e
  if not _agree(error is None):
    raise error or wd.WorkdirLockedError(f"process 0 could not lock the workdir {workdir}.")
  return lock if lock is not None else _NoLock()


class _NoLock:
  def release(self) -> None:
    pass


def _check_config(workdir, config, allow) -> dict:
  """:func:`jsnn.train.workdir.check_config` on process 0, shared with every process."""
  error, changes = None, {}
  if jax.process_index() == 0:
    try:
      changes = wd.check_config(workdir, config, allow_config_changes=allow)
    except wd.ConfigChangedError as e:
      error = e
  if not _agree(error is None):
    raise error or wd.ConfigChangedError(
        f"process 0 refused the config (it differs from {workdir / wd.CONFIG_FILE}).")
  if changes:
    _LOG.warning("config changes accepted for %s: %s", workdir, changes)
  return changes


def _checkpointer(workdir, config) -> Checkpointer:
  return Checkpointer(workdir / "checkpoints", max_to_keep=cfg.get(config, "keep_checkpoints"),
                      keep_best=bool(cfg.get(config, "keep_best_checkpoint")),
                      async_save=cfg.get(config, "async_checkpointing"))


def _move_aside(path, why: str) -> None:
  if jax.process_index() == 0 and path.exists():
    target = path.parent / f"{path.name}.{why}-{time.strftime('%Y%m%d-%H%M%S')}"
    path.rename(target)
    _LOG.warning("moved %s to %s (force_restart)", path, target)
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    multihost_utils.sync_global_devices("jsnn_move_aside")


def _check_labels(batch: Mapping[str, Any], key: str, num_classes: int | None, where: str) -> None:
  """Integer labels in ``[0, num_classes)`` (rows with ``mask == 0`` are padding, not checked)."""
  if key not in batch:
    return
  labels = np.asarray(batch[key])
  if not np.issubdtype(labels.dtype, np.integer):
    raise ValueError(f"{where}: labels ({key!r}) must be integers, got dtype {labels.dtype}.")
  mask = batch.get("mask")
  real = labels if mask is None else labels[np.asarray(mask) > 0]
  bad = (real < 0) if num_classes is None else ((real < 0) | (real >= num_classes))
  if np.any(bad):
    values = sorted(set(real[bad].tolist()))
    rows = np.flatnonzero(bad)[:10].tolist()
    valid = "[0, ...)" if num_classes is None else f"[0, {num_classes})"
    raise ValueError(f"{where}: labels out of range {valid}: values {values[:10]} at rows "
                     f"{rows} (of this process's batch). Check the dataset's labels and the "
                     "model's number of classes (out-of-range labels make the loss NaN or "
                     "silently wrong under jit).")


def _fetch(pending, accum, ckpt, steps_per_epoch) -> list[dict]:
  """Fetches the pending step metrics, stops on NaN/inf, updates the running sums."""
  if not pending:
    return []
  host = jax.device_get([m for _, m in pending])
  for (step, _), m in zip(pending, host):
    for key in _CHECKED:
      if key in m and not np.isfinite(m[key]):
        raise RuntimeError(_nan_message(key, float(m[key]), step, ckpt, steps_per_epoch))
    accum["loss_sum"] += float(m["loss"])
    accum["accuracy_sum"] += float(m.get("accuracy", np.nan))
    accum["count"] += 1
  return host


def _nan_message(key, value, step, ckpt, steps_per_epoch) -> str:
  ckpt.wait()
  steps = ckpt.all_steps()
  where = (f"the last good checkpoint is step {steps[-1]} in {ckpt.directory}" if steps
           else "no checkpoint was written")
  return (f"{key} became {value} at step {step} (epoch {(step - 1) // steps_per_epoch}); "
          f"training stopped and no checkpoint was written after it; {where}. Usual causes: "
          "labels outside [0, num_classes) (the trainer checks them when it knows num_classes), "
          "NaN/inf in the inputs, or a learning rate too high (lower optimizer.lr or set "
          "optimizer.grad_clip_norm).")


def _train_row(rows: list[dict], step: int, steps_per_s: float, lr_fn, start) -> dict:
  """The monitoring row of a log step: last loss/grad norm, steps/s, lr, firing rates."""
  last = rows[-1]
  row: dict[str, Any] = {"loss": float(last["loss"]), "grad_norm": float(last["grad_norm"]),
                         "steps_per_s": round(steps_per_s, 3),
                         "lr": float(lr_fn(step - 1)) if lr_fn is not None else None,
                         "wall_time_s": round(time.time() - start, 3)}
  for key, value in last.items():
    if key.startswith("firing_rate/"):
      row[key] = float(np.mean([float(r[key]) for r in rows]))
  return row


def _firing_rates(state: TrainState, batch, *, graphdef, eval_fn) -> dict[str, jax.Array]:
  """Mean firing rate of every ``jsnn.nn.SpikingNeuron`` on ``batch`` (eval mode, no update).

  The neurons' ``record`` gains ``"firing_rate"`` in a merged copy of the model inside the trace;
  ``eval_fn`` runs the forward pass, whose sums are discarded. Layers are named by their path.
  """
  from jsnn.nn import SpikingNeuron  # the trainer's only use of jsnn.nn

  model = merge_model(graphdef, state.params, state.model_state)
  model.eval()
  neurons = [(path, m) for path, m in nnx.iter_modules(model) if isinstance(m, SpikingNeuron)]
  if not neurons:
    return {}
  for _, m in neurons:
    m.record = tuple(dict.fromkeys(tuple(m.record) + ("firing_rate",)))
  _, sown = nnx.capture(lambda mdl: eval_fn(mdl, batch, state.method_state), nnx.Intermediate)(model)
  rates = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(sown)[0]:
    names = [str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path]
    if "firing_rate" in names:
      layer = ".".join(names[:names.index("firing_rate")])
      rates.setdefault(layer, []).append(leaf)
  return {layer: jnp.mean(jnp.stack(values)) for layer, values in rates.items()}


def _warn_dead_layers(interval_rates: dict[str, list[float]], step: int) -> None:
  """Warns for each layer whose firing rate was exactly 0 (or 1) at every log step of the interval."""
  for layer, rates in sorted(interval_rates.items()):
    for value, what in ((0.0, "never fires"), (1.0, "fires at every time step")):
      if rates and all(r == value for r in rates):
        _LOG.warning("layer %s %s (firing rate %s at all %d log steps of the evaluation interval "
                     "ending at step %d), so no surrogate gradient flows through it. Check the "
                     "input scale, the threshold and the initialisation.", layer, what, value,
                     len(rates), step)


class _StopOnSignal:
  """SIGTERM / SIGINT set a flag (main thread only); the loop saves and stops at a step boundary."""

  def __init__(self):
    self.signum: int | None = None
    self._previous: dict[int, Any] = {}

  @property
  def name(self) -> str:
    return signal.Signals(self.signum).name if self.signum else "stop request"

  def __enter__(self) -> "_StopOnSignal":
    if threading.current_thread() is threading.main_thread():
      for sig in (signal.SIGTERM, signal.SIGINT):
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def _handle(self, signum, frame) -> None:
    del frame
    if self.signum is not None and signum == signal.SIGINT:  # a second Ctrl-C: stop now
      raise KeyboardInterrupt
    self.signum = signum

  def requested(self) -> bool:
    return self.signum is not None

  def shared(self, multiprocess: bool) -> bool:
    """Whether any process was asked to stop (a collective when ``multiprocess``)."""
    if not multiprocess:
      return self.requested()
    from jax.experimental import multihost_utils
    flags = multihost_utils.process_allgather(np.int32(self.signum or 0))
    codes = [int(c) for c in np.ravel(flags) if c]
    if codes and self.signum is None:
      self.signum = codes[0]
    return bool(codes)

  def __exit__(self, *exc) -> None:
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


def _jsnn_version() -> str:
  import jsnn
  return jsnn.__version__


def _devices(mesh) -> dict[str, Any]:
  first = mesh.devices.flat[0]
  return {"count": int(mesh.devices.size), "platform": first.platform,
          "kind": first.device_kind, "process_count": jax.process_count()}
