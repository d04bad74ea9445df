"""Finding the surrogate shape parameters in any params tree, for `optax.partition`.

**Convention.** A leaf is a surrogate shape parameter if

1. it lives inside a surrogate node: a `jsnn.surrogate.SurrogateSpike` instance (e.g. the
   `spike_fn` of a `jsnn.neurons.Neuron`) or a :class:`ParametricSurrogate` (its `rho`); or
2. some key on its path (a dict key, an attribute name, an NNX `State` path entry) *names* a
   surrogate: equals one of `keys` (default "surrogate", "sg", "spike_fn", "psg"; case-insensitive)
   or starts with `<key>_` or ends with `_<key>` (`"sg_rho"`, `"layer1_sg"`, ...).

Everything else gets the default label. Sequence indices never match. Example layouts::

    {"w1": ..., "w2": ..., "sg": {"l1": rho1, "l2": rho2}}           # rule 2
    {"lif1": jsnn.neurons.tet_lif(spike_fn=Sigmoid(4.0)), "fc": ...}  # rule 1 (alpha)
    nnx.split(model, nnx.Param)[1] with a `self.sg = nnx.Param(...)`  # rule 2
"""

from __future__ import annotations

from typing import Any, Sequence

import jax

from jsnn.surrogate import SurrogateSpike
from jsnn.transforms._psg import ParametricSurrogate

__all__ = ["SURROGATE_KEYS", "SURROGATE_LABEL", "DEFAULT_LABEL", "psg_label_fn"]

SURROGATE_KEYS = ("surrogate", "sg", "spike_fn", "psg")
SURROGATE_LABEL = "surrogate"
DEFAULT_LABEL = "default"


def _is_surrogate_node(x: Any) -> bool:
  return isinstance(x, (SurrogateSpike, ParametricSurrogate))


def _key_name(entry) -> str | None:
  if isinstance(entry, jax.tree_util.DictKey):
    return entry.key if isinstance(entry.key, str) else None
  if isinstance(entry, jax.tree_util.GetAttrKey):
    return entry.name
  return None


def _names_surrogate(name: str, keys: Sequence[str]) -> bool:
  name = name.lower()
  return any(name == k or name.startswith(k + "_") or name.endswith("_" + k) for k in keys)


def psg_label_fn(params: Any, *, keys: Sequence[str] = SURROGATE_KEYS,
                 surrogate_label: str = SURROGATE_LABEL,
                 default_label: str = DEFAULT_LABEL) -> Any:
  """Labels every leaf of `params` as a surrogate shape parameter or not (see module docstring).

  Args:
    params: any pytree of parameters (dicts, NamedTuples, `Neuron`s, NNX `State`).
    keys: path names that mark a surrogate subtree (lower case).
    surrogate_label: label of surrogate shape leaves.
    default_label: label of every other leaf.

  Returns:
    A pytree of the same structure as `params` with a string label at each leaf, as expected by
    `optax.partition` / `optax.multi_transform`.

  Examples:
    >>> import jax.numpy as jnp, optax
    >>> from jsnn.transforms import clip_params
    >>> params = {"w": jnp.ones(3), "sg": jnp.zeros(())}
    >>> psg_label_fn(params)
    {'sg': 'surrogate', 'w': 'default'}
    >>> tx = optax.partition({"default": optax.sgd(0.1),
    ...                       "surrogate": optax.chain(optax.adam(1e-2), clip_params(-5.0, 5.0))},
    ...                      psg_label_fn)
  """
  keys = tuple(k.lower() for k in keys)

  def label(path, leaf):
    if _is_surrogate_node(leaf):
      return jax.tree.map(lambda _: surrogate_label, leaf)
    names = (_key_name(e) for e in path)
    hit = any(n is not None and _names_surrogate(n, keys) for n in names)
    return surrogate_label if hit else default_label

  return jax.tree_util.tree_map_with_path(label, params, is_leaf=_is_surrogate_node)
