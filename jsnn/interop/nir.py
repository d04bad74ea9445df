r"""NIR (Neuromorphic Intermediate Representation) export and import of sequential jsnn models.

Needs the optional ``nir`` package (``pip install 'jsnn[interop]'``); ``import jsnn`` never imports
it. :func:`to_nir` turns a :class:`jsnn.interop.Sequential` (or ``nnx.Sequential``, or the zoo's
TET VGGSNN, ``jsnn.models.vggsnn``) of ``Conv``,
``Linear``, ``BatchNorm`` (folded), ``ConvNorm``, pooling, ``Flatten`` and ``SpikingNeuron`` layers
into a ``nir.NIRGraph``; :func:`from_nir` builds a :class:`jsnn.interop.Sequential` from any
sequential NIR graph (written by jsnn, snnTorch, Norse, Spyx, SpikingJelly, Sinabs, ...).

**Layouts.** NIR is channels-first: ``Conv2d`` weights ``OIHW``, neuron parameters ``(C, H, W)``,
``Flatten`` in ``(C, H, W)`` order, ``Affine``/``Linear`` weights ``(out, in)``. jsnn is
channels-last (``HWIO``, ``(H, W, C)``, kernels ``(in, out)``); the conversion transposes, and the
first ``Linear`` after an ``order="hwc"`` flatten has its columns permuted to NIR's order (and back
on import, when the ``Flatten`` node records its ``(C, H, W)`` input type; otherwise the imported
model flattens with ``order="chw"`` and uses the weights as written), so a round trip reproduces
the original layers bit for bit.

**Neurons** (forward Euler with step ``dt``, NIR's continuous LIF
:math:`\tau\dot v = (v_{leak} - v) + R I`; one step is
:math:`v \leftarrow v + \frac{dt}{\tau}(v_{leak} - v + R\,x)`):

======================================  ========================================================
jsnn neuron (discrete)                  NIR node (``v_leak = 0``, ``v_reset = 0`` throughout)
======================================  ========================================================
TET / SML decay LIF, ``v = λv + x``     ``LIF(tau = dt/(1-λ), r = 1/(1-λ))``
  (``λ = 1``)                           ``IF(r = 1/dt)``
SpikingJelly IF, ``v = v + x``          ``IF(r = 1/dt)``
SpikingJelly LIF, ``decay_input``       ``LIF(tau = τ·dt, r = 1)``
SpikingJelly LIF, no ``decay_input``    ``LIF(tau = τ·dt, r = τ)``
PLIF ``w``                              as LIF with ``τ = 1/sigmoid(w)``
threshold ``v_th``                      ``v_threshold = v_th``
======================================  ========================================================

The mapping is **lossless** (same spikes from the same inputs) when: the neuron resets hard to 0
(``v_reset=0.0``; TET/SML's multiplicative reset is that), the surrogate's forward is a Heaviside
step (every ``jsnn.surrogate`` family but ``MultiLevelSpikeCount``), and no potential equals the
threshold exactly (NIR fires on ``v > v_th``; families with ``strict=False`` fire on ``>=``, which
differs only on exact ties). Exported graphs carry jsnn metadata (``jsnn_step``, its static options,
the forward convention), so jsnn re-imports each neuron as the same step (bit-identical spikes);
other tools read the plain NIR fields. Constants round-trip through ``dt`` in float64.

**Refused** (``ValueError`` naming the layer and the nearest option): CLIF (a second state ``M``
NIR has no node for; nearest: ``jsnn.neurons.sj_lif(v_reset=0.0)``), a hard reset to a non-zero
value (SpikingJelly starts ``v`` at ``v_reset``, NIR simulators at 0; nearest: ``v_reset=0.0``),
soft reset (NIR 1.0 resets to ``v_reset``; nearest: ``v_reset=0.0``, or
``soft_reset="metadata"``, which writes ``v_reset = 0`` plus ``metadata["reset"] = "subtract"``
that only jsnn honours), a surrogate whose forward is not a Heaviside step, BatchNorm kinds
other than ``jsnn.nn.BatchNorm`` or one not preceded by a Conv/Linear, max pooling (no NIR
node), and unknown layers. Import refuses ``CubaLIF``, ``LI``, ``I``, ``Delay``, ``Scale``,
``Threshold``, recurrent or branching graphs, dilated / grouped convolutions and padded pooling.

References:
  Pedersen et al., *Neuromorphic intermediate representation: a unified instruction set for
  interoperable brain-inspired computing*, Nature Communications 2024 (``neuromorphs/NIR``).
"""

