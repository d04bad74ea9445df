"""Synaptic operations and energy (issue 15): closed forms, zoo models, markdown, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jsnn.nn as jn
from jsnn import neurons
from jsnn.interop import Flatten, Sequential, synops
from jsnn.models import tet_resnet


def test_linear_closed_form():
  net = Sequential(jn.Linear(4, 3, rngs=nnx.Rngs(0)), jn.SpikingNeuron(neurons.tet_lif),
                   jn.Linear(3, 2, rngs=nnx.Rngs(1)))
  net.layers[0].linear.kernel[...] = jnp.full((4, 3), 0.8)
  x = jnp.asarray(np.array([[[1, 0, 0, 1], [0, 0, 0, 0]],
                            [[1, 1, 1, 1], [1, 0, 0, 0]]], np.float32))    # [T=2, B=2, 4] spikes
  r = synops.synops(net, x)
  assert r.batch_size == 2
  l0, l2 = r.layers
  assert (l0.name, l0.kind, l0.spiking_input) == ("layers.0", "linear", True)
  assert l0.input_rate == 7 / 16
  assert l0.acs == 7 * 3 / 2 and l0.macs == 0 and l0.dense_macs == 2 * 2 * 3 * 4 / 2
  hidden = np.asarray(net.layers[1](net.layers[0](x)))
  assert l2.acs == hidden.sum() * 2 / 2 and l2.spiking_input
  assert r.energy_pj == pytest.approx(0.9 * (l0.acs + l2.acs))
  assert r.acs == l0.acs + l2.acs


def test_conv_counts_every_event_with_its_fan_out_and_analog_macs():
  r_ = nnx.Rngs(0)
  net = Sequential(jn.Conv(1, 2, 3, padding=1, rngs=r_), jn.SpikingNeuron(neurons.tet_lif),
                   jn.Conv(2, 3, 3, stride=2, padding=1, rngs=r_), Flatten(),
                   jn.Linear(2 * 2 * 3, 4, rngs=r_))
  x = jax.random.uniform(jax.random.key(0), (3, 2, 4, 4, 1))        # analog input
  rep = synops.synops(net, x, e_ac_pj=1.0, e_mac_pj=10.0)
  c0, c2, l4 = rep.layers
  assert not c0.spiking_input and c0.macs == c0.dense_macs == 3 * 4 * 4 * 2 * 9 and c0.acs == 0
  s = np.asarray(net.layers[1](net.layers[0](x)))                    # [T, B, 4, 4, 2]
  # each input spike at (i, j) reaches every output (p, q) whose 3x3 window (stride 2, pad 1)
  # covers it, times C_out = 3
  events = 0
  for t, b, i, j, c in zip(*np.nonzero(s)):
    events += 3 * sum(1 for p in range(2) for q in range(2)
                      if abs(i - 2 * p) <= 1 and abs(j - 2 * q) <= 1)
  assert c2.spiking_input and c2.acs == events / 2 and c2.macs == 0
  assert c2.dense_macs == 3 * 2 * 2 * 3 * 18 and c2.input_rate == pytest.approx(s.mean())
  assert not l4.spiking_input and l4.macs == 3 * 4 * 12
  assert rep.energy_pj == pytest.approx(1.0 * rep.acs + 10.0 * rep.macs)


def test_zoo_model_table():
  m = tet_resnet._ResNet19Tiny(num_classes=10, T=2, rngs=nnx.Rngs(0))
  m.eval()
  rep = synops.synops(m, jax.random.uniform(jax.random.key(0), (3, 8, 8, 3)))
  assert rep.batch_size == 3
  names = [l.name for l in rep.layers]
  assert names[0] == "stem.conv" and names[-1] == "fc" and "blocks.0.cn1.conv" in names
  assert not rep.layers[0].spiking_input and all(l.spiking_input for l in rep.layers[1:])
  md = rep.to_markdown()
  assert md.splitlines()[0] == "| layer | input | rate | dense MACs | ACs | MACs | energy (µJ) |"
  assert "| **total** |" in md and "E_AC = 0.9 pJ, E_MAC = 4.6 pJ" in md
  assert str(rep) == md


def test_errors():
  with pytest.raises(ValueError, match=r"the forward pass called no jsnn.nn.Conv / Linear"):
    synops.synops(Sequential(jn.SpikingNeuron(neurons.tet_lif)), jnp.ones((2, 1, 3)))
  net = Sequential(jn.Linear(3, 2, rngs=nnx.Rngs(0)))
  with pytest.raises(ValueError, match=r"batch_size must be >= 1, got 0"):
    synops.synops(net, jnp.ones((2, 1, 3)), batch_size=0)
  with pytest.raises(ValueError, match=r"saw traced values; call synops outside jax.jit"):
    jax.jit(lambda v: synops.synops(net, v).acs)(jnp.ones((2, 1, 3)))
  assert jn.Linear.__call__.__name__ == "__call__"                    # patches were removed
