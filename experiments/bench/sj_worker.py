"""SpikingJelly benchmark worker (PyTorch CPU, multi-step mode). Runs in its own venv:

    python -m experiments.bench.sj_worker      # with torch + spikingjelly installed, no jax needed

Variants: ``snn`` (NCHW), ``snn_cl`` (channels_last memory format), ``ann`` (ReLU).
"""

from __future__ import annotations

import os
import time

import torch
from torch import nn

from experiments.bench import protocol

from spikingjelly.activation_based import functional, layer, neuron, surrogate  # noqa: E402


def _lif():
  return neuron.LIFNode(tau=2.0, decay_input=False, v_reset=None,
                        surrogate_function=surrogate.Sigmoid(alpha=4.0), step_mode="m")


def _act(variant):
  return layer.SeqToANNContainer(nn.ReLU()) if variant == "ann" else _lif()


class LifMLP(nn.Module):
  def __init__(self, variant):
    super().__init__()
    self.net = nn.Sequential(layer.Linear(700, 512, step_mode="m"), _act(variant),
                             layer.Linear(512, 512, step_mode="m"), _act(variant),
                             layer.Linear(512, 20, step_mode="m"))

  def forward(self, x_tbn):
    return self.net(x_tbn).sum(0)


class ConvCifar(nn.Module):
  def __init__(self, variant, t):
    super().__init__()
    self.t = t
    mods = []
    for ci, co, s in [(3, 64, 1), (64, 128, 2), (128, 256, 2)]:
      mods += [layer.Conv2d(ci, co, 3, s, 1, bias=False, step_mode="m"),
               layer.BatchNorm2d(co, step_mode="m"), _act(variant)]
    self.features = nn.Sequential(*mods)
    self.fc = layer.Linear(256, 10, step_mode="m")

  def forward(self, x_bchw):
    x = x_bchw.unsqueeze(0).repeat(self.t, 1, 1, 1, 1)
    h = self.features(x).mean((3, 4))
    return self.fc(h)  # [T, B, 10]


def _tet(out_tbc, y):
  return sum(nn.functional.cross_entropy(o, y) for o in out_tbc) / out_tbc.shape[0]


def build(workload, variant, t, b):
  torch.manual_seed(0)
  cl = variant.endswith("_cl")
  base = variant.removesuffix("_cl")
  if workload == "lif_mlp":
    model = LifMLP(base)
    x = (torch.rand(t, b, 700) < 0.1).float()
    y = torch.arange(b) % 20
    loss_fn = lambda: nn.functional.cross_entropy(model(x), y)
  elif workload == "conv_cifar":
    model = ConvCifar(base, t)
    x = torch.randn(b, 3, 32, 32)
    if cl:
      model = model.to(memory_format=torch.channels_last)
      x = x.contiguous(memory_format=torch.channels_last)
    y = torch.arange(b) % 10
    loss_fn = lambda: _tet(model(x), y)
  else:
    raise ValueError(f"workload {workload!r} is not implemented for spikingjelly")
  opt = torch.optim.Adam(model.parameters(), lr=1e-3)

  def step():
    opt.zero_grad(set_to_none=True)
    loss = loss_fn()
    loss.backward()
    opt.step()
    functional.reset_net(model)

  t0 = time.perf_counter()
  step()  # first call: no compilation in eager torch, reported as compile_s for symmetry
  first = time.perf_counter() - t0
  for _ in range(2):
    step()
  return step, {"compile_s": first, "peak_temp_bytes": None, "flops": None}


def describe_device():
  import spikingjelly
  return (f"cpu torch {torch.__version__} threads={torch.get_num_threads()} "
          f"(spikingjelly {getattr(spikingjelly, '__version__', '?')})")


if __name__ == "__main__":
  if os.environ.get("BENCH_THREADS"):
    torch.set_num_threads(int(os.environ["BENCH_THREADS"]))
  protocol.serve(build, describe_device)
