r"""Data parallelism with ``jax.sharding``: one mesh axis ``data``, batch ``P('data')``.

The same code runs on 1 CPU, N GPUs, a TPU host and many hosts:

* :func:`make_mesh` builds ``Mesh(devices, ("data",))`` over **all** devices (of all processes).
  ``jax.sharding.Mesh`` gives ``Auto`` axes, so XLA's GSPMD partitioner inserts the collectives
  (``jax.make_mesh`` defaults to ``Explicit`` axes in JAX 0.10, which we do not want here).
* The batch is sharded along its **batch axis**, which the data declares per key
  (``TrainData.batch_axes``, e.g. ``{"frames": 1}`` for time-major ``[T, B, ...]`` frames; default
  0): :func:`batch_spec` gives ``P('data')`` for axis 0 and ``P(None, 'data')`` for axis 1, so time
  is never split across devices and ``T`` need not divide the device count. Each process
  contributes its own rows with :func:`global_batch` (``jax.make_array_from_process_local_data``
  with the global shape grown along that axis only).
* The state is replicated (``P()``), or FSDP-sharded (:func:`fsdp_spec`: each large leaf's
  largest axis divisible by the device count is split over ``data``) with ``sharding.mode="fsdp"``.
* The step is ``jax.jit(..., in_shardings, out_shardings, donate_argnums=0)``. Reductions over the
  batch axis (the loss mean, gradient sums, **BatchNorm statistics**) are computed over the global
  batch, exactly as on one device (cross-device SyncBN for free).

**Why not ``pmap``.** ``jax.pmap``'s docstring calls it the "old way of doing parallel map" and it
is now implemented on top of ``jit`` + ``shard_map``. It needs the batch reshaped to
``[devices, per_device, ...]``, explicit ``pmean`` of gradients and of BatchNorm statistics, a
replicated copy of the state per device (``device_put_replicated`` was removed in JAX 0.10), and
it cannot express FSDP or multi-axis meshes. With ``jit`` + ``NamedSharding`` the step is written
for one device and the partitioner does the rest; the same program scales from a laptop to a pod.
On this repo's 2-core CPU machine, ``shard_map``/``pmap`` loops on fake devices also deadlocked
intermittently, while ``jit`` + ``NamedSharding`` never did (platform notes §2).

Multi-host: call :func:`maybe_initialize_distributed` (``config.multihost = True``) before any
other JAX call; each process then feeds ``batch_size / process_count`` rows per step.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

__all__ = ["DATA_AXIS", "SHARDING_MODES", "maybe_initialize_distributed", "make_mesh",
           "batch_spec", "batch_sharding", "batch_shardings", "replicated", "fsdp_spec",
           "state_shardings", "global_batch", "check_divisible"]

DATA_AXIS = "data"
SHARDING_MODES = ("replicate", "fsdp")


def maybe_initialize_distributed(multihost: bool) -> None:
  """``jax.distributed.initialize()`` once when ``multihost`` (cluster auto-detection: TPU pods,
  SLURM, ...). Must run before any other JAX computation; a no-op when already initialised."""
  if multihost and not jax.distributed.is_initialized():
    jax.distributed.initialize()


def make_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A 1-D mesh with axis ``data`` over ``devices`` (default: all devices of all processes)."""
  devices = jax.devices() if devices is None else list(devices)
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def batch_spec(axis: int = 0) -> P:
  """The partition of an array whose batch axis is ``axis``.

  Examples:
    >>> batch_spec(0), batch_spec(1)
    (P('data',), P(None, 'data'))
  """
  return P(*([None] * int(axis) + [DATA_AXIS]))


def batch_sharding(mesh: Mesh, axis: int = 0) -> NamedSharding:
  """Batch axis ``axis`` split over ``data``; other axes replicated."""
  return NamedSharding(mesh, batch_spec(axis))


def batch_shardings(mesh: Mesh, batch_axes: Mapping[str, int] | None = None
                    ) -> Callable[[Mapping[str, Any]], dict[str, NamedSharding]]:
  """``batch -> {key: NamedSharding}`` from the declared batch axes (missing keys: axis 0)."""
  axes = dict(batch_axes or {})

  def shardings(batch: Mapping[str, Any]) -> dict[str, NamedSharding]:
    return {k: batch_sharding(mesh, axes.get(k, 0)) for k in batch}

  return shardings


