r"""PyTorch / SpikingJelly state dicts into jsnn models, and back, with every entry accounted for.

``load_state_dict(model, state_dict, mapping=...)`` copies a PyTorch ``state_dict`` (a dict of
arrays, an ``.npz``, a ``.safetensors`` file, or a ``.pt``/``.pth`` file when ``torch`` is
installed; ``torch`` is never imported otherwise) into an ``nnx`` model; :func:`to_state_dict`
writes the official names back, so jsnn-trained weights load into the official code with
``model.load_state_dict(sd, strict=True)``.

**Layouts** (PyTorch -> jsnn):

* ``Conv2d.weight`` ``(O, I, kh, kw)`` -> kernel ``(kh, kw, I, O)`` (HWIO);
* ``Linear.weight`` ``(out, in)`` -> kernel ``(in, out)``; the first Linear after a flatten also has
  its input features permuted from PyTorch's ``(c, h, w)`` order to jsnn's ``(h, w, c)``;
* ``BatchNorm.weight / bias / running_mean / running_var`` -> ``scale / bias / mean / var``;
  ``num_batches_tracked`` is accounted for but unused (jsnn's BN uses a fixed momentum, as PyTorch
  does unless ``momentum=None``); :func:`to_state_dict` writes it as 0;
* SpikingJelly ``ParametricLIFNode.w`` (and any learned neuron constant) -> the layer's ``consts``.

**Maps** (``mapping=``; default: chosen from the model's module):

====================  ============================================================================
name                  official code
====================  ============================================================================
``tet_resnet``        TET ``models/resnet_models.py`` ``resnet19`` (incl. the ``*_s`` / ``seqbn``
                      aliases its shared modules put in the state dict)
``tet_vggsnn``        TET ``models/VGG_models.py`` ``VGGSNN`` / ``VGGSNNwoAP``
``sml_resnet``        SML ``models/ResNet.py`` / ``ResNet19.py`` incl. ``ResNet_SB`` surrogate
                      modules (``sb_layers.i.convs`` / ``prediction``)
``clif_preact``       CLIF ``models/spiking_resnet.py`` ``PreActResNet``
``clif_vgg``          CLIF ``models/spiking_vgg_bn.py`` ``SpikingVGGBN``
``adali_resnet``      AdaLi ``models/resnet_cifar.py`` ``ResNet_Cifar``
``adali_dvsgesture``  AdaLi ``models/dvsgesturenet.py`` (SpikingJelly ``layer.*`` in ``conv_fc``)
``sequential``        an ``nn.Sequential`` of SpikingJelly ``layer.*`` / ``torch.nn`` modules, for a
                      :class:`jsnn.interop.Sequential` with the same layers (index ``i`` = layer
                      ``i``, including flatten / pooling / neurons)
====================  ============================================================================

A map is a function ``model -> list[Entry]``; pass your own for other code. A
``"module."`` prefix (``DataParallel`` checkpoints) is stripped, and a checkpoint dict holding the
weights under ``"state_dict"``, ``"model"`` or ``"net"`` is unwrapped.

**Checks.** Unmapped keys, missing keys, jsnn parameters the map does not cover, shape mismatches
and layout mistakes (an already-transposed kernel) raise one ``ValueError`` listing all of them;
aliases of one tensor must be equal. Nothing is modified unless everything checks out.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import jsnn.nn as jn
from jsnn.interop._sequential import Flatten, Sequential

__all__ = ["Entry", "MAPS", "read_state_dict", "load_state_dict", "to_state_dict",
           "state_dict_entries"]

LAYOUTS = ("conv", "linear", "vector", "scalar", "unused")


@dataclasses.dataclass(frozen=True)
class Entry:
  """One PyTorch tensor (under one or more alias keys) and where it lives in the jsnn model.

  Attributes:
    keys: the PyTorch key and its aliases (the same tensor under several module paths).
    path: attribute path of the jsnn variable (``("blocks", 0, "cn1", "conv", "conv", "kernel")``);
      empty for ``layout="unused"``.
    layout: ``"conv"`` (OIHW <-> HWIO), ``"linear"`` ((out, in) <-> (in, out)), ``"vector"`` /
      ``"scalar"`` (as is), ``"unused"`` (accounted for, not loaded: ``num_batches_tracked``).
    flatten_hwc: for a Linear after a flatten, the ``(h, w, c)`` shape that was flattened.
  """

  keys: tuple[str, ...]
  path: tuple = ()
  layout: str = "vector"
  flatten_hwc: tuple[int, int, int] | None = None


# ------------------------------------------------------------------------------------ reading
def read_state_dict(source: Any) -> dict[str, np.ndarray]:
  """A flat ``{name: numpy array}`` from a dict, ``.npz``, ``.safetensors`` or ``.pt`` / ``.pth``.

  Raises:
    ValueError: an unknown file extension (the message lists the supported ones).
    ImportError: a ``.safetensors`` / ``.pt`` file without ``safetensors`` / ``torch`` installed.
    FileNotFoundError: a path that does not exist.
  """
  if isinstance(source, (str, os.PathLike)):
    path = os.fspath(source)
    if not os.path.exists(path):
      raise FileNotFoundError(f"read_state_dict: no file {path!r}.")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
      with np.load(path, allow_pickle=False) as z:
        source = {k: z[k] for k in z.files}
    elif ext == ".safetensors":
      try:
        from safetensors.numpy import load_file  # pylint: disable=g-import-not-at-top
      except ImportError as e:
        raise ImportError("reading .safetensors needs the optional 'safetensors' package: pip "
                          "install 'jsnn[interop]'.") from e
      source = load_file(path)
    elif ext in (".pt", ".pth"):
      try:
        import torch  # pylint: disable=g-import-not-at-top
      except ImportError as e:
        raise ImportError(f"reading {ext} files needs torch, which jsnn does not depend on; "
                          "install torch, or convert once where torch is installed: "
                          "np.savez('w.npz', **{k: v.numpy() for k, v in sd.items()}) (or "
                          "safetensors.torch.save_file).") from e
      source = torch.load(path, map_location="cpu", weights_only=True)
    else:
      raise ValueError(f"read_state_dict: unknown extension {ext!r} of {path!r}; expected .npz, "
                       ".safetensors, .pt or .pth (or pass a dict of arrays).")
  if not isinstance(source, Mapping):
    raise TypeError(f"read_state_dict: expected a path or a mapping of arrays, got "
                    f"{type(source).__name__}.")
  for key in ("state_dict", "model", "net"):
    if key in source and isinstance(source[key], Mapping):
      source = source[key]
      break
  out = {}
  for k, v in source.items():
    v = v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)
    out[k[len("module."):] if k.startswith("module.") else k] = v
  return out


# ------------------------------------------------------------------------------------ entries
def _alias(prefixes, suffix: str) -> tuple[str, ...]:
  return tuple(f"{p}.{suffix}" if p else suffix for p in prefixes)


def conv_entries(prefixes, path: tuple, conv: jn.Conv) -> list[Entry]:
  """Entries of a ``jsnn.nn.Conv`` at ``path`` for a PyTorch ``Conv2d`` at ``prefixes``."""
  out = [Entry(_alias(prefixes, "weight"), path + ("conv", "kernel"), "conv")]
  if conv.conv.bias is not None:
    out.append(Entry(_alias(prefixes, "bias"), path + ("conv", "bias")))
  return out


def linear_entries(prefixes, path: tuple, lin: jn.Linear,
                   flatten_hwc: tuple[int, int, int] | None = None) -> list[Entry]:
  """Entries of a ``jsnn.nn.Linear`` for a PyTorch ``Linear`` (optionally after a flatten)."""
  out = [Entry(_alias(prefixes, "weight"), path + ("linear", "kernel"), "linear", flatten_hwc)]
  if lin.linear.bias is not None:
    out.append(Entry(_alias(prefixes, "bias"), path + ("linear", "bias")))
  return out


def bn_entries(prefixes, path: tuple) -> list[Entry]:
  """Entries of a ``jsnn.nn.BatchNorm`` (any kind) for a PyTorch ``BatchNorm{1,2}d``."""
  return [Entry(_alias(prefixes, "weight"), path + ("scale",)),
          Entry(_alias(prefixes, "bias"), path + ("bias",)),
          Entry(_alias(prefixes, "running_mean"), path + ("mean",)),
          Entry(_alias(prefixes, "running_var"), path + ("var",)),
          Entry(_alias(prefixes, "num_batches_tracked"), (), "unused")]


def neuron_entries(prefixes, path: tuple, sn: jn.SpikingNeuron | None) -> list[Entry]:
  """Entries of a spiking layer's learned constants (SpikingJelly names: ``w``, ``v_threshold``)."""
  if sn is None:
    return []
  names = {"w": "w", "v_th": "v_threshold", "tau": "tau"}
  out = []
  for name, value in sn.consts.items():
    if isinstance(value, nnx.Param):
      if prefixes is None:
        raise ValueError(f"{'.'.join(map(str, path))}: learned constant {name!r} has no "
                         "counterpart in the official model (it has no parameters there).")
      out.append(Entry(_alias(prefixes, names.get(name, name)), path + ("consts", name),
                       "scalar"))
  return out


