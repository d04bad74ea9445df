r"""Step-time and memory benchmark of jsnn against the ANN limit and against peer libraries.

    python -m experiments.benchmark                       # jsnn only, 1 and 2 threads
    python -m experiments.benchmark --peers --sj-python /path/to/venv-sj/bin/python --json
    python -m experiments.benchmark --data -- --workers 0 2     # input-pipeline throughput

What is timed: one full jitted train step (forward, backward, optimiser update) after warm-up,
synchronised with ``block_until_ready`` (torch CPU is synchronous), median / min / max over
``--rounds`` repeats; compile time is reported apart; peak temporary memory comes from XLA's
compiled ``memory_analysis()`` and FLOPs from ``cost_analysis()``.

This machine's throughput swings 2-4x within seconds, so running one framework after another
measures noise. Each framework therefore lives in its own long-running worker process (peers in
their own virtualenvs), and every round times one step of every entry, interleaved; the ratios
reported are medians of *per-round paired* ratios, which cancel the drift. 1-thread runs pin each
worker to CPU 0 (``intra_op_parallelism_threads=1`` for XLA, ``torch.set_num_threads(1)``).

Variants: ``snn`` (BPTT), ``ann`` (the same network with ReLU on the time-folded batch, i.e. the
physical limit: SNN/ANN = 1.0 means the neuron costs nothing), ``snn_remat`` / ``snn_chunk``
(jsnn's memory-bounded BPTT), ``snn_cl`` (SpikingJelly with channels_last).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

WORKLOADS = {  # name: (T, batch)
    "lif_mlp": (100, 32),
    "conv_cifar": (4, 32),
}
VARIANTS = {
    "jsnn": {"lif_mlp": ["snn", "ann", "snn_remat", "snn_chunk"],
             "conv_cifar": ["snn", "ann", "snn_remat"]},
    "spikingjelly": {"lif_mlp": ["snn", "ann"], "conv_cifar": ["snn", "snn_cl", "ann"]},
}
WORKER_MODULE = {"jsnn": "experiments.bench.jsnn_worker",
                 "spikingjelly": "experiments.bench.sj_worker"}


class Worker:
  """A framework's worker process speaking experiments/bench/protocol.py."""

  def __init__(self, framework: str, python: str, threads: int):
    env = dict(os.environ, BENCH_THREADS=str(threads), PYTHONPATH=str(ROOT))
    if threads == 1:
      env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                          "intra_op_parallelism_threads=1").strip()
      env["OMP_NUM_THREADS"] = "1"
    pin = (lambda: os.sched_setaffinity(0, {0})) if threads == 1 else None
    self.framework = framework
    self.proc = subprocess.Popen([python, "-m", WORKER_MODULE[framework]], cwd=ROOT, env=env,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                 preexec_fn=pin)
    hello = self._read()
    self.device = hello.get("device", "?")

  def _read(self) -> dict:
    line = self.proc.stdout.readline()
    if not line:
      raise RuntimeError(f"{self.framework} worker exited (rc={self.proc.poll()}); see stderr")
    return json.loads(line)

  def call(self, **msg) -> dict:
    self.proc.stdin.write(json.dumps(msg) + "\n")
    self.proc.stdin.flush()
    return self._read()

  def close(self):
    try:
      self.call(cmd="quit")
    except (RuntimeError, BrokenPipeError, ValueError):
      pass
    self.proc.wait(timeout=30)


def _paired(a: list[float], b: list[float]) -> float:
  return statistics.median(x / y for x, y in zip(a, b))


