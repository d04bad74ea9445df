r"""PDA [R]: membrane-potential distribution adjustment as a penalty on every spiking layer.

Reconstruction R-PDA-B (spec ``adali_psg_family.md`` §2.4; ``jsnn.transforms.pda_penalty``):

.. math:: \lambda_{pda} \sum_l \Big[\overline{\mathrm{relu}(-u_l)^2} +
   \overline{\mathrm{relu}(u_l - \theta_l - m)^2}\Big]

over the pre-spike potentials ``u_l [T, B, ...]`` of every spiking layer, which the method asks
the layers to record (``record=("potential",)``, sown as ``nnx.Intermediate``) instead of
threading flags through the model. Coefficient, margin and form are not public [?].

References:
  Wang, Cheng, Lim, Neurocomputing 620 (2025) 129189; arXiv:2304.13289.
"""

from __future__ import annotations

from flax import nnx

from jsnn import transforms
from jsnn.methods._core import Method
from jsnn.nn import spiking_layers

__all__ = ["pda", "layer_potentials"]


def layer_potentials(model: nnx.Module, intermediates) -> tuple[list, list]:
  """``(potentials, thresholds)``: each spiking layer's recorded ``[T, B, ...]`` potential and
  its ``v_th``, in graph order.

  Raises:
    ValueError: a layer recorded no potential (it was not called, or record was switched off).
  """
  flat = {tuple(str(k) for k in path): v for path, v in nnx.to_flat_state(intermediates)}
  potentials, thresholds = [], []
  for path, layer in spiking_layers(model):
    key = tuple(path.split("/")) + ("potential",) if path else ("potential",)
    if key not in flat:
      raise ValueError(f"pda: spiking layer {path or '<root>'!r} recorded no potential; was it "
                       "called in the forward pass?")
    value = flat[key].get_value()
    potentials.append(value[-1] if isinstance(value, tuple) else value)
    thresholds.append(layer.neuron.params.v_th)
  return potentials, thresholds


def pda(*, lam: float = 1e-3, margin: float = 0.5) -> Method:
  """PDA's potential-distribution penalty [R] on every spiking layer, added to the loss.

  Args:
    lam: λ_pda ≥ 0 (sweep 1e-4 .. 1e-2; not public).
    margin: m ≥ 0, how far above threshold counts as saturated.
  """
  transforms.pda_penalty([], [], margin, lam=lam)   # validates lam and margin now

  def penalty(model, intermediates):
    potentials, thresholds = layer_potentials(model, intermediates)
    return transforms.pda_penalty(potentials, thresholds, margin, lam=lam)

  return Method("pda", record=("potential",), penalty=penalty)
