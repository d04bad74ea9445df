"""Tests of `jsnn.models`: paper-size shapes and hand-derived parameter counts of every preset,
SML's surrogate-module outputs and gradients, jitted training steps, any neuron on any
architecture, and input-layout errors.

Full-size presets are checked with `nnx.eval_shape` + `jax.eval_shape` (no compute); real forward
and backward passes run on tiny variants, except VGGSNN, which runs at full width (T=2, B=2).
Models are initialised with `rbg` keys: on CPU, compiling threefry for each distinct kernel shape
costs ~1 s, `rbg` ~0.1 s.
"""

from __future__ import annotations

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jsnn
import jsnn.nn as jn
from jsnn.models import (Options, SurrogateModuleNet, dvs_gesture_net, preact_resnet,
                         resnet_cifar, sew_resnet, sml_resnet, spiking_vgg, tet_resnet, vggsnn)


def rngs(seed: int = 0) -> nnx.Rngs:
  return nnx.Rngs(jax.random.key(seed, impl="rbg"))


# XLA CPU options that cut compile time ~3x on these small graphs (tests only; run time unchanged).
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def jit(fn):
  """``jax.jit`` with :data:`FAST_COMPILE`."""
  return jax.jit(fn, compiler_options=FAST_COMPILE)


def build(ctor, seed: int = 0, **kw):
  """Initialises a model in one compiled program (instead of one compile per kernel shape) and
  unrolls its neurons' scans (T = 2 here; compiles 2-3x faster on CPU)."""
  graphdef, _ = nnx.split(nnx.eval_shape(lambda: ctor(rngs=rngs(seed), **kw)))
  state = jit(lambda: nnx.state(ctor(rngs=rngs(seed), **kw)))()
  model = nnx.merge(graphdef, state)
  model.set_attributes(jn.SpikingNeuron, unroll=True)
  return model


def abstract_run(ctor, x_shape, **kw):
  """(param count, output shapes) of a full-size preset without allocating or computing."""
  model = nnx.eval_shape(lambda: ctor(rngs=nnx.Rngs(0), **kw))
  graphdef, state = nnx.split(model)
  out = jax.eval_shape(lambda s, x: nnx.merge(graphdef, s)(x), state,
                       jax.ShapeDtypeStruct(x_shape, jnp.float32))
  return jn.count_params(model), jax.tree.map(lambda o: o.shape, out)


def run_step(model, x, loss_fn=lambda out: jnp.mean(out) + jnp.mean(jnp.square(out))):
  """One jitted forward+backward (platform_notes §2 pattern); updates the model's batch stats."""
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)

  def step(params, rest, x):
    def loss(params, rest):
      m = nnx.merge(graphdef, params, rest, copy=True)
      out = m(x)
      return loss_fn(out), (out, nnx.state(m, nnx.Not(nnx.Param)))
    (value, (out, new_rest)), grads = jax.value_and_grad(loss, has_aux=True)(params, rest)
    return value, out, grads, new_rest

  value, out, grads, new_rest = jit(step)(params, rest, x)
  nnx.update(model, new_rest)
  return value, out, grads


def grad_norm(tree) -> float:
  return float(sum(jnp.sum(jnp.abs(leaf)) for leaf in jax.tree.leaves(tree)))


