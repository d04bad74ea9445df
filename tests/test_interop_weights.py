"""PyTorch / SpikingJelly state dicts <-> jsnn (issue 15).

The official state dicts are rebuilt here from the official model code (names and shapes, with the
aliases PyTorch writes for shared modules), independently of `jsnn.interop.torch_weights`' maps.
"""

from __future__ import annotations

import collections

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jsnn.nn as jn
from jsnn import neurons
from jsnn.interop import Flatten, Sequential, load_state_dict, read_state_dict, to_state_dict
from jsnn.interop import torch_weights as tw
from jsnn.models import Options, dvs_gesture_net, preact_resnet, resnet_cifar, sml_resnet, spiking_vgg
from jsnn.models import tet_resnet, vggsnn


# ----------------------------------------------------------------- official names and shapes
class Official:
  """Groups of alias keys (one tensor each) with their PyTorch shapes."""

  def __init__(self):
    self.groups: list[tuple[tuple[str, ...], tuple[int, ...]]] = []

  def add(self, keys, shape):
    self.groups.append((tuple(keys) if not isinstance(keys, str) else (keys,), tuple(shape)))

  def conv(self, prefixes, cout, cin, k, bias=False):
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    self.add([f"{p}.weight" for p in prefixes], (cout, cin, k, k))
    if bias:
      self.add([f"{p}.bias" for p in prefixes], (cout,))

  def linear(self, prefixes, out, inp):
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    self.add([f"{p}.weight" for p in prefixes], (out, inp))
    self.add([f"{p}.bias" for p in prefixes], (out,))

  def bn(self, prefixes, c):
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    for name in ("weight", "bias", "running_mean", "running_var"):
      self.add([f"{p}.{name}" for p in prefixes], (c,))
    self.add([f"{p}.num_batches_tracked" for p in prefixes], ())

  def state_dict(self, seed=0):
    rng = np.random.RandomState(seed)
    sd = collections.OrderedDict()
    for keys, shape in self.groups:
      if keys[0].endswith("num_batches_tracked"):
        value = np.asarray(rng.randint(0, 1000), np.int64)
      elif keys[0].endswith("running_var"):
        value = rng.uniform(0.5, 2.0, shape).astype(np.float32)
      else:
        value = np.asarray(rng.randn(*shape), np.float32)
      for k in keys:
        sd[k] = value
    return sd


def tet_resnet19(num_classes=10):
  """`models/resnet_models.py`: conv1/bn1 also reachable as conv1_s.layer.module / conv1_s.bn;
  tdBatchNorm holds its BatchNorm2d as `bn` and as `seqbn.module`."""
  o = Official()
  td = lambda p: (f"{p}.bn", f"{p}.seqbn.module")
  o.conv(("conv1", "conv1_s.layer.module"), 64, 3, 3)
  o.bn(td("bn1") + td("conv1_s.bn"), 64)
  inplanes = 64
  for s, (planes, n, stride) in enumerate([(128, 3, 1), (256, 3, 2), (512, 2, 2)], start=1):
    for j in range(n):
      L = f"layer{s}.{j}"
      cin = inplanes if j == 0 else planes
      o.conv((f"{L}.conv1", f"{L}.conv1_s.layer.module"), planes, cin, 3)
      o.bn(td(f"{L}.bn1") + td(f"{L}.conv1_s.bn"), planes)
      o.conv((f"{L}.conv2", f"{L}.conv2_s.layer.module"), planes, planes, 3)
      o.bn(td(f"{L}.bn2") + td(f"{L}.conv2_s.bn"), planes)
      if j == 0 and (stride != 1 or inplanes != planes):
        o.conv(f"{L}.downsample.layer.module", planes, inplanes, 1)
        o.bn(td(f"{L}.downsample.bn"), planes)
    inplanes = planes
  o.linear(("fc1", "fc1_s.layer.module"), 256, 512)
  o.linear(("fc2", "fc2_s.layer.module"), num_classes, 256)
  return o


