r"""Step-time and memory benchmark of jsnn against the ANN limit and against peer libraries.

    python -m experiments.benchmark                         # lif_mlp + conv_cifar, 1 and 2 threads
    python -m experiments.benchmark --workload conv_cifar --json --repeats 3 --threads 1    # CI
    python -m experiments.benchmark --workload zoo --threads 1 --rounds 10   # VGGSNN, ResNet-19, ..
    python -m experiments.benchmark --peers --sj-python $SJ/bin/python --spyx-python $SX/bin/python
    python -m experiments.benchmark --workload conv_cifar --xla-compare="--xla_cpu_use_xnnpack=true"
    python -m experiments.benchmark --workload vggsnn --batch 16 --memory-only \
        --variants snn,snn_ad,snn_layer,snn_layer_ad                   # XLA's temp memory only
    python -m experiments.benchmark --data -- --workers 0 2          # input-pipeline throughput

What is timed: one full jitted train step (forward, backward, optimiser update) after warm-up,
synchronised with ``block_until_ready`` (torch CPU is synchronous), median / min / max over
``--rounds`` (``--repeats``) rounds; compile time is reported apart; peak temporary memory comes
from XLA's compiled ``memory_analysis()`` (plus the device's ``memory_stats()`` peak on GPU), and
FLOPs from ``cost_analysis()``, reported as achieved GFLOP/s.

This machine's throughput swings 2-4x within seconds, so running one framework after another
measures noise. Each framework therefore lives in its own long-running worker process (peers in
their own virtualenvs, given by ``--sj-python`` / ``--spyx-python`` and skipped with a message
when absent), and every round times one step of every entry, interleaved; the ratios reported are
medians of *per-round paired* ratios, which cancel the drift. 1-thread runs pin each worker to
CPU 0 (``intra_op_parallelism_threads=1`` for XLA, ``torch.set_num_threads(1)``).

Workloads: ``lif_mlp`` ([T=100, B=32, 700] -> 512 -> LIF -> 512 -> LIF -> 20, CE on time-summed
logits; SpikingJelly LIF tau=2, no decay_input, soft reset, Sigmoid(4)), ``conv_cifar`` (3 conv +
time-merged BN + LIF stages on CIFAR repeated T=4, TET loss) and the zoo models at their paper T
(``vggsnn`` T=10 48x48x2, ``resnet19`` T=4, ``preact_resnet18`` T=6) at a small CPU batch.

Frameworks: ``jsnn``; ``jax``, the same networks written by hand in plain JAX (``lax.scan`` LIF,
``custom_vjp`` spike, ``lax.conv_general_dilated`` / matmul, no jsnn; experiments/bench/jax_worker.py;
skipped with ``--no-plain-jax``); the peers with ``--peers``.

Variants: ``snn`` (BPTT with the library's defaults), ``ann`` (the same network with ReLU on the
time-folded batch, i.e. the physical limit: SNN/ANN = 1.0 means the neuron costs nothing),
``snn_ad`` / ``ann_ad`` (jsnn with the pre-issue-#16 defaults: plain autodiff of the neuron scan,
``residuals="default"``, and autodiff weight gradients, ``wgrad="autodiff"``), opt-in
``snn_remat`` / ``snn_chunk`` / ``snn_min`` (jsnn's memory-bounded BPTT and minimal-residual scan),
``snn_bf16`` (bfloat16 convs), ``snn_layer`` / ``snn_layer_min`` / ``snn_layer_ad`` (zoo models'
block remat, spike inputs kept as bits), ``snn_cl`` (SpikingJelly with channels_last). ``--xla-compare FLAGS`` adds jsnn under
other XLA flags as framework ``jsnn@i``, paired against plain jsnn. Results: experiments/README.md.
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

WORKLOADS = {  # name: (T, batch); the zoo models run at their paper T and a small CPU batch
    "lif_mlp": (100, 32),
    "conv_cifar": (4, 32),
    "vggsnn": (10, 2),           # TET VGGSNN, DVS-CIFAR10 frames [T, B, 48, 48, 2]
    "resnet19": (4, 2),          # TET ResNet-19, CIFAR [B, 32, 32, 3]
    "preact_resnet18": (6, 2),   # CLIF PreAct ResNet-18, CIFAR [B, 32, 32, 3]
}
WORKLOAD_GROUPS = {"default": ["lif_mlp", "conv_cifar"], "zoo": ["vggsnn", "resnet19",
                                                                   "preact_resnet18"]}
WORKLOAD_GROUPS["all"] = WORKLOAD_GROUPS["default"] + WORKLOAD_GROUPS["zoo"]
_ZOO_VARIANTS = ["snn", "ann"]
VARIANTS = {
    "jsnn": {"lif_mlp": ["snn", "ann", "snn_ad", "ann_ad"],
             "conv_cifar": ["snn", "ann", "snn_ad", "ann_ad"],
             **{w: _ZOO_VARIANTS for w in WORKLOAD_GROUPS["zoo"]}},
    "jax": {"lif_mlp": ["snn", "ann"], "conv_cifar": ["snn", "ann"]},
    "spikingjelly": {"lif_mlp": ["snn", "ann"], "conv_cifar": ["snn", "snn_cl", "ann"]},
    "spyx": {"lif_mlp": ["snn", "ann"]},
}
# Run only when named in --variants: memory / precision options, the explicit weight-gradient
# paths (``*_fg``: jsnn.nn.Conv(wgrad="taps") / Linear(wgrad="transpose"); the conv path is the
# CPU default since issue #16) and the zoo models' block-level remat (``snn_layer*``: block inputs
# that are a neuron's spikes kept as 1 bit per spike, jsnn/nn/_remat.py).
OPT_IN = {"jsnn": ["snn_remat", "snn_chunk", "snn_min", "snn_bf16", "snn_fg", "ann_fg",
                   "snn_min_fg", "snn_min_ad", "snn_layer", "snn_layer_min", "snn_layer_ad",
                   "snn_ad", "ann_ad"]}  # the last two: default on lif_mlp / conv_cifar only
WORKER_MODULE = {"jsnn": "experiments.bench.jsnn_worker",
                 "jax": "experiments.bench.jax_worker",
                 "spikingjelly": "experiments.bench.sj_worker",
                 "spyx": "experiments.bench.spyx_worker"}
PEER_FLAGS = {"spikingjelly": ("--sj-python", "SJ_PYTHON", "torch + spikingjelly"),
              "spyx": ("--spyx-python", "SPYX_PYTHON", "spyx (jax + flax)")}
REQUIRED_KEYS = ("workload", "framework", "variant", "T", "batch", "median_ms", "min_ms",
                 "max_ms", "compile_s", "peak_temp_bytes", "device")


class Worker:
  """A framework's worker process speaking experiments/bench/protocol.py."""

  def __init__(self, framework: str, python: str, threads: int, xla_flags: str = ""):
    env = dict(os.environ, BENCH_THREADS=str(threads), PYTHONPATH=str(ROOT))
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + xla_flags).strip()
    if threads == 1:
      env["XLA_FLAGS"] = (env["XLA_FLAGS"] + " --xla_cpu_multi_thread_eigen=false "
                          "intra_op_parallelism_threads=1").strip()
      env["OMP_NUM_THREADS"] = "1"
    pin = (lambda: os.sched_setaffinity(0, {0})) if threads == 1 else None
    self.framework = framework
    self.proc = subprocess.Popen([python, "-m", WORKER_MODULE[_base(framework)]], cwd=ROOT,
                                 env=env,
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


def paired_ratio(a: list[float], b: list[float]) -> float:
  """Median over rounds of ``a[i] / b[i]``: entries timed in the same round share the machine's
  load at that moment, so the drift between rounds cancels (unlike ``median(a) / median(b)``).

  Raises:
    ValueError: the lists are empty or of different lengths.
  """
  if not a or len(a) != len(b):
    raise ValueError(f"paired_ratio needs two equally long non-empty lists, got {len(a)} and "
                     f"{len(b)} times.")
  return statistics.median(x / y for x, y in zip(a, b))


def _base(framework: str) -> str:
  """``jsnn@2`` (jsnn under the 2nd ``--xla-compare`` flag set) -> ``jsnn``."""
  return framework.split("@")[0]


def _start_workers(frameworks, threads, xla_flags):
  workers = {}
  for fw, py in frameworks.items():
    try:
      workers[fw] = Worker(fw, py, threads, xla_flags.get(fw, ""))
    except (RuntimeError, OSError, ValueError) as e:
      print(f"  skip {fw}: worker did not start ({e})", file=sys.stderr)
  return workers


def run_workload(workload, threads, frameworks, rounds, t_override=None, b_override=None,
                 variants=None, xla_flags=None):
  """Builds every (framework, variant) entry of ``workload``, then times ``rounds`` rounds of
  one interleaved step per entry. Returns the result dicts (see ``REQUIRED_KEYS``).

  ``frameworks`` maps a framework (``jsnn``, ``spikingjelly``, ``spyx``, or ``jsnn@i``, jsnn
  under other XLA flags) to its python; ``xla_flags`` maps frameworks to extra ``XLA_FLAGS``."""
  xla_flags = xla_flags or {}
  t, b = WORKLOADS[workload]
  t, b = t_override or t, b_override or b
  default = {fw: VARIANTS[_base(fw)].get(workload, []) for fw in frameworks}
  wanted = {fw: [v for v in dict.fromkeys(default[fw] + OPT_IN.get(_base(fw), []))
                 if (v in variants if variants else v in default[fw])]
            for fw in frameworks}
  entries, times = [], {}
  workers = _start_workers({fw: py for fw, py in frameworks.items() if wanted[fw]}, threads,
                           xla_flags)
  try:
    for fw, worker in workers.items():
      for variant in wanted[fw]:
        msg = dict(cmd="build", workload=workload, variant=variant, T=t, batch=b)
        if rounds == 0:
          msg["warmup"] = 0  # memory only: compile, do not run
        info = worker.call(**msg)
        if "error" in info:
          print(f"  skip {fw}/{variant}: {info['error']}", file=sys.stderr)
          continue
        entries.append(dict(workload=workload, framework=fw, variant=variant, T=t, batch=b,
                            threads=threads, compile_s=info["compile_s"],
                            peak_temp_bytes=info["peak_temp_bytes"],
                            peak_device_bytes=info.get("peak_device_bytes"),
                            flops=info["flops"], device=worker.device,
                            xla_flags=xla_flags.get(fw, "")))
        times[(fw, variant)] = []
    for _ in range(rounds):  # interleaved: one step of every entry per round
      for e in entries:
        reply = workers[e["framework"]].call(cmd="step", key=f"{workload}/{e['variant']}")
        if "error" in reply:
          raise RuntimeError(f"{e['framework']}/{e['variant']} step failed: {reply['error']}")
        times[(e["framework"], e["variant"])].append(reply["ms"])
  finally:
    for w in workers.values():
      w.close()
  for e in entries:
    _summarise(e, times)
  return entries


def _summarise(e: dict, times: dict) -> None:
  ts = times[(e["framework"], e["variant"])]
  if not ts:  # --memory-only: compiled, not timed
    e.update(median_ms=None, min_ms=None, max_ms=None, times_ms=[], gflops_per_s=None,
             ratio_vs_ann=None, ratio_vs_peer={})
    return
  e.update(median_ms=statistics.median(ts), min_ms=min(ts), max_ms=max(ts), times_ms=ts)
  e["gflops_per_s"] = e["flops"] / e["median_ms"] / 1e6 if e["flops"] else None
  kind = e["variant"].partition("_")[0]  # snn or ann
  # wgrad variants pair with ann_fg, the pre-#16 defaults (snn_ad) with ann_ad
  fg = next((s for s in ("_fg", "_ad") if e["variant"].endswith(s)), "")
  ann = times.get((e["framework"], "ann" + fg))
  e["ratio_vs_ann"] = paired_ratio(ts, ann) if ann and kind != "ann" else None
  e["ratio_vs_peer"] = {}
  if "@" in e["framework"]:  # an XLA flag set: compared with plain jsnn, same variant
    base = times.get(("jsnn", e["variant"]))
    if base:
      e["ratio_vs_peer"][f"jsnn/{e['variant']}"] = paired_ratio(ts, base)
  elif e["framework"] == "jsnn":
    for (fw, v), peer in times.items():
      same_kind = v == e["variant"] or v.partition("_")[0] == kind
      if _base(fw) != "jsnn" and same_kind:
        e["ratio_vs_peer"][f"{fw}/{v}"] = paired_ratio(ts, peer)


def _fmt_bytes(n):
  return "-" if n is None else f"{n / 2**20:.1f}M"


def _fmt(v, spec):
  return "-" if v is None else format(v, spec)


def print_table(entries, file=None):
  """The human-readable table (``vs ANN`` and ``vs peers`` are paired ratios; < 1 = faster)."""
  file = file or sys.stdout
  hdr = (f"{'workload':15} {'T':>3} {'B':>3} {'thr':>3} {'framework':12} {'variant':9} "
         f"{'median ms':>9} {'min':>8} {'max':>8} {'compile s':>9} {'temp mem':>9} "
         f"{'GFLOP/s':>7} {'vs ANN':>6}  vs peers (paired)")
  print(hdr, file=file)
  print("-" * len(hdr), file=file)
  for e in entries:
    peers = ", ".join(f"{k} {v:.2f}x" for k, v in e["ratio_vs_peer"].items())
    print(f"{e['workload']:15} {e['T']:>3} {e['batch']:>3} {e['threads']:>3} "
          f"{e['framework']:12} {e['variant']:9} {_fmt(e['median_ms'], '9.1f'):>9} "
          f"{_fmt(e['min_ms'], '8.1f'):>8} {_fmt(e['max_ms'], '8.1f'):>8} {e['compile_s']:9.2f} {_fmt_bytes(e['peak_temp_bytes']):>9} "
          f"{_fmt(e['gflops_per_s'], '7.1f'):>7} {_fmt(e['ratio_vs_ann'], '6.2f'):>6}  {peers}",
          file=file)


def _workload_list(spec: str, p: argparse.ArgumentParser) -> list[str]:
  names = []
  for name in spec.split(","):
    names += WORKLOAD_GROUPS.get(name, [name])
  unknown = [n for n in names if n not in WORKLOADS]
  if unknown:
    p.error(f"unknown workload(s) {unknown}; expected names from {sorted(WORKLOADS)} or groups "
            f"{sorted(WORKLOAD_GROUPS)}")
  return names


def _peers(args) -> dict:
  frameworks = {}
  for fw, (flag, _, what) in PEER_FLAGS.items():
    path = getattr(args, flag.lstrip("-").replace("-", "_"))
    if path and pathlib.Path(path).exists():
      frameworks[fw] = path
    else:
      print(f"{fw} skipped: pass {flag} PATH (the python of a venv with {what})",
            file=sys.stderr)
  return frameworks


def build_parser() -> argparse.ArgumentParser:
  """The command line of :func:`main` (without ``--data``)."""
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--workload", "--workloads", dest="workloads", default="default",
                 help=f"comma list of {sorted(WORKLOADS)} or groups {sorted(WORKLOAD_GROUPS)}")
  p.add_argument("--variants", default=None, help="comma list; only these variants (all peers)")
  p.add_argument("--threads", default="1,2", help="comma list of thread counts")
  p.add_argument("--rounds", "--repeats", dest="rounds", type=int, default=15,
                 help="timed rounds (repeats) per entry, after warm-up")
  p.add_argument("--T", type=int, default=None, help="override T (all workloads)")
  p.add_argument("--batch", type=int, default=None)
  p.add_argument("--peers", action="store_true", help="also run the peers given by --*-python")
  p.add_argument("--no-plain-jax", action="store_true",
                 help="skip the hand-written plain-JAX networks (framework jax)")
  p.add_argument("--memory-only", action="store_true",
                 help="compile every entry and report XLA's temporary memory, no timed rounds")
  for flag, env, what in PEER_FLAGS.values():
    p.add_argument(flag, default=os.environ.get(env), help=f"python of a venv with {what}")
  p.add_argument("--xla-flags", default="", help="extra XLA_FLAGS for the jsnn worker "
                 "(write --xla-flags=\"--flag=v\")")
  p.add_argument("--xla-compare", action="append", default=[], metavar="FLAGS",
                 help="also run jsnn under these extra XLA_FLAGS, as framework jsnn@<i> "
                      "(repeatable; write --xla-compare=\"--flag=v\"), paired with plain jsnn")
  p.add_argument("--json", action="store_true",
                 help="print one JSON list on stdout (the table goes to stderr)")
  return p