# ---------------------------------------------------------------------------------------------
# Parameter counts derived by hand (PyTorch `sum(p.numel() for p in model.parameters())`).
# conv(k, ci, co) = k·k·ci·co (+ co with bias); BN(c) = 2c (γ, β); Linear(i, o) = i·o + o.
# ---------------------------------------------------------------------------------------------
# TET ResNet-19, CIFAR-10 (tet_sml_clif.md §2.4):
#   stem   conv3x3(3→64) 1,728 + BN 128                                            =      1,856
#   layer1 block1: conv(64→128) 73,728 + BN 256 + conv(128→128) 147,456 + BN 256
#                  + downsample conv1x1(64→128) 8,192 + BN 256                     =    230,144
#          blocks 2,3: 2 × (147,456 + 256 + 147,456 + 256) = 2 × 295,424           =    590,848
#   layer2 block1: 294,912 + 512 + 589,824 + 512 + 32,768 + 512                    =    919,040
#          blocks 2,3: 2 × (589,824·2 + 1,024) = 2 × 1,180,672                     =  2,361,344
#   layer3 block1: 1,179,648 + 1,024 + 2,359,296 + 1,024 + 131,072 + 1,024         =  3,673,088
#          block2: 2,359,296·2 + 2,048                                             =  4,720,640
#   fc1 512·256 + 256 = 131,328 ; fc2 256·10 + 10 = 2,570                          =    133,898
#   total                                                                          = 12,630,858
RESNET19_C10 = 1_856 + 230_144 + 590_848 + 919_040 + 2_361_344 + 3_673_088 + 4_720_640 + 133_898
# TET VGGSNN, DVS-CIFAR10 (tet_sml_clif.md §2.4), Layer(ci, co) = 9·ci·co + co (bias) + 2co (BN):
#   2→64 1,344 ; 64→128 74,112 ; 128→256 295,680 ; 256→256 590,592 ; 256→512 1,181,184 ;
#   512→512 × 3 = 3 × 2,360,832 = 7,082,496 ; Linear 4,608·10 + 10 = 46,090     = 9,271,498
VGGSNN_C10 = 1_344 + 74_112 + 295_680 + 590_592 + 1_181_184 + 3 * 2_360_832 + 46_090
# VGGSNN-woAP: the same layers with stride 2 instead of the pools                 = 9,271,498
# CLIF VGG-11 (in 2): the same 8 conv units as VGGSNN = 9,225,408; Linear 25,088·C + C.
VGG11_CONVS = 1_344 + 74_112 + 295_680 + 590_592 + 1_181_184 + 3 * 2_360_832
# CLIF VGG-13 (in 3): 3→64 1,920 ; 64→64 37,056 ; 64→128 74,112 ; 128→128 147,840 ;
#   128→256 295,680 ; 256→256 590,592 ; 256→512 1,181,184 ; 512→512 × 3 7,082,496 = 9,410,880
VGG13_CONVS = 1_920 + 37_056 + 74_112 + 147_840 + 295_680 + 590_592 + 1_181_184 + 3 * 2_360_832
# CIFAR ResNet-18 (SML, AdaLi; bias-free convs, 3×3 stem): kuangliu's ResNet18     = 11,173,962
#   stem 1,856 ; layer1 2 × (36,864 + 128 + 36,864 + 128) = 2 × 73,984 ;
#   layer2 230,144 + 295,424 ; layer3 919,040 + 1,180,672 ; layer4 3,673,088 + 4,720,640 ;
#   fc 512·10 + 10 = 5,130
RESNET18_C10 = 1_856 + 2 * 73_984 + 230_144 + 295_424 + 919_040 + 1_180_672 + 3_673_088 \
    + 4_720_640 + 5_130
# CIFAR ResNet-34: layer1 3 × 73,984 ; layer2 230,144 + 3 × 295,424 ; layer3 919,040 +
#   5 × 1,180,672 ; layer4 3,673,088 + 2 × 4,720,640 ; stem 1,856 ; fc 5,130       = 21,282,122
RESNET34_C10 = 1_856 + 3 * 73_984 + 230_144 + 3 * 295_424 + 919_040 + 5 * 1_180_672 \
    + 3_673_088 + 2 * 4_720_640 + 5_130
# torchvision ResNet-34 / 1000 classes = 21,797,672 (SpikingJelly Spiking/SEW ResNet-34: same).
# SML's ImageNet stem adds a layer1 downsample (stride 2): conv1x1(64→64) 4,096 + BN 128.
# ResNet-18 ImageNet (torchvision) = 11,689,512.
# SML surrogate module (width 256, kernels 7/5/3, 10 classes):
#   convs 49·ci·256 + 25·256·256 + 9·256·256 (+ 3 BN × 512) ; fc1 1,024·512 + 512 ; BN1d 1,024 ;
#   fc2 5,130.  ci = 128: 4,366,346 ; ci = 256: 5,971,978.
SB_HEAD = 3 * 512 + 524_800 + 1_024 + 5_130
SB128 = 49 * 128 * 256 + 25 * 65_536 + 9 * 65_536 + SB_HEAD
SB256 = 49 * 256 * 256 + 25 * 65_536 + 9 * 65_536 + SB_HEAD
# CLIF PreAct block(ci, co, s): BN1 2ci + conv 9·ci·co + co + BN2 2co + conv 9·co·co + co
#   (+ shortcut ci·co + co). Blocks: (64,64) 74,112 ; (64,128,2) 230,144 ; (128,128) 295,680 ;
#   (128,256,2) 919,040 ; (256,256) 1,181,184 ; (256,512,2) 3,673,088 ; (512,512) 4,721,664.
#   ResNet-18: conv1 1,728 + 2·74,112 + 230,144 + 295,680 + 919,040 + 1,181,184 + 3,673,088
#   + 4,721,664 + head BN 1,024 + Linear 5,130                                    = 11,176,906
PREACT18_C10 = 1_728 + 2 * 74_112 + 230_144 + 295_680 + 919_040 + 1_181_184 + 3_673_088 \
    + 4_721_664 + 1_024 + 5_130
