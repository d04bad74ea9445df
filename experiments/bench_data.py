r"""Input-pipeline throughput: can the host feed the accelerator? (to be folded into benchmark.py)

    python -m experiments.bench_data                          # in-process (worker_count=0)
    python -m experiments.bench_data --workers 0 2            # also with 2 worker processes
    python -m experiments.bench_data --dvs-events 200000      # CIFAR10-DVS-sized streams

Two datasets, both built offline through the real path (raw data -> TFDS builder -> ArrayRecord ->
`tfds.data_source` -> grain):

* `digits`: scikit-learn's digits (`jsnn.data.digits_pipeline`), train split, batch 64.
* `dvs`: a synthetic CIFAR10-DVS written as AEDAT 2.0 files (10 classes, uniform random events on the
  128x128 sensor, `--dvs-events` per sample; the real set averages roughly 10^5-3x10^5), built with the
  `cifar10_dvs` builder and read with `events_pipeline` at T=10 in three recipes: raw counts 128x128,
  TET (max-normalise, PIL 48x48 with uint8 round trip, flip + roll) and CLIF (wrap-quantised 48x48).

Reported per row: time to the first batch (pipeline start-up, worker spawn), then steady-state
examples/s and frames/s (examples x T) over `--batches` batches after that first one, median of
`--rounds`. The host has to beat the model's examples/s (experiments/benchmark.py) or the accelerator
starves; scale `--workers` until it does.

Measured on the 2-core dev machine (no GPU), `--workers 0 2`, about 4 minutes in all:

| pipeline           | workers | batch | first batch (s) | examples/s | frames/s |
|--------------------|---------|-------|-----------------|------------|----------|
| digits 8x8         |       0 |    64 |            0.09 |     459616 |        - |
| dvs raw 128x128    |       0 |    16 |            2.43 |        147 |     1470 |
| dvs TET 48x48      |       0 |    16 |            3.88 |        131 |     1313 |
| dvs CLIF 48x48     |       0 |    16 |            4.12 |        100 |      999 |
| digits 8x8         |       2 |    64 |            4.41 |      34436 |        - |
| dvs raw 128x128    |       2 |    16 |            7.59 |        180 |     1801 |
| dvs TET 48x48      |       2 |    16 |            8.36 |        157 |     1568 |
| dvs CLIF 48x48     |       2 |    16 |            9.54 |         89 |      885 |

Per DVS sample (10^5 events): ~3.2 ms ArrayRecord read + decode, ~0.7 ms integration, ~2.4 ms more
for the PIL 48x48 round trip of 10 frames. Two workers on two cores gain little; on a 16-core host
expect roughly linear scaling in `--workers`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

T = 10


def _time_pipeline(make, batches: int, rounds: int) -> tuple[float, float, int]:
  """(seconds to first batch, median examples/s after it, batch size)."""
  firsts, rates, size = [], [], 0
  for _ in range(rounds):
    start = time.perf_counter()
    it = iter(make())
    size = next(it)["label"].shape[0]
    first = time.perf_counter()
    for _ in range(batches):
      next(it)
    firsts.append(first - start)
    rates.append(batches * size / (time.perf_counter() - first))
    it.close()  # stop worker processes now, not in grain's noisy interpreter-exit finalizers
  return statistics.median(firsts), statistics.median(rates), size


def write_synthetic_cifar10_dvs(manual: str, per_class: int, events: int, seed: int = 0) -> None:
  """10 x `per_class` AEDAT 2.0 files with `events` uniform random events each over 1 s."""
  from jsnn.data import events as je

  rng = np.random.default_rng(seed)
  for cls in je.Cifar10Dvs.CLASS_NAMES:
    for i in range(per_class):
      ev = je.Events(np.sort(rng.integers(0, 1_000_000, events)), rng.integers(0, 128, events),
                     rng.integers(0, 128, events), rng.integers(0, 2, events))
      je.write_aedat2(os.path.join(manual, cls, f"cifar10_{cls}_{i}.aedat"), ev)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workers", type=int, nargs="+", default=[0])
  parser.add_argument("--batches", type=int, default=20, help="timed batches per round (after the first)")
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--dvs-events", type=int, default=100_000, help="events per synthetic DVS sample")
  parser.add_argument("--dvs-per-class", type=int, default=10)
  parser.add_argument("--dvs-batch", type=int, default=16)
  args = parser.parse_args(argv)

  import jsnn.data as jd
  from jsnn.data import events as je

  rows = []
  with tempfile.TemporaryDirectory() as root:
    data_dir = os.path.join(root, "tfds")
    start = time.perf_counter()
    jd.prepare_digits(data_dir)
    prep_digits = time.perf_counter() - start
    manual = os.path.join(root, "manual")
    start = time.perf_counter()
    write_synthetic_cifar10_dvs(manual, args.dvs_per_class, args.dvs_events)
    write_s = time.perf_counter() - start
    start = time.perf_counter()
    je.prepare("cifar10_dvs", data_dir=data_dir, manual_dir=manual)
    prep_dvs = time.perf_counter() - start

    recipes = {
        "dvs raw 128x128": {},
        "dvs TET 48x48": dict(normalize="max", size=48, quantize="truncate", flip_roll=True),
        "dvs CLIF 48x48": dict(size=48, quantize="wrap", flip_roll=True, max_shift=0),
    }
    for workers in args.workers:
      def digits(workers=workers):
        return jd.digits_pipeline(data_dir, "train", batch_size=64, num_epochs=None, worker_count=workers)
      rows.append(("digits 8x8", workers, 1, *_time_pipeline(digits, args.batches, args.rounds)))
      for name, kwargs in recipes.items():
        def dvs(workers=workers, kwargs=kwargs):
          return je.events_pipeline("cifar10_dvs", "train", data_dir=data_dir, batch_size=args.dvs_batch,
                                    frames_number=T, num_epochs=None, worker_count=workers, **kwargs)
        rows.append((name, workers, T, *_time_pipeline(dvs, args.batches, args.rounds)))

  print(f"\nprepare: digits {prep_digits:.2f} s; synthetic CIFAR10-DVS: write {write_s:.1f} s + build "
        f"{prep_dvs:.1f} s ({10 * args.dvs_per_class} samples x {args.dvs_events} events)")
  print(f"cpu count {os.cpu_count()}; median of {args.rounds} rounds x {args.batches} batches\n")
  print(f"| {'pipeline':<18} | workers | batch | first batch (s) | examples/s | frames/s |")
  print(f"|{'-' * 20}|---------|-------|-----------------|------------|----------|")
  for name, workers, frames, first, rate, size in rows:
    frames_rate = f"{rate * frames:>8.0f}" if frames > 1 else f"{'-':>8}"
    print(f"| {name:<18} | {workers:>7} | {size:>5} | {first:>15.2f} | {rate:>10.0f} | {frames_rate} |")


if __name__ == "__main__":
  main()
