r"""The workdir contract: paths (``etils.epath``), the lock and the config a run was started with.

A workdir holds one run. Three rules keep it from ever losing data:

* **Paths.** :func:`as_path` turns any ``str``/``os.PathLike`` into an ``etils.epath.Path``:
  local paths are made absolute, URIs (``gs://bucket/run``, ``s3://...``) are kept exactly as
  given (``pathlib.Path("gs://b/r").absolute()`` would give ``$CWD/gs:/b/r``).
* **Lock.** :class:`WorkdirLock` creates ``<workdir>/jsnn.lock`` (JSON: host, PID, start time,
  command line) with ``O_CREAT | O_EXCL`` before anything else is written. A second trainer on the
  same workdir fails with :class:`WorkdirLockedError` naming the holder. A lock left by a process
  that no longer exists *on the same host* is stale and taken over (with a warning). On a remote
  filesystem (no atomic exclusive create) the check is best-effort: an existing lock is honoured,
  but two starts within the same second could both pass.
* **Config.** ``<workdir>/config.json`` is written when a run starts. A restart with the same
  config resumes; a different one is refused by :func:`check_config` *before anything is read or
  moved*, listing each changed key (old -> new) and the remedies: a new workdir, or
  ``allow_config_changes`` naming the keys meant to change (e.g. ``num_epochs`` to train longer).
  Keys in :data:`OPERATIONAL_KEYS` (progress bar, plots, data location, ...) never change results
  and may always differ. An accepted change keeps the previous file as
  ``config.<UTC time>.json``.
"""

from __future__ import annotations

import datetime
import difflib
import json
import os
import socket
import sys
import logging
import time
from typing import Any, Iterable, Mapping

from etils import epath

__all__ = ["as_path", "is_local", "WorkdirLock", "WorkdirLockedError", "ConfigChangedError",
           "OPERATIONAL_KEYS", "flatten", "config_changes", "check_config", "write_config",
           "suggest"]

_LOG = logging.getLogger(__name__)
LOCK_FILE = "jsnn.lock"
CONFIG_FILE = "config.json"

# Keys that select where/how a run is displayed or stored, never what it computes.
OPERATIONAL_KEYS = frozenset({
    "progress", "plot", "async_checkpointing", "keep_checkpoints", "keep_best_checkpoint",
    "log_every_steps", "input.data_dir", "input.worker_count", "input.manual_dir",
    "profile_steps", "writer", "multihost", "log_firing_rates",
})


class WorkdirLockedError(RuntimeError):
  """Another live trainer holds the workdir."""


class ConfigChangedError(ValueError):
  """The config differs from the workdir's ``config.json`` in keys not allowed to change."""


def as_path(path: Any) -> epath.Path:
  """``epath.Path`` of ``path``: URIs unchanged, local paths absolute.

  Examples:
    >>> str(as_path("gs://bucket/run"))
    'gs://bucket/run'
  """
  text = os.fspath(path)
  if "://" in text:
    return epath.Path(text)
  return epath.Path(os.path.abspath(text))


def is_local(path: epath.Path) -> bool:
  """True for a path of the local filesystem (no URI scheme)."""
  return "://" not in str(path)


def _pid_alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # exists, owned by someone else
    return True
  return True