from __future__ import annotations

import functools
import json
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import jsnn.neurons as jneurons
import jsnn.nn as jn
import jsnn.surrogate as sg
from jsnn.interop._nir_neuron import NIRLIFParams, nir_lif, nir_lif_step
from jsnn.interop._sequential import AvgPool, Flatten, Sequential, SumPool
from jsnn.neurons import _papers, _spikingjelly

__all__ = ["to_nir", "from_nir", "SOFT_RESET_MODES"]

SOFT_RESET_MODES = ("error", "metadata")
_STEPS = {_papers.decay_lif_step: "decay_lif", _spikingjelly.if_step: "if",
          _spikingjelly.lif_step: "lif", _spikingjelly.plif_step: "plif", nir_lif_step: "nir_lif"}


def _nir():
  try:
    import nir  # pylint: disable=g-import-not-at-top
  except ImportError as e:  # pragma: no cover - the test extra installs nir
    raise ImportError("jsnn.interop.nir needs the optional 'nir' package: "
                      "pip install 'jsnn[interop]' (or pip install nir).") from e
  return nir


# ------------------------------------------------------------------------------------ layouts
def _to_chw(a: np.ndarray) -> np.ndarray:
  return np.transpose(a, (2, 0, 1)) if a.ndim == 3 else a


def _to_hwc(a: np.ndarray) -> np.ndarray:
  return np.transpose(a, (1, 2, 0)) if a.ndim == 3 else a


def _full(value, shape_hwc: tuple[int, ...]) -> np.ndarray:
  """A jsnn constant (scalar / per-channel / per-neuron) as a float64 NIR array ``(C, H, W)``."""
  a = np.asarray(jax.device_get(value), np.float64)
  return np.ascontiguousarray(_to_chw(np.broadcast_to(a, shape_hwc)))


def _vggsnn_layers(model) -> list:
  """TET's VGGSNN (``jsnn.models.vggsnn``) as the layer list its ``__call__`` runs."""
  out, units = [], iter(model.layers)
  for item in model.cfg:
    if item == "A":
      out.append(AvgPool(2))
    else:
      unit = next(units)
      out += [unit.cn, unit.sn]
  return out + [Flatten("hwc"), model.classifier]


def _layers(model) -> list:
  if type(model).__module__ == "jsnn.models.vggsnn":
    return [x for layer in _vggsnn_layers(model) for x in _layers(Sequential(layer))]
  layers = getattr(model, "layers", None)
  if layers is None:
    raise TypeError(f"to_nir: expected a jsnn.interop.Sequential, nnx.Sequential or "
                    f"jsnn.models.vggsnn model, got {type(model).__name__}; wrap the layers in "
                    "jsnn.interop.Sequential(...) (residual zoo models are not sequential).")
  out = []
  for layer in layers:
    if type(layer).__name__ == "ConvNorm" and hasattr(layer, "conv") and hasattr(layer, "bn"):
      out += [layer.conv, layer.bn]
    else:
      out.append(layer)
  return out


# ------------------------------------------------------------------------------------ neurons
def _forward_strict(spike_fn, where: str) -> bool:
  base = sg.heaviside_family(spike_fn)
  if base is not None:
    return bool(base.strict)
  base = getattr(spike_fn, "base", spike_fn)   # jsnn.transforms.ParametricSurrogate wraps a family
  raise ValueError(f"{where}: the surrogate {type(base).__name__} has a forward that is not a "
                   "Heaviside step, which NIR neurons (spike when v > v_threshold) cannot express; "
                   "nearest option: a Heaviside family such as jsnn.surrogate.Triangle().")


def _split_step(step):
  if isinstance(step, functools.partial):
    return step.func, dict(step.keywords)
  return step, {}


