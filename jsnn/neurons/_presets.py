"""Ready-made neurons of the papers and SpikingJelly, as ``Neuron`` bundles.

A ``Neuron`` holds a step with its static options bound, its default constants (``params``), its
default surrogate (``spike_fn``) and its ``init`` function. It is a pytree whose leaves are the
constants and the surrogate's shape parameters, so it can be passed through ``jax.jit`` and
differentiated (``jax.grad(loss)(neuron)`` gives gradients for ``tau``, ``w``, ``v_th``, ``alpha``...).

    lif = jsnn.neurons.tet_lif()
    final_state, spikes = lif(x_tbn)                          # x_tbn: [T, B, ...]
    final_state, spikes = lif.replace(spike_fn=Sigmoid())(x_tbn)
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable

import jax
from jax.typing import ArrayLike

from jsnn import surrogate as sg
from jsnn.neurons import _papers, _spikingjelly
from jsnn.neurons._run import run, run_with_states

__all__ = ["Neuron", "sj_if", "sj_lif", "sj_plif", "tet_lif", "sml_lif", "clif", "clif_lif",
           "clif_plif", "adali_if", "adali_lif"]


@functools.partial(jax.tree_util.register_dataclass, data_fields=["params", "spike_fn"],
                   meta_fields=["step", "init"])
@dataclasses.dataclass(frozen=True)
class Neuron:
  """A neuron: ``step`` (static options bound), ``params``, ``spike_fn`` and ``init``.

  Attributes:
    step: ``step(state, x, *, params, spike_fn) -> (state, spikes)``.
    params: the neuron constants (a NamedTuple of scalars or arrays).
    spike_fn: the surrogate spike function (a ``jsnn.surrogate`` family instance).
    init: ``init(params, like) -> state`` for one time step ``like [B, ...]``.
  """

  step: Callable
  params: Any
  spike_fn: sg.SurrogateSpike
  init: Callable

  def bound_step(self) -> Callable:
    """``step`` with ``params`` and ``spike_fn`` bound, ready for ``jax.lax.scan``."""
    return functools.partial(self.step, params=self.params, spike_fn=self.spike_fn)

  def init_state(self, like: ArrayLike):
    """The initial state for one time step shaped like ``like [B, ...]``."""
    return self.init(self.params, like)

  def __call__(self, xs: ArrayLike, *, state=None, remat: str | int | None = None,
               residuals: str = "auto"):
    """``(final_state, spikes)`` over time-major ``xs [T, B, ...]``; see :func:`jsnn.neurons.run`."""
    xs, state = self._start(xs, state)
    return run(self.bound_step(), state, xs, remat=remat, residuals=residuals)

  def run_with_states(self, xs: ArrayLike, *, state=None, remat: str | int | None = None,
                      residuals: str = "auto"):
    """``(final_state, spikes, states)``; see :func:`jsnn.neurons.run_with_states`."""
    xs, state = self._start(xs, state)
    return run_with_states(self.bound_step(), state, xs, remat=remat, residuals=residuals)

  def _start(self, xs, state):
    xs = jax.numpy.asarray(xs)
    if state is None:
      if xs.ndim < 2:
        raise ValueError(f"expected time-major xs [T, B, ...], got shape {xs.shape}.")
      state = self.init_state(xs[0])
    return xs, state

  def replace(self, **changes) -> "Neuron":
    """A copy with some fields replaced (e.g. another ``spike_fn`` or ``params``)."""
    return dataclasses.replace(self, **changes)


@functools.lru_cache(maxsize=None)
def _bind(step, static: tuple) -> Callable:
  # One partial per (step, static options): the pytree metadata then compares equal across
  # calls, so two `sml_lif()` bundles share one jit cache entry.
  return functools.partial(step, **dict(static)) if static else step


def _bundle(step, params, spike_fn, init, **static) -> Neuron:
  return Neuron(_bind(step, tuple(sorted(static.items()))), params, spike_fn, init)


def sj_if(*, v_th=1.0, v_reset=0.0, spike_fn=None, detach_reset=False) -> Neuron:
  """SpikingJelly ``IFNode`` (default surrogate ``Sigmoid(alpha=4)``)."""
  return _bundle(_spikingjelly.if_step, _spikingjelly.IFParams(v_th, v_reset),
                 spike_fn or sg.Sigmoid(), _spikingjelly.lif_init, detach_reset=detach_reset)


def sj_lif(*, tau=2.0, v_th=1.0, v_reset=0.0, spike_fn=None, decay_input=True,
           detach_reset=False, sj_version="2.0.0") -> Neuron:
  """SpikingJelly ``LIFNode`` with its defaults (hard reset to 0, ``Sigmoid(alpha=4)``)."""
  return _bundle(_spikingjelly.lif_step, _spikingjelly.LIFParams(tau, v_th, v_reset),
                 spike_fn or sg.Sigmoid(), _spikingjelly.lif_init, decay_input=decay_input,
                 detach_reset=detach_reset, sj_version=sj_version)


def sj_plif(*, init_tau=2.0, v_th=1.0, v_reset=0.0, spike_fn=None, decay_input=True,
            detach_reset=False, sj_version="2.0.0") -> Neuron:
  """SpikingJelly ``ParametricLIFNode`` (learnable ``w``, ``1/tau = sigmoid(w)``)."""
  return _bundle(_spikingjelly.plif_step, _spikingjelly.plif_params(init_tau, v_th, v_reset),
                 spike_fn or sg.Sigmoid(), _spikingjelly.lif_init, decay_input=decay_input,
                 detach_reset=detach_reset, sj_version=sj_version)


def tet_lif(*, decay=0.5, v_th=1.0, spike_fn=None) -> Neuron:
  """TET's ``LIFSpike``: decay 0.5, multiplicative hard reset (not detached), ZIF ``Triangle(1)``
  with strict ``>`` firing."""
  return _bundle(_papers.decay_lif_step, _papers.DecayLIFParams(decay, v_th),
                 spike_fn or sg.Triangle(gamma=1.0), _papers.zero_init)


def sml_lif(*, decay=0.5, v_th=1.0, spike_fn=None, detach_reset=False) -> Neuron:
  """SML's ``LIFSpike``: as TET's but ``Dspike(gamma=2.5)`` with ``>=`` firing; ``detach_reset``
  is SML's ``set_mem_detach(True)``."""
  return _bundle(_papers.decay_lif_step, _papers.DecayLIFParams(decay, v_th),
                 spike_fn or sg.Dspike(gamma=2.5), _papers.zero_init, detach_reset=detach_reset)


