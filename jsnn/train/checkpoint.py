r"""Orbax checkpoints of the whole training state, with integrity checks and auto-resume.

One checkpoint (``<workdir>/checkpoints/<step>/``) holds three orbax items:

* ``state``: the :class:`~jsnn.train.TrainState` pytree (params, optimiser state, BatchNorm
  statistics, method state, RNG key, step, epoch), saved with ``StandardSave`` from its shardings
  and restored straight into them (``StandardRestore`` with sharded abstract arrays);
* ``data``: the data iterator's position, an opaque value produced by the data side
  (``iterator.get_state()``): JSON-serialisable, or ``bytes`` (a grain ``DataLoader`` iterator's
  state), stored base64-encoded;
* ``meta``: JSON bookkeeping of the loop (running train-loss sums, best accuracy, ...) plus a
  **fingerprint** of ``state``: per leaf, the float32 sum and sum of absolute values.

Once a save is committed, a ``jsnn_manifest.json`` (size and CRC32 of every file) is added to its
directory (local filesystems only; written before the next save starts and on close).

Saves are asynchronous (orbax copies the arrays to host memory before ``save`` returns, so the
next step may donate the device buffers) and atomic (orbax writes a temporary directory and
renames it on commit; a process killed mid-save leaves only a temporary directory, which is
cleaned up on the next start).

**Never a NaN checkpoint:** :meth:`Checkpointer.save` computes the fingerprint first and raises
``RuntimeError`` if any leaf holds a NaN or inf.

**Corrupt or partial latest checkpoint:** :meth:`Checkpointer.restore_latest` tries the steps
from the newest down. A step whose files differ from its manifest (missing, truncated or altered
files: checked before orbax reads anything), whose restore raises, or whose restored fingerprint
differs from the saved one (e.g. silently zero-filled chunks) is moved aside to
``<workdir>/checkpoints.corrupt/`` with a ``RuntimeWarning`` and the previous step is used.
"""

from __future__ import annotations

import logging
import pathlib
import base64
import json
import os
import shutil
import time
import warnings
import zlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

__all__ = ["Checkpointer", "Restored", "fingerprint"]

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


class Restored:
  """What :meth:`Checkpointer.restore_latest` returns: ``step``, ``state``, ``data``, ``meta``."""

  def __init__(self, step: int, state: Any, data: Any, meta: dict):
    self.step, self.state, self.data, self.meta = step, state, data, meta


class Checkpointer:
  """An orbax ``CheckpointManager`` wrapper (see the module docstring).

  Args:
    directory: where the step directories go (created if missing).
    max_to_keep: number of most recent checkpoints kept.
    async_save: save in a background thread (wait with :meth:`wait`).
  """

  def __init__(self, directory: str | pathlib.Path, *, max_to_keep: int = 2,
               async_save: bool = True):
    self.directory = pathlib.Path(directory).absolute()
    self.corrupt_directory = self.directory.with_name(self.directory.name + ".corrupt")
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                           cleanup_tmp_directories=True,
                                           enable_async_checkpointing=async_save)
    self._manager = ocp.CheckpointManager(self.directory, options=options)

  def all_steps(self) -> list[int]:
    """Committed steps, oldest first."""
    return sorted(self._manager.all_steps())

  def save(self, step: int, state: Any, *, data: Any = None, meta: dict | None = None) -> None:
    """Saves ``state`` (and the data position and loop metadata) as checkpoint ``step``.

    Raises:
      RuntimeError: ``state`` contains NaN or inf (nothing is written).
    """
    fp = fingerprint(state)
    if not np.all(np.isfinite(fp)):
      bad = [jax.tree_util.keystr(p) for (p, _), row in
             zip(jax.tree_util.tree_flatten_with_path(state)[0], fp) if not np.all(np.isfinite(row))]
      raise RuntimeError(f"refusing to write checkpoint {step}: non-finite values in "
                         f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}.")
    self._manager.wait_until_finished()  # orbax would wait for the previous save here anyway
    self._write_manifests()
    meta = dict(meta or {}, step=int(step), fingerprint=fp.tolist())
    args = ocp.args.Composite(state=ocp.args.StandardSave(state),
                              data=ocp.args.JsonSave({"position": _encode(data)}),
                              meta=ocp.args.JsonSave(meta))
    self._manager.save(int(step), args=args, force=True)

  def restore_latest(self, target: Any) -> Restored | None:
    """Restores the newest valid checkpoint into ``target``'s structure and shardings.

    Args:
      target: a pytree like the saved state: arrays (their shardings are used) or
        ``jax.ShapeDtypeStruct`` with ``sharding``.

    Returns:
      A :class:`Restored`, or ``None`` if there is no (valid) checkpoint.
    """
    abstract = jax.tree.map(_abstract, target)
    for step in reversed(self.all_steps()):
      try:
        _check_manifest(self.directory / str(step))
        out = self._manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract), data=ocp.args.JsonRestore(),
            meta=ocp.args.JsonRestore()))
        saved = np.asarray(out.meta["fingerprint"], np.float32)
        if not _matches(saved, fingerprint(out.state)):
          raise ValueError("the restored arrays do not match the fingerprint saved with them")
      except Exception as e:  # noqa: BLE001 - any failure means: do not trust this step
        self._quarantine(step, e)
        continue
      return Restored(step, out.state, _decode(out.data["position"]), dict(out.meta))
    return None

  def _quarantine(self, step: int, error: Exception) -> None:
    moved = self.corrupt_directory / f"{step}-{time.strftime('%Y%m%d-%H%M%S')}"
    message = (f"checkpoint {step} in {self.directory} is corrupt or partial "
               f"({type(error).__name__}: {str(error).splitlines()[0][:300]}); moved it to "
               f"{moved} and falling back to the previous checkpoint.")
    if jax.process_index() == 0:
      moved.parent.mkdir(parents=True, exist_ok=True)
      shutil.move(str(self.directory / str(step)), str(moved))
    self._manager.reload()
    _LOG.warning(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)

  def _write_manifests(self) -> None:
    if jax.process_index() != 0 or not self.directory.is_dir():
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


def _file_table(step_dir: pathlib.Path) -> dict[str, list[int]]:
  table = {}
  for path in sorted(step_dir.rglob("*")):
    if path.is_file() and path.name not in (MANIFEST, MANIFEST + ".tmp"):
      crc = 0
      with path.open("rb") as f:
        while chunk := f.read(1 << 22):
          crc = zlib.crc32(chunk, crc)
      table[str(path.relative_to(step_dir))] = [path.stat().st_size, crc]
  return table


def _check_manifest(step_dir: pathlib.Path) -> None:
  """``ValueError`` if ``step_dir``'s files differ from its manifest (no manifest: no check)."""
  manifest = step_dir / MANIFEST
  if not manifest.exists():
    return
  expected = json.loads(manifest.read_text())
  actual = _file_table(step_dir)
  bad = sorted(k for k in expected.keys() | actual.keys() if expected.get(k) != actual.get(k))
  if bad:
    raise ValueError(f"{len(bad)} file(s) differ from {MANIFEST}: {', '.join(bad[:3])}")


def _abstract(x: Any) -> jax.ShapeDtypeStruct:
  if isinstance(x, jax.ShapeDtypeStruct):
    return x
  return jax.ShapeDtypeStruct(np.shape(x), x.dtype, sharding=getattr(x, "sharding", None))