def _neuron_node(layer: jn.SpikingNeuron, shape: tuple[int, ...], dt: float, soft_reset: str,
                 where: str):
  nir = _nir()
  base, static = _split_step(layer.step)
  kind = _STEPS.get(base)
  name = getattr(base, "__name__", repr(base))
  if base is _papers.clif_step:
    raise ValueError(f"{where}: CLIF (clif_step) keeps a complementary potential M that no NIR "
                     "node expresses; nearest NIR-expressible neuron: jsnn.neurons.sj_lif(tau=2.0, "
                     "v_reset=0.0) (LIF with hard reset); fine-tune with it before exporting.")
  if kind is None:
    raise ValueError(f"{where}: neuron step {name} has no NIR counterpart; supported: "
                     f"{sorted(_STEPS.values())} (jsnn.neurons.tet_lif, sml_lif, sj_if, sj_lif, "
                     "sj_plif, adali_* with soft_reset='metadata').")
  p = layer.neuron.params._asdict()
  strict = _forward_strict(layer.spike_fn, where)
  meta = {"jsnn_step": kind, "jsnn_static": json.dumps(static, sort_keys=True),
          "jsnn_strict": int(strict)}
  v_reset = p.get("v_reset", 0.0)
  if v_reset is None:
    if soft_reset == "error":
      raise ValueError(
          f"{where}: {name} uses soft reset (v_reset=None, subtract v_th); NIR 1.0 neurons reset "
          "to v_reset. Nearest NIR neuron: the same one with v_reset=0.0 (hard reset), or "
          "to_nir(..., soft_reset='metadata'), which writes v_reset=0 and metadata "
          "reset='subtract' that jsnn.interop.from_nir honours and other NIR tools ignore.")
    meta["reset"] = "subtract"
    v_reset = 0.0
  elif kind != "nir_lif" and np.any(np.asarray(jax.device_get(v_reset)) != 0):
    raise ValueError(f"{where}: {name} resets hard to v_reset={v_reset} != 0; SpikingJelly starts "
                     "v at v_reset but NIR simulators start at 0, so the graph would not be "
                     "lossless. Nearest option: v_reset=0.0 (or soft reset with "
                     "soft_reset='metadata').")
  v_th = _full(p["v_th"], shape)
  zeros = np.zeros_like(v_th)
  v_reset = _full(v_reset, shape)
  if kind == "decay_lif":
    lam = _full(p["decay"], shape)
    if np.all(lam == 1.0):
      return nir.IF(r=np.full_like(v_th, 1.0 / dt), v_threshold=v_th, v_reset=v_reset,
                    metadata=meta)
    if np.any(lam < 0) or np.any(lam >= 1):
      raise ValueError(f"{where}: decay must lie in [0, 1) for a NIR LIF (or be exactly 1, an IF), "
                       f"got values in [{lam.min()}, {lam.max()}].")
    return nir.LIF(tau=dt / (1.0 - lam), r=1.0 / (1.0 - lam), v_leak=zeros, v_threshold=v_th,
                   v_reset=v_reset, metadata=meta)
  if kind == "if":
    return nir.IF(r=np.full_like(v_th, 1.0 / dt), v_threshold=v_th, v_reset=v_reset, metadata=meta)
  if kind in ("lif", "plif"):
    if kind == "lif":
      tau = _full(p["tau"], shape)
    else:
      w = _full(p["w"], shape)
      tau = 1.0 + np.exp(-w)               # 1 / sigmoid(w)
      meta["jsnn_w"] = np.ascontiguousarray(w)
    r = np.ones_like(tau) if static.get("decay_input", True) else tau
    return nir.LIF(tau=tau * dt, r=r, v_leak=zeros, v_threshold=v_th, v_reset=v_reset,
                   metadata=meta)
  leak, gain = _full(p["leak"], shape), _full(p["gain"], shape)
  v_leak = _full(p["v_leak"], shape)
  if np.all(leak == 0):
    return nir.IF(r=gain / dt, v_threshold=v_th, v_reset=v_reset, metadata=meta)
  return nir.LIF(tau=dt / leak, r=gain / leak, v_leak=v_leak, v_threshold=v_th,
                 v_reset=v_reset, metadata=meta)


# ------------------------------------------------------------------------------------ export
def _bn_fold(bn: jn.BatchNorm):
  """``(s, b)`` with ``BN(y) = y·s + b`` in eval mode (float64)."""
  g = lambda v: np.asarray(jax.device_get(v[...]), np.float64)
  s = g(bn.scale) / np.sqrt(g(bn.var) + bn.epsilon)
  return s, g(bn.bias) - g(bn.mean) * s


