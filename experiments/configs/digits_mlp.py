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
  as traced ``method_state`` (no recompilation); CE of the time-mean logits;
* ``psg`` [R]: TET's LIF with a learnable Sigmoid surrogate slope (``sg_rho``, bounded to
  [1, 10]) trained by its own Adam (lr 1e-2) through ``optax.partition`` + ``psg_label_fn``.

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

METHODS = {
    "sdt": dict(neuron="tet_lif", loss="sdt", loss_kw={}),
    "tet": dict(neuron="tet_lif", loss="tet", loss_kw=dict(lamb=1e-3, phi=1.0)),
    "clif": dict(neuron="clif", loss="clif_loss", loss_kw=dict(lamb=0.05)),
    "adali": dict(neuron="adali_if", loss="sdt", loss_kw={}),
    "psg": dict(neuron="tet_lif", loss="sdt", loss_kw={}),
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
  c.model = dict(hidden=arg.hidden, T=arg.T, neuron=method["neuron"],
                 psg=arg.method == "psg")
  c.loss, c.loss_kw = method["loss"], method["loss_kw"]
  c.input.name = "experiments.configs.digits_mlp:digits_data"
  c.input.batch_size = 64
  c.input.eval_batch_size = 360
  c.input.split_seed = 0
  c.optimizer.update(name="adam", lr=3e-3, schedule="cosine", schedule_unit="epoch")
  if arg.method == "adali":
    common.set_adali_schedule(c)
  if arg.method == "psg":
    c.optimizer.surrogate = dict(name="adam", lr=1e-2, clip_min=-8.0, clip_max=8.0)
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
    psg: learn the slope of a Sigmoid surrogate (a ``nnx.Param`` named ``sg_rho``, mapped to
      [1, 10] by ``BoundedSigmoidMap``), PSG's reconstruction R1.
    rngs: ``nnx.Rngs`` for the initial weights.
  """

  def __init__(self, *, in_features: int = 64, hidden: int = 128, num_classes: int = 10,
               T: int = 4, neuron: str = "tet_lif", psg: bool = False, rngs: nnx.Rngs):
    if not callable(getattr(jsnn.neurons, neuron, None)):
      raise ValueError(f"unknown neuron preset {neuron!r}.")
    # No bias before BatchNorm: BN removes it, and Adam would only amplify its ~0 gradient noise.
    self.fc1 = nnx.Linear(in_features, hidden, use_bias=False, rngs=rngs)
    self.bn1 = nnx.BatchNorm(hidden, rngs=rngs)
    self.fc2 = nnx.Linear(hidden, num_classes, rngs=rngs)
    self.T, self.neuron, self.psg = T, neuron, psg
    if psg:
      sg = jsnn.transforms.parametric_surrogate(jsnn.surrogate.Sigmoid(), 4.0,
                                                positivity=self._positivity())
      self.sg_rho = nnx.Param(jnp.asarray(sg.rho))

  @staticmethod
  def _positivity():
    return jsnn.transforms.BoundedSigmoidMap(1.0, 10.0)

  def __call__(self, x_bd: jax.Array, *, spike_fn=None) -> jax.Array:
    """Images ``[B, 64]`` -> logits ``[T, B, C]``; ``spike_fn`` overrides the surrogate (AdaLi)."""
    T, B = self.T, x_bd.shape[0]
    x_tbd = jnp.broadcast_to(x_bd[None], (T,) + x_bd.shape)
    h = self.bn1(self.fc1(x_tbd.reshape(T * B, -1)))
    neuron = getattr(jsnn.neurons, self.neuron)()
    if spike_fn is not None:
      neuron = neuron.replace(spike_fn=spike_fn)
    elif self.psg:
      neuron = neuron.replace(spike_fn=jsnn.transforms.ParametricSurrogate(
          self.sg_rho[...], jsnn.surrogate.Sigmoid(), "alpha", self._positivity()))
    _, spike_tbh = neuron(h.reshape(T, B, -1))
    return self.fc2(spike_tbh.reshape(T * B, -1)).reshape(T, B, -1)


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
