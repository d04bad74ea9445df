r"""CLIF on CIFAR10-DVS (T = 10) or DVS128 Gesture (T = 20), spiking VGG-11-BN (ICML 2024).

Paper: Huang et al., *CLIF: Complementary Leaky Integrate-and-Fire Neuron for Spiking Neural
Networks*, ICML 2024 (code ``HuuYuLong/Complementary-LIF``).

Target: the DVS numbers were **not recovered** (spec ``tet_sml_clif.md`` §4.7: DVS-CIFAR10 VGG-11
T = 10 [?], DVS-Gesture VGG-11 T = 20 [?]); the verified CLIF rows are CIFAR-10 95.41 % and
CIFAR-100 78.36 % (``clif_cifar.py``). For scale on CIFAR10-DVS: TET's VGGSNN reports 83.17 % [M]
(``tet_dvs.py``). Record what this config reaches in ``experiments/README.md``.

Recipe (spec §4.4-4.6, README commands [C]): ``spiking_vgg`` VGG-11-BN (conv(bias 0) -> per-step BN
-> CLIF -> time-shared Dropout; AvgPool between stages; AdaptiveAvgPool 7×7; Linear N(0, 0.01)),
the CLIF neuron, ``clif_loss`` (λ = 0.05), SGD momentum 0.9, weight decay 5e-4, cosine stepped per
epoch over 300 epochs, seed 2022:

* ``dataset=cifar10_dvs``: ``VGG11DVSCIFAR10`` (dropout 0.3), T = 10, lr 0.05, batch 128, MSE to
  the **one-hot** label (``-mse_n_reg``); frames: 10 equal-event-count chunks of the raw counts,
  recordings 0-899 of each class for training and 900-999 for test (``utils/cifar10_dvs.py:643-645``,
  the numeric split of ``jsnn.data.events`` ``cifar10_dvs``), resized to 48×48 through CLIF's
  ``ToPILImage`` uint8 wrap-around (``quantize="wrap"``, an event-presence map), clip-level HFlip
  (``flip_roll`` with ``max_shift=0``) and RandomRotation by one integer angle in [-15, 14] per clip
  with ``expand=True`` (``rotate=15``; ``train.py:176-184``, ``utils/augmentation.py:361-375``),
  **centre-cropped back to 48×48** so that a batch has one shape (CLIF's canvas grows to 60×60 with
  the angle and its default collate cannot stack such clips; ``jsnn/data/events/_rotate.py`` gives
  the reasons). The training loader keeps the last partial batch (no ``drop_last``, ``train.py:196``);
  jsnn's endless stream keeps every sample but only full batches.
* ``dataset=dvs128_gesture``: ``VGG11Gesture`` (dropout 0.4), T = 20, lr 0.1, batch 16, MSE to the
  constant 1; frames: 20 equal-event-count chunks of raw counts at 128×128, no augmentation, the
  last incomplete training batch dropped (``drop_last=True``, ``train.py:216``).

One GPU: BN statistics over the whole batch, per time step (CLIF's single-step loop).

**Precision** (``amp``): CLIF trains with float16 AMP by default (``train.py:55`` ``-amp`` default
True; ``:322-323`` ``amp.GradScaler()``; ``:445-490`` forward under ``amp.autocast()``, scaled
backward, ``scaler.step``/``update``). ``amp=true`` reproduces it: ``model.options=Options(dtype=float16)`` (convs and
linears in float16 with float32 weights, norms and membrane potentials) and
``optimizer.loss_scale="dynamic"`` (``jsnn.train.loss_scale``: ``GradScaler``'s 2^16 initial scale,
skip on inf/NaN and halve, double after 2000 finite steps). The default here is float32
(``amp=false``): a deviation that can only remove float16 rounding; on CPU float16 is emulated
(slower than float32).

Run (from the repo root; prepare the raw files once with ``jsnn.data.events.prepare(<dataset>,
data_dir=..., manual_dir=...)``)::

  python -m experiments.main --config experiments/configs/clif_dvs.py:dataset=cifar10_dvs \
      --workdir /tmp/clif_cifar10_dvs
  python -m experiments.main --config experiments/configs/clif_dvs.py:dataset=dvs128_gesture \
      --workdir /tmp/clif_gesture
  python -m experiments.main --config experiments/configs/clif_dvs.py:runlocal --workdir /tmp/cd

Multi-device: the batch is split over the devices (``sharding.mode="replicate"``); Gesture's
batch of 16 allows at most 16 devices. Frame integration runs on the host per sample; raise
``input.worker_count`` on a big machine. Papers report the **best test accuracy over epochs**;
``summary.json`` has both best and final accuracy. ``runlocal``: T = 2 and a narrow VGG-11 (same
stages, pools, dropout and head), one train and one eval step.
"""

from __future__ import annotations

import jax.numpy as jnp

import jsnn.models
from experiments.configs import common

SETUPS = {
    "cifar10_dvs": dict(model="spiking_vgg:VGG11DVSCIFAR10", num_classes=10, T=10, lr=0.05,
                        batch_size=128, target="onehot",
                        frames=dict(size=48, quantize="wrap", flip_roll=True, max_shift=0,
                                    rotate=15)),
    "dvs128_gesture": dict(model="spiking_vgg:VGG11Gesture", num_classes=11, T=20, lr=0.1,
                           batch_size=16, target="const", frames=dict()),
}
# runlocal: VGG-11's 5 stages (1, 1, 2, 2, 2 convs and a pool each) at a small width.
TINY = dict(cfg=((4, "M"), (8, "M"), (8, 8, "M"), (8, 8, "M"), (8, 8, "M")))


def get_config(arg: str | None = None):
  """``arg`` = ``dataset=<cifar10_dvs|dvs128_gesture>,T=<10|20>,epochs=300,seed=2022,amp=false,runlocal``.

  ``remat=<layer|step|k>``: memory-bounded BPTT (``common.set_remat``).
  """
  arg = common.parse_arg(arg, dataset="cifar10_dvs", T=0, epochs=300, seed=2022, amp=False,
                         runlocal=False, remat="")
  if arg.dataset not in SETUPS:
    raise ValueError(f"unknown dataset {arg.dataset!r}; valid: {', '.join(SETUPS)}.")
  setup = SETUPS[arg.dataset]
  T = arg.T or setup["T"]
  c = common.base_config()
  c.seed = arg.seed
  c.num_epochs = arg.epochs
  c.model_name = setup["model"]
  c.model = dict(num_classes=setup["num_classes"], T=T, norm="per_step")  # single-step loop
  c.method, c.method_kw = "clif", dict(lamb=0.05, target=setup["target"], phi=1.0)
  c.input.name = "events"
  c.input.dataset = arg.dataset
  c.input.frames_number = T
  c.input.split_by = "number"
  c.input.update(setup["frames"])
  c.input.batch_size = setup["batch_size"]
  c.input.eval_batch_size = 128 if arg.dataset == "cifar10_dvs" else 16
  c.optimizer.update(name="sgd", lr=setup["lr"], momentum=0.9, weight_decay=5e-4,
                     schedule="cosine", schedule_unit="epoch")
  if arg.amp:  # CLIF's float16 AMP (train.py:55, 322-323, 445-490)
    c.model.options = jsnn.models.Options(dtype=jnp.float16)
    c.optimizer.loss_scale = "dynamic"
  c.log_every_steps = 10
  if arg.runlocal:
    common.shrink_for_runlocal(c)
    c.model.update(T=2, **TINY)
    c.input.frames_number = 2
    c.input.eval_batch_size = 16
  common.set_remat(c, arg.remat)
  return c