# ResNet-34 (CIFAR-100): conv1 1,728 + 3·74,112 + 230,144 + 3·295,680 + 919,040 + 5·1,181,184
#   + 3,673,088 + 2·4,721,664 + 1,024 + 51,300                                     = 21,334,948
PREACT34_C100 = 1_728 + 3 * 74_112 + 230_144 + 3 * 295_680 + 919_040 + 5 * 1_181_184 \
    + 3_673_088 + 2 * 4_721_664 + 1_024 + 51_300
# DVSGestureNet: conv(2→128) 2,304 + BN 256 ; 4 × (147,456 + 256) ; fc1 2,048·512 + 512 ;
#   fc2 512·110 + 110                                                               = 1,698,926
DVSGESTURE = 2_304 + 256 + 4 * 147_712 + 1_049_088 + 56_430

PRESETS = [
    # (name, constructor, kwargs, input shape, expected output shapes, expected count)
    ("tet ResNet19 CIFAR-10", tet_resnet.ResNet19, dict(num_classes=10, T=4), (2, 32, 32, 3),
     (4, 2, 10), RESNET19_C10),
    ("tet ResNet19 CIFAR-100", tet_resnet.ResNet19, dict(num_classes=100, T=2), (2, 32, 32, 3),
     (2, 2, 100), RESNET19_C10 - 2_570 + 25_700),
    ("VGGSNN", vggsnn.VGGSNN, dict(num_classes=10, T=10), (10, 2, 48, 48, 2), (10, 2, 10),
     VGGSNN_C10),
    ("VGGSNN-woAP", vggsnn.VGGSNNwoAP, dict(num_classes=10, T=10), (10, 2, 48, 48, 2),
     (10, 2, 10), VGGSNN_C10),
    ("sml ResNet18", sml_resnet.ResNet18, dict(num_classes=10, T=2), (2, 32, 32, 3), (2, 2, 10),
     RESNET18_C10),
    ("sml ResNet34", sml_resnet.ResNet34, dict(num_classes=10, T=2), (2, 32, 32, 3), (2, 2, 10),
     RESNET34_C10),
    ("sml ResNet19", sml_resnet.ResNet19, dict(num_classes=10, T=2), (2, 32, 32, 3), (2, 2, 10),
     RESNET19_C10),
    ("sml ResNet18SB", sml_resnet.ResNet18SB, dict(num_classes=10, T=2), (2, 32, 32, 3),
     [(2, 2, 10), (2, 10), (2, 10)], RESNET18_C10 + SB128 + SB256),
    ("sml ResNet19SB", sml_resnet.ResNet19SB, dict(num_classes=10, T=2), (2, 32, 32, 3),
     [(2, 2, 10), (2, 10), (2, 10)], RESNET19_C10 + SB128 + SB256),
    ("sml ResNet18 ImageNet", sml_resnet.ResNet18ImageNet, dict(num_classes=1000, T=2),
     (2, 224, 224, 3), (2, 2, 1000), 11_689_512 + 4_224),
    ("sml ResNet34 ImageNet", sml_resnet.ResNet34ImageNet, dict(num_classes=1000, T=4),
     (2, 224, 224, 3), (4, 2, 1000), 21_797_672 + 4_224),
    ("sml ResNet34SB ImageNet", sml_resnet.ResNet34SB, dict(num_classes=1000, T=2),
     (2, 224, 224, 3), [(2, 2, 1000), (2, 1000), (2, 1000)],
     21_797_672 + 4_224 + SB128 + SB256 + 2 * 990 * 513),
    ("clif PreAct ResNet18", preact_resnet.ResNet18, dict(num_classes=10, T=6), (2, 32, 32, 3),
     (6, 2, 10), PREACT18_C10),
    ("clif PreAct ResNet34", preact_resnet.ResNet34, dict(num_classes=100, T=6), (2, 32, 32, 3),
     (6, 2, 100), PREACT34_C100),
    ("clif VGG11", spiking_vgg.VGG11, dict(num_classes=10, T=10), (10, 2, 48, 48, 2),
     (10, 2, 10), VGG11_CONVS + 25_088 * 10 + 10),
    ("clif VGG13 DVS", spiking_vgg.VGG13, dict(num_classes=10, T=10), (10, 2, 48, 48, 2),
     (10, 2, 10), VGG13_CONVS - 1_920 + 1_344 + 25_088 * 10 + 10),     # first conv 2→64
    ("clif VGG11 DVS-CIFAR10", spiking_vgg.VGG11DVSCIFAR10, dict(num_classes=10, T=10),
     (10, 2, 48, 48, 2), (10, 2, 10), VGG11_CONVS + 25_088 * 10 + 10),
    ("clif VGG11 Gesture", spiking_vgg.VGG11Gesture, dict(num_classes=11, T=20),
     (20, 2, 128, 128, 2), (20, 2, 11), VGG11_CONVS + 25_088 * 11 + 11),
    ("clif VGG13 Tiny-ImageNet", spiking_vgg.VGG13TinyImageNet, dict(num_classes=200, T=6),
     (2, 64, 64, 3), (6, 2, 200), VGG13_CONVS + 25_088 * 200 + 200),
    ("adali ResNet18", resnet_cifar.ResNet18, dict(num_classes=10, T=4), (2, 32, 32, 3),
     (4, 2, 10), RESNET18_C10),
    ("adali DVSGestureNet", dvs_gesture_net.DVSGestureNet, dict(num_classes=11, T=16),
     (16, 2, 128, 128, 2), (16, 2, 11), DVSGESTURE),
    ("Spiking ResNet34", sew_resnet.SpikingResNet34, dict(num_classes=1000, T=6),
     (2, 224, 224, 3), (6, 2, 1000), 21_797_672),
    ("Spiking ResNet18", sew_resnet.SpikingResNet18, dict(num_classes=1000, T=4),
     (2, 224, 224, 3), (4, 2, 1000), 11_689_512),
    ("SEW ResNet18", sew_resnet.SEWResNet18, dict(num_classes=1000, T=4), (2, 224, 224, 3),
     (4, 2, 1000), 11_689_512),
    ("SEW ResNet34", sew_resnet.SEWResNet34, dict(num_classes=1000, T=4), (2, 224, 224, 3),
     (4, 2, 1000), 21_797_672),
]