def main(argv=None):
  argv = sys.argv[1:] if argv is None else list(argv)
  if argv[:1] == ["--data"]:  # input pipelines: images/s and frames/s (experiments/bench_data.py)
    from experiments import bench_data
    return bench_data.main([a for a in argv[1:] if a != "--"])
  p = build_parser()
  args = p.parse_args(argv)
  if args.rounds < 1:
    p.error("--rounds must be >= 1")
  workloads = _workload_list(args.workloads, p)
  variants = set(args.variants.split(",")) if args.variants else None
  frameworks = {"jsnn": sys.executable}
  if not args.no_plain_jax:
    frameworks["jax"] = sys.executable
  xla_flags = {"jsnn": args.xla_flags, "jax": args.xla_flags}
  for i, flags in enumerate(args.xla_compare, 1):
    frameworks[f"jsnn@{i}"] = sys.executable
    xla_flags[f"jsnn@{i}"] = (args.xla_flags + " " + flags).strip()
  if args.peers:
    frameworks.update(_peers(args))
  entries = []
  for workload in workloads:
    for threads in (int(x) for x in args.threads.split(",")):
      print(f"== {workload}, {threads} thread(s)", file=sys.stderr)
      entries += run_workload(workload, threads, frameworks,
                              0 if args.memory_only else args.rounds, args.T, args.batch,
                              variants, xla_flags)
  if args.json:
    print_table(entries, file=sys.stderr)
    print(json.dumps(entries, indent=1))
  else:
    print_table(entries)


if __name__ == "__main__":
  main()
