"""BatchNorm statistics per group of samples (``stat_group_size``): DDP without SyncBN.

Each group of ``N`` consecutive samples is normalised with its own statistics; the running statistics
follow group 0 (rank 0's buffers, broadcast by DDP at every forward). The reference is PyTorch's
``BatchNorm2d`` training forward applied to each group separately (float64 numpy), and, on 8 fake CPU
devices (a child interpreter, as ``test_train_sharding.py``), the plain layer applied to each
device's shard of a sharded batch.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jsnn.nn as jn

ROOT = pathlib.Path(__file__).resolve().parent.parent
EPS, MOM = 1e-5, 0.1


def torch_bn(x, axes, running_mean, running_var):
  """PyTorch BatchNorm training forward (γ=1, β=0) and running update, float64."""
  x = np.asarray(x, np.float64)
  n = int(np.prod([x.shape[a] for a in axes]))
  mean = x.mean(axis=axes, keepdims=True)
  var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
  return ((x - mean) / np.sqrt(var + EPS), MOM * mean.reshape(-1) + (1 - MOM) * running_mean,
          MOM * var.reshape(-1) * n / (n - 1) + (1 - MOM) * running_var)


def per_group_reference(x, group, batch_axis):
  """Output of each group's own BatchNorm, and the running stats of group 0 (DDP rank 0)."""
  x = np.asarray(x, np.float64)
  C = x.shape[-1]
  axes = tuple(range(x.ndim - 1))
  outs, stats = [], []
  for g in range(x.shape[batch_axis] // group):
    part = np.take(x, np.arange(g * group, (g + 1) * group), axis=batch_axis)
    y, rm, rv = torch_bn(part, axes, np.zeros(C), np.ones(C))
    outs.append(y)
    stats.append((rm, rv))
  return np.concatenate(outs, axis=batch_axis), stats[0], stats


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,batch_axis", [((3, 8, 2, 2, 4), 1), ((3, 8, 4), 1), ((8, 2, 2, 4), 0),
                                              ((8, 4), 0)])