def to_nir(model, input_shape, *, dt: float = 1.0, soft_reset: str = "error"):
  """Exports a sequential spiking model to a ``nir.NIRGraph`` (see the module docstring).

  Args:
    model: a :class:`jsnn.interop.Sequential` (or ``nnx.Sequential``, or a
      ``jsnn.models.vggsnn`` model, TET's VGGSNN) of ``jsnn.nn.Conv``,
      ``Linear``, ``BatchNorm`` (folded into the preceding Conv/Linear with its running
      statistics, i.e. eval mode), ``jsnn.models.ConvNorm``, ``AvgPool`` / ``SumPool``,
      ``Flatten`` and ``SpikingNeuron`` layers. A trailing Linear is the (non-spiking) readout.
    input_shape: per-sample input shape in jsnn's layout, ``(H, W, C)`` or ``(F,)``.
    dt: the time step the continuous NIR constants refer to (``tau`` in units of ``dt``).
    soft_reset: ``"error"`` (default) or ``"metadata"`` (see the module docstring).

  Returns:
    A ``nir.NIRGraph`` with nodes ``"input"``, ``"0"``, ``"1"``, ... and ``"output"`` in a chain.

  Raises:
    ValueError: an unsupported layer or neuron (the message names the layer and the nearest
      option), or a bad ``soft_reset`` / ``dt``.
    TypeError: ``model`` is not a sequential container.
  """
  nir = _nir()
  if soft_reset not in SOFT_RESET_MODES:
    raise ValueError(f"to_nir: soft_reset must be one of {SOFT_RESET_MODES}, got {soft_reset!r}.")
  if not dt > 0:
    raise ValueError(f"to_nir: dt must be > 0, got {dt}.")
  shape = tuple(int(d) for d in input_shape)
  nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array(_to_chw_shape(shape))})}
  order: list[str] = []
  flat_from: tuple[tuple[int, ...], str] | None = None
  supported = (jn.Conv, jn.Linear, jn.BatchNorm, Flatten, AvgPool, SumPool, jn.SpikingNeuron)
  for i, layer in enumerate(_layers(model)):
    where = f"to_nir: layer {i} ({type(layer).__name__})"
    if not isinstance(layer, supported):
      raise ValueError(f"{where}: no NIR node for this layer; supported: jsnn.nn.Conv, Linear, "
                       "BatchNorm (folded), SpikingNeuron, jsnn.models.ConvNorm, "
                       "jsnn.interop.AvgPool / SumPool / Flatten (max pooling has no NIR node: "
                       "nearest option AvgPool; Dropout: leave it out of the exported stack).")
    out = shape if isinstance(layer, jn.BatchNorm) else jax.eval_shape(
        layer, jax.ShapeDtypeStruct((1, 1) + shape, jnp.float32)).shape[2:]
    name = str(len(order))
    if isinstance(layer, jn.BatchNorm):
      if type(layer) is not jn.BatchNorm:
        raise ValueError(f"{where}: only jsnn.nn.BatchNorm (time-merged) folds into an affine map; "
                         f"nearest option: train with norm='time_merged'.")
      prev = nodes[order[-1]] if order else None
      if not isinstance(prev, (nir.Conv2d, nir.Affine, nir.Linear)):
        raise ValueError(f"{where}: NIR has no BatchNorm node and this one does not follow a "
                         "Conv/Linear it could be folded into; nearest option: put it after one.")
      s, b = _bn_fold(layer)
      w = prev.weight * s.reshape((-1,) + (1,) * (prev.weight.ndim - 1))
      bias = (prev.bias if hasattr(prev, "bias") else 0.0) * s + b
      nodes[order[-1]] = (nir.Conv2d(input_shape=prev.input_shape, weight=w, stride=prev.stride,
                                     padding=prev.padding, dilation=1, groups=1, bias=bias)
                          if isinstance(prev, nir.Conv2d) else nir.Affine(weight=w, bias=bias))
      shape = out
      continue
    if isinstance(layer, jn.Conv):
      k = np.asarray(jax.device_get(layer.conv.kernel[...]), np.float64)
      b = (np.zeros(k.shape[-1]) if layer.conv.bias is None
           else np.asarray(jax.device_get(layer.conv.bias[...]), np.float64))
      nodes[name] = nir.Conv2d(input_shape=shape[:2], weight=np.transpose(k, (3, 2, 0, 1)),
                               stride=tuple(layer.strides),
                               padding=tuple(p[0] for p in layer.padding), dilation=1, groups=1,
                               bias=b)
    elif isinstance(layer, jn.Linear):
      lin = layer.linear
      w = np.asarray(jax.device_get(lin.kernel[...]), np.float64).T
      if flat_from is not None and flat_from[1] == "hwc" and len(flat_from[0]) == 3:
        h, wd, c = flat_from[0]
        w = w.reshape(-1, h, wd, c).transpose(0, 3, 1, 2).reshape(w.shape[0], -1)
      nodes[name] = (nir.Linear(weight=w) if lin.bias is None else nir.Affine(
          weight=w, bias=np.asarray(jax.device_get(lin.bias[...]), np.float64)))
    elif isinstance(layer, Flatten):
      nodes[name] = nir.Flatten(input_type={"input": np.array(_to_chw_shape(shape))}, start_dim=0,
                                end_dim=-1)
      flat_from = (shape, layer.order)
      order.append(name)
      shape = out
      continue
    elif isinstance(layer, (AvgPool, SumPool)):
      k = _pair(layer.kernel_size)
      node_cls = nir.AvgPool2d if isinstance(layer, AvgPool) else nir.SumPool2d
      nodes[name] = node_cls(kernel_size=np.array(k), stride=np.array(_pair(layer.stride)),
                             padding=np.array([0, 0]))
    else:
      nodes[name] = _neuron_node(layer, shape, dt, soft_reset, where)
    flat_from = None if not isinstance(layer, jn.SpikingNeuron) else flat_from
    order.append(name)
    shape = out
  nodes["output"] = nir.Output(output_type={"output": np.array(_to_chw_shape(shape))})
  chain = ["input"] + order + ["output"]
  return nir.NIRGraph(nodes=nodes, edges=list(zip(chain[:-1], chain[1:])),
                      metadata={"source": "jsnn", "dt": float(dt)})


