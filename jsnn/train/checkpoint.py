r"""Orbax checkpoints of the whole training state, with integrity checks and a safe resume policy.

One checkpoint (``<workdir>/checkpoints/<step>/``) holds three orbax items:

* ``state``: the :class:`~jsnn.train.TrainState` pytree (params, optimiser state, BatchNorm
  statistics, method state, RNG key, step, epoch), saved with ``StandardSave`` from its shardings
  and restored straight into them (``StandardRestore`` with sharded abstract arrays);
* ``data``: the data iterator's position **of every process** (``{"positions": [p0, p1, ...]}``,
  gathered with ``multihost_utils.process_allgather`` before the primary host writes it; each
  process restores its own), an opaque value produced by the data side (``iterator.get_state()``):
  JSON-serialisable, or ``bytes`` (a grain ``DataLoader`` iterator's state), stored base64-encoded;
* ``meta``: JSON bookkeeping of the loop (running train-loss sums, ...) plus a **fingerprint** of
  ``state``: per leaf, the float32 sum and sum of absolute values.

Once a save is committed, a ``jsnn_manifest.json`` (size and CRC32 of every file) is added to its
directory (local filesystems only; written before the next save starts and on close).

**Which checkpoints are kept.** The latest ``max_to_keep`` and, with ``keep_best``, the one with
the highest ``test_accuracy`` among those saved with ``metrics`` (orbax ``AnyPreservationPolicy``
of ``LatestN`` and ``BestN``; ties go to the earliest step). :meth:`Checkpointer.best_step` names it.

**Paths.** ``directory`` may be any ``etils.epath`` path: ``gs://bucket/run/checkpoints`` reaches
orbax unchanged; local paths are made absolute.

Saves are asynchronous (orbax copies the arrays to host memory before ``save`` returns, so the
next step may donate the device buffers) and atomic (orbax writes a temporary directory and
renames it on commit; a process killed mid-save leaves only a temporary directory, which is
cleaned up on the next start).

**Never a NaN checkpoint:** :meth:`Checkpointer.save` computes the fingerprint first and raises
``RuntimeError`` if any leaf holds a NaN or inf.

**Resume policy** (:meth:`Checkpointer.restore_latest`), steps tried from the newest down:

* a step whose files differ from its manifest (missing, truncated or altered files: checked before
  orbax reads anything), or whose restored arrays differ from the fingerprint saved with them, has
  failed its **own checksums**: the previous step is tried, and once one restores, the failed
  newer steps are moved aside to ``<workdir>/checkpoints.corrupt/`` with a ``RuntimeWarning``;
* a step that passes its checksums but does not restore into the target (a different structure or
  shape: a changed model or code) is **never** treated as corruption and never moved;
* if checkpoints exist but none restores (all corrupt, or all of another structure),
  :class:`NoRestorableCheckpointError` is raised listing each step and its error, and nothing is
  moved. (If an older step restores while a newer one
  without a manifest does not, the newer one is a checkpoint killed between orbax's commit and its
  manifest and damaged since: it is moved aside too, because training on would collide with it.)
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
import warnings
import zlib
from typing import Any

from etils import epath

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as ocm

from jsnn.train.workdir import as_path, is_local

__all__ = ["Checkpointer", "Restored", "NoRestorableCheckpointError", "fingerprint"]

_LOG = logging.getLogger(__name__)
MANIFEST = "jsnn_manifest.json"


@jax.jit
def _leaf_sums(state):
  def sums(x):
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
      x = jax.random.key_data(x)
    x = x.astype(jnp.float32)
    return jnp.stack([jnp.sum(x), jnp.sum(jnp.abs(x))])
  return [sums(x) for x in jax.tree.leaves(state)]


def fingerprint(state: Any) -> np.ndarray:
  """Per-leaf ``[sum, sum(abs)]`` of ``state`` in float32, as a host ``[num_leaves, 2]`` array."""
  leaves = _leaf_sums(state)
  return np.stack([np.asarray(x) for x in leaves]) if leaves else np.zeros((0, 2), np.float32)


def _matches(saved: np.ndarray, restored: np.ndarray) -> bool:
  # A relative tolerance: a restore onto another device count may reorder the float32 sums.
  return saved.shape == restored.shape and bool(
      np.allclose(restored, saved, rtol=1e-4, atol=1e-6, equal_nan=False))


class NoRestorableCheckpointError(RuntimeError):
  """Checkpoints exist but none restores into the current state (nothing was moved)."""


class _Corrupt(ValueError):
  """A checkpoint failed its own checksums (manifest or fingerprint)."""


def _best_key(metrics: dict) -> tuple[float, int]:
  return (float(metrics["test_accuracy"]), -int(metrics["step"]))


class Restored:
  """What :meth:`Checkpointer.restore_latest` returns: ``step``, ``state``, ``data``, ``meta``."""

  def __init__(self, step: int, state: Any, data: Any, meta: dict):
    self.step, self.state, self.data, self.meta = step, state, data, meta


class Checkpointer:
  """An orbax ``CheckpointManager`` wrapper (see the module docstring).

  Args:
    directory: where the step directories go (created if missing); any ``etils.epath`` path.
    max_to_keep: number of most recent checkpoints kept.
    keep_best: also keep the checkpoint with the best ``metrics["test_accuracy"]``.
    async_save: save in a background thread (wait with :meth:`wait`).
  """

  def __init__(self, directory: Any, *, max_to_keep: int = 2, keep_best: bool = False,
               async_save: bool = True):
    self.directory = as_path(directory)
    self.corrupt_directory = self.directory.parent / (self.directory.name + ".corrupt")
    self.local = is_local(self.directory)
    policies = [ocm.LatestN(n=max_to_keep)]
    if keep_best:
      policies.append(ocm.BestN(get_metric_fn=_best_key, n=1,
                                keep_checkpoints_without_metrics=False))
    options = ocp.CheckpointManagerOptions(
        create=True, cleanup_tmp_directories=True, enable_async_checkpointing=async_save,
        preservation_policy=ocm.AnyPreservationPolicy(policies))
    self._manager = ocp.CheckpointManager(self.directory, options=options)

  def all_steps(self) -> list[int]:
    """Committed steps, oldest first."""
    return sorted(self._manager.all_steps())

  def best_step(self) -> int | None:
    """The step of the kept checkpoint with the best test accuracy (``None``: none has metrics)."""
    best = None
    for info in self._manager._checkpoints:  # noqa: SLF001 - orbax keeps metrics only here
      if info.metrics is not None and (best is None or _best_key(info.metrics) > _best_key(best)):
        best = info.metrics
    return None if best is None else int(best["step"])

  def save(self, step: int, state: Any, *, data: Any = None, meta: dict | None = None,
           metrics: dict | None = None) -> None:
    """Saves ``state`` (and the data position and loop metadata) as checkpoint ``step``.

    Args:
      step: the step number (the directory name).
      state: the pytree to save.
      data: this process's data-iterator position (gathered from every process).
      meta: JSON bookkeeping.
      metrics: ``{"test_accuracy": ...}`` for the best-checkpoint policy (evaluation steps).

    Raises:
      RuntimeError: ``state`` contains NaN or inf (nothing is written).
    """
    fp = fingerprint(state)
    if not np.all(np.isfinite(fp)):
      bad = [jax.tree_util.keystr(p) for (p, _), row in
             zip(jax.tree_util.tree_flatten_with_path(state)[0], fp) if not np.all(np.isfinite(row))]
      raise RuntimeError(f"refusing to write checkpoint {step}: non-finite values in "
                         f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}.")
    positions = _gather_positions(_encode(data))
    self._manager.wait_until_finished()  # orbax would wait for the previous save here anyway
    self._write_manifests()
    meta = dict(meta or {}, step=int(step), fingerprint=fp.tolist())
    args = ocp.args.Composite(state=ocp.args.StandardSave(state),
                              data=ocp.args.JsonSave({"positions": positions}),
                              meta=ocp.args.JsonSave(meta))
    if metrics is not None:
      metrics = {"test_accuracy": float(metrics["test_accuracy"]), "step": int(step)}
    self._manager.save(int(step), args=args, force=True, metrics=metrics)

  def restore_latest(self, target: Any) -> Restored | None:
    """Restores the newest valid checkpoint into ``target``'s structure and shardings.

    Args:
      target: a pytree like the saved state: arrays (their shardings are used) or
        ``jax.ShapeDtypeStruct`` with ``sharding``.

    Returns:
      A :class:`Restored`, or ``None`` if there is no checkpoint (or every one failed its own
      checksums and was moved aside).

    Raises:
      NoRestorableCheckpointError: checkpoints exist but none restores (nothing is moved).
    """
    abstract = jax.tree.map(_abstract, target)
    corrupt: list[tuple[int, Exception]] = []  # failed their own checksums
    failed: list[tuple[int, Exception, bool]] = []  # (step, restore error, had a manifest)
    for step in reversed(self.all_steps()):
      try:
        had_manifest = _check_manifest(self.directory / str(step))
      except _Corrupt as e:
        corrupt.append((step, e))
        continue
      mismatch = _structure_mismatch(self.directory / str(step) / "state", abstract)
      if mismatch:  # checked on metadata: orbax is not asked to read arrays it cannot place
        failed.append((step, ValueError(mismatch), had_manifest))
        continue
      try:
        out = self._manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract), data=ocp.args.JsonRestore(),
            meta=ocp.args.JsonRestore()))
      except Exception as e:  # noqa: BLE001 - a structure mismatch, or damage without a manifest
        failed.append((step, e, had_manifest))
        continue
      saved = np.asarray(out.meta["fingerprint"], np.float32)
      if not _matches(saved, fingerprint(out.state)):
        corrupt.append((step, _Corrupt("the restored arrays do not match the fingerprint saved "
                                       "with them")))
        continue
      if any(manifest for _, _, manifest in failed):
        # Intact files that do not restore although an older step does: keep everything.
        raise NoRestorableCheckpointError(self._none_restores_message(failed, corrupt, step))
      # A good fallback exists: move the damaged newer steps aside (training on would collide).
      for newer, error in corrupt:
        self._quarantine(newer, error)
      for newer, error, _ in failed:
        self._quarantine(newer, error)
      return Restored(step, out.state, _own_position(out.data), dict(out.meta))
    if failed or corrupt:
      raise NoRestorableCheckpointError(self._none_restores_message(failed, corrupt))
    return None

  def _none_restores_message(self, failed, corrupt, older: int | None = None) -> str:
    lines = [f"  step {step}: {type(e).__name__}: {str(e).splitlines()[0][:600] if str(e) else ''}"
             for step, e, _ in failed]
    lines += [f"  step {step}: fails its checksums ({e})" for step, e in corrupt]
    if older is not None:
      head = (f"checkpoint(s) {', '.join(str(s) for s, _, _ in failed)} in {self.directory} pass "
              f"their checksums but do not restore into the current state, while the older step "
              f"{older} does:\n")
    else:
      head = f"checkpoints exist in {self.directory} but none restores:\n"
    return (head + "\n".join(lines) + "\nA structure or shape mismatch (a different model, "
            "optimiser or code version) is not corruption; nothing was moved or deleted. Rerun "
            "with the code and config that wrote them, use a new --workdir, or pass "
            "--force_restart (Python: force_restart=True) to move the checkpoints aside to "
            f"{self.directory.name}.unrestorable-<time>/ and train from step 0.")

  def _quarantine(self, step: int, error: Exception) -> None:
    moved = self.corrupt_directory / f"{step}-{time.strftime('%Y%m%d-%H%M%S')}"
    message = (f"checkpoint {step} in {self.directory} is corrupt or partial "
               f"({type(error).__name__}: {str(error).splitlines()[0][:300]}); moved it to "
               f"{moved} and falling back to the previous checkpoint.")
    if jax.process_index() == 0:
      moved.parent.mkdir(parents=True, exist_ok=True)
      (self.directory / str(step)).rename(moved)
    _sync("jsnn_quarantine")
    self._manager.reload()
    _LOG.warning(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)

  def _write_manifests(self) -> None:
    if jax.process_index() != 0 or not self.local or not self.directory.is_dir():
      return
    for step in self.all_steps():
      step_dir = self.directory / str(step)
      if step_dir.is_dir() and not (step_dir / MANIFEST).exists():
        tmp = step_dir / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(_file_table(step_dir)))
        os.replace(tmp, step_dir / MANIFEST)

  def wait(self) -> None:
    """Blocks until pending asynchronous saves are committed (and adds their manifests)."""
    self._manager.wait_until_finished()
    self._write_manifests()

  def close(self) -> None:
    """Waits for pending saves and releases orbax's resources."""
    self.wait()
    self._manager.close()


