#!/usr/bin/env bash
# The first-GPU check of issue #16, in one run: device, SpikingJelly's LIF bandwidth case, the
# step-time tables (jsnn vs plain JAX, SNN/ANN) and the memory table at realistic batches.
#
#   experiments/gpu_check.sh [OUTDIR]            # on a GPU machine, from the repository root
#   TINY=1 experiments/gpu_check.sh /tmp/out     # tiny sizes, any machine (tests/test_benchmark.py)
#
# Environment: PYTHON (default: python), ROUNDS (timed rounds, default 10), PARTS (comma list of
# device,lif,bench,zoo,memory; default all), PEAK_GBS (the card's peak memory bandwidth in GB/s,
# if the card is not in experiments/bench/lif_bandwidth.py's table), TINY=1 (small sizes).
# Writes OUTDIR/{device.txt, lif_bandwidth.{json,txt}, bench.{json,txt}, zoo.{json,txt},
# memory_*.{json,txt}}; copy the tables into experiments/README.md with the card named.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-gpu_check_out}
PY=${PYTHON:-python}
ROUNDS=${ROUNDS:-10}
PARTS=${PARTS:-device,lif,bench,zoo,memory}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# No CPU pinning / single-thread XLA flags on a GPU host: the benchmark pins only --threads 1.
THREADS=$(nproc)
want() { [[ ",$PARTS," == *",$1,"* ]]; }

if [[ -n "${TINY:-}" ]]; then
  LIF_ARGS=(--T 4,8 --batch 2 --neurons 512 --rounds 2)
  BENCH_ARGS=(--T 2 --batch 2 --rounds 1)
  # (TINY=1 PYTHON=echo prints every command into its output file instead: a dry run)
  MEM=("resnet19 1")
  ZOO=vggsnn
  ROUNDS=1
else
  LIF_ARGS=(--T 4,8,16,32 --batch 64 --neurons 65536 --rounds 20)
  BENCH_ARGS=(--rounds "$ROUNDS")
  MEM=("vggsnn 16" "resnet19 32")
  ZOO=zoo
fi
[[ -n "${PEAK_GBS:-}" ]] && LIF_ARGS+=(--peak-gbs "$PEAK_GBS")

if want device; then
  { date -u; git rev-parse --short HEAD 2>/dev/null || true; nvidia-smi 2>/dev/null || true
    "$PY" -c "import jax, flax, optax; print(jax.devices(), jax.__version__, flax.__version__, optax.__version__)"
  } | tee "$OUT/device.txt"
fi
if want lif; then
  "$PY" -m experiments.bench.lif_bandwidth "${LIF_ARGS[@]}" --json \
      > "$OUT/lif_bandwidth.json" 2> >(tee "$OUT/lif_bandwidth.txt" >&2)
fi
if want bench; then
  "$PY" -m experiments.benchmark --workload lif_mlp,conv_cifar --threads "$THREADS" \
      "${BENCH_ARGS[@]}" --json > "$OUT/bench.json" 2> >(tee "$OUT/bench.txt" >&2)
fi
if want zoo; then
  "$PY" -m experiments.benchmark --workload "$ZOO" --threads "$THREADS" --no-plain-jax \
      "${BENCH_ARGS[@]}" --json > "$OUT/zoo.json" 2> >(tee "$OUT/zoo.txt" >&2)
fi
if want memory; then
  for wb in "${MEM[@]}"; do
    read -r w b <<< "$wb"
    "$PY" -m experiments.benchmark --workload "$w" --batch "$b" --threads "$THREADS" \
        --no-plain-jax --variants snn,snn_ad,snn_layer,snn_layer_ad \
        ${TINY:+--T 2} --rounds "$ROUNDS" --json \
        > "$OUT/memory_$w.json" 2> >(tee "$OUT/memory_$w.txt" >&2)
  done
fi
echo "gpu_check: results in $OUT" >&2