def run_workload(workload, threads, frameworks, rounds, t_override, b_override):
  t, b = WORKLOADS[workload]
  t, b = t_override or t, b_override or b
  entries, times = [], {}
  workers = {fw: Worker(fw, py, threads) for fw, py in frameworks.items()}
  try:
    for fw, worker in workers.items():
      for variant in VARIANTS[fw].get(workload, []):
        info = worker.call(cmd="build", workload=workload, variant=variant, T=t, batch=b)
        if "error" in info:
          print(f"  skip {fw}/{variant}: {info['error']}", file=sys.stderr)
          continue
        entries.append(dict(workload=workload, framework=fw, variant=variant, T=t, batch=b,
                            threads=threads, compile_s=info["compile_s"],
                            peak_temp_bytes=info["peak_temp_bytes"], flops=info["flops"],
                            device=worker.device))
        times[(fw, variant)] = []
    for _ in range(rounds):  # interleaved: one step of every entry per round
      for e in entries:
        reply = workers[e["framework"]].call(cmd="step", key=f"{workload}/{e['variant']}")
        times[(e["framework"], e["variant"])].append(reply["ms"])
  finally:
    for w in workers.values():
      w.close()
  for e in entries:
    ts = times[(e["framework"], e["variant"])]
    e.update(median_ms=statistics.median(ts), min_ms=min(ts), max_ms=max(ts))
    ann = times.get((e["framework"], "ann"))
    e["ratio_vs_ann"] = _paired(ts, ann) if ann and e["variant"] != "ann" else None
    e["ratio_vs_peer"] = {}
    if e["framework"] == "jsnn":
      for (fw, v), peer in times.items():
        if fw != "jsnn" and (v == e["variant"] or (e["variant"].startswith("snn") and
                                                   v.startswith("snn"))):
          e["ratio_vs_peer"][f"{fw}/{v}"] = _paired(ts, peer)
  return entries


def _fmt_bytes(n):
  return "-" if n is None else f"{n / 2**20:.1f}M"


def print_table(entries):
  hdr = (f"{'workload':11} {'thr':>3} {'framework':13} {'variant':10} {'median ms':>10} "
         f"{'min':>8} {'max':>8} {'compile s':>9} {'temp mem':>9} {'vs ANN':>7}  vs peers (paired)")
  print(hdr)
  print("-" * len(hdr))
  for e in entries:
    peers = ", ".join(f"{k} {v:.2f}x" for k, v in e["ratio_vs_peer"].items())
    ann = "-" if e["ratio_vs_ann"] is None else f"{e['ratio_vs_ann']:.2f}"
    print(f"{e['workload']:11} {e['threads']:>3} {e['framework']:13} {e['variant']:10} "
          f"{e['median_ms']:10.2f} {e['min_ms']:8.2f} {e['max_ms']:8.2f} {e['compile_s']:9.2f} "
          f"{_fmt_bytes(e['peak_temp_bytes']):>9} {ann:>7}  {peers}")


def main(argv=None):
  argv = sys.argv[1:] if argv is None else list(argv)
  if argv[:1] == ["--data"]:  # input pipelines: images/s and frames/s (experiments/bench_data.py)
    from experiments import bench_data
    return bench_data.main([a for a in argv[1:] if a != "--"])
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--workloads", default=",".join(WORKLOADS))
  p.add_argument("--threads", default="1,2", help="comma list of thread counts")
  p.add_argument("--rounds", type=int, default=15)
  p.add_argument("--T", type=int, default=None, help="override T (all workloads)")
  p.add_argument("--batch", type=int, default=None)
  p.add_argument("--peers", action="store_true", help="also run the peers given by --*-python")
  p.add_argument("--sj-python", default=os.environ.get("SJ_PYTHON"),
                 help="python of a venv with torch + spikingjelly")
  p.add_argument("--json", action="store_true", help="print one JSON list instead of a table")
  args = p.parse_args(argv)
  if args.rounds < 1:
    p.error("--rounds must be >= 1")
  frameworks = {"jsnn": sys.executable}
  if args.peers:
    if args.sj_python and pathlib.Path(args.sj_python).exists():
      frameworks["spikingjelly"] = args.sj_python
    else:
      print("spikingjelly skipped: pass --sj-python PATH (a venv with torch + spikingjelly)",
            file=sys.stderr)
  entries = []
  for workload in args.workloads.split(","):
    if workload not in WORKLOADS:
      p.error(f"unknown workload {workload!r}; expected one of {sorted(WORKLOADS)}")
    for threads in (int(x) for x in args.threads.split(",")):
      print(f"== {workload}, {threads} thread(s)", file=sys.stderr)
      entries += run_workload(workload, threads, frameworks, args.rounds, args.T, args.batch)
  if args.json:
    print(json.dumps(entries, indent=1))
  else:
    print_table(entries)


if __name__ == "__main__":
  main()