def tet_vggsnn():
  """`models/VGG_models.py` VGGSNN: Layer = fwd.module.{0: Conv2d(bias), 1: BN}; pools at 2, 5, 8, 11."""
  o = Official()
  cfg = [64, 128, "A", 256, 256, "A", 512, 512, "A", 512, 512, "A"]
  cin = 2
  for i, c in enumerate(cfg):
    if c == "A":
      continue
    o.conv(f"features.{i}.fwd.module.0", c, cin, 3, bias=True)
    o.bn(f"features.{i}.fwd.module.1", c)
    cin = c
  o.linear("classifier.module", 10, 512 * 3 * 3)
  return o


def torchvision_resnet(depths, widths, head, *, stem_neuron=None, block_neurons=None):
  """SML `models/ResNet.py` / `ResBlock.py`, AdaLi `models/resnet_cifar.py`: conv1, bn1,
  layer{s}.{j}.{conv,bn}{1,2}, downsample.{0,1}, then `head` = [(name, out, in)]."""
  o = Official()
  o.conv("conv1", 64, 3, 3)
  o.bn("bn1", 64)
  inplanes = 64
  for s, (n, planes) in enumerate(zip(depths, widths), start=1):
    for j in range(n):
      L = f"layer{s}.{j}"
      stride = 1 if s == 1 or j > 0 else 2
      cin = inplanes if j == 0 else planes
      o.conv(f"{L}.conv1", planes, cin, 3)
      o.bn(f"{L}.bn1", planes)
      o.conv(f"{L}.conv2", planes, planes, 3)
      o.bn(f"{L}.bn2", planes)
      if j == 0 and (stride != 1 or inplanes != planes):
        o.conv(f"{L}.downsample.0", planes, inplanes, 1)
        o.bn(f"{L}.downsample.1", planes)
    inplanes = planes
  for name, out, inp in head:
    o.linear(name, out, inp)
  return o


def sml_sb(o, index, cin, width, kernels, num_classes):
  """SML `models/surrogate_block.py` SurrogateBlock at `sb_layers.{index}`."""
  P = f"sb_layers.{index}"
  plan = ([(cin, width, 1)] + [(width, width, k) for k in kernels] if cin > width else
          [(cin, width, kernels[0])] + [(width, width, k) for k in kernels[1:]])
  for k, (a, b, ks) in enumerate(plan):
    o.conv(f"{P}.convs.{k}.0", b, a, ks)
    o.bn(f"{P}.convs.{k}.1", b)
  o.linear(f"{P}.prediction.2", 512, width * 4)
  o.bn(f"{P}.prediction.3", 512)
  o.linear(f"{P}.prediction.5", num_classes, 512)


def clif_preact18(num_classes=10, plif=False):
  """CLIF `models/spiking_resnet.py` PreActResNet(PreActBlock, [2, 2, 2, 2]); whether_bias=True;
  PLIF neurons (`ParametricLIFNode`) carry a scalar `w`."""
  o = Official()
  o.conv("conv1", 64, 3, 3)
  cin = 64
  for s, planes in enumerate([64, 128, 256, 512], start=1):
    for j in range(2):
      L = f"layer{s}.{j}"
      stride = 2 if s > 1 and j == 0 else 1
      o.bn(f"{L}.bn1", cin)
      o.conv(f"{L}.conv1", planes, cin, 3, bias=True)
      o.bn(f"{L}.bn2", planes)
      o.conv(f"{L}.conv2", planes, planes, 3, bias=True)
      if stride != 1 or cin != planes:
        o.conv(f"{L}.shortcut", planes, cin, 1, bias=True)
      if plif:
        o.add(f"{L}.relu1.w", ())
        o.add(f"{L}.relu2.w", ())
      cin = planes
  o.bn("bn1", 512)
  if plif:
    o.add("relu1.w", ())
  o.linear("linear", num_classes, 512)
  return o


def clif_vgg11(num_classes=10):
  """CLIF `models/spiking_vgg_bn.py` SpikingVGGBN('VGG11'): per conv [Conv2d, BN, neuron, Dropout],
  per 'M' an AvgPool2d, in `layer1..5`; `classifier = Sequential(Flatten, Linear(512·7·7))`."""
  o = Official()
  cfg = [[64, "M"], [128, "M"], [256, 256, "M"], [512, 512, "M"], [512, 512, "M"]]
  cin = 2
  for s, stage in enumerate(cfg, start=1):
    idx = 0
    for c in stage:
      if c == "M":
        idx += 1
        continue
      o.conv(f"layer{s}.{idx}", c, cin, 3, bias=True)
      o.bn(f"layer{s}.{idx + 1}", c)
      idx += 4
      cin = c
  o.linear("classifier.1", num_classes, 512 * 7 * 7)
  return o


