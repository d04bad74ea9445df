r"""PSG [R] on CIFAR-10/100: TET's ResNet-19 with a learned surrogate shape per layer.

Paper: Wang, Cheng, Lim, *Potential distribution adjustment and parametric surrogate gradient in
spiking neural networks*, Neurocomputing 620 (2025) 129189 (arXiv 2304.13289). Only the abstract is
public and there is no code: **this config is a reconstruction [R]** (spec
``adali_psg_family.md`` §2.3, variant R1), not the paper's method as published. PDA is on by
default (``pda=1e-3``, R-PDA-B of §2.4: λ_pda·[relu(−u)² + relu(u − θ − 0.5)²] over every spiking
layer's pre-spike potential, ``jsnn.methods.pda``; its coefficient and form are not public [?];
``pda=0`` switches it off).

Target: the paper's numbers were **not recovered** [?]. Comparison points: the same network with
TET's fixed triangle surrogate, ``tet_cifar.py``, reports 94.44 % (CIFAR-10) / 74.47 % (CIFAR-100)
at T = 4 [M]; the authors' previous method (LTMD, NeurIPS 2022) reports 94.19 % on CIFAR-10 at
T = 4 with a DenseNet [V, README]. The question this config answers is whether learning the
surrogate shape beats the fixed one on an otherwise identical run.

Model choice: TET's ResNet-19 (``tet_resnet:ResNet19``) rather than a ResNet-18, because (i) the
zoo has no copy of the authors' LTMD DenseNet, (ii) ResNet-19 with TET's LIF is the strongest
fixed-surrogate CIFAR baseline here with a published number at the same T, and (iii) its default
triangle surrogate (γ = 1) is one of R1's candidate families, so initialising the learned γ at 1
makes step 0 identical to ``tet_cifar.py`` and isolates the effect of learning the shape.

Recipe: ``tet_cifar.py``'s (TET's LIF and loss with λ = 0, Adam lr 1e-3 with no weight decay, cosine
per epoch over 100 epochs, batch 512 with BN statistics per 128 samples as TET's 4-GPU DDP run,
``bn_group``, crop + flip) plus ``learn_surrogate=True``: every spiking
layer owns its surrogate's shape parameter as an ``nnx.Param`` (triangle γ, init 1; or
``sg=sigmoid``: α, init 4, forward kept strict as TET's), labelled by
``jsnn.transforms.psg_label_fn`` and trained by its own Adam (lr 1e-2, no weight decay, same
cosine) with the value clipped after each update to [0.25, 4] (γ) / [1, 10] (α)
(``jsnn.methods.psg(direct=True)``, ``jsnn.transforms.clip_params``) [R]. The method is
``psg+tet+pda`` (``jsnn.methods``).

Run (from the repo root)::

  python -m experiments.main --config experiments/configs/psg_cifar.py:dataset=cifar10 \
      --workdir /tmp/psg_cifar10
  python -m experiments.main --config experiments/configs/psg_cifar.py:dataset=cifar100,sg=sigmoid \
      --workdir /tmp/psg_cifar100_sigmoid
  python -m experiments.main --config experiments/configs/psg_cifar.py:runlocal --workdir /tmp/pl

Multi-device: the batch of 512 is split over the devices (``sharding.mode="replicate"``). Papers
report the **best test accuracy over epochs**; ``summary.json`` has both best and final accuracy.
``runlocal``: T = 2 and a narrow ResNet-19 layout with the learned shapes and their optimiser, one
train and one eval step.
"""

from __future__ import annotations

import jsnn
from experiments.configs import common
from experiments.configs.tet_cifar import NUM_CLASSES, TINY, norm_kind

# family -> (surrogate with its initial shape, clip range of the shape parameter) [R]
FAMILIES = {
    "triangle": (jsnn.surrogate.Triangle(strict=True, gamma=1.0), (0.25, 4.0)),
    "sigmoid": (jsnn.surrogate.Sigmoid(strict=True, alpha=4.0), (1.0, 10.0)),
}


def get_config(arg: str | None = None):
  """``arg`` = ``dataset=<cifar10|cifar100>,sg=<triangle|sigmoid>,T=4,sg_lr=1e-2,pda=1e-3,
  bn_group=128,runlocal``.

  ``remat=<layer|step|k>``: memory-bounded BPTT (``common.set_remat``).
  """
  arg = common.parse_arg(arg, dataset="cifar10", sg="triangle", T=4, sg_lr=1e-2, pda=1e-3,
                         epochs=100, seed=1000, bn_group=128, runlocal=False, remat="")
  if arg.dataset not in NUM_CLASSES:
    raise ValueError(f"unknown dataset {arg.dataset!r}; valid: {', '.join(NUM_CLASSES)}.")
  if arg.sg not in FAMILIES:
    raise ValueError(f"unknown sg {arg.sg!r}; valid: {', '.join(FAMILIES)}.")
  surrogate, (lo, hi) = FAMILIES[arg.sg]
  c = common.base_config()
  c.seed = arg.seed
  c.num_epochs = arg.epochs
  c.model_name = "tet_resnet:ResNet19"
  c.model = dict(num_classes=NUM_CLASSES[arg.dataset], T=arg.T, norm=norm_kind(arg.bn_group))
  c.method = "psg+tet+pda" if arg.pda else "psg+tet"
  c.method_kw = dict(psg=dict(base=surrogate, direct=True, lr=arg.sg_lr, clip_min=lo, clip_max=hi),
                     tet=dict(lamb=0.0, phi=1.0))
  if arg.pda:
    c.method_kw.pda = dict(lam=arg.pda, margin=0.5)
  c.input.name = "cifar"
  c.input.dataset = arg.dataset
  c.input.batch_size = 512
  c.input.eval_batch_size = 1024
  c.optimizer.update(name="adam", lr=1e-3, weight_decay=0.0, schedule="cosine",
                     schedule_unit="epoch")
  c.log_every_steps = 20
  if arg.runlocal:
    common.shrink_for_runlocal(c)
    c.model.update(T=2, norm=norm_kind(8 if arg.bn_group else 0), **TINY)
    c.input.eval_batch_size = 16
  common.set_remat(c, arg.remat)
  return c
