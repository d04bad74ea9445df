r"""TET on CIFAR-10/100 with ResNet-19 (Deng et al., ICLR 2022; the CIFAR rows of its results).

Paper: Deng, Li, Zhang, Gu, *Temporal Efficient Training of Spiking Neural Network via Gradient
Re-weighting*, ICLR 2022 (code ``Gus-Lab/temporal_efficient_training``).

Targets (spec ``tet_sml_clif.md`` §2.7, [M]: recalled, not re-checked against the PDF), TET top-1 %
of ResNet-19 for T = 2 / 4 / 6:

* CIFAR-10:  94.16±0.03 / **94.44±0.08** / 94.50±0.07
* CIFAR-100: 72.87±0.10 / **74.47±0.15** / 74.72±0.28

Recipe (spec §2.5, the CIFAR script ``main_training_distribute.py`` [C]): ``tet_resnet:ResNet19``
(64-channel stem, PyTorch default init, time-merged BN, TET's LIF: decay 0.5, hard reset, triangle
surrogate γ = 1), direct encoding; TET loss ``(1-λ)·mean_t CE(O_t, y) + λ·MSE(O, φ=1)`` with the
script's λ = 0 (the paper's λ per table is [?]; try ``lamb=1e-3``); Adam lr 1e-3, no weight decay,
cosine to 0 stepped per epoch over 100 epochs; batch 512; seed 1000; RandomCrop(32, pad 4) + HFlip +
the dataset's Normalize (``jsnn.data.cifar_data``); float32. Not reproduced: the script's cudnn
determinism.

**BatchNorm statistics per 128 samples** (``norm="time_merged@128"``, ``bn_group=128``): the script
runs ``DistributedDataParallel`` over ``torch.cuda.device_count()`` GPUs (``main_training_distribute.py:100-102,
142``) **without** SyncBN and divides the batch of 512 among them (:139-141), so each GPU's BN
normalises its own share, and DDP's ``broadcast_buffers`` keeps rank 0's running statistics; the
per-GPU share of 128 assumes **4 GPUs** (guessed from the maintainers' "about 5 h on 4×3090" for
ResNet-19, BIL repo issue #4; the paper does not say). ``bn_group=0`` uses the whole batch (one GPU,
or SyncBN); see ``jsnn.nn.BatchNorm(stat_group_size=...)``.

Run (from the repo root)::

  python -m experiments.main --config experiments/configs/tet_cifar.py:dataset=cifar10,T=4 \
      --workdir /tmp/tet_cifar10_t4
  python -m experiments.main --config experiments/configs/tet_cifar.py:dataset=cifar100,T=6 \
      --workdir /tmp/tet_cifar100_t6
  python -m experiments.main --config experiments/configs/tet_cifar.py:runlocal --workdir /tmp/tl

The CIFAR data must be prepared once as ArrayRecord (stock ``cifar10``/``cifar100``, or the TF-free
``cifar10_raw`` builder from the official tarball; see ``jsnn.data``). Multi-device (GPUs or a TPU
slice): the batch of 512 is split over the devices (``sharding.mode="replicate"``, data parallel;
12.6 M parameters need no FSDP). Papers report the **best test accuracy over epochs**; the trainer's
``summary.json`` has both ``best_test_accuracy`` and ``final_test_accuracy``. ``runlocal``: T = 2
and a narrow ResNet-19 (same blocks, stem and head), one train step and one eval step.
"""

from __future__ import annotations

from experiments.configs import common

NUM_CLASSES = {"cifar10": 10, "cifar100": 100}
# runlocal: ResNet-19's layout (stem, 3 stages, fc1 -> LIF -> fc2) at a width that compiles fast.
TINY = dict(depths=(1, 1, 1), widths=(8, 8, 16), stem_width=4, head_hidden=8)


def get_config(arg: str | None = None):
  """``arg`` = ``dataset=<cifar10|cifar100>,T=4,lamb=0.0,epochs=100,seed=1000,bn_group=128,tit,
  runlocal``.

  ``remat=<layer|step|k>``: memory-bounded BPTT (``common.set_remat``).
  """
  arg = common.parse_arg(arg, dataset="cifar10", T=4, lamb=0.0, epochs=100, seed=1000,
                         bn_group=128, tit=False, runlocal=False, remat="")
  if arg.dataset not in NUM_CLASSES:
    raise ValueError(f"unknown dataset {arg.dataset!r}; valid: {', '.join(NUM_CLASSES)}.")
  c = common.base_config()
  c.seed = arg.seed
  c.num_epochs = arg.epochs
  c.model_name = "tet_resnet:ResNet19"
  c.model = dict(num_classes=NUM_CLASSES[arg.dataset], T=arg.T, norm=norm_kind(arg.bn_group))
  c.method, c.method_kw = "tet", dict(lamb=arg.lamb, phi=1.0)
  if arg.tit:   # TIT [R]: T = 2 -> 4 -> 6 over 40 / 30 / 30 % of the epochs (no official schedule)
    c.method = "tet+tit"
    c.method_kw = dict(tet=dict(lamb=arg.lamb, phi=1.0), tit=dict(stages=tit_stages(arg.epochs)))
  c.input.name = "cifar"
  c.input.dataset = arg.dataset
  c.input.batch_size = 512
  c.input.eval_batch_size = 1024
  c.optimizer.update(name="adam", lr=1e-3, weight_decay=0.0, schedule="cosine",
                     schedule_unit="epoch")
  c.log_every_steps = 20
  if arg.runlocal:
    common.shrink_for_runlocal(c)
    c.model.update(T=2, norm=norm_kind(8 if arg.bn_group else 0), **TINY)  # 2 groups of 8
    c.input.eval_batch_size = 16
    if arg.tit:
      c.method_kw.tit.stages = ((2, 1), (3, 1))
  common.set_remat(c, arg.remat)
  return c


def tit_stages(epochs: int) -> tuple[tuple[int, int], ...]:
  """TIT [R]: ``((2, e1), (4, e2), (6, e3))`` with 40 / 30 / 30 % of ``epochs`` (the rest to the last).

  The TET paper trains at a small T and continues at larger T but its code has no TIT schedule;
  this split is jsnn's reconstruction, not the paper's.
  """
  e1, e2 = int(0.4 * epochs), int(0.3 * epochs)
  return ((2, e1), (4, e2), (6, epochs - e1 - e2))


def norm_kind(bn_group: int) -> str:
  """``"time_merged@N"`` (statistics per N samples, DDP without SyncBN) or ``"time_merged"``."""
  if bn_group < 0:
    raise ValueError(f"bn_group must be 0 (whole batch) or the per-GPU batch, got {bn_group}.")
  return f"time_merged@{bn_group}" if bn_group else "time_merged"
