r"""A spiking conv net on scikit-learn's 8x8 digits through the TFDS builder: the default run.

Network (``DigitsConvNet``): direct encoding (the image repeated T times) -> Conv 3x3 1->C1 (pad 1,
no bias) -> BN (time-merged) -> neuron -> Conv 3x3 C1->C2 (pad 1, no bias) -> BN -> neuron ->
AvgPool 2 -> Linear 16·C2 -> 10, per-step logits ``[T, B, 10]``. Only the neurons scan over T;
convolutions and BN run once on the time-folded ``[T·B, 8, 8, C]`` batch.
Data: ``jsnn.data.digits_data``: sklearn's packaged digits prepared once as ArrayRecord by a TFDS
builder (no download, no TensorFlow) and read with ``data_source`` + grain; stratified 80/20 split
(1437 / 360).

``method`` picks neuron and loss as in ``digits_mlp.py`` (``sdt``, ``tet``, ``clif``, ``adali``).

Run (from the repo root)::

  python -m experiments.main --config experiments/configs/digits.py --workdir /tmp/digits
  python -m experiments.main --config experiments/configs/digits.py:method=clif --workdir /tmp/d_clif
  python -m experiments.main --config experiments/configs/digits.py:runlocal --workdir /tmp/d_local

Expected (TET, 20 epochs of 44 steps, batch 32; 2 shared CPU cores): final test accuracy 0.9889 /
0.9806 / 0.9861 for seeds 0 / 1 / 2 (best 0.9889 / 0.9833 / 0.9889), 19-23 s of wall time from
process start (about 3 s compilation; preparing the dataset the first time adds about 1.5 s).
"""

from __future__ import annotations

import jax
from flax import nnx

import jsnn
from jsnn import nn as jn
from experiments.configs import common
from experiments.configs.digits_mlp import METHODS as _MLP_METHODS

METHODS = {k: v for k, v in _MLP_METHODS.items() if k != "psg"}


def get_config(arg: str | None = None):
  """The config for ``arg`` = ``method=<sdt|tet|clif|adali>,T=4,epochs=20,seed=0,runlocal``."""
  arg = common.parse_arg(arg, method="tet", T=4, epochs=20, seed=0, c1=16, c2=32, runlocal=False)
  if arg.method not in METHODS:
    raise ValueError(f"unknown method {arg.method!r}; valid: {', '.join(METHODS)}.")
  method = METHODS[arg.method]
  c = common.base_config()
  c.seed = arg.seed
  c.num_epochs = arg.epochs
  c.model_name = "experiments.configs.digits:DigitsConvNet"
  c.model = dict(T=arg.T, neuron=method["neuron"], c1=arg.c1, c2=arg.c2)
  c.loss, c.loss_kw = method["loss"], method["loss_kw"]
  c.input.name = "jsnn.data:digits_data"
  c.input.batch_size = 32
  c.input.eval_batch_size = 360
  c.optimizer.update(name="adam", lr=3e-3, schedule="cosine", schedule_unit="epoch")
  if arg.method == "adali":
    common.set_adali_schedule(c)
  c.log_every_steps = 44
  if arg.runlocal:
    common.shrink_for_runlocal(c)
  return c


class DigitsConvNet(nnx.Module):
  """Two spiking conv layers and a linear readout for ``[B, 8, 8, 1]`` images.

  Args:
    T: time steps (direct encoding). neuron: a ``jsnn.neurons`` preset name.
    c1, c2: channels of the two conv layers. rngs: ``nnx.Rngs``.
  """

  def __init__(self, *, T: int = 4, neuron: str = "tet_lif", c1: int = 16, c2: int = 32,
               num_classes: int = 10, rngs: nnx.Rngs):
    make = getattr(jsnn.neurons, neuron, None)
    if not callable(make):
      raise ValueError(f"unknown neuron preset {neuron!r}.")
    self.T = T
    self.conv1 = jn.Conv(1, c1, 3, padding=1, use_bias=False, rngs=rngs)
    self.bn1 = jn.BatchNorm(c1, rngs=rngs)
    self.sn1 = jn.SpikingNeuron(make)
    self.conv2 = jn.Conv(c1, c2, 3, padding=1, use_bias=False, rngs=rngs)
    self.bn2 = jn.BatchNorm(c2, rngs=rngs)
    self.sn2 = jn.SpikingNeuron(make)
    self.fc = jn.Linear(16 * c2, num_classes, rngs=rngs)

  def __call__(self, x: jax.Array, *, spike_fn=None) -> jax.Array:
    """Images ``[B, 8, 8, 1]`` -> logits ``[T, B, 10]``; ``spike_fn`` overrides the surrogate."""
    if spike_fn is not None:
      jn.set_surrogate(self, spike_fn)
    h = jn.encode_input(x, T=self.T, kind="image", sample_shape=(8, 8, 1), who="DigitsConvNet")
    h = self.sn1(self.bn1(self.conv1(h)))
    h = self.sn2(self.bn2(self.conv2(h)))
    h = jn.flatten(jn.avg_pool(h, 2))
    return self.fc(h)
