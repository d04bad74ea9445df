r"""SpikingJelly's neuron benchmark case: multi-step LIF forward + backward, achieved bandwidth.

    python -m experiments.bench.lif_bandwidth                       # T = 4, 8, 16, 32, [T, 64, 65536] fp16
    python -m experiments.bench.lif_bandwidth --T 4 --batch 2 --neurons 512 --rounds 2   # tiny (CPU)

The case (SpikingJelly's ``LIFNode`` benchmark, also run by its memopt paper): a multi-step LIF
layer (``tau = 2``, ``decay_input=True``, hard reset to 0, ``Sigmoid(4)`` surrogate; jsnn's
``jsnn.neurons.sj_lif()``) on inputs ``X [T, 64, 65536]`` in float16, timed as one jitted call
that runs the forward *and* the backward: ``(S, dX) = (LIF(X), vjp(LIF)(X)(dS))``. SpikingJelly's
Triton kernels take 0.77 / 0.86 / 1.70 / 3.37 ms for T = 4 / 8 / 16 / 32 on an RTX 4090.

The step is elementwise, so it is memory-bound. Achieved bandwidth is reported two ways:

* ``min_GB/s``: the least traffic any forward + backward with stored residuals needs, six passes
  over a ``[T, 64, 65536]`` array (forward reads ``X``, writes ``S`` and the pre-spike potential
  ``H``; backward reads ``H`` and ``dS``, writes ``dX``): ``6·T·B·N·itemsize`` bytes / time;
* ``xla_GB/s``: XLA's ``cost_analysis()["bytes accessed"]`` of the compiled call / time (what the
  compiled program actually moves, as XLA counts it),

each also as a fraction of the device's peak memory bandwidth (``--peak-gbs``, else a table of
common cards by ``device_kind``; unknown on CPU, left empty). Target of issue #16: >= 70 % of peak.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import jax
import jax.numpy as jnp

import jsnn

# Peak DRAM/HBM bandwidth in GB/s (vendor figures) by a substring of jax's device_kind.
PEAK_GBS = (("H200", 4800.0), ("H100 PCIe", 2000.0), ("H100", 3350.0), ("GH200", 4000.0),
            ("A100-SXM4-80GB", 2039.0), ("A100 80GB PCIe", 1935.0), ("A100", 1555.0),
            ("RTX 4090", 1008.0), ("RTX 3090", 936.0), ("L40S", 864.0), ("L4", 300.0),
            ("A10G", 600.0), ("V100", 900.0), ("T4", 320.0))


def peak_gbs(device_kind: str) -> float | None:
  """The peak memory bandwidth (GB/s) of a known card, else None."""
  for name, gbs in PEAK_GBS:
    if name.lower() in device_kind.lower():
      return gbs
  return None


def lif_fwd_bwd(neuron=None):
  """``f(x, ds) -> (spikes, dx)``: the LIF layer's forward and backward in one jitted call."""
  neuron = neuron or jsnn.neurons.sj_lif()

  @jax.jit
  def f(x, ds):
    spikes, vjp = jax.vjp(lambda x: neuron(x)[1], x)
    return spikes, vjp(ds)[0]

  return f


def measure(t: int, batch: int, neurons: int, dtype, rounds: int, peak: float | None) -> dict:
  """Times one ``[t, batch, neurons]`` case; returns the row (times in ms, bandwidth in GB/s)."""
  key_x, key_g = jax.random.split(jax.random.key(0))
  x = (jax.random.normal(key_x, (t, batch, neurons), jnp.float32) + 0.5).astype(dtype)
  ds = jax.random.normal(key_g, (t, batch, neurons), jnp.float32).astype(dtype)
  f = lif_fwd_bwd()
  compiled = f.lower(x, ds).compile()
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  xla_bytes = float(cost.get("bytes accessed", 0.0)) if cost else 0.0
  for _ in range(2):
    jax.block_until_ready(compiled(x, ds))
  times = []
  for _ in range(rounds):
    t0 = time.perf_counter()
    jax.block_until_ready(compiled(x, ds))
    times.append((time.perf_counter() - t0) * 1e3)
  ms = statistics.median(times)
  min_bytes = 6.0 * t * batch * neurons * jnp.dtype(dtype).itemsize
  row = {"T": t, "batch": batch, "neurons": neurons, "dtype": jnp.dtype(dtype).name,
         "median_ms": ms, "min_ms": min(times), "max_ms": max(times),
         "min_bytes": min_bytes, "xla_bytes": xla_bytes or None,
         "min_gbs": min_bytes / ms / 1e6, "xla_gbs": xla_bytes / ms / 1e6 if xla_bytes else None,
         "peak_gbs": peak}
  row["min_frac_peak"] = row["min_gbs"] / peak if peak else None
  row["xla_frac_peak"] = row["xla_gbs"] / peak if peak and row["xla_gbs"] else None
  return row


def _f(v, spec):
  return "-" if v is None else format(v, spec)


def print_table(rows, device: str, file) -> None:
  print(f"multi-step LIF forward + backward on {device}", file=file)
  print(f"{'T':>3} {'[B, N]':>12} {'dtype':>8} {'median ms':>9} {'min_GB/s':>9} {'of peak':>7} "
        f"{'xla_GB/s':>9} {'of peak':>7}", file=file)
  for r in rows:
    print(f"{r['T']:>3} {str([r['batch'], r['neurons']]):>12} {r['dtype']:>8} "
          f"{r['median_ms']:9.3f} {r['min_gbs']:9.1f} {_f(r['min_frac_peak'], '7.1%'):>7} "
          f"{_f(r['xla_gbs'], '9.1f'):>9} {_f(r['xla_frac_peak'], '7.1%'):>7}", file=file)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("--T", default="4,8,16,32", help="comma list of time steps")
  p.add_argument("--batch", type=int, default=64)
  p.add_argument("--neurons", type=int, default=65536)
  p.add_argument("--dtype", default="float16", choices=["float16", "bfloat16", "float32"])
  p.add_argument("--rounds", type=int, default=20)
  p.add_argument("--peak-gbs", type=float, default=None,
                 help="the device's peak memory bandwidth in GB/s (default: known cards)")
  p.add_argument("--json", action="store_true", help="JSON rows on stdout, table on stderr")
  args = p.parse_args(argv)
  if args.rounds < 1:
    p.error("--rounds must be >= 1")
  d = jax.devices()[0]
  device = f"{d.platform}:{d.device_kind} (jax {jax.__version__})"
  peak = args.peak_gbs or peak_gbs(d.device_kind)
  rows = [dict(measure(int(t), args.batch, args.neurons, jnp.dtype(args.dtype), args.rounds,
                       peak), device=device) for t in args.T.split(",")]
  print_table(rows, device, sys.stderr if args.json else sys.stdout)
  if args.json:
    print(json.dumps(rows, indent=1))
  return rows


if __name__ == "__main__":
  main()