def test_hand_counts_add_up():
  assert RESNET19_C10 == 12_630_858
  assert VGGSNN_C10 == 9_271_498
  assert RESNET18_C10 == 11_173_962 and RESNET34_C10 == 21_282_122
  assert SB128 == 4_366_346 and SB256 == 5_971_978
  assert PREACT18_C10 == 11_176_906 and PREACT34_C100 == 21_334_948
  assert DVSGESTURE == 1_698_926


@pytest.mark.parametrize("name, ctor, kw, x_shape, out_shape, count", PRESETS,
                         ids=[p[0] for p in PRESETS])
def test_preset_shape_and_parameter_count(name, ctor, kw, x_shape, out_shape, count):
  n, shapes = abstract_run(ctor, x_shape, **kw)
  assert shapes == out_shape, name
  assert n == count, f"{name}: {n} != {count}"


# ---------------------------------------------------------------------------------------------
# SML surrogate modules: 1 + N outputs, gradients into the trunk, detach options
# ---------------------------------------------------------------------------------------------
def _sb_first_conv_grad(loss_on, **kw):
  model = build(sml_resnet._ResNet18SBTiny, 1, num_classes=5, T=2, **kw)
  x = jax.random.normal(jax.random.key(2), (2, 16, 16, 3)) + 1.0

  def loss_fn(outs):
    assert isinstance(outs, list) and len(outs) == 1 + 2
    return jnp.sum(outs[loss_on] ** 2) if loss_on else jnp.sum(outs[0].mean(0) ** 2)

  _, outs, grads = run_step(model, x, loss_fn)
  return outs, grads