def adali_dvsgesture(channels=128):
  """AdaLi `models/dvsgesturenet.py`: conv_fc = [Conv2d(no bias), BN, neuron, MaxPool] x 5, Flatten,
  Dropout, Linear(C·4·4, 512), neuron, Dropout, Linear(512, 110), neuron, VotingLayer."""
  o = Official()
  cin = 2
  for i in range(5):
    o.conv(f"conv_fc.{4 * i}", channels, cin, 3)
    o.bn(f"conv_fc.{4 * i + 1}", channels)
    cin = channels
  o.linear("conv_fc.22", 512, channels * 4 * 4)
  o.linear("conv_fc.25", 110, 512)
  return o


def _rngs():
  return nnx.Rngs(0)


CASES = {
    "tet_resnet19": (lambda: tet_resnet.ResNet19(num_classes=10, T=2, rngs=_rngs()), tet_resnet19),
    "tet_vggsnn": (lambda: vggsnn.VGGSNN(num_classes=10, T=2, rngs=_rngs()), tet_vggsnn),
    "sml_resnet18sb": (
        lambda: sml_resnet.ResNet18SB(num_classes=10, T=2, rngs=_rngs()),
        lambda: _sml18sb()),
    "sml_resnet19": (lambda: sml_resnet.ResNet19(num_classes=10, T=2, rngs=_rngs()),
                     lambda: torchvision_resnet((3, 3, 2), (128, 256, 512),
                                                [("linear", 256, 512), ("linear2", 10, 256)])),
    "clif_preact18_plif": (
        lambda: preact_resnet.ResNet18(num_classes=10, T=2, rngs=_rngs(), options=Options(
            neuron=neurons.clif_plif, learnable=("w",))),
        lambda: clif_preact18(plif=True)),
    "clif_vgg11": (lambda: spiking_vgg.VGG11(num_classes=10, T=2, rngs=_rngs()), clif_vgg11),
    "adali_resnet18": (lambda: resnet_cifar.ResNet18(num_classes=10, T=2, rngs=_rngs()),
                       lambda: torchvision_resnet((2, 2, 2, 2), (64, 128, 256, 512),
                                                  [("fc", 10, 512)])),
    "adali_dvsgesture": (lambda: dvs_gesture_net.DVSGestureNet(num_classes=11, T=2, rngs=_rngs()),
                         adali_dvsgesture),
}


def _sml18sb():
  o = torchvision_resnet((2, 2, 2, 2), (64, 128, 256, 512), [("linear", 10, 512)])
  sml_sb(o, 0, 128, 256, (7, 5, 3), 10)
  sml_sb(o, 1, 256, 256, (7, 5, 3), 10)
  return o


def _jsnn_arrays(model):
  out = {}
  for path, var in nnx.iter_graph(model):
    if isinstance(var, (nnx.Param, nnx.BatchStat)):
      out[".".join(map(str, path))] = np.asarray(var[...])
  return out


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_official_state_dict_loads_everywhere(name):
  build, official = CASES[name]
  model, o = build(), official()
  sd = o.state_dict(seed=1)
  assert set(to_state_dict(model)) == set(sd)                       # same names (aliases too)
  for k, v in to_state_dict(model).items():                          # and the same shapes
    assert v.shape == sd[k].shape, k
  loaded = load_state_dict(model, sd)
  assert loaded == sorted(sd)
  arrays = _jsnn_arrays(model)
  # every official tensor landed in exactly one jsnn variable, in jsnn's layout
  for keys, shape in o.groups:
    if keys[0].endswith("num_batches_tracked"):
      continue
    v = sd[keys[0]]
    if v.ndim == 4:
      cand = [np.transpose(v, (2, 3, 1, 0))]
    elif v.ndim == 2:
      cand = [v.T] + [v.reshape(v.shape[0], c, hw, hw).transpose(0, 2, 3, 1).reshape(
          v.shape[0], -1).T for c in (512, 256, 128) for hw in (1, 2, 3, 4, 7)
          if c * hw * hw == v.shape[1]]
    else:
      cand = [v]
    hits = [p for p, a in arrays.items() if any(a.shape == c.shape and np.array_equal(a, c)
                                                  for c in cand)]
    if v.ndim == 0:
      hits = [p for p, a in arrays.items() if a.shape == () and a == v]
    assert len(hits) == 1, (keys[0], hits)
  # the round trip gives back the official dict exactly (num_batches_tracked is written as 0)
  back = to_state_dict(model)
  for k, v in sd.items():
    if k.endswith("num_batches_tracked"):
      assert back[k] == 0 and back[k].dtype == np.int64
    else:
      np.testing.assert_array_equal(back[k], v, err_msg=k)