def _convnorm(prefix_conv, prefix_bn, path, cn) -> list[Entry]:
  return conv_entries(prefix_conv, path + ("conv",), cn.conv) + bn_entries(prefix_bn,
                                                                         path + ("bn",))


def _hw(n_spatial: int, input_size) -> tuple[int, int]:
  h0, w0 = (input_size if input_size is not None else (1, 1))
  h = int(round(math.sqrt(n_spatial * h0 / w0)))
  return h, n_spatial // h


def _flat_shape(lin: jn.Linear, channels: int, input_size) -> tuple[int, int, int]:
  h, w = _hw(lin.in_features // channels, input_size)
  return (h, w, channels)


def _stages(blocks, has_proj: Callable) -> list[tuple[int, int]]:
  """``(stage, index)`` (1-based stage) per block; a projection shortcut starts a new stage."""
  out, s, j = [], 0, 0
  for k, b in enumerate(blocks):
    if k == 0 or has_proj(b):
      s, j = s + 1, 0
    out.append((s, j))
    j += 1
  return out


# ------------------------------------------------------------------------------------ maps
def tet_resnet(model) -> list[Entry]:
  """TET ``resnet19``: ``conv1``/``bn1`` (+ ``conv1_s`` aliases), ``layer{s}.{j}.*``, ``fc1``,
  ``fc2``."""
  td = lambda p: (f"{p}.bn", f"{p}.seqbn.module")
  e = _convnorm(("conv1", "conv1_s.layer.module"), td("bn1") + td("conv1_s.bn"), ("stem",),
                model.stem)
  for k, (s, j) in enumerate(_stages(model.blocks, lambda b: b.downsample is not None)):
    L, b, p = f"layer{s}.{j}", model.blocks[k], ("blocks", k)
    for i in (1, 2):
      e += _convnorm((f"{L}.conv{i}", f"{L}.conv{i}_s.layer.module"),
                     td(f"{L}.bn{i}") + td(f"{L}.conv{i}_s.bn"), p + (f"cn{i}",),
                     getattr(b, f"cn{i}"))
    if b.downsample is not None:
      e += _convnorm((f"{L}.downsample.layer.module",), td(f"{L}.downsample.bn"),
                     p + ("downsample",), b.downsample)
  if model.fc1 is not None:
    e += linear_entries(("fc1", "fc1_s.layer.module"), ("fc1",), model.fc1)
  e += linear_entries(("fc2", "fc2_s.layer.module"), ("fc",), model.fc)
  return e + _no_learned(model)


def _no_learned(model) -> list[Entry]:
  for path, m in nnx.iter_modules(model):
    if isinstance(m, jn.SpikingNeuron):
      neuron_entries(None, tuple(path), m)
  return []


def tet_vggsnn(model) -> list[Entry]:
  """TET ``VGGSNN``: ``features.{i}.fwd.module.{0,1}`` (pools count in ``i``),
  ``classifier.module``."""
  e, idx, k = [], 0, 0
  for item in model.cfg:
    if item != "A":
      unit = model.layers[k]
      e += _convnorm((f"features.{idx}.fwd.module.0",), (f"features.{idx}.fwd.module.1",),
                     ("layers", k, "cn"), unit.cn)
      k += 1
    idx += 1
  channels = model.layers[k - 1].cn.conv.out_features
  e += linear_entries(("classifier.module",), ("classifier",), model.classifier,
                      _flat_shape(model.classifier, channels, model.input_size))
  return e + _no_learned(model)


def _resnet_common(model, *, stem_neuron, block_neurons, head) -> list[Entry]:
  e = _convnorm(("conv1",), ("bn1",), ("stem",), model.stem)
  e += neuron_entries(stem_neuron, ("stem_sn",), model.stem_sn)
  for k, (s, j) in enumerate(_stages(model.blocks, lambda b: b.downsample is not None)):
    L, b, p = f"layer{s}.{j}", model.blocks[k], ("blocks", k)
    for i in (1, 2):
      e += _convnorm((f"{L}.conv{i}",), (f"{L}.bn{i}",), p + (f"cn{i}",), getattr(b, f"cn{i}"))
      names = None if block_neurons is None else (f"{L}.{block_neurons[i - 1]}",)
      e += neuron_entries(names, p + (f"sn{i}",), getattr(b, f"sn{i}"))
    if b.downsample is not None:
      e += _convnorm((f"{L}.downsample.0",), (f"{L}.downsample.1",), p + ("downsample",),
                     b.downsample)
  if model.fc1 is not None:
    e += linear_entries((head[0],), ("fc1",), model.fc1)
    e += neuron_entries(None, ("fc_sn",), model.fc_sn)
    return e + linear_entries((head[1],), ("fc",), model.fc)
  return e + linear_entries((head[0],), ("fc",), model.fc)


def sml_resnet(model) -> list[Entry]:
  """SML ``ResNet`` / ``ResNet_M`` (ResNet-19) / ``ResNet_SB``: torchvision-style names, ``linear``
  (``linear``/``linear2`` with a hidden layer), surrogate modules under ``sb_layers.{i}``."""
  trunk = getattr(model, "trunk", model)   # a jsnn.models.SurrogateModuleNet wraps the trunk
  e = _resnet_common(trunk, stem_neuron=None, block_neurons=None, head=("linear", "linear2"))
  if trunk is not model:
    e = [dataclasses.replace(x, path=("trunk",) + x.path) if x.path else x for x in e]
  for i, sb in enumerate(getattr(model, "surrogate_blocks", ())):
    P, p = f"sb_layers.{i}", ("surrogate_blocks", i)
    for k, unit in enumerate(sb.convs):
      e += conv_entries((f"{P}.convs.{k}.0",), p + ("convs", k, "conv"), unit.conv)
      e += bn_entries((f"{P}.convs.{k}.1",), p + ("convs", k, "bn"))
    width = sb.convs[len(sb.convs) - 1].conv.out_features
    e += linear_entries((f"{P}.prediction.2",), p + ("fc1",), sb.fc1, (2, 2, width))
    e += bn_entries((f"{P}.prediction.3",), p + ("bn1d",))
    e += linear_entries((f"{P}.prediction.5",), p + ("fc2",), sb.fc2)
  return e


def adali_resnet(model) -> list[Entry]:
  """AdaLi ``ResNet_Cifar``: ``conv1``/``bn1``/``relu``, ``layer{s}.{j}.{conv,bn,relu}{1,2}``,
  ``downsample.{0,1}``, ``fc``."""
  return _resnet_common(model, stem_neuron=("relu",), block_neurons=("relu1", "relu2"),
                        head=("fc",))


def clif_preact(model) -> list[Entry]:
  """CLIF ``PreActResNet``: ``conv1``, ``layer{s}.{j}.{bn1,conv1,relu1,bn2,conv2,relu2,shortcut}``,
  ``bn1``, ``relu1``, ``linear``."""
  e = conv_entries(("conv1",), ("conv1",), model.conv1)
  for k, (s, j) in enumerate(_stages(model.blocks, lambda b: b.shortcut is not None)):
    L, b, p = f"layer{s}.{j}", model.blocks[k], ("blocks", k)
    for i in (1, 2):
      e += bn_entries((f"{L}.bn{i}",), p + (f"bn{i}",))
      e += conv_entries((f"{L}.conv{i}",), p + (f"conv{i}",), getattr(b, f"conv{i}"))
      e += neuron_entries((f"{L}.relu{i}",), p + (f"sn{i}",), getattr(b, f"sn{i}"))
    if b.shortcut is not None:
      e += conv_entries((f"{L}.shortcut",), p + ("shortcut",), b.shortcut)
  e += bn_entries(("bn1",), ("bn",)) + neuron_entries(("relu1",), ("sn",), model.sn)
  channels = model.bn.num_features
  return e + linear_entries(("linear",), ("linear",), model.linear,
                            _flat_shape(model.linear, channels, model.input_size))


def clif_vgg(model) -> list[Entry]:
  """CLIF ``SpikingVGGBN``: ``layer{s}.{i}`` = conv, BN, neuron, dropout per conv and one entry
  per ``'M'`` pool; ``classifier.1`` after ``AdaptiveAvgPool2d(7)`` + flatten."""
  e, k = [], 0
  for s, stage in enumerate(model.cfg, start=1):
    idx = 0
    for item in stage:
      if item == "M":
        idx += 1
        continue
      unit = model.units[k]
      e += _convnorm((f"layer{s}.{idx}",), (f"layer{s}.{idx + 1}",), ("units", k, "cn"), unit.cn)
      e += neuron_entries((f"layer{s}.{idx + 2}",), ("units", k, "sn"), unit.sn)
      idx, k = idx + 4, k + 1
  channels = model.units[k - 1].cn.conv.out_features
  ps = model.pool_size
  return e + linear_entries(("classifier.1",), ("classifier",), model.classifier,
                            (ps, ps, channels))


def adali_dvsgesture(model) -> list[Entry]:
  """AdaLi / SpikingJelly ``DVSGestureNet``: ``conv_fc.{4i,4i+1,4i+2}`` per conv unit, then
  Flatten, Dropout, ``Linear`` (``4n+2``), neuron, Dropout, ``Linear`` (``4n+5``), neuron."""
  e, n = [], len(model.convs)
  for i in range(n):
    e += _convnorm((f"conv_fc.{4 * i}",), (f"conv_fc.{4 * i + 1}",), ("convs", i), model.convs[i])
    e += neuron_entries((f"conv_fc.{4 * i + 2}",), ("conv_sns", i), model.conv_sns[i])
  channels = model.convs[n - 1].conv.out_features
  e += linear_entries((f"conv_fc.{4 * n + 2}",), ("fc1",), model.fc1,
                      _flat_shape(model.fc1, channels, model.input_size))
  e += neuron_entries((f"conv_fc.{4 * n + 3}",), ("sn1",), model.sn1)
  e += linear_entries((f"conv_fc.{4 * n + 5}",), ("fc2",), model.fc2)
  return e + neuron_entries((f"conv_fc.{4 * n + 6}",), ("sn2",), model.sn2)


def sequential(model) -> list[Entry]:
  """An ``nn.Sequential`` of SpikingJelly ``layer.*`` / ``torch.nn`` modules: entry ``i`` is layer
  ``i`` of the :class:`jsnn.interop.Sequential` (flatten / pooling / neurons included)."""
  if not isinstance(model, Sequential):
    raise TypeError(f"the 'sequential' map needs a jsnn.interop.Sequential, got "
                    f"{type(model).__name__}.")
  e, flat = [], None
  for i, layer in enumerate(model.layers):
    p = ("layers", i)
    if isinstance(layer, jn.Conv):
      e += conv_entries((str(i),), p, layer)
    elif isinstance(layer, jn.Linear):
      e += linear_entries((str(i),), p, layer, flat)
      flat = None
    elif isinstance(layer, jn.BatchNorm):
      e += bn_entries((str(i),), p)
    elif isinstance(layer, jn.SpikingNeuron):
      e += neuron_entries((str(i),), p, layer)
    elif isinstance(layer, Flatten):
      flat = _sequential_flat(model, i) if layer.order == "hwc" else None
  return e


def _sequential_flat(model, i: int):
  """The ``(h, w, c)`` that flatten ``i`` sees, from the next Linear and the channels before."""
  channels = None
  for layer in list(model.layers)[:i][::-1]:
    if isinstance(layer, jn.Conv):
      channels = layer.out_features
      break
  nxt = next((l for l in list(model.layers)[i + 1:] if isinstance(l, jn.Linear)), None)
  if channels is None or nxt is None:
    return None
  return _flat_shape(nxt, channels, None)


MAPS: dict[str, Callable[[Any], list[Entry]]] = {
    "tet_resnet": tet_resnet, "tet_vggsnn": tet_vggsnn, "sml_resnet": sml_resnet,
    "clif_preact": clif_preact, "clif_vgg": clif_vgg, "adali_resnet": adali_resnet,
    "adali_dvsgesture": adali_dvsgesture, "sequential": sequential,
}
_DEFAULT = {"jsnn.models.tet_resnet": "tet_resnet", "jsnn.models.vggsnn": "tet_vggsnn",
            "jsnn.models.sml_resnet": "sml_resnet",
            "jsnn.models._surrogate_modules": "sml_resnet", "jsnn.models.preact_resnet": "clif_preact",
            "jsnn.models.spiking_vgg": "clif_vgg", "jsnn.models.resnet_cifar": "adali_resnet",
            "jsnn.models.dvs_gesture_net": "adali_dvsgesture",
            "jsnn.interop._sequential": "sequential"}


def state_dict_entries(model, mapping: str | Callable | None = None) -> list[Entry]:
  """The entries of ``mapping`` (a :data:`MAPS` name, a function, or None: by the model's module).

  Raises:
    ValueError: an unknown map name, or no default map for this model class.
  """
  if mapping is None:
    name = _DEFAULT.get(type(model).__module__)
    if name is None:
      raise ValueError(f"no default weight map for {type(model).__module__}."
                       f"{type(model).__name__}; pass mapping= one of {sorted(MAPS)} or a function "
                       "model -> list[Entry].")
    mapping = name
  if isinstance(mapping, str):
    if mapping not in MAPS:
      raise ValueError(f"unknown weight map {mapping!r}; expected one of {sorted(MAPS)} or a "
                       "function model -> list[Entry].")
    mapping = MAPS[mapping]
  return list(mapping(model))


# ------------------------------------------------------------------------------------ convert
def _get(model, path: tuple):
  obj = model
  for p in path:
    obj = obj[p] if isinstance(p, int) or isinstance(obj, (nnx.Dict, dict)) else getattr(obj, p)
  return obj


def _to_jsnn(e: Entry, a: np.ndarray, target_shape: tuple, key: str) -> np.ndarray | str:
  """The array in jsnn's layout, or an error string."""
  if e.layout == "conv":
    want = (target_shape[3], target_shape[2], target_shape[0], target_shape[1])
    if a.shape != want:
      hint = " (it is already HWIO: pass the PyTorch OIHW tensor)" if a.shape == target_shape else ""
      return f"{key}: shape {a.shape}, expected OIHW {want}{hint}"
    return np.transpose(a, (2, 3, 1, 0))
  if e.layout == "linear":
    want = (target_shape[1], target_shape[0])
    if a.shape != want:
      hint = (" (it is already (in, out): pass the PyTorch (out, in) weight)"
              if a.shape == target_shape and want != target_shape else "")
      return f"{key}: shape {a.shape}, expected (out, in) {want}{hint}"
    if e.flatten_hwc is not None:
      h, w, c = e.flatten_hwc
      if h * w * c != a.shape[1]:
        return f"{key}: flatten shape {e.flatten_hwc} does not match {a.shape[1]} inputs"
      a = a.reshape(a.shape[0], c, h, w).transpose(0, 2, 3, 1).reshape(a.shape[0], -1)
    return a.T
  if e.layout == "scalar":
    if a.size != 1 and a.shape != target_shape:
      return f"{key}: shape {a.shape}, expected a scalar or {target_shape}"
    return np.broadcast_to(a.reshape(()) if a.size == 1 else a, target_shape)
  if a.shape != target_shape:
    return f"{key}: shape {a.shape}, expected {target_shape}"
  return a


def load_state_dict(model, state_dict: Any, *, mapping: str | Callable | None = None,
                    strict: bool = True) -> list[str]:
  """Copies a PyTorch state dict into ``model`` in place (see the module docstring).

  Args:
    model: a jsnn ``nnx`` model (a zoo model or a :class:`jsnn.interop.Sequential`).
    state_dict: a dict of arrays (numpy / torch tensors), or a ``.npz`` / ``.safetensors`` /
      ``.pt`` / ``.pth`` path.
    mapping: a :data:`MAPS` name or a function ``model -> list[Entry]``; None picks the map of the
      model's zoo module.
    strict: raise on state-dict keys the map does not account for and on jsnn parameters / batch
      statistics the map does not cover (missing keys and shape errors always raise).

  Returns:
    The loaded PyTorch keys (aliases included), sorted.

  Raises:
    ValueError: listing every missing key, unmapped key, uncovered jsnn variable, shape or layout
      mismatch and differing aliases; the model is left unchanged.
  """
  sd = read_state_dict(state_dict)
  entries = state_dict_entries(model, mapping)
  problems, updates, used = [], [], set()
  for e in entries:
    present = [k for k in e.keys if k in sd]
    used.update(present)
    if not present:
      problems.append(f"missing key {e.keys[0]}" + (f" (or aliases {list(e.keys[1:])})"
                                                    if len(e.keys) > 1 else ""))
      continue
    first = sd[present[0]]
    for k in present[1:]:
      if sd[k].shape != first.shape or not np.array_equal(sd[k], first):
        problems.append(f"aliases {present[0]} and {k} hold different values")
    if e.layout == "unused":
      continue
    var = _get(model, e.path)
    target = var[...] if isinstance(var, nnx.Variable) else None
    if target is None:
      problems.append(f"{present[0]}: jsnn attribute {'.'.join(map(str, e.path))} is not a "
                      "variable (is the constant learnable?)")
      continue
    converted = _to_jsnn(e, np.asarray(first), tuple(target.shape), present[0])
    if isinstance(converted, str):
      problems.append(converted)
    else:
      updates.append((var, jnp.asarray(converted, target.dtype)))
  if strict:
    unmapped = sorted(set(sd) - used - {k for e in entries for k in e.keys})
    problems += [f"unmapped key {k} {tuple(np.shape(sd[k]))}" for k in unmapped]
    covered = {id(_get(model, e.path)) for e in entries if e.layout != "unused"}
    for path, var in _variables(model):
      if id(var) not in covered:
        problems.append(f"jsnn variable {path} {tuple(var[...].shape)} is not covered by the map")
  if problems:
    raise ValueError(f"load_state_dict: {len(problems)} problem(s), nothing was loaded:\n  "
                     + "\n  ".join(problems))
  for var, value in updates:
    var[...] = value
  return sorted(used)


def _variables(model):
  for path, var in nnx.iter_graph(model):
    if isinstance(var, (nnx.Param, nnx.BatchStat)):
      yield ".".join(map(str, path)), var


def to_state_dict(model, *, mapping: str | Callable | None = None) -> dict[str, np.ndarray]:
  """The official PyTorch state dict of a jsnn model (every alias key, float32 numpy arrays).

  ``num_batches_tracked`` is written as ``int64`` 0. Save it with ``np.savez`` or
  ``safetensors.numpy.save_file``, and load it in PyTorch with
  ``model.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}, strict=True)``.
  """
  out = {}
  for e in state_dict_entries(model, mapping):
    if e.layout == "unused":
      value = np.zeros((), np.int64)
    else:
      a = np.asarray(jax.device_get(_get(model, e.path)[...]))
      if e.layout == "conv":
        value = np.transpose(a, (3, 2, 0, 1))
      elif e.layout == "linear":
        value = a.T
        if e.flatten_hwc is not None:
          h, w, c = e.flatten_hwc
          value = value.reshape(value.shape[0], h, w, c).transpose(0, 3, 1, 2).reshape(
              value.shape[0], -1)
      elif e.layout == "scalar":
        value = a.reshape(()) if a.size == 1 else a
      else:
        value = a
      value = np.array(value, order="C")   # (ascontiguousarray would make 0-d arrays 1-d)
    for k in e.keys:
      out[k] = value
  return out