def test_sml_outputs_and_gradient_reaches_first_trunk_conv():
  outs, grads = _sb_first_conv_grad(loss_on=1)
  assert [o.shape for o in outs] == [(2, 2, 5), (2, 5), (2, 5)]
  # what SML's loss consumes: the time-averaged SNN logits and the N module logits
  loss = jsnn.losses.sml_distillation(outs[0].mean(0), outs[1:], jnp.array([0, 3]))
  assert np.isfinite(float(loss))
  assert grad_norm(grads["trunk"]["stem"]["conv"]) > 0               # through the firing rate
  assert grad_norm(grads["surrogate_blocks"][1]) == 0       # only the loss's module trains
  assert grad_norm(grads["trunk"]["fc"]) == 0
  _, grads = _sb_first_conv_grad(loss_on=2, detach=True)
  assert grad_norm(grads["trunk"]["stem"]["conv"]) == 0              # detach: modules train alone
  assert grad_norm(grads["trunk"]["blocks"]) == 0
  assert grad_norm(grads["surrogate_blocks"][1]) > 0


def test_sml_detach_trunk_is_the_codes_use_detach():
  _, grads = _sb_first_conv_grad(loss_on=None, detach_trunk=True)
  assert grad_norm(grads["trunk"]["fc"]) > 0
  assert grad_norm(grads["trunk"]["blocks"][2]) > 0                  # after the last module (block 2)
  assert grad_norm(grads["trunk"]["stem"]["conv"]) == 0              # cut before it
  assert grad_norm(grads["surrogate_blocks"]) == 0


# ---------------------------------------------------------------------------------------------
# jitted training steps: VGGSNN at full width; tiny variants of the other architectures
# ---------------------------------------------------------------------------------------------
def test_vggsnn_jitted_forward_backward_T2_B2():
  model = build(vggsnn.VGGSNN, 5, num_classes=10, T=2)
  x = (jax.random.uniform(jax.random.key(6), (2, 2, 48, 48, 2)) < 0.3).astype(jnp.float32)
  labels = jnp.array([1, 7])
  value, out, grads = run_step(model, x, lambda o: jsnn.losses.tet(o, labels))
  assert out.shape == (2, 2, 10) and np.isfinite(float(value))
  assert grad_norm(grads["layers"][0]["cn"]["conv"]) > 0
  assert float(jnp.abs(model.layers[0].cn.bn.mean[...]).sum()) > 0   # running stats moved


TINY = [
    # (name, constructor, kwargs, input shape, also check eval determinism)
    ("clif PreAct", preact_resnet._ResNet18Tiny, dict(num_classes=10, T=2, dropout=0.2),
     (2, 32, 32, 3), False),
    ("clif VGG11", spiking_vgg._VGG11Tiny, dict(num_classes=10, T=2, dropout=0.3),
     (2, 2, 32, 32, 2), True),
    ("DVSGestureNet", dvs_gesture_net._DVSGestureNetTiny, dict(num_classes=11, T=2),
     (2, 2, 16, 16, 2), False),
    ("SEW ResNet", sew_resnet._SEWResNetTiny, dict(num_classes=7, T=2), (2, 32, 32, 3), False),
    ("Spiking ResNet", sew_resnet._SpikingResNetTiny, dict(num_classes=7, T=2), (2, 32, 32, 3),
     False),
]


@pytest.mark.parametrize("name, ctor, kw, x_shape, check_eval", TINY, ids=[t[0] for t in TINY])
def test_tiny_variant_jitted_training_step(name, ctor, kw, x_shape, check_eval):
  model = build(ctor, **kw)
  x = jax.random.uniform(jax.random.key(8), x_shape) * 2.0
  value, out, grads = run_step(model, x)
  B = x_shape[1] if len(x_shape) == 5 else x_shape[0]
  assert out.shape == (kw["T"], B, kw["num_classes"]) and np.isfinite(float(value))
  assert grad_norm(grads) > 0
  if check_eval:  # eval: running BN stats and no dropout, so two calls agree
    model.eval()
    graphdef, state = nnx.split(model)
    fwd = jit(lambda s, x: nnx.merge(graphdef, s)(x))
    assert np.array_equal(np.asarray(fwd(state, x)), np.asarray(fwd(state, x)))


