"""What a run leaves for people and scripts: metrics.jsonl, summary.json, a PNG, a table.

All files are written by process 0 only. Accuracies are fractions in [0, 1].

* ``metrics.jsonl``: one JSON object per evaluation with ``step, epoch, train_loss,
  train_accuracy, test_loss, test_accuracy, lr, wall_time_s`` (``lr``: the rate of the last
  update; ``train_*``: means over the steps since the previous evaluation; ``wall_time_s``: since
  process start). On resume the file is cut back to the evaluations up to the restored step, so
  an interrupted and resumed run ends with the same sequence as an uninterrupted one.
* ``summary.json``: ``final_test_accuracy, best_test_accuracy`` (the papers report the best over
  epochs, i.e. model selection on the test set; we report both), ``wall_time_s`` (from process
  start), ``compile_time_s, steps, seed, config_name, jsnn_version, devices`` and a few more.
* ``curves.png``: train/test loss and accuracy against the step (matplotlib, Agg backend).
"""

from __future__ import annotations

import json
import os
import pathlib
import time
from typing import Any, Sequence

__all__ = ["process_start_time", "MetricsLog", "write_summary", "plot_curves", "summary_table"]


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
  """Append-only ``metrics.jsonl`` with resume support (see the module docstring)."""

  def __init__(self, path: str | pathlib.Path, *, enabled: bool = True):
    self.path, self.enabled = pathlib.Path(path), enabled
    self.records: list[dict[str, Any]] = []

  def resume(self, step: int) -> None:
    """Keeps the records with ``step <= step`` (0: none) and rewrites the file accordingly."""
    records = []
    if self.path.exists():
      for line in self.path.read_text().splitlines():
        try:
          rec = json.loads(line)
        except json.JSONDecodeError:  # a line cut by a kill
          continue
        if rec.get("step", 0) <= step:
          records.append(rec)
    self.records = records
    if self.enabled:
      self.path.parent.mkdir(parents=True, exist_ok=True)
      self.path.write_text("".join(json.dumps(r) + "\n" for r in records))

  def append(self, record: dict[str, Any]) -> None:
    self.records.append(record)
    if self.enabled:
      with self.path.open("a") as f:
        f.write(json.dumps(record) + "\n")


def write_summary(path: str | pathlib.Path, summary: dict[str, Any]) -> None:
  """Writes ``summary.json`` (indented, keys in insertion order)."""
  pathlib.Path(path).write_text(json.dumps(summary, indent=2) + "\n")


def plot_curves(path: str | pathlib.Path, records: Sequence[dict[str, Any]], title: str = "") -> None:
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
  fig.savefig(path, dpi=100)
  plt.close(fig)


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
