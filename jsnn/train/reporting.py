"""What a run leaves for people and scripts: metrics.jsonl, summary.json, a PNG, a table.

All files are written by process 0 only. Accuracies are fractions in [0, 1].

* ``metrics.jsonl``: one JSON object per evaluation with ``step, epoch, train_loss,
  train_accuracy, test_loss, test_accuracy, lr, wall_time_s`` (``lr``: the rate of the last
  update; ``train_*``: means over the steps since the previous evaluation; ``wall_time_s``: since
  process start). On resume the rows up to the restored step are kept and later rows (which the
  resumed run writes again) are moved to ``metrics.rolledback.jsonl``, so an interrupted and
  resumed run ends with the same sequence as an uninterrupted one and no row is ever lost.
* ``train_metrics.jsonl`` (:class:`JsonlWriter`, the default writer): one row every
  ``log_every_steps`` with ``step, loss, grad_norm, steps_per_s, lr, wall_time_s`` and
  ``firing_rate/<layer>`` when the loss reports per-layer firing rates (same resume rule).
  ``writer="tensorboard"`` also writes both kinds of rows as tensorboardX scalars to
  ``<workdir>/tensorboard`` (no TensorFlow needed; ``pip install jsnn[tensorboard]``). Any object
  with ``write(step, scalars, kind)`` and ``close()`` (:class:`Writer`) can be passed as well.
* ``summary.json``: ``final_test_accuracy, best_test_accuracy`` (the papers report the best over
  epochs, i.e. model selection on the test set; we report both), ``wall_time_s`` (from process
  start), ``compile_time_s, steps, seed, config_name, jsnn_version, devices`` and a few more.
* ``curves.png``: train/test loss and accuracy against the step (matplotlib, Agg backend).
"""

from __future__ import annotations

import io
import json
import os
import time
from typing import Any, Protocol, Sequence

from jsnn.train.workdir import as_path

__all__ = ["process_start_time", "MetricsLog", "Writer", "JsonlWriter", "TensorBoardWriter",
           "make_writers", "write_summary", "plot_curves", "summary_table"]


def _start_from_proc() -> float:
  # /proc/self/stat field 22 is the start time in clock ticks after boot; /proc/uptime is "now".
  with open("/proc/self/stat") as f:
    fields = f.read().rsplit(")", 1)[1].split()
  with open("/proc/uptime") as f:
    uptime = float(f.read().split()[0])
  age = uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
  return time.time() - age


def process_start_time() -> float:
  """Wall-clock time (``time.time()`` scale) at which this process started (10 ms resolution on
  Linux); the import time of this module elsewhere."""
  try:
    return _start_from_proc()
  except (OSError, ValueError, IndexError):
    return _IMPORT_TIME


_IMPORT_TIME = time.time()


class MetricsLog:
  """Append-only JSONL file with resume support (see the module docstring)."""

  def __init__(self, path: Any, *, enabled: bool = True):
    self.path, self.enabled = as_path(path), enabled
    self.records: list[dict[str, Any]] = []

  def resume(self, step: int) -> None:
    """Keeps the rows with ``step <= step``; later ones move to ``<name>.rolledback.jsonl``."""
    records, later = [], []
    if self.path.exists():
      for line in self.path.read_text().splitlines():
        try:
          rec = json.loads(line)
        except json.JSONDecodeError:  # a line cut by a kill: kept aside as text
          later.append({"unparsed_line": line})
          continue
        (records if rec.get("step", 0) <= step else later).append(rec)
    self.records = records
    if self.enabled and later:
      stem = self.path.name[:-len(".jsonl")] if self.path.name.endswith(".jsonl") else self.path.name
      aside = self.path.parent / f"{stem}.rolledback.jsonl"
      old = aside.read_text() if aside.exists() else ""
      aside.write_text(old + "".join(json.dumps(dict(r, rolled_back_to_step=step)) + "\n"
                                     for r in later))
    if self.enabled:
      self.path.parent.mkdir(parents=True, exist_ok=True)
      tmp = self.path.parent / (self.path.name + ".tmp")
      tmp.write_text("".join(json.dumps(r) + "\n" for r in records))
      tmp.replace(self.path)

  def append(self, record: dict[str, Any]) -> None:
    self.records.append(record)
    if self.enabled:
      with self.path.open("a") as f:
        f.write(json.dumps(record) + "\n")


class Writer(Protocol):
  """A sink for scalars: ``kind`` is ``"train"`` (every log step) or ``"eval"``."""

  def write(self, step: int, scalars: dict[str, Any], kind: str) -> None: ...

  def close(self) -> None: ...