def test_adali_resnet_cifar_init_and_per_epoch_surrogate_without_retrace():
  model = build(resnet_cifar._ResNet18Tiny, num_classes=10, T=2)
  assert float(jnp.abs(model.fc.linear.bias[...]).max()) == 0.0        # Linear bias 0
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)
  traces = []

  @jit
  def grads(params, rest, x, sg):   # what jsnn.methods.adali() does each epoch
    traces.append(1)

    def loss(params):
      m = nnx.merge(graphdef, params, rest, copy=True)
      jn.set_spike_fn(m, sg)
      out = m(x)
      return jnp.mean(out) + jnp.mean(out ** 2)
    return jax.grad(loss)(params)

  x = jax.random.uniform(jax.random.key(12), (2, 16, 16, 3)) * 2.0
  g_first = grads(params, rest, x, jsnn.transforms.adali_surrogate(0, 100))
  g_last = grads(params, rest, x, jsnn.transforms.adali_surrogate(99, 100))
  assert len(traces) == 1
  assert not np.allclose(g_first["stem"]["conv"]["conv"]["kernel"][...],
                         g_last["stem"]["conv"]["conv"]["kernel"][...])
  with pytest.raises(ValueError, match="structure"):
    grads(params, rest, x, jsnn.surrogate.Sigmoid(alpha=4.0))


def test_repo_initialisers_are_applied():
  """Each model starts from its official code's distributions (tet_sml_clif.md §2.4, §4.4)."""
  def fan_bound(kernel):
    return 1.0 / np.sqrt(np.prod(kernel.shape[:-1]))

  tet = build(tet_resnet._ResNet19Tiny, 13, num_classes=10, T=2)      # PyTorch defaults
  k = np.asarray(tet.blocks[0].cn1.conv.conv.kernel[...])
  assert np.abs(k).max() <= fan_bound(k) and tet.blocks[0].cn1.conv.conv.bias is None
  fc = np.asarray(tet.fc1.linear.bias[...])
  assert 0 < np.abs(fc).max() <= fan_bound(tet.fc1.linear.kernel[...])
  vgg = build(spiking_vgg._VGG11Tiny, 14, num_classes=10, T=2)        # CLIF VGG overrides
  assert float(jnp.abs(vgg.units[0].cn.conv.conv.bias[...]).max()) == 0.0
  lin = np.asarray(vgg.classifier.linear.kernel[...])
  assert float(jnp.abs(vgg.classifier.linear.bias[...]).max()) == 0.0 and lin.std() < 0.015
  pre = build(preact_resnet._ResNet18Tiny, 15, num_classes=10, T=2)   # conv bias default kept
  cb = np.asarray(pre.blocks[0].conv1.conv.bias[...])
  assert 0 < np.abs(cb).max() <= fan_bound(pre.blocks[0].conv1.conv.kernel[...])
  assert float(jnp.abs(pre.linear.linear.bias[...]).max()) == 0.0
  assert np.abs(np.asarray(pre.conv1.conv.kernel[...])).max() > fan_bound(
      pre.conv1.conv.kernel[...])                                       # kaiming normal, not U


def test_any_neuron_on_any_architecture():
  # CLIF neurons with learnable PLIF-style constants in TET's ResNet-19 layout ...
  model = build(tet_resnet._ResNet19Tiny, 9, num_classes=4, T=2, head_hidden=32,
                options=Options(neuron=jsnn.neurons.clif_plif, learnable=("w",)))
  base = nnx.eval_shape(lambda: tet_resnet._ResNet19Tiny(num_classes=4, T=2, head_hidden=32,
                                                         rngs=rngs(9)))
  n_neurons = sum(isinstance(m, jn.SpikingNeuron) for _, m in nnx.iter_modules(model))
  assert jn.count_params(model) == jn.count_params(base) + n_neurons   # one w per layer
  x = 3.0 * jax.random.normal(jax.random.key(11), (2, 8, 8, 3))
  _, out, grads = run_step(model, x)
  assert out.shape == (2, 2, 4)
  w_grads = [v for p, v in jax.tree_util.tree_leaves_with_path(grads)
             if "'consts'" in jax.tree_util.keystr(p)]
  assert len(w_grads) == n_neurons and all(grad_norm(w) > 0 for w in w_grads)
  # ... and AdaLi's surrogate, learnable (PSG), in VGGSNN.
  vgg = nnx.eval_shape(lambda: vggsnn._VGGSNNTiny(
      num_classes=4, T=2, rngs=rngs(10),
      options=Options(spike_fn=jsnn.transforms.adali_surrogate(0, 10), learn_surrogate=True)))
  layer = vgg.layers[0].sn
  assert isinstance(layer.spike_fn, jsnn.surrogate.AsymmetricRectangle)
  labels = jsnn.transforms.psg_label_fn(nnx.state(vgg, nnx.Param))
  assert labels["layers"][0]["sn"]["sg"]["w_l"] == "surrogate"
  assert labels["layers"][0]["cn"]["conv"]["conv"]["kernel"] == "default"