def test_entries_land_at_the_right_paths():
  m = tet_resnet.ResNet19(num_classes=10, T=2, rngs=_rngs())
  sd = tet_resnet19().state_dict(seed=2)
  load_state_dict(m, sd)
  eq = np.testing.assert_array_equal
  eq(m.stem.conv.conv.kernel[...], sd["conv1.weight"].transpose(2, 3, 1, 0))
  eq(m.blocks[3].downsample.conv.conv.kernel[...],
     sd["layer2.0.downsample.layer.module.weight"].transpose(2, 3, 1, 0))
  eq(m.blocks[7].cn2.bn.var[...], sd["layer3.1.bn2.bn.running_var"])
  eq(m.blocks[4].cn1.bn.scale[...], sd["layer2.1.bn1.seqbn.module.weight"])
  eq(m.fc1.linear.kernel[...], sd["fc1.weight"].T)
  eq(m.fc.linear.bias[...], sd["fc2_s.layer.module.bias"])
  # the first Linear after a flatten: jsnn feature (h, w, c) = PyTorch feature (c, h, w)
  v = vggsnn.VGGSNN(num_classes=10, T=2, rngs=_rngs())
  sdv = tet_vggsnn().state_dict(seed=3)
  load_state_dict(v, sdv)
  k = np.asarray(v.classifier.linear.kernel[...])
  w = sdv["classifier.module.weight"]
  for (h, ww, c) in [(0, 0, 0), (1, 2, 5), (2, 1, 511)]:
    np.testing.assert_array_equal(k[(h * 3 + ww) * 512 + c], w[:, (c * 3 + h) * 3 + ww])
  eq(v.layers[2].cn.conv.conv.kernel[...], sdv["features.3.fwd.module.0.weight"].transpose(2, 3, 1, 0))
  p = preact_resnet.ResNet18(num_classes=10, T=2, options=Options(neuron=neurons.clif_plif,
                                                                 learnable=("w",)),
                             rngs=_rngs())
  sdp = clif_preact18(plif=True).state_dict(seed=4)
  load_state_dict(p, sdp)
  eq(p.blocks[2].sn2.consts["w"][...], sdp["layer2.0.relu2.w"])
  eq(p.blocks[2].shortcut.conv.kernel[...], sdp["layer2.0.shortcut.weight"].transpose(2, 3, 1, 0))
  s = sml_resnet.ResNet18SB(num_classes=10, T=2, rngs=_rngs())
  sds = _sml18sb().state_dict(seed=5)
  load_state_dict(s, sds)
  eq(s.surrogate_blocks[1].convs[2].conv.conv.kernel[...],
     sds["sb_layers.1.convs.2.0.weight"].transpose(2, 3, 1, 0))
  eq(s.surrogate_blocks[0].bn1d.mean[...], sds["sb_layers.0.prediction.3.running_mean"])


# ------------------------------------------------------------------------------------ errors
def _tiny():
  return Sequential(jn.Conv(2, 3, 3, padding=1, rngs=_rngs()), jn.BatchNorm(3),
                    jn.SpikingNeuron(neurons.sj_if), Flatten(), jn.Linear(3 * 4 * 4, 5, rngs=_rngs()))


def _tiny_sd():
  o = Official()
  o.conv("0", 3, 2, 3, bias=True)
  o.bn("1", 3)
  o.linear("4", 5, 48)
  return o.state_dict(seed=6)


