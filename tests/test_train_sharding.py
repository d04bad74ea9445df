"""Data-parallel training on 8 fake CPU devices equals 1 device (jit + NamedSharding).

The 8 devices need `XLA_FLAGS=--xla_force_host_platform_device_count=8` before JAX starts, so the
work runs in a child interpreter (this module's `_child`) under a timeout. Following the platform
notes (fake-device collectives can deadlock on a 2-core machine), the steps use jit +
NamedSharding only (no shard_map/pmap) and block after every step.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
NUM_STEPS = 5


def _run_child(fn_name: str, *args: str, timeout: float = 150, fast_compile=False) -> dict:
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8",
             PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
  if fast_compile:
    env["JAX_DISABLE_MOST_OPTIMIZATIONS"] = "true"
  code = f"import test_train_sharding as t; t.{fn_name}(*{list(args)!r})"
  proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=timeout)
  assert proc.returncode == 0, proc.stderr[-4000:]
  return json.loads(proc.stdout.strip().splitlines()[-1])


def _steps(mesh, mode, data):
  """NUM_STEPS train steps on `mesh`; returns losses, params, BN statistics and shardings."""
  import functools

  import jax
  import optax
  from flax import nnx

  import jsnn
  import jsnn.methods
  from experiments.configs import digits_mlp
  from jsnn import train

  tx = optax.adam(1e-2)
  graphdef, state = train.create_train_state(
      digits_mlp.SpikingMLP(hidden=64, T=2, neuron="tet_lif", rngs=nnx.Rngs(0)), tx)
  shardings = train.state_shardings(state, mesh, mode, fsdp_min_size=256)
  state = jax.device_put(state, shardings)
  bsh = train.batch_sharding(mesh)
  step = jax.jit(functools.partial(train.train_step, graphdef=graphdef, tx=tx,
                                   loss_fn=jsnn.methods.tet(lamb=1e-3).loss_fn()),
                 in_shardings=(shardings, bsh), out_shardings=(shardings, train.replicated(mesh)),
                 donate_argnums=0)
  it, losses = data.train_iterator(), []
  for _ in range(NUM_STEPS):
    batch = train.global_batch(next(it), bsh)
    state, metrics = step(state, batch)
    jax.block_until_ready(state)
    losses.append(float(metrics["loss"]))
  kernel_spec = tuple(state.params["fc1"]["kernel"].sharding.spec)
  batch_devices = len(batch["image"].sharding.device_set)
  return losses, jax.device_get(state.params), jax.device_get(state.model_state), {
      "kernel_spec": kernel_spec, "batch_devices": batch_devices}


def _max_diff(a, b) -> float:
  import jax
  import numpy as np
  return float(max(jax.tree.leaves(jax.tree.map(lambda x, y: np.max(np.abs(x - y)), a, b))))


def _child_equivalence():
  import jax
  import ml_collections
  import numpy as np

  from experiments.configs import digits_mlp
  from jsnn import train

  jax.config.update("jax_numpy_dtype_promotion", "strict")  # as tests/conftest.py
  jax.config.update("jax_numpy_rank_promotion", "raise")
  assert jax.device_count() == 8
  data = digits_mlp.digits_data(ml_collections.ConfigDict(dict(batch_size=64)), seed=0)
  one = _steps(train.make_mesh(jax.devices()[:1]), "replicate", data)
  out = {"losses_1": one[0]}
  for mode in ("replicate", "fsdp"):
    losses, params, model_state, info = _steps(train.make_mesh(), mode, data)
    out[mode] = dict(info, losses=losses, loss_diff=float(np.max(np.abs(np.subtract(losses,
                                                                                    one[0])))),
                     param_diff=_max_diff(params, one[1]), bn_diff=_max_diff(model_state, one[2]))
  # What per-device BatchNorm would have given instead: statistics of 8 rows, not 64.
  x = next(data.train_iterator())["image"]
  params0 = _initial_params()
  h = x @ params0["fc1"]["kernel"]
  out["local_vs_global_bn_mean"] = float(np.max(np.abs(h[:8].mean(0) - h.mean(0))))
  print(json.dumps(out))


def _initial_params():
  import jax
  from flax import nnx

  from experiments.configs import digits_mlp
  from jsnn import train
  model = digits_mlp.SpikingMLP(hidden=64, T=2, neuron="tet_lif", rngs=nnx.Rngs(0))
  return jax.device_get(train.split_model(model)[1])


def _child_loop(workdir: str):
  """train_and_evaluate on 8 devices with FSDP: batch check, sharded checkpoints, resume."""
  import jax

  from experiments import main
  from experiments.configs import digits_mlp

  out = {}
  cfg = digits_mlp.get_config("method=tet,hidden=64,T=2")
  cfg.input.batch_size = 12
  try:
    main.run(cfg, workdir)
  except ValueError as e:
    out["error"] = str(e)
  out["built"] = os.path.exists(os.path.join(workdir, "checkpoints"))
  cfg = digits_mlp.get_config("method=tet,hidden=64,T=2")
  cfg.sharding.mode, cfg.sharding.fsdp_min_size = "fsdp", 256
  cfg.total_steps, cfg.checkpoint_every_steps, cfg.eval_every_steps = 6, 3, 3
  cfg.progress = cfg.plot = False
  main.run(cfg, workdir)
  cfg.total_steps = 9
  state = main.run(cfg, workdir)
  with open(os.path.join(workdir, "summary.json")) as f:
    summary = json.load(f)
  out.update(devices=summary["devices"]["count"], resumed=summary["resumed_from_step"],
             kernel_spec=tuple(state.params["fc1"]["kernel"].sharding.spec),
             final_acc=summary["final_test_accuracy"], num_devices=jax.device_count())
  print(json.dumps(out))


def test_8_devices_match_1_device_with_global_batchnorm():
  out = _run_child("_child_equivalence")
  assert out["local_vs_global_bn_mean"] > 1e-3  # per-device BN would be visibly different
  for mode in ("replicate", "fsdp"):
    r = out[mode]
    assert r["batch_devices"] == 8
    assert r["loss_diff"] <= 1e-5, (mode, r["losses"], out["losses_1"])
    assert r["param_diff"] <= 1e-5, (mode, r["param_diff"])
    assert r["bn_diff"] <= 1e-5, (mode, r["bn_diff"])  # BN statistics over the global batch
  assert out["replicate"]["kernel_spec"] == []
  assert out["fsdp"]["kernel_spec"] == [None, "data"]  # [64, 64]: the last axis on ties
  assert len(set(out["losses_1"])) == NUM_STEPS  # the loss moves


def test_8_devices_train_and_evaluate_fsdp_resume_and_batch_check(tmp_path):
  out = _run_child("_child_loop", str(tmp_path), fast_compile=True)
  assert "input.batch_size=12 is not divisible by the number of devices (8)" in out["error"]
  assert not out["built"]  # rejected before anything was built or compiled
  assert out["num_devices"] == out["devices"] == 8
  assert out["resumed"] == 6
  assert out["kernel_spec"] == [None, "data"]
  assert 0.0 <= out["final_acc"] <= 1.0