def clif(*, tau=2.0, v_th=1.0, spike_fn=None) -> Neuron:
  """CLIF's ``ComplementaryLIFNeuron`` with ``Rectangle(width=1)``."""
  return _bundle(_papers.clif_step, _papers.CLIFParams(tau, v_th), spike_fn or sg.Rectangle(),
                 _papers.clif_init)


def clif_lif(*, tau=2.0, v_th=1.0, spike_fn=None) -> Neuron:
  """The CLIF repo's LIF baseline (``BPTTNeuron``): SpikingJelly 0.0.0.12 ``LIFNode(tau=2,
  decay_input=False, v_reset=None)`` with ``Rectangle``."""
  return sj_lif(tau=tau, v_th=v_th, v_reset=None, spike_fn=spike_fn or sg.Rectangle(),
                decay_input=False, sj_version="0.0.0.0.14")


def clif_plif(*, init_tau=2.0, v_th=1.0, spike_fn=None) -> Neuron:
  """The CLIF repo's PLIF baseline (``PLIFNeuron``): ``ParametricLIFNode(init_tau=2,
  decay_input=False, v_reset=None)`` with ``Rectangle``."""
  return sj_plif(init_tau=init_tau, v_th=v_th, v_reset=None, spike_fn=spike_fn or sg.Rectangle(),
                 decay_input=False, sj_version="0.0.0.0.14")


def adali_if(*, v_th=1.0, spike_fn=None) -> Neuron:
  """AdaLi's IF (CIFAR, DVS-CIFAR10, Tiny-ImageNet): soft reset, ``>=`` firing, not detached,
  ``AsymmetricRectangle`` centred at ``v_th`` (initial widths 1.5, alpha = beta = 0.5)."""
  return sj_if(v_th=v_th, v_reset=None, spike_fn=spike_fn or sg.AsymmetricRectangle())


def adali_lif(*, tau=1.1, v_th=1.0, spike_fn=None) -> Neuron:
  """AdaLi's LIF (DVSGesture): ``LIFNode(tau=1.1, decay_input=True, v_reset=None)`` of
  SpikingJelly 0.0.0.0.14 with ``AsymmetricRectangle``."""
  return sj_lif(tau=tau, v_th=v_th, v_reset=None, spike_fn=spike_fn or sg.AsymmetricRectangle(),
                decay_input=True, sj_version="0.0.0.0.14")