def replicated(mesh: Mesh) -> NamedSharding:
  """Fully replicated over the mesh."""
  return NamedSharding(mesh, P())


def fsdp_spec(shape: Sequence[int], num_shards: int, *, min_size: int = 2**12) -> P:
  """The FSDP partition of one leaf: its largest axis divisible by ``num_shards`` over ``data``.

  Leaves smaller than ``min_size`` elements, scalars and leaves with no divisible axis stay
  replicated (sharding them costs more in collectives than it saves in memory). Ties go to the
  last axis (the output features of a kernel).

  Examples:
    >>> fsdp_spec((3, 3, 64, 128), 8)
    P(None, None, None, 'data')
    >>> fsdp_spec((10,), 8)
    P()
  """
  shape = tuple(shape)
  if num_shards <= 1 or int(np.prod(shape, dtype=np.int64)) < min_size:
    return P()
  candidates = [(size, axis) for axis, size in enumerate(shape) if size % num_shards == 0]
  if not candidates:
    return P()
  _, axis = max(candidates)
  return P(*([None] * axis + [DATA_AXIS]))


def state_shardings(state: Any, mesh: Mesh, mode: str = "replicate", *,
                    fsdp_min_size: int = 2**12) -> Any:
  """A pytree of ``NamedSharding`` matching ``state`` (inferred from shapes, as big_vision).

  Args:
    state: a pytree of arrays or ``jax.ShapeDtypeStruct`` (e.g. a ``TrainState``).
    mesh: from :func:`make_mesh`.
    mode: "replicate" (every leaf ``P()``) or "fsdp" (:func:`fsdp_spec` per leaf; optimiser
      moments follow their parameters because they have the same shapes).
    fsdp_min_size: see :func:`fsdp_spec`.

  Raises:
    ValueError: unknown ``mode``.
  """
  if mode not in SHARDING_MODES:
    raise ValueError(f"unknown sharding mode {mode!r}; expected one of {SHARDING_MODES}.")
  num = mesh.shape[DATA_AXIS]

  def spec(x):
    if mode == "replicate":
      return replicated(mesh)
    return NamedSharding(mesh, fsdp_spec(np.shape(x), num, min_size=fsdp_min_size))

  return jax.tree.map(spec, state)


def global_batch(local_batch: Any, sharding: NamedSharding | Mapping[str, NamedSharding]) -> Any:
  """Assembles each process's rows into global arrays sharded along their batch axis.

  Every process passes its own numpy rows (``batch_size / process_count`` along the batch axis,
  the axis where the sharding's spec names ``data``); the global shape grows along that axis only
  (never along ``T`` of a time-major ``[T, B, ...]`` array). On one process this is a
  ``device_put`` with the batch sharding.

  Args:
    local_batch: a pytree (a dict for per-key shardings) of host arrays.
    sharding: one ``NamedSharding`` for every leaf, or a dict of them keyed like ``local_batch``.
  """
  def put(x, sh):
    x = np.asarray(x)
    spec = tuple(sh.spec)
    axis = spec.index(DATA_AXIS) if DATA_AXIS in spec else 0
    shape = list(x.shape)
    shape[axis] *= jax.process_count()
    return jax.make_array_from_process_local_data(sh, x, tuple(shape))

  if isinstance(sharding, NamedSharding):
    return jax.tree.map(lambda x: put(x, sharding), local_batch)
  return {k: jax.tree.map(lambda x, k=k: put(x, sharding[k]), v) for k, v in local_batch.items()}


def check_divisible(name: str, batch_size: int, mesh: Mesh) -> None:
  """``ValueError`` unless ``batch_size`` splits evenly over the devices and the processes."""
  devices, processes = mesh.devices.size, jax.process_count()
  if batch_size % devices:
    raise ValueError(f"{name}={batch_size} is not divisible by the number of devices "
                     f"({devices}); use a multiple of {devices}.")
  if batch_size % processes:
    raise ValueError(f"{name}={batch_size} is not divisible by the number of processes "
                     f"({processes}).")