def _to_chw_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
  return (shape[2], shape[0], shape[1]) if len(shape) == 3 else tuple(shape)


def _pair(v) -> tuple[int, int]:
  a = np.atleast_1d(np.asarray(v)).astype(int).tolist()
  return (a[0], a[0]) if len(a) == 1 else (a[0], a[1])


# ------------------------------------------------------------------------------------ import
def _meta(node) -> dict[str, Any]:
  out = {}
  for k, v in (getattr(node, "metadata", None) or {}).items():
    v = v.decode() if isinstance(v, bytes) else v
    v = v.item() if isinstance(v, np.ndarray) and v.ndim == 0 else v
    out[k] = v.decode() if isinstance(v, bytes) else v
  return out


def _const(a, *, scalar_ok: bool = True):
  """NIR ``(C, H, W)`` array -> a Python float (all equal) or a jsnn ``(H, W, C)`` array."""
  a = np.asarray(a, np.float64)
  if scalar_ok and a.size and np.all(a == a.flat[0]):
    return float(a.flat[0])
  return jnp.asarray(_to_hwc(a), jnp.float32)


def _chain(graph, nir) -> list[str]:
  succ: dict[str, list[str]] = {}
  for a, b in graph.edges:
    succ.setdefault(a, []).append(b)
  inputs = [k for k, v in graph.nodes.items() if isinstance(v, nir.Input)]
  if len(inputs) != 1:
    raise ValueError(f"from_nir: expected one Input node, got {inputs}.")
  names, cur, seen = [], inputs[0], set()
  while True:
    nxt = succ.get(cur, [])
    if len(nxt) != 1:
      if not nxt and isinstance(graph.nodes[cur], nir.Output):
        return names
      raise ValueError(f"from_nir: only sequential graphs are supported; node {cur!r} has "
                       f"{len(nxt)} successors {nxt} (branches, recurrence and residual adds are "
                       "not imported).")
    cur = nxt[0]
    if cur in seen:
      raise ValueError(f"from_nir: the graph has a cycle through {cur!r} (recurrent NIR subgraphs "
                       "are not imported).")
    seen.add(cur)
    if not isinstance(graph.nodes[cur], nir.Output):
      names.append(cur)