def test_grouped_statistics_equal_each_groups_own_batchnorm(dtype, shape, batch_axis, x64):
  x = (2.0 * jax.random.normal(jax.random.key(0), shape, jnp.float64)).astype(dtype)
  # groups differ strongly, so global statistics would give another answer
  x = x + jnp.arange(8, dtype=dtype).reshape((1,) * batch_axis + (8,) + (1,) * (len(shape) - batch_axis - 1))
  y_ref, (rm, rv), stats = per_group_reference(x, 2, batch_axis)
  tol = dict(rtol=1e-5, atol=2e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
  for run in ("eager", "jit"):
    bn = jn.BatchNorm(shape[-1], stat_group_size=2, param_dtype=dtype)
    y = bn(x) if run == "eager" else nnx.jit(lambda m, v: m(v))(bn, x)
    assert y.dtype == jnp.dtype(dtype)
    np.testing.assert_allclose(np.asarray(y), y_ref, **tol)
    np.testing.assert_allclose(np.asarray(bn.mean[...]), rm, **tol)  # group 0's update only
    np.testing.assert_allclose(np.asarray(bn.var[...]), rv, **tol)
  assert not np.allclose(stats[1][0], rm)
  y_global = np.asarray(jn.BatchNorm(shape[-1], param_dtype=dtype)(x))
  assert not np.allclose(y_global, y_ref, atol=1e-2)
  bn.eval()  # eval uses the running stats: groups play no role
  np.testing.assert_allclose(np.asarray(bn(x)), (np.asarray(x, np.float64) - rm) / np.sqrt(rv + EPS), **tol)


def test_grouped_gradients_equal_per_group_layers():
  x = jax.random.normal(jax.random.key(1), (2, 6, 3)) + 1.0
  w = jax.random.normal(jax.random.key(2), (2, 6, 3))
  grouped = jn.BatchNorm(3, stat_group_size=3)
  plain = jn.BatchNorm(3)
  g1 = nnx.grad(lambda v, m: jnp.sum(w * m(v)))(x, grouped)
  g2 = nnx.grad(lambda v, m: jnp.sum(w[:, :3] * m(v[:, :3])) + jnp.sum(w[:, 3:] * m(v[:, 3:])))(x, plain)
  np.testing.assert_allclose(np.asarray(g1), np.asarray(g2), rtol=1e-5, atol=1e-6)


def test_group_size_of_the_whole_batch_is_the_plain_layer():
  x = jax.random.normal(jax.random.key(3), (2, 4, 2, 2, 3))
  a, b = jn.BatchNorm(3, stat_group_size=4), jn.BatchNorm(3)
  np.testing.assert_allclose(np.asarray(a(x)), np.asarray(b(x)), rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(np.asarray(a.var[...]), np.asarray(b.var[...]), rtol=1e-6)


def test_make_norm_suffix_and_errors():
  bn = jn.make_norm("time_merged@128", 4)
  assert type(bn) is jn.BatchNorm and bn.stat_group_size == 128
  tebn = jn.make_norm("tebn@2", 4, T=3)
  assert type(tebn) is jn.TemporalEffectiveBatchNorm and tebn.stat_group_size == 2
  assert jn.make_norm("tdbn@2", 4).stat_group_size == 2
  assert jn.make_norm("time_merged", 4).stat_group_size is None
  with pytest.raises(ValueError, match="has no stat_group_size option"):
    jn.make_norm("per_step@2", 4)
  with pytest.raises(ValueError, match=r"expected '<kind>@<positive integer>'"):
    jn.make_norm("time_merged@x", 4)
  with pytest.raises(ValueError, match="positive integer"):
    jn.BatchNorm(4, stat_group_size=0)
  with pytest.raises(ValueError, match=r"batch of 6 .* not a multiple of stat_group_size=4"):
    jn.BatchNorm(2, stat_group_size=4)(jnp.ones((3, 6, 2)))


# ---------------------------------------------------------------------------------------------
# 8 fake devices: per-device statistics equal the statistics of each device's shard.
# ---------------------------------------------------------------------------------------------
def _child_per_device():
  import jax
  from jax.sharding import NamedSharding, PartitionSpec as P

  jax.config.update("jax_numpy_dtype_promotion", "strict")  # as tests/conftest.py
  jax.config.update("jax_numpy_rank_promotion", "raise")
  assert jax.device_count() == 8
  T, per_device, H, W, C = 2, 4, 3, 3, 5
  mesh = jax.make_mesh((8,), ("data",))
  x = jax.random.normal(jax.random.key(0), (T, 8 * per_device, H, W, C))
  x = x + jnp.repeat(jnp.arange(8.0), per_device).reshape(1, -1, 1, 1, 1)   # shards differ
  x = jax.device_put(x, NamedSharding(mesh, P(None, "data")))
  bn = jn.BatchNorm(C, stat_group_size=per_device)
  y = nnx.jit(lambda m, v: m(v))(bn, x)
  jax.block_until_ready(y)
  out = {"y_devices": len(y.sharding.device_set), "y_diff": 0.0}
  # each device's shard through its own plain BatchNorm (a replica without SyncBN)
  for shard in x.addressable_shards:
    own = jn.BatchNorm(C)
    y_shard = np.asarray(own(jnp.asarray(shard.data)))
    out["y_diff"] = max(out["y_diff"], float(np.max(np.abs(np.asarray(y)[shard.index] - y_shard))))
    if shard.index[1].start in (0, None):  # device 0's shard: rank 0's running stats survive
      out["mean_diff"] = float(np.max(np.abs(np.asarray(bn.mean[...]) - np.asarray(own.mean[...]))))
      out["var_diff"] = float(np.max(np.abs(np.asarray(bn.var[...]) - np.asarray(own.var[...]))))
  glob = jn.BatchNorm(C)
  out["global_diff"] = float(np.max(np.abs(np.asarray(glob(x)) - np.asarray(y))))
  print(json.dumps(out))


def test_per_device_statistics_equal_per_shard_statistics_on_8_fake_devices():
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8",
             PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
  code = "import test_nn_bn_groups as t; t._child_per_device()"
  proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=240)
  assert proc.returncode == 0, proc.stderr[-4000:]
  out = json.loads(proc.stdout.strip().splitlines()[-1])
  assert out["y_devices"] == 8
  assert out["y_diff"] < 1e-5 and out["mean_diff"] < 1e-6 and out["var_diff"] < 1e-5, out
  assert out["global_diff"] > 0.1, out  # SyncBN (the default) would differ
