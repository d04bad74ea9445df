"""Benchmark workers: one process per framework, driven by `experiments/benchmark.py`."""