_BYTES_KEY = "__bytes_base64__"


def _encode(position: Any) -> Any:
  if isinstance(position, (bytes, bytearray)):
    return {_BYTES_KEY: base64.b64encode(bytes(position)).decode("ascii")}
  return position


def _decode(position: Any) -> Any:
  if isinstance(position, dict) and set(position) == {_BYTES_KEY}:
    return base64.b64decode(position[_BYTES_KEY])
  return position


def _names(path) -> tuple[str, ...]:
  return tuple(str(getattr(k, "name", getattr(k, "key", getattr(k, "idx", k)))) for k in path)


def _structure_mismatch(state_dir: epath.Path, abstract: Any) -> str:
  """A description of how the saved tree (orbax metadata) differs from ``abstract``, or ``""``."""
  try:
    meta = ocp.StandardCheckpointHandler().metadata(state_dir)
  except Exception:  # noqa: BLE001 - unreadable metadata: let the restore report it
    return ""
  tree = getattr(meta, "tree", meta)
  saved = {_names(p): leaf for p, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}
  wanted = {_names(p): leaf for p, leaf in jax.tree_util.tree_flatten_with_path(abstract)[0]}
  problems = [f"{'/'.join(k)} is in the checkpoint but not in the model/optimiser state"
              for k in sorted(saved.keys() - wanted.keys())]
  problems += [f"{'/'.join(k)} is missing from the checkpoint" for k in sorted(wanted.keys() -
                                                                              saved.keys())]
  for k in sorted(saved.keys() & wanted.keys(), key=lambda k: (k[0] != "params", k)):
    want = wanted[k]
    if jax.dtypes.issubdtype(want.dtype, jax.dtypes.prng_key):
      continue
    have = tuple(getattr(saved[k], "shape", ()) or ())
    if have != tuple(want.shape):
      problems.append(f"{'/'.join(k)}: saved shape {have}, expected {tuple(want.shape)}")
  if not problems:
    return ""
  more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
  return "structure/shape mismatch: " + "; ".join(problems[:5]) + more