def _import_neuron(node, dt: float, spike_fn, where: str, nir) -> jn.SpikingNeuron:
  meta = _meta(node)
  strict = bool(meta.get("jsnn_strict", 1))
  spike_fn = spike_fn if spike_fn is not None else sg.Triangle(gamma=1.0, strict=strict)
  subtract = meta.get("reset") == "subtract"
  v_th = _const(node.v_threshold)
  v_reset = None if subtract else _const(node.v_reset)
  kind = meta.get("jsnn_step")
  static = json.loads(meta.get("jsnn_static", "{}"))
  if isinstance(node, nir.IF):
    gain = _const(np.asarray(node.r) * dt)
    if kind in ("decay_lif", "if") and gain == 1.0 and (subtract or v_reset == 0.0):
      if kind == "decay_lif":
        neuron = jneurons.Neuron(_bound(_papers.decay_lif_step, static),
                                 _papers.DecayLIFParams(1.0, v_th), spike_fn, _papers.zero_init)
      else:
        neuron = jneurons.sj_if(v_th=v_th, v_reset=v_reset, spike_fn=spike_fn, **static)
      return jn.SpikingNeuron(neuron)
    if kind is None and gain == 1.0 and v_reset == 0.0:
      return jn.SpikingNeuron(jneurons.sj_if(v_th=v_th, v_reset=0.0, spike_fn=spike_fn))
    return jn.SpikingNeuron(nir_lif(NIRLIFParams(0.0, gain, 0.0, v_th, v_reset), spike_fn))
  tau, r = np.asarray(node.tau, np.float64), np.asarray(node.r, np.float64)
  v_leak = np.asarray(node.v_leak, np.float64)
  leak, gain = dt / tau, dt * r / tau
  if kind == "decay_lif":
    neuron = jneurons.Neuron(_bound(_papers.decay_lif_step, static),
                             _papers.DecayLIFParams(_const(1.0 - leak), v_th), spike_fn,
                             _papers.zero_init)
  elif kind == "lif":
    neuron = jneurons.sj_lif(tau=_const(tau / dt), v_th=v_th, v_reset=v_reset, spike_fn=spike_fn,
                             **static)
  elif kind == "plif" and "jsnn_w" in meta:
    w = _const(np.asarray(meta["jsnn_w"], np.float64))
    neuron = jneurons.Neuron(_bound(_spikingjelly.plif_step, static),
                             _spikingjelly.PLIFParams(w, v_th, v_reset), spike_fn,
                             _spikingjelly.lif_init)
  elif kind is None and np.all(v_leak == 0) and np.allclose(gain, 1.0, rtol=1e-9, atol=0) and (
      v_reset == 0.0):
    # snnTorch / Spyx / TET form v <- beta*v + x with beta = 1 - dt/tau
    neuron = jneurons.Neuron(_papers.decay_lif_step, _papers.DecayLIFParams(_const(1.0 - leak),
                                                                            v_th),
                             spike_fn, _papers.zero_init)
  else:
    neuron = nir_lif(NIRLIFParams(_const(leak), _const(gain), _const(v_leak), v_th, v_reset),
                     spike_fn)
  return jn.SpikingNeuron(neuron)


def _bound(step, static: dict):
  return functools.partial(step, **static) if static else step


