r"""Synaptic operations and an energy estimate for any ``nnx`` model on a batch, as a paper table.

Why here: it answers the question a network faces on its way to neuromorphic hardware (next to the
NIR export), it needs nothing but jax and flax, and it counts from a real forward pass of any model.

For every ``jsnn.nn.Conv`` / ``jsnn.nn.Linear`` (and plain ``nnx.Conv`` / ``nnx.Linear``) call of
one forward pass, per sample (averaged over the batch) and summed over all time steps:

* **dense MACs** :math:`= |y| \cdot \mathrm{fan\_in}` (``fan_in = kh·kw·C_in`` or ``F_in``): what a
  multiply-accumulate (ANN-style) execution of the same layer costs;
* **spiking input** (every input value is 0 or 1): **ACs** (accumulates) = the exact number of
  synaptic events, :math:`\sum_{\text{outputs}} \#\{\text{non-zero inputs in the receptive
  field}\}`, i.e. each input spike times its fan-out (:math:`\approx` firing rate :math:`\times`
  dense MACs; exact at the borders too), and no MACs;
* **analog input** (e.g. the first layer on pixels, or a readout on membrane values): all dense
  MACs, no ACs.

Energy :math:`E = E_{AC}\cdot\mathrm{ACs} + E_{MAC}\cdot\mathrm{MACs}` with the conventional 45 nm
figures of Horowitz (ISSCC 2014) for 32-bit floats, :data:`E_AC_PJ` = 0.9 pJ per accumulate and
:data:`E_MAC_PJ` = 4.6 pJ per multiply-accumulate (both overridable). Bias additions, norms,
pooling and neuron updates are not counted (the usual convention of the SNN papers).

Run it eagerly (not under ``jit``) on a model without ``remat="layer"``, from one thread (the layer
classes are wrapped for the duration of the call); call ``model.eval()``
first for inference figures.

References:
  M. Horowitz, *Computing's energy problem (and what we can do about it)*, ISSCC 2014.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import jsnn.nn as jn

__all__ = ["E_AC_PJ", "E_MAC_PJ", "LayerOps", "SynOpsReport", "synops"]

E_AC_PJ = 0.9    # pJ per 32-bit float accumulate, 45 nm (Horowitz 2014)
E_MAC_PJ = 4.6   # pJ per 32-bit float multiply-accumulate, 45 nm (Horowitz 2014)


@dataclasses.dataclass(frozen=True)
class LayerOps:
  """One layer's operations per sample (summed over time steps and calls).

  Attributes:
    name: the module path in the model (e.g. ``blocks.0.cn1.conv``).
    kind: ``"conv"`` or ``"linear"``.
    spiking_input: every input value was 0 or 1.
    input_rate: fraction of non-zero inputs (the firing rate for spiking inputs).
    dense_macs: multiply-accumulates of a dense execution.
    acs: accumulates (synaptic events) when the input is spiking, else 0.
    macs: multiply-accumulates when the input is analog, else 0.
  """

  name: str
  kind: str
  spiking_input: bool
  input_rate: float
  dense_macs: float
  acs: float
  macs: float

  def energy_pj(self, e_ac: float = E_AC_PJ, e_mac: float = E_MAC_PJ) -> float:
    """``e_ac·acs + e_mac·macs`` in pJ."""
    return e_ac * self.acs + e_mac * self.macs


@dataclasses.dataclass(frozen=True)
class SynOpsReport:
  """Per-layer operations, totals and energy of one forward pass (per sample).

  Attributes:
    layers: the :class:`LayerOps`, in call order.
    batch_size: the number of samples the counts were averaged over.
    e_ac_pj, e_mac_pj: the energy constants used (pJ).
  """

  layers: tuple[LayerOps, ...]
  batch_size: int
  e_ac_pj: float = E_AC_PJ
  e_mac_pj: float = E_MAC_PJ

  @property
  def acs(self) -> float:
    """Total accumulates per sample."""
    return float(sum(l.acs for l in self.layers))

  @property
  def macs(self) -> float:
    """Total multiply-accumulates per sample."""
    return float(sum(l.macs for l in self.layers))

  @property
  def dense_macs(self) -> float:
    """Total dense MACs per sample (all layers as multiply-accumulates)."""
    return float(sum(l.dense_macs for l in self.layers))

  @property
  def energy_pj(self) -> float:
    """Estimated energy per sample in pJ."""
    return float(sum(l.energy_pj(self.e_ac_pj, self.e_mac_pj) for l in self.layers))

  def to_markdown(self) -> str:
    """A markdown table (one row per layer, then the total) to paste into a paper or README."""
    rows = ["| layer | input | rate | dense MACs | ACs | MACs | energy (µJ) |",
            "|---|---|---:|---:|---:|---:|---:|"]
    for l in self.layers:
      rows.append(f"| `{l.name}` | {'spikes' if l.spiking_input else 'analog'} | "
                  f"{l.input_rate:.4f} | {_fmt(l.dense_macs)} | {_fmt(l.acs)} | {_fmt(l.macs)} | "
                  f"{l.energy_pj(self.e_ac_pj, self.e_mac_pj) * 1e-6:.4f} |")
    rows.append(f"| **total** | | | {_fmt(self.dense_macs)} | {_fmt(self.acs)} | "
                f"{_fmt(self.macs)} | {self.energy_pj * 1e-6:.4f} |")
    rows.append("")
    rows.append(f"Per sample, summed over time steps; {self.batch_size} samples; "
                f"E_AC = {self.e_ac_pj} pJ, E_MAC = {self.e_mac_pj} pJ (45 nm, Horowitz 2014).")
    return "\n".join(rows)

  def __str__(self) -> str:
    return self.to_markdown()


def _fmt(v: float) -> str:
  for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
    if abs(v) >= scale:
      return f"{v / scale:.3f}{unit}"
  return f"{v:.1f}"


def _host(a: jax.Array, where: str) -> np.ndarray:
  if isinstance(a, jax.core.Tracer):
    raise ValueError(f"synops: layer {where} saw traced values; call synops outside jax.jit and on "
                     "a model built without remat='layer' (it counts on the host).")
  return np.asarray(jax.device_get(a))


def _conv_counts(kernel_hwio, strides, padding, x, y, where: str):
  x_np = _host(x, where)
  fan_in = int(math.prod(kernel_hwio.shape[:3]))
  dense = float(np.prod(y.shape)) * fan_in
  spiking = bool(np.all((x_np == 0) | (x_np == 1)))
  nz = x_np != 0
  if not spiking:
    return spiking, float(nz.mean()) if nz.size else 0.0, dense, 0.0
  mask = jnp.asarray(nz.reshape((-1,) + nz.shape[-3:]), jnp.float32)
  ones = jnp.ones(kernel_hwio.shape, jnp.float32)
  events = jax.lax.conv_general_dilated(mask, ones, strides, padding,
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))
  return spiking, float(nz.mean()), dense, float(np.asarray(events, np.float64).sum())


def _linear_counts(kernel, x, y, where: str):
  x_np = _host(x, where)
  dense = float(np.prod(y.shape)) * kernel.shape[0]
  spiking = bool(np.all((x_np == 0) | (x_np == 1)))
  nz = x_np != 0
  rate = float(nz.mean()) if nz.size else 0.0
  return spiking, rate, dense, float(nz.sum()) * kernel.shape[1] if spiking else 0.0


def _default_batch(x) -> int:
  shape = np.shape(x)
  return int(shape[1] if len(shape) in (3, 5) else shape[0])


@contextlib.contextmanager
def _patched(records: list, names: dict[int, str]):
  """Wraps the layers' ``__call__`` to record ``(name, kind, counts)``; restores them on exit."""
  depth = [0]
  originals: dict[type, Callable] = {}

  def wrap(cls, kind):
    orig = cls.__call__

    def call(self, x, *args, **kwargs):
      depth[0] += 1
      try:
        y = orig(self, x, *args, **kwargs)
      finally:
        depth[0] -= 1
      if depth[0] == 0:
        where = names.get(id(self), type(self).__name__)
        x = jnp.asarray(x)
        if kind == "conv":
          c = self.conv if isinstance(self, jn.Conv) else self
          strides = tuple(self.strides) if isinstance(self, jn.Conv) else tuple(c.strides)
          padding = (self.padding if isinstance(self, jn.Conv) else
                     tuple(tuple(p) for p in c.padding))
          counts = _conv_counts(c.kernel[...], strides, padding, x, y, where)
        else:
          c = self.linear if isinstance(self, jn.Linear) else self
          counts = _linear_counts(c.kernel[...], x, y, where)
        records.append((where, kind, counts))
      return y

    originals[cls] = orig
    cls.__call__ = call

  try:
    wrap(jn.Conv, "conv")
    wrap(jn.Linear, "linear")
    wrap(nnx.Conv, "conv")
    wrap(nnx.Linear, "linear")
    yield
  finally:
    for cls, orig in originals.items():
      cls.__call__ = orig


