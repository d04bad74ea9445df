r"""CLIF on CIFAR-10/100 with the PreAct spiking ResNet-18 or -34 (Huang et al., ICML 2024).

Paper: Huang et al., *CLIF: Complementary Leaky Integrate-and-Fire Neuron for Spiking Neural
Networks*, ICML 2024 (code ``HuuYuLong/Complementary-LIF``).

Targets (spec ``tet_sml_clif.md`` §4.7, the repository README [V]): ResNet-18, T = 6: **CIFAR-10
95.41 %**, **CIFAR-100 78.36 %** top-1 (LIF with the same code: 94.51 / 76.23; ``neuron=lif``
runs that baseline). T = 4: ≈94.9 / ≈77.0 [M, low confidence]. ResNet-34: no number recovered.

Recipe (spec §4.4-4.6 [C]): ``preact_resnet:ResNet18`` (``depth=34``: ``ResNet34``): pre-activation
blocks, no BN/neuron after the stem conv, conv biases on, shortcut on the spikes, per-time-step BN
statistics (CLIF runs the net once per step), dropout 0; the CLIF neuron (τ = 2, soft reset plus
the complementary ``σ(M)`` reset, Rectangle surrogate of width 1, ``>=``); loss ``0.95·mean_t
CE(O_t, y) + 0.05·MSE(O, 1)`` (``clif_loss``, constant target); accuracy from the summed per-step
logits. SGD lr 0.1, momentum 0.9, weight decay 5e-5 (CIFAR-10) / 5e-4 (CIFAR-100), cosine stepped
per epoch over 200 epochs; batch 128; seed 2022; RandomCrop(32, pad 4) + torchtoolbox Cutout + HFlip
+ Normalize (``cutout="torchtoolbox"``) (``train.py:153-164``); one GPU, so BN statistics over the
whole batch (the default).

**Precision** (``amp``): CLIF trains with float16 AMP by default (``train.py:55`` ``-amp`` default
True; ``:322-323`` ``amp.GradScaler()``; ``:445-490`` forward under ``amp.autocast()``, scaled
backward, ``scaler.step``/``update``). ``amp=true`` reproduces it: ``model.options=Options(dtype=float16)`` (convs and
linears in float16 with float32 weights, norms and membrane potentials) and
``optimizer.loss_scale="dynamic"`` (``jsnn.train.loss_scale``: ``GradScaler``'s 2^16 initial scale,
skip on inf/NaN and halve, double after 2000 finite steps). The default here is float32
(``amp=false``): a deviation that can only remove float16 rounding; on CPU float16 is emulated
(slower than float32).

Run (from the repo root)::

  python -m experiments.main --config experiments/configs/clif_cifar.py:dataset=cifar10 \
      --workdir /tmp/clif_cifar10
  python -m experiments.main --config experiments/configs/clif_cifar.py:dataset=cifar100,depth=34 \
      --workdir /tmp/clif_cifar100_r34
  python -m experiments.main --config experiments/configs/clif_cifar.py:runlocal --workdir /tmp/cl

Multi-device: the batch of 128 is split over the devices (``sharding.mode="replicate"``, data
parallel; per-step BN then normalises with the global batch's statistics). Papers report the
**best test accuracy over epochs** (CLIF ``train.py`` keeps the max); ``summary.json`` has both
best and final accuracy. ``runlocal``: T = 2 and a narrow PreAct ResNet (4 stages, one block each),
one train and one eval step.
"""

from __future__ import annotations

import jax.numpy as jnp

import jsnn
import jsnn.models
from experiments.configs import common

NUM_CLASSES = {"cifar10": 10, "cifar100": 100}
WEIGHT_DECAY = {"cifar10": 5e-5, "cifar100": 5e-4}
MODELS = {18: "preact_resnet:ResNet18", 34: "preact_resnet:ResNet34"}
NEURONS = {"clif": jsnn.neurons.clif, "lif": jsnn.neurons.clif_lif}
# runlocal: the PreAct layout (stem conv, 4 stages, BN -> SN -> AvgPool(4) head) at a small width.
TINY = dict(depths=(1, 1, 1, 1), widths=(4, 8, 8, 8), stem_width=4)


def get_config(arg: str | None = None):
  """``arg`` = ``dataset=<cifar10|cifar100>,depth=<18|34>,T=6,neuron=<clif|lif>,amp=false,runlocal``.

  ``remat=<layer|step|k>``: memory-bounded BPTT (``common.set_remat``).
  """
  arg = common.parse_arg(arg, dataset="cifar10", depth=18, T=6, neuron="clif", epochs=200,
                         seed=2022, amp=False, runlocal=False, remat="")
  for name, value, valid in (("dataset", arg.dataset, NUM_CLASSES), ("depth", arg.depth, MODELS),
                             ("neuron", arg.neuron, NEURONS)):
    if value not in valid:
      raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(map(str, valid))}.")
  c = common.base_config()
  c.seed = arg.seed
  c.num_epochs = arg.epochs
  c.model_name = MODELS[arg.depth]
  c.model = dict(num_classes=NUM_CLASSES[arg.dataset], T=arg.T,
                 norm="per_step")  # CLIF calls the net once per step (train.py:436-454)
  c.method = "clif"   # the neuron (CLIF, or the same code's LIF) and CLIF's loss
  c.method_kw = dict(neuron=NEURONS[arg.neuron], lamb=0.05, target="const", phi=1.0)
  c.input.name = "cifar"
  c.input.dataset = arg.dataset
  c.input.cutout = "torchtoolbox"
  c.input.batch_size = 128
  c.input.eval_batch_size = 1024
  c.optimizer.update(name="sgd", lr=0.1, momentum=0.9, weight_decay=WEIGHT_DECAY[arg.dataset],
                     schedule="cosine", schedule_unit="epoch")
  if arg.amp:  # CLIF's float16 AMP (train.py:55, 322-323, 445-490)
    c.model.options = jsnn.models.Options(dtype=jnp.float16)
    c.optimizer.loss_scale = "dynamic"
  c.log_every_steps = 50
  if arg.runlocal:
    common.shrink_for_runlocal(c)
    c.model.update(T=2, **TINY)
    c.input.eval_batch_size = 16
  common.set_remat(c, arg.remat)
  return c