def from_nir(graph, *, dt: float | None = None, spike_fn: Any = None,
             rngs: nnx.Rngs | None = None) -> Sequential:
  """Builds a :class:`jsnn.interop.Sequential` that runs a sequential NIR graph with jsnn's scan.

  Args:
    graph: a ``nir.NIRGraph`` (from :func:`to_nir`, ``nir.read`` or another library) whose nodes
      form one chain ``Input -> ... -> Output``.
    dt: the simulation step; default the graph's ``metadata["dt"]`` (jsnn exports) or 1.0.
    spike_fn: the surrogate of every imported neuron (for training on); default
      ``jsnn.surrogate.Triangle(gamma=1.0)`` with NIR's strict ``v > v_threshold`` forward (or the
      forward convention a jsnn export recorded).
    rngs: NNX streams for building the layers (their weights are then overwritten).

  Returns:
    The model, ``[T, B, H, W, C]`` (or ``[T, B, F]``) -> ``[T, B, ...]`` (spikes, or the readout's
    values when the graph ends with an affine node).

  Raises:
    ValueError: an unsupported node (the message names it and the nearest supported one), a
      branching or recurrent graph, dilated / grouped convolutions, padded pooling.
  """
  nir = _nir()
  dt = float(_meta(graph).get("dt", 1.0)) if dt is None else float(dt)
  rngs = nnx.Rngs(0) if rngs is None else rngs
  layers, flat_chw = [], None
  for name in _chain(graph, nir):
    node = graph.nodes[name]
    where = f"from_nir: node {name!r} ({type(node).__name__})"
    if isinstance(node, nir.Conv2d):
      layers.append(_import_conv(node, where, rngs))
    elif isinstance(node, (nir.Affine, nir.Linear)):
      w = np.asarray(node.weight)
      if flat_chw is not None:   # NIR flattens (C, H, W); jsnn's flatten is (H, W, C)
        c, h, wd = flat_chw
        w = w.reshape(w.shape[0], c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)
        flat_chw = None
      bias = getattr(node, "bias", None)
      lin = jn.Linear(w.shape[1], w.shape[0], use_bias=bias is not None, rngs=rngs)
      lin.linear.kernel[...] = jnp.asarray(w.T, jnp.float32)
      if bias is not None:
        lin.linear.bias[...] = jnp.asarray(np.broadcast_to(bias, (w.shape[0],)), jnp.float32)
      layers.append(lin)
    elif isinstance(node, nir.Flatten):
      shape = node.input_type.get("input")
      if shape is not None and len(shape) == 3 and node.start_dim in (0, -3) and (
          node.end_dim in (-1, 2)):
        flat_chw = tuple(int(d) for d in shape)
        layers.append(Flatten("hwc"))
      else:
        layers.append(Flatten("chw"))
    elif isinstance(node, (nir.AvgPool2d, nir.SumPool2d)):
      if np.any(np.asarray(node.padding) != 0):
        raise ValueError(f"{where}: padded pooling is not supported; nearest option: padding 0.")
      cls = AvgPool if isinstance(node, nir.AvgPool2d) else SumPool
      layers.append(cls(_pair(node.kernel_size), _pair(node.stride)))
    elif isinstance(node, (nir.LIF, nir.IF)):
      layers.append(_import_neuron(node, dt, spike_fn, where, nir))
    elif isinstance(node, nir.CubaLIF):
      raise ValueError(f"{where}: current-based LIF (a synaptic current state) is not supported; "
                       "nearest option: nir.LIF (tau_syn -> 0).")
    else:
      raise ValueError(f"{where}: no jsnn layer for this node; supported: Conv2d, Affine, Linear, "
                       "Flatten, AvgPool2d, SumPool2d, LIF, IF (nearest for LI / I readouts: an "
                       "Affine readout).")
  return Sequential(*layers)


def _import_conv(node, where: str, rngs: nnx.Rngs) -> jn.Conv:
  w = np.asarray(node.weight)
  if np.any(np.asarray(node.dilation) != 1) or int(node.groups) != 1:
    raise ValueError(f"{where}: dilation {node.dilation} / groups {node.groups} are not supported; "
                     "nearest option: dilation=1, groups=1.")
  kh, kw = w.shape[2], w.shape[3]
  if isinstance(node.padding, str):
    if node.padding == "same" and (kh % 2 == 0 or kw % 2 == 0):
      raise ValueError(f"{where}: padding='same' with an even kernel is asymmetric; nearest "
                       "option: explicit integer padding.")
    padding = (kh // 2, kw // 2) if node.padding == "same" else (0, 0)
  else:
    padding = _pair(node.padding)
  conv = jn.Conv(w.shape[1], w.shape[0], (kh, kw), stride=_pair(node.stride), padding=padding,
                 use_bias=True, rngs=rngs)
  conv.conv.kernel[...] = jnp.asarray(np.transpose(w, (2, 3, 1, 0)), jnp.float32)
  bias = np.zeros(w.shape[0]) if node.bias is None else np.broadcast_to(node.bias, (w.shape[0],))
  conv.conv.bias[...] = jnp.asarray(bias, jnp.float32)
  return conv
