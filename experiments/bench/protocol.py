"""The line protocol between the benchmark driver and a framework worker (no jax/torch import).

The driver writes one JSON object per line to the worker's stdin and reads one JSON reply per line:

* ``{"cmd": "build", "workload": w, "variant": v, "T": t, "batch": b}`` → ``{"ok": true,
  "compile_s": float, "peak_temp_bytes": int | null, "flops": float | null,
  "peak_device_bytes": int | null}`` (the last optional; an optional ``"warmup": 0`` in the
  request asks the jsnn / plain-JAX workers to compile only, for memory tables), or ``{"error": str}`` if the worker
  cannot build that entry (the driver skips it with a message).
* ``{"cmd": "step", "key": "w/v"}`` → ``{"ms": float}``: one full train step (forward, backward,
  optimiser update), timed with device synchronisation (``block_until_ready`` / torch CPU is
  synchronous).
* ``{"cmd": "quit"}``.

Anything a worker prints for humans goes to stderr, so stdout carries only replies.
"""

from __future__ import annotations

import json
import sys
import time
import traceback


def serve(build, describe_device):
  """Runs the worker loop. ``build(workload, variant, T, batch) -> (step_fn, info)``."""
  steps = {}
  out = sys.stdout
  sys.stdout = sys.stderr  # stray prints must not corrupt the protocol
  out.write(json.dumps({"ready": True, "device": describe_device()}) + "\n")
  out.flush()
  for line in sys.stdin:
    msg = json.loads(line)
    try:
      if msg["cmd"] == "quit":
        break
      if msg["cmd"] == "build":
        key = f'{msg["workload"]}/{msg["variant"]}'
        extra = {"warmup": msg["warmup"]} if "warmup" in msg else {}  # jsnn / jax workers
        step, info = build(msg["workload"], msg["variant"], msg["T"], msg["batch"], **extra)
        steps[key] = step
        reply = {"ok": True, **info}
      elif msg["cmd"] == "step":
        step = steps[msg["key"]]
        t0 = time.perf_counter()
        step()
        reply = {"ms": (time.perf_counter() - t0) * 1e3}
      else:
        reply = {"error": f"unknown command {msg['cmd']!r}"}
    except Exception as e:  # reported to the driver, which skips this entry
      reply = {"error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()}
    out.write(json.dumps(reply) + "\n")
    out.flush()