def _gather_positions(position: Any) -> list:
  """Every process's (JSON-encodable) data position, in process order, on every process."""
  if jax.process_count() == 1:
    return [position]
  from jax.experimental import multihost_utils

  raw = np.frombuffer(json.dumps(position).encode(), np.uint8)
  sizes = multihost_utils.process_allgather(np.asarray([raw.size], np.int32)).reshape(-1)
  padded = np.zeros(int(sizes.max()), np.uint8)
  padded[:raw.size] = raw
  rows = multihost_utils.process_allgather(padded).reshape(len(sizes), -1)
  return [json.loads(bytes(row[:n]).decode()) for row, n in zip(rows, sizes)]


def _own_position(data: dict) -> Any:
  if "positions" not in data:  # written before positions were per process
    return _decode(data["position"])
  positions = data["positions"]
  if len(positions) != jax.process_count():
    raise NoRestorableCheckpointError(
        f"the checkpoint holds data positions of {len(positions)} process(es) but this run has "
        f"{jax.process_count()}; resume with the same number of processes.")
  return _decode(positions[jax.process_index()])


def _sync(name: str) -> None:
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    multihost_utils.sync_global_devices(name)


def _file_table(step_dir: epath.Path) -> dict[str, list[int]]:
  import pathlib  # manifests are local-only
  step_dir = pathlib.Path(os.fspath(step_dir))
  table = {}
  for path in sorted(step_dir.rglob("*")):
    if path.is_file() and path.name not in (MANIFEST, MANIFEST + ".tmp"):
      crc = 0
      with path.open("rb") as f:
        while chunk := f.read(1 << 22):
          crc = zlib.crc32(chunk, crc)
      table[str(path.relative_to(step_dir))] = [path.stat().st_size, crc]
  return table


def _check_manifest(step_dir: epath.Path) -> bool:
  """``_Corrupt`` if ``step_dir``'s files differ from its manifest; whether it has one."""
  manifest = step_dir / MANIFEST
  if not is_local(step_dir) or not manifest.exists():
    return False
  expected = json.loads(manifest.read_text())
  actual = _file_table(step_dir)
  bad = sorted(k for k in expected.keys() | actual.keys() if expected.get(k) != actual.get(k))
  if bad:
    raise _Corrupt(f"{len(bad)} file(s) differ from {MANIFEST}: {', '.join(bad[:3])}")
  return True


def _abstract(x: Any) -> jax.ShapeDtypeStruct:
  if isinstance(x, jax.ShapeDtypeStruct):
    return x
  return jax.ShapeDtypeStruct(np.shape(x), x.dtype, sharding=getattr(x, "sharding", None))