class WorkdirLock:
  """``<workdir>/jsnn.lock``: one trainer per workdir (see the module docstring).

  Args:
    workdir: the run's directory (created if missing).

  Raises:
    WorkdirLockedError: the lock is held by a live process (or by another host).
  """

  def __init__(self, workdir: Any):
    self.workdir = as_path(workdir)
    self.path = self.workdir / LOCK_FILE
    self.held = False
    self.info = {"host": socket.gethostname(), "pid": os.getpid(),
                 "start_time": datetime.datetime.now(datetime.timezone.utc).isoformat(
                     timespec="seconds"),
                 "command": " ".join(sys.argv)[:500]}
    self.workdir.mkdir(parents=True, exist_ok=True)
    for _ in range(3):
      if self._try_create():
        self.held = True
        return
      holder = self._read()
      if holder is None:  # written but not yet readable, or unreadable: wait and retry
        time.sleep(0.2)
        holder = self._read()
      if holder is not None and self._stale(holder):
        _LOG.warning("removing the stale lock %s of PID %s on %s (started %s): that process no "
                     "longer exists.", self.path, holder.get("pid"), holder.get("host"),
                     holder.get("start_time"))
        self.path.unlink(missing_ok=True)
        continue
      raise WorkdirLockedError(self._held_message(holder))
    raise WorkdirLockedError(self._held_message(self._read()))

  def _try_create(self) -> bool:
    text = json.dumps(self.info)
    if is_local(self.path):
      try:
        fd = os.open(os.fspath(self.path), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
      except FileExistsError:
        return False
      with os.fdopen(fd, "w") as f:
        f.write(text)
      return True
    if self.path.exists():
      return False
    self.path.write_text(text)
    return True

  def _read(self) -> dict | None:
    try:
      return json.loads(self.path.read_text())
    except (OSError, ValueError):
      return None

  def _stale(self, holder: Mapping[str, Any]) -> bool:
    return (holder.get("host") == self.info["host"] and isinstance(holder.get("pid"), int)
            and holder["pid"] != os.getpid() and not _pid_alive(holder["pid"]))

  def _held_message(self, holder: Mapping[str, Any] | None) -> str:
    who = ("an unreadable lock file" if holder is None else
           f"PID {holder.get('pid')} on host {holder.get('host')} since "
           f"{holder.get('start_time')} ({holder.get('command', '')!s})")
    return (f"workdir {self.workdir} is in use: {self.path} is held by {who}. Two trainers on "
            "one workdir would interleave metrics.jsonl and overwrite each other's checkpoints. "
            "Wait for that run to end, stop it, or use another --workdir. If that process is "
            f"gone (e.g. a crashed host), delete {self.path} by hand.")

  def release(self) -> None:
    """Removes the lock file if this object holds it (idempotent)."""
    if self.held:
      current = self._read()
      if current is None or (current.get("pid") == self.info["pid"]
                             and current.get("host") == self.info["host"]):
        self.path.unlink(missing_ok=True)
      self.held = False

  def __enter__(self) -> "WorkdirLock":
    return self

  def __exit__(self, *exc) -> None:
    self.release()


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
  """``{"a.b": value}`` of nested mappings (lists and scalars are leaves).

  Examples:
    >>> flatten({"a": {"b": 1, "c": [2]}, "d": None})
    {'a.b': 1, 'a.c': [2], 'd': None}
  """
  out: dict[str, Any] = {}
  if isinstance(tree, Mapping) and tree:
    for key in tree:
      out.update(flatten(tree[key], f"{prefix}{key}."))
    return out
  out[prefix[:-1]] = {} if isinstance(tree, Mapping) else tree
  return out


def _normalise(config: Any) -> dict[str, Any]:
  if hasattr(config, "to_json_best_effort"):
    return json.loads(config.to_json_best_effort())
  return json.loads(json.dumps(config, default=repr))


def config_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
  """``{key: (old, new)}`` of the flattened keys whose values differ (missing: ``"<absent>"``)."""
  a, b = flatten(old), flatten(new)
  missing = "<absent>"
  return {k: (a.get(k, missing), b.get(k, missing)) for k in sorted(a.keys() | b.keys())
          if a.get(k, missing) != b.get(k, missing)}


def _allowed(key: str, allow: Iterable[str]) -> bool:
  return any(key == a or key.startswith(a + ".") or a == "*" for a in allow)


def check_config(workdir: Any, config: Any, *,
                 allow_config_changes: Iterable[str] = ()) -> dict[str, tuple[Any, Any]]:
  """Compares ``config`` with ``<workdir>/config.json`` (see the module docstring).

  Args:
    workdir: the run's directory.
    config: a ``ConfigDict`` or a JSON-serialisable mapping.
    allow_config_changes: keys (or key prefixes, ``"*"`` for all) allowed to differ.

  Returns:
    The accepted changes ``{key: (old, new)}`` (empty for a new workdir or an identical config).

  Raises:
    ConfigChangedError: a key outside ``OPERATIONAL_KEYS`` and ``allow_config_changes`` differs.
  """
  path = as_path(workdir) / CONFIG_FILE
  if not path.exists():
    return {}
  old = json.loads(path.read_text())
  changes = config_changes(old, _normalise(config))
  allow = tuple(allow_config_changes)
  refused = {k: v for k, v in changes.items()
             if k not in OPERATIONAL_KEYS and not _allowed(k, allow)}
  if refused:
    lines = [f"  {k}: {old_v!r} -> {new_v!r}" for k, (old_v, new_v) in refused.items()]
    keys = ",".join(refused)
    raise ConfigChangedError(
        f"the config differs from the one this workdir was started with ({path}):\n"
        + "\n".join(lines)
        + "\nNothing was changed in the workdir. Either use a new --workdir for the new config, "
        f"or, if you mean to change these keys for the existing run (e.g. more epochs), rerun "
        f"with --allow_config_change={keys} (Python: train_and_evaluate(..., "
        f"allow_config_changes=[{', '.join(repr(k) for k in refused)}])).")
  return changes


def write_config(workdir: Any, config: Any, *, changed: bool = False) -> None:
  """Writes ``<workdir>/config.json``; with ``changed`` the previous file is kept, renamed."""
  path = as_path(workdir) / CONFIG_FILE
  if changed and path.exists():
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path.rename(path.parent / f"config.{stamp}.json")
  tmp = path.parent / (CONFIG_FILE + ".tmp")
  tmp.write_text(json.dumps(_normalise(config), indent=2) + "\n")
  tmp.replace(path)


# Spelled-out names users type for the trainer's short keys (matched by difflib like the keys).
_ALIASES = {"learning_rate": "lr", "epochs": "num_epochs", "steps": "total_steps",
            "batch": "batch_size", "time_steps": "T", "timesteps": "T", "clip_norm":
            "grad_clip_norm", "optimiser": "optimizer"}


def suggest(name: str, valid: Iterable[str]) -> str:
  """`` Did you mean 'x'?`` (difflib over the valid names and common spelled-out aliases), or ``""``.

  Examples:
    >>> suggest("learning_rte", ["lr", "momentum"])
    " Did you mean 'lr'?"
    >>> suggest("momentun", ["lr", "momentum"])
    " Did you mean 'momentum'?"
  """
  valid = list(valid)
  candidates = {v: v for v in valid}
  candidates.update({alias: key for alias, key in _ALIASES.items() if key in valid})
  close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
  return f" Did you mean {candidates[close[0]]!r}?" if close else ""
