r"""A spiking MLP on scikit-learn's 8x8 digits, held in memory: the trainer's zoo-free config.

Network: direct encoding (the image repeated T times) -> Linear 64->H (no bias) -> BatchNorm (time folded
into batch) -> spiking neuron (scan over T) -> Linear H->10, per-step logits ``[T, B, 10]``.
Data: ``sklearn.datasets.load_digits`` (1797 images, no download), stratified 80/20 split
(1437 train / 360 test) with ``split_seed``, pixel values scaled to [0, 1].

``method`` picks the neuron, the loss and the method hooks (see ``METHODS``):

* ``sdt``: TET's LIF, CE of the time-mean logits;
* ``tet``: TET's LIF, TET loss (lambda 1e-3, phi 1);
* ``clif``: the CLIF neuron, CLIF's loss (lambda 0.05, constant target 1);
* ``adali``: AdaLi's IF; its surrogate window widths shrink per epoch (log schedule 1.5 -> 0.3)
  as traced per-epoch values (no recompilation); CE of the time-mean logits;
* ``psg`` [R]: TET's LIF with a learnable Sigmoid surrogate slope (``sn.sg.rho``, bounded to
  [1, 10]) trained by its own Adam (lr 1e-2) through ``optax.partition`` + ``psg_label_fn``;
* ``pda`` [R]: SDT plus PDA's potential-distribution penalty (λ 1e-3) on the spiking layer;
* ``tit``: TET with time inheritance training, T = 2 for 5 epochs then T = 4 (a reconstruction).

Each is a ``jsnn.methods`` value (``config.method`` / ``config.method_kw``).

Run (from the repo root)::

  python -m experiments.main --config experiments/configs/digits_mlp.py:method=tet \
      --workdir /tmp/digits_mlp_tet
  python -m experiments.main --config experiments/configs/digits_mlp.py:method=adali,runlocal \
      --workdir /tmp/digits_mlp_runlocal

Expected (15 epochs of 22 steps, batch 64, seed 0; measured on 2 shared CPU cores): final test
accuracy sdt 0.972, tet 0.975, clif 0.981, adali 0.975, psg 0.975 (best over epochs 0.978-0.981),
7-10 s of wall time from process start, of which ~2 s compilation. ``runlocal``: one train step
and one eval step on a 40-image eval batch, a few seconds. The spiking conv net of the README's
default run is ``digits.py`` (it needs ``jsnn.models`` and the digits TFDS builder).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import jsnn
from experiments.configs import common

# method -> the model's neuron preset and the jsnn.methods name and arguments.
METHODS = {
    "sdt": dict(neuron="tet_lif", method="sdt", method_kw={}),
    "tet": dict(neuron="tet_lif", method="tet", method_kw=dict(lamb=1e-3, phi=1.0)),
    "clif": dict(neuron="clif", method="clif", method_kw=dict(lamb=0.05)),
    "adali": dict(neuron="adali_if", method="adali", method_kw={}),
    "psg": dict(neuron="tet_lif", method="psg", method_kw=dict(lr=1e-2)),
    "pda": dict(neuron="tet_lif", method="sdt+pda", method_kw=dict(sdt={}, pda=dict(lam=1e-3))),
    "tit": dict(neuron="tet_lif", method="tet+tit",
                method_kw=dict(tet=dict(lamb=1e-3, phi=1.0), tit=dict(stages=((2, 5), (4, 10))))),
}


def get_config(arg: str | None = None):
  """The config for ``arg`` = ``method=<sdt|tet|clif|adali|psg>,T=4,hidden=128,runlocal``."""
  arg = common.parse_arg(arg, method="tet", T=4, hidden=128, seed=0, runlocal=False)
  if arg.method not in METHODS:
    raise ValueError(f"unknown method {arg.method!r}; valid: {', '.join(METHODS)}.")
  method = METHODS[arg.method]
  c = common.base_config()
  c.seed = arg.seed
  c.num_epochs = 15
  c.model_name = "experiments.configs.digits_mlp:SpikingMLP"
  c.model = dict(hidden=arg.hidden, T=arg.T, neuron=method["neuron"])
  c.method, c.method_kw = method["method"], method["method_kw"]
  c.input.name = "experiments.configs.digits_mlp:digits_data"
  c.input.batch_size = 64
  c.input.eval_batch_size = 360
  c.input.split_seed = 0
  c.optimizer.update(name="adam", lr=3e-3, schedule="cosine", schedule_unit="epoch")
  c.log_every_steps = 22
  if arg.runlocal:
    common.shrink_for_runlocal(c)
  return c


class SpikingMLP(nnx.Module):
  """Linear -> BatchNorm -> spiking neuron -> Linear, time-major logits ``[T, B, C]``.

  Args:
    in_features, hidden, num_classes: layer sizes.
    T: number of time steps (the input is repeated T times: direct encoding).
    neuron: name of a ``jsnn.neurons`` preset (``tet_lif``, ``clif``, ``adali_if``, ...).
    rngs: ``nnx.Rngs`` for the initial weights.

  A method (``jsnn.methods``) changes the spiking layer's neuron or surrogate from outside. The
  network is staged (``embed`` -> ``stage(0)`` -> ``head``), so SML's surrogate modules can read
  the spiking layer's firing rate.
  """

  def __init__(self, *, in_features: int = 64, hidden: int = 128, num_classes: int = 10,
               T: int = 4, neuron: str = "tet_lif", rngs: nnx.Rngs):
    if not callable(getattr(jsnn.neurons, neuron, None)):
      raise ValueError(f"unknown neuron preset {neuron!r}.")
    # No bias before BatchNorm: BN removes it, and Adam would only amplify its ~0 gradient noise.
    self.fc1 = nnx.Linear(in_features, hidden, use_bias=False, rngs=rngs)
    self.bn1 = nnx.BatchNorm(hidden, rngs=rngs)
    self.fc2 = nnx.Linear(hidden, num_classes, rngs=rngs)
    self.sn = jsnn.nn.SpikingNeuron(getattr(jsnn.neurons, neuron))
    self.T, self.num_classes = T, num_classes
    self.stage_channels = (hidden,)

  def embed(self, x_bd: jax.Array) -> jax.Array:
    """Images ``[B, 64]`` -> input currents ``[T, B, H]`` (repeated, Linear, BatchNorm)."""
    T, B = self.T, x_bd.shape[0]
    x_tbd = jnp.broadcast_to(x_bd[None], (T,) + x_bd.shape)
    return self.bn1(self.fc1(x_tbd.reshape(T * B, -1))).reshape(T, B, -1)

  def stage(self, i: int, h: jax.Array) -> jax.Array:
    """The spiking layer: currents ``[T, B, H]`` -> spikes ``[T, B, H]`` (``i = 0``)."""
    del i
    return self.sn(h)

  def head(self, spike_tbh: jax.Array) -> jax.Array:
    """Spikes ``[T, B, H]`` -> logits ``[T, B, C]``."""
    T, B = spike_tbh.shape[:2]
    return self.fc2(spike_tbh.reshape(T * B, -1)).reshape(T, B, -1)

  def __call__(self, x_bd: jax.Array) -> jax.Array:
    """Images ``[B, 64]`` -> logits ``[T, B, C]``."""
    return self.head(self.stage(0, self.embed(x_bd)))


def digits_data(input_config, *, seed: int, process_index: int = 0, process_count: int = 1):
  """``jsnn.train.ArrayData`` over sklearn's digits (``image [N, 64]`` float32, ``label`` int32)."""
  from sklearn.datasets import load_digits
  from sklearn.model_selection import train_test_split

  from jsnn.train import ArrayData

  digits = load_digits()
  x = (digits.data / 16.0).astype(np.float32)
  y = digits.target.astype(np.int32)
  x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y,
                                            random_state=input_config.get("split_seed", 0))
  return ArrayData({"image": x_tr, "label": y_tr}, {"image": x_te, "label": y_te},
                   batch_size=input_config["batch_size"],
                   eval_batch_size=input_config.get("eval_batch_size"), seed=seed,
                   process_index=process_index, process_count=process_count,
                   eval_max_batches=input_config.get("eval_max_batches"))