def synops(model: nnx.Module, x: Any, *, batch_size: int | None = None,
           e_ac_pj: float = E_AC_PJ, e_mac_pj: float = E_MAC_PJ, **call_kwargs) -> SynOpsReport:
  """Counts per-layer synaptic operations of ``model(x)`` (see the module docstring).

  Args:
    model: any ``nnx`` model whose weighted layers are ``jsnn.nn.Conv`` / ``Linear`` (or plain
      ``nnx.Conv`` / ``nnx.Linear``).
    x: one input batch, as the model takes it.
    batch_size: samples in ``x``; default ``x.shape[1]`` for time-major ``[T, B, H, W, C]`` /
      ``[T, B, F]`` inputs (rank 5 or 3), else ``x.shape[0]``.
    e_ac_pj, e_mac_pj: energy per accumulate / multiply-accumulate in pJ.
    **call_kwargs: passed to ``model(x, **call_kwargs)``.

  Returns:
    A :class:`SynOpsReport`; ``print(report)`` gives the markdown table.

  Raises:
    ValueError: the model counted no Conv/Linear layer, ``batch_size < 1``, or the forward pass
      ran under a transformation that traces the layers (``jit``, ``remat="layer"``).

  Examples:
    >>> import jax.numpy as jnp, jsnn
    >>> from flax import nnx
    >>> from jsnn.interop import Sequential, synops
    >>> net = Sequential(jsnn.nn.Linear(4, 3, rngs=nnx.Rngs(0)))
    >>> r = synops.synops(net, jnp.array([[[1.0, 0.0, 0.0, 1.0]]]))   # [T=1, B=1, F=4] spikes
    >>> r.acs, r.macs                                                  # 2 events x 3 targets
    (6.0, 0.0)
  """
  batch = _default_batch(x) if batch_size is None else int(batch_size)
  if batch < 1:
    raise ValueError(f"synops: batch_size must be >= 1, got {batch}.")
  names = {id(m): ".".join(str(p) for p in path) or type(m).__name__
           for path, m in nnx.iter_modules(model)}
  records: list = []
  with _patched(records, names):
    model(x, **call_kwargs)
  if not records:
    raise ValueError("synops: the forward pass called no jsnn.nn.Conv / Linear (or nnx.Conv / "
                     "Linear) layer; nothing to count.")
  merged: dict[str, list] = {}
  for where, kind, (spiking, rate, dense, acs) in records:
    m = merged.setdefault(where, [kind, True, [], 0.0, 0.0, 0.0])
    m[1] = m[1] and spiking
    m[2].append((rate, dense))
    m[3] += dense
    m[4] += acs if spiking else 0.0
    m[5] += 0.0 if spiking else dense
  layers = []
  for where, (kind, spiking, rates, dense, acs, macs) in merged.items():
    total = sum(d for _, d in rates)
    rate = sum(r * d for r, d in rates) / total if total else 0.0
    layers.append(LayerOps(where, kind, spiking, rate, dense / batch, acs / batch, macs / batch))
  return SynOpsReport(tuple(layers), batch, float(e_ac_pj), float(e_mac_pj))