def test_errors_list_every_problem_and_change_nothing():
  m = _tiny()
  before = _jsnn_arrays(m)
  sd = _tiny_sd()
  del sd["1.running_var"]
  sd["0.weight"] = sd["0.weight"].transpose(2, 3, 1, 0)               # already HWIO
  sd["4.weight"] = sd["4.weight"].T                                    # already (in, out)
  sd["4.bias"] = np.zeros(6, np.float32)
  sd["classifier.weight"] = np.zeros((2, 2), np.float32)
  with pytest.raises(ValueError) as e:
    load_state_dict(m, sd, mapping="sequential")
  msg = str(e.value)
  assert "load_state_dict: 5 problem(s), nothing was loaded" in msg
  assert "missing key 1.running_var" in msg
  assert ("0.weight: shape (3, 3, 2, 3), expected OIHW (3, 2, 3, 3) (it is already HWIO: pass the "
          "PyTorch OIHW tensor)") in msg
  assert ("4.weight: shape (48, 5), expected (out, in) (5, 48) (it is already (in, out): pass the "
          "PyTorch (out, in) weight)") in msg
  assert "4.bias: shape (6,), expected (5,)" in msg
  assert "unmapped key classifier.weight (2, 2)" in msg
  for k, v in _jsnn_arrays(m).items():
    np.testing.assert_array_equal(v, before[k])


def test_uncovered_jsnn_parameters_and_aliases():
  m = Sequential(jn.Linear(4, 3, rngs=_rngs()), jn.SpikingNeuron(neurons.sj_plif, learnable=("w",)))
  sd = {"0.weight": np.ones((3, 4), np.float32), "0.bias": np.zeros(3, np.float32)}
  with pytest.raises(ValueError, match=r"missing key 1.w"):
    load_state_dict(m, sd)
  m2 = tet_resnet._ResNet19Tiny(num_classes=10, T=2, rngs=_rngs())
  sd2 = to_state_dict(m2)
  sd2["conv1_s.layer.module.weight"] = sd2["conv1.weight"] + 1.0
  with pytest.raises(ValueError, match=r"aliases conv1.weight and conv1_s.layer.module.weight hold "
                                       r"different values"):
    load_state_dict(m2, sd2)
  m3 = tet_resnet._ResNet19Tiny(num_classes=10, T=2, options=Options(learnable=("v_th",)),
                                rngs=_rngs())
  with pytest.raises(ValueError, match=r"sn1: learned constant 'v_th' has no counterpart in the "
                                       r"official model"):
    to_state_dict(m3)
  m4 = Sequential(jn.Linear(4, 3, rngs=_rngs()), jn.TemporalEffectiveBatchNorm(3, T=2))
  sd4 = {"0.weight": np.ones((3, 4), np.float32), "0.bias": np.zeros(3, np.float32)}
  sd4.update({f"1.{n}": np.ones(3, np.float32) for n in ("weight", "bias", "running_mean",
                                                           "running_var")})
  sd4["1.num_batches_tracked"] = np.zeros((), np.int64)
  with pytest.raises(ValueError, match=r"jsnn variable layers.1.\w+ \(.*\) is not covered by the map"):
    load_state_dict(m4, sd4)
  load_state_dict(m4, sd4, strict=False)
  with pytest.raises(ValueError, match=r"unknown weight map 'tet'; expected one of \['adali_dvsgesture'"):
    load_state_dict(m, sd, mapping="tet")
  with pytest.raises(ValueError, match=r"no default weight map for flax.nnx"):
    to_state_dict(nnx.Linear(2, 2, rngs=_rngs()))