# ---------------------------------------------------------------------------------------------
# bad inputs → ValueError naming the expected layout (at trace time)
# ---------------------------------------------------------------------------------------------
BAD = [
    (tet_resnet.ResNet19, dict(num_classes=10, T=4), (4, 2, 32, 32, 3),
     r"static images \[B, H=32, W=32, C=3\]"),
    (tet_resnet.ResNet19, dict(num_classes=10, T=4), (2, 28, 28, 3),
     r"per-sample shape \[28, 28, 3\]"),
    (tet_resnet.ResNet19, dict(num_classes=10, T=4), (2, 32, 32, 1), r"C=3"),
    (vggsnn.VGGSNN, dict(num_classes=10, T=10), (2, 48, 48, 2),
     r"time-major frames \[T=10, B, H=48, W=48, C=2\]"),
    (vggsnn.VGGSNN, dict(num_classes=10, T=10), (2, 10, 48, 48, 2), r"batch-first"),
    (vggsnn.VGGSNN, dict(num_classes=10, T=10), (10, 2, 64, 64, 2), r"H=48, W=48"),
    (spiking_vgg.VGG11Gesture, dict(num_classes=11, T=20), (20, 2, 128, 128, 3), r"C=2"),
    (dvs_gesture_net.DVSGestureNet, dict(num_classes=11, T=16), (2, 128, 128, 2),
     r"time-major frames \[T=16"),
    (preact_resnet.ResNet18, dict(num_classes=10, T=6), (6, 2, 32, 32, 3), r"static images"),
    (sew_resnet.SEWResNet34, dict(num_classes=1000, T=4), (2, 32, 32, 3), r"H=224, W=224"),
    (sml_resnet.ResNet18SB, dict(num_classes=10, T=2), (2, 2, 32, 32, 3), r"static images"),
]


@pytest.mark.parametrize("ctor, kw, x_shape, match", BAD, ids=[b[3] for b in BAD])
def test_bad_input_raises_value_error_naming_layout(ctor, kw, x_shape, match):
  with pytest.raises(ValueError, match=match):
    abstract_run(ctor, x_shape, **kw)


def test_bad_construction_arguments():
  with pytest.raises(ValueError, match=r"after must hold distinct stage indices in 1..8, got \(9,\)"):
    nnx.eval_shape(lambda: SurrogateModuleNet(
        sml_resnet.ResNet18(num_classes=10, T=2, rngs=nnx.Rngs(0)), after=(9,), num_classes=10,
        rngs=nnx.Rngs(1)))
  with pytest.raises(ValueError, match="does not expose its stages"):
    SurrogateModuleNet(nnx.Linear(2, 2, rngs=nnx.Rngs(0)), after=(1,), num_classes=2,
                       rngs=nnx.Rngs(1))
  with pytest.raises(ValueError, match="learnable"):
    nnx.eval_shape(lambda: tet_resnet.ResNet19(num_classes=10, T=2, rngs=nnx.Rngs(0),
                                               options=Options(learnable=("tau",))))
  with pytest.raises(TypeError, match=r"'surrogate' was renamed or moved: use "
                                      r"options=jsnn.models.Options\(spike_fn=...\)"):
    tet_resnet.ResNet19(num_classes=10, T=2, surrogate=jsnn.surrogate.Sigmoid(), rngs=nnx.Rngs(0))
  with pytest.raises(ValueError, match=r"remat must be one of"):
    Options(remat="chunk")


MODEL_MODULES = ("tet_resnet", "vggsnn", "sml_resnet", "preact_resnet", "spiking_vgg",
                 "resnet_cifar", "dvs_gesture_net", "sew_resnet")


@pytest.mark.parametrize("name", ("jsnn.nn",) + tuple(f"jsnn.models.{m}" for m in MODEL_MODULES))
def test_public_names_resolve_and_are_documented(name):
  module = importlib.import_module(name)
  names = list(module.__all__)
  if name != "jsnn.nn":  # every model module exposes `Model` (big_vision convention)
    assert "Model" in names and issubclass(module.Model, nnx.Module)
  for n in names:
    obj = getattr(module, n)
    if callable(obj):
      doc = obj.__doc__ or ""
      assert doc.strip() and not doc.startswith("partial("), f"{name}.{n} has no docstring"