class JsonlWriter:
  """``train`` rows to a JSONL file (``train_metrics.jsonl``); ``eval`` rows are in metrics.jsonl."""

  def __init__(self, path: Any, resume_step: int, *, enabled: bool = True):
    self.log = MetricsLog(path, enabled=enabled)
    self.log.resume(resume_step)

  def write(self, step: int, scalars: dict[str, Any], kind: str) -> None:
    if kind == "train":
      self.log.append({"step": int(step), **scalars})

  def close(self) -> None:
    pass


class TensorBoardWriter:
  """tensorboardX scalars ``<kind>/<name>`` in ``logdir`` (no TensorFlow)."""

  def __init__(self, logdir: Any):
    try:
      from tensorboardX import SummaryWriter
    except ImportError:
      raise ImportError("writer='tensorboard' needs tensorboardX: pip install "
                        "'jsnn[tensorboard]' (or set writer='jsonl').") from None
    self._writer = SummaryWriter(str(logdir))

  def write(self, step: int, scalars: dict[str, Any], kind: str) -> None:
    for name, value in scalars.items():
      if isinstance(value, (int, float)) and not isinstance(value, bool):
        self._writer.add_scalar(f"{kind}/{name}", value, int(step))
    self._writer.flush()

  def close(self) -> None:
    self._writer.close()


def make_writers(kind: str, workdir: Any, resume_step: int, *, enabled: bool = True,
                 extra: Writer | None = None) -> list:
  """The writers of ``config.writer`` (process 0 only writes files) plus ``extra``."""
  workdir = as_path(workdir)
  writers: list = [JsonlWriter(workdir / "train_metrics.jsonl", resume_step, enabled=enabled)]
  if kind == "tensorboard" and enabled:
    writers.append(TensorBoardWriter(workdir / "tensorboard"))
  if extra is not None:
    writers.append(extra)
  return writers


def write_summary(path: Any, summary: dict[str, Any]) -> None:
  """Writes ``summary.json`` (indented, keys in insertion order)."""
  as_path(path).write_text(json.dumps(summary, indent=2) + "\n")


def plot_curves(path: Any, records: Sequence[dict[str, Any]], title: str = "") -> None:
  """Loss and accuracy against the step, as a PNG (matplotlib with the Agg backend)."""
  import matplotlib  # deferred: ~0.5 s of import, only at the end of a run
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt

  steps = [r["step"] for r in records]
  fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
  for key, label in (("train_loss", "train"), ("test_loss", "test")):
    ax_loss.plot(steps, [r.get(key) for r in records], marker=".", label=label)
  for key, label in (("train_accuracy", "train"), ("test_accuracy", "test")):
    ax_acc.plot(steps, [r.get(key) for r in records], marker=".", label=label)
  ax_loss.set(xlabel="step", ylabel="loss", title="loss")
  ax_acc.set(xlabel="step", ylabel="accuracy", title="accuracy", ylim=(0.0, 1.0))
  for ax, where in ((ax_loss, "upper right"), (ax_acc, "lower right")):
    ax.grid(alpha=0.3)
    ax.legend(loc=where)
  if title:
    fig.suptitle(title)
  fig.tight_layout()
  buffer = io.BytesIO()  # through epath: works for gs:// workdirs too
  fig.savefig(buffer, format="png", dpi=100)
  plt.close(fig)
  as_path(path).write_bytes(buffer.getvalue())


def summary_table(records: Sequence[dict[str, Any]], summary: dict[str, Any],
                  max_rows: int = 20) -> str:
  """A plain-text table of the evaluations (the last ``max_rows``) and the headline numbers."""
  header = f"{'epoch':>5} {'step':>7} {'train_loss':>10} {'train_acc':>9} {'test_loss':>9} " \
           f"{'test_acc':>8} {'lr':>9} {'time_s':>7}"
  lines = [header, "-" * len(header)]
  shown = list(records)[-max_rows:]
  if len(records) > len(shown):
    lines.append(f"  ... {len(records) - len(shown)} earlier evaluations in metrics.jsonl")
  for r in shown:
    lines.append(f"{r['epoch']:>5} {r['step']:>7} {_f(r.get('train_loss'), 10, 4)} "
                 f"{_f(r.get('train_accuracy'), 9, 4)} {_f(r.get('test_loss'), 9, 4)} "
                 f"{_f(r.get('test_accuracy'), 8, 4)} {_f(r.get('lr'), 9, 2, 'e')} "
                 f"{_f(r.get('wall_time_s'), 7, 1)}")
  lines.append("-" * len(header))
  lines.append(f"final test accuracy {summary['final_test_accuracy']:.4f} | best "
               f"{summary['best_test_accuracy']:.4f} (step {summary['best_step']}) | "
               f"{summary['steps']} steps | wall {summary['wall_time_s']:.1f} s "
               f"(compile {summary['compile_time_s']:.1f} s) | {summary['devices']['count']} "
               f"{summary['devices']['platform']} device(s)")
  return "\n".join(lines)


def _f(value, width: int, digits: int, kind: str = "f") -> str:
  return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}{kind}}"
