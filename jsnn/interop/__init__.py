"""Interoperability: NIR export/import, PyTorch / SpikingJelly weights, synaptic-operation counts.

Submodules (none imports ``torch``, ``nir`` or ``safetensors`` at import time; each needs its optional
package only when called, ``pip install 'jsnn[interop]'``):

* :mod:`jsnn.interop.nir`: :func:`~jsnn.interop.nir.to_nir` / :func:`~jsnn.interop.nir.from_nir`.
* :mod:`jsnn.interop.torch_weights`: ``load_state_dict`` / ``to_state_dict`` with per-repository
  name maps (``.npz``, ``.safetensors``, ``.pt``/``.pth`` when torch is installed, or a dict).
* :mod:`jsnn.interop.synops`: per-layer synaptic operations and energy, as a paper-ready table.

``import jsnn`` does not import this package.
"""

from jsnn.interop import synops as synops
from jsnn.interop._sequential import AvgPool as AvgPool
from jsnn.interop._sequential import Flatten as Flatten
from jsnn.interop._sequential import Sequential as Sequential
from jsnn.interop._sequential import SumPool as SumPool
from jsnn.interop.torch_weights import load_state_dict as load_state_dict
from jsnn.interop.torch_weights import read_state_dict as read_state_dict
from jsnn.interop.torch_weights import to_state_dict as to_state_dict

__all__ = ["AvgPool", "Flatten", "Sequential", "SumPool", "load_state_dict", "read_state_dict",
           "synops", "to_state_dict"]