# ------------------------------------------------------------------------------------ files
def test_files_npz_safetensors_and_pt(tmp_path):
  sd = _tiny_sd()
  sd = {"module." + k: v for k, v in sd.items()}           # a DataParallel checkpoint
  np.savez(tmp_path / "w.npz", **sd)
  from safetensors.numpy import save_file
  save_file({k: np.ascontiguousarray(v) for k, v in sd.items()}, str(tmp_path / "w.safetensors"))
  a, b = _tiny(), _tiny()
  load_state_dict(a, tmp_path / "w.npz", mapping="sequential")
  load_state_dict(b, str(tmp_path / "w.safetensors"), mapping="sequential")
  for k, v in _jsnn_arrays(a).items():
    np.testing.assert_array_equal(v, _jsnn_arrays(b)[k])
  assert sorted(read_state_dict({"state_dict": {"module.x": np.ones(2)}})) == ["x"]
  (tmp_path / "w.pt").write_bytes(b"")
  try:
    import torch  # noqa: F401
  except ImportError:
    with pytest.raises(ImportError, match=r"reading .pt files needs torch, which jsnn does not "
                                          r"depend on"):
      read_state_dict(tmp_path / "w.pt")
  with pytest.raises(ValueError, match=r"unknown extension '.ckpt'"):
    (tmp_path / "w.ckpt").write_bytes(b"")
    read_state_dict(tmp_path / "w.ckpt")
  with pytest.raises(FileNotFoundError, match=r"no file"):
    read_state_dict(tmp_path / "nope.npz")


# ------------------------------------------------------------------------------------ parity
def _np_conv_nchw(x, w, b, pad):
  n, c, h, wd = x.shape
  o, _, kh, kw = w.shape
  xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
  y = np.zeros((n, o, h + 2 * pad - kh + 1, wd + 2 * pad - kw + 1))
  for i in range(y.shape[2]):
    for j in range(y.shape[3]):
      y[:, :, i, j] = np.einsum("nchw,ochw->no", xp[:, :, i:i + kh, j:j + kw], w)
  return y + b.reshape(1, -1, 1, 1)


def test_forward_parity_with_pytorch_semantics():
  """PyTorch semantics in numpy (NCHW conv, eval BatchNorm2d, IF, torch.flatten, Linear) with the
  official-layout weights equals the jsnn forward after loading them."""
  sd = _tiny_sd()
  m = _tiny()
  load_state_dict(m, sd, mapping="sequential")
  m.eval()
  x = np.random.RandomState(0).rand(3, 2, 4, 4, 2).astype(np.float32) * 2   # [T, B, H, W, C]
  v = np.zeros((2, 3, 4, 4))
  outs = []
  for t in range(3):
    h = _np_conv_nchw(x[t].transpose(0, 3, 1, 2).astype(np.float64), sd["0.weight"], sd["0.bias"], 1)
    h = (h - sd["1.running_mean"].reshape(1, -1, 1, 1)) / np.sqrt(
        sd["1.running_var"].reshape(1, -1, 1, 1) + 1e-5) * sd["1.weight"].reshape(1, -1, 1, 1) + \
        sd["1.bias"].reshape(1, -1, 1, 1)
    v = v + h
    s = (v >= 1.0).astype(np.float64)
    v = v * (1 - s)
    outs.append(s.reshape(2, -1) @ sd["4.weight"].T.astype(np.float64) + sd["4.bias"])
  np.testing.assert_allclose(np.asarray(m(jnp.asarray(x))), np.stack(outs), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("prefix", ["", "long_"])
def test_plif_forward_and_grad_parity_with_reference_parameters(ref, prefix):
  """tests/ref/clif_neurons: the official PLIFNeuron's learned `w` (a PyTorch parameter), loaded
  by name into a jsnn layer, reproduces its spikes, potentials and dL/dw."""
  r = ref("clif_neurons_T4_B2_N8.npz")
  net = Sequential(jn.SpikingNeuron(neurons.clif_plif, learnable=("w",)))
  net.layers[0].consts["w"][...] = jnp.asarray(0.7)
  load_state_dict(net, {"0.w": r[f"{prefix}plif_w_init"]}, mapping="sequential")
  x = jnp.asarray(r[f"{prefix}x" if prefix else "x"])
  np.testing.assert_array_equal(net(x), r[f"{prefix}plif_spike"])
  g_out = jnp.asarray(r[f"{prefix}g_out" if prefix else "g_out"])
  neuron = net.layers[0].neuron            # the loaded constants, as a pure jsnn.neurons.Neuron

  def loss(w):
    _, spikes = neuron.replace(params=neuron.params._replace(w=w))(x)
    return jnp.sum(spikes * g_out)

  np.testing.assert_allclose(jax.grad(loss)(neuron.params.w), r[f"{prefix}plif_grad_w"],
                             rtol=1e-5, atol=1e-6)
  assert to_state_dict(net, mapping="sequential")["0.w"] == r[f"{prefix}plif_w_init"]
