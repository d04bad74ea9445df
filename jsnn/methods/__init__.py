"""Training methods as values: pick one, compose several, apply them to any model.

``jsnn.methods.tet(lamb=1e-3)`` returns a :class:`Method` stating everything TET changes; the
same holds for ``sdt``, ``tit``, ``sml``, ``clif``, ``adali``, ``psg`` [R] and ``pda`` [R]. Use
one on any zoo model or your own ``nnx.Module``::

    method = jsnn.methods.compose(jsnn.methods.clif().without("loss"), jsnn.methods.tet())
    model = method.prepare(MyNet(rngs=nnx.Rngs(0)), rngs=nnx.Rngs(1))
    tx = method.wrap_optimizer(optax.adam(1e-3))
    loss, logits = method.objective(model, x, labels, method.epoch_state(epoch, num_epochs))

The trainer selects one with ``config.method = "tet"`` (or ``"clif+tet"``) and
``config.method_kw`` (:func:`from_config`). ``docs/methods.md`` has one row per method.
"""

from __future__ import annotations

from typing import Any, Mapping

from jsnn.methods._core import PARTS as PARTS
from jsnn.methods._core import Method as Method
from jsnn.methods._core import compose as compose
from jsnn.methods._core import set_time_steps as set_time_steps
from jsnn.methods.adali import adali as adali
from jsnn.methods.clif import clif as clif
from jsnn.methods.pda import layer_potentials as layer_potentials
from jsnn.methods.pda import pda as pda
from jsnn.methods.psg import psg as psg
from jsnn.methods.sdt import sdt as sdt
from jsnn.methods.sml import sml as sml
from jsnn.methods.tet import tet as tet
from jsnn.methods.tit import tit as tit

__all__ = ["METHODS", "Method", "PARTS", "adali", "by_name", "clif", "compose", "from_config",
           "layer_potentials", "pda", "psg", "sdt", "set_time_steps", "sml", "tet", "tit"]

METHODS = {"sdt": sdt, "tet": tet, "tit": tit, "sml": sml, "clif": clif, "adali": adali,
           "psg": psg, "pda": pda}


def by_name(name: str, **kwargs: Any) -> Method:
  """The method ``name`` (a key of :data:`METHODS`) built with ``kwargs``.

  Raises:
    ValueError: an unknown name (the valid ones are listed) or an argument the method does not
      take (its valid arguments are listed).
  """
  if name not in METHODS:
    raise ValueError(f"unknown method {name!r}; valid: {', '.join(METHODS)} (combine them with "
                     "'+', e.g. 'clif+tet').")
  factory = METHODS[name]
  import inspect
  params = inspect.signature(factory).parameters
  takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
  unknown = [k for k in kwargs if k not in params] if not takes_any else []
  if unknown:
    valid = [k for k, p in params.items() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    raise ValueError(f"method {name!r}: unknown argument(s) {unknown}; valid: "
                     f"{', '.join(valid)}.")
  return factory(**kwargs)


def from_config(method: str, method_kw: Mapping | None = None) -> Method:
  """The method of a trainer config: ``method = "tet"`` or ``"clif+tet"``.

  Args:
    method: one name, or names joined by ``+`` (composed in that order).
    method_kw: for one method its keyword arguments; for several, a mapping from each name to
      its keyword arguments (``{"clif": {...}, "tet": {"lamb": 1e-3}}``). A composed name may
      carry ``"without": [...]`` in its arguments (e.g. ``{"clif": {"without": ["loss"]}}``).

  Raises:
    ValueError: unknown names or arguments, conflicting parts (see :func:`compose`).
  """
  names = [n.strip() for n in str(method).split("+") if n.strip()]
  if not names:
    raise ValueError("config.method is empty; valid: " + ", ".join(METHODS) + ".")
  kw = dict(method_kw or {})
  if len(names) > 1:
    extra = [k for k in kw if k not in names]
    if extra:
      raise ValueError(f"config.method_kw for {method!r} must map each of {names} to its "
                       f"arguments; got keys {extra}.")
    per = {n: dict(kw.get(n) or {}) for n in names}
  else:
    per = {names[0]: kw}
  built = []
  for n in names:
    args = dict(per[n])
    without = tuple(args.pop("without", ()) or ())
    m = by_name(n, **args)
    built.append(m.without(*without) if without else m)
  return built[0] if len(built) == 1 else compose(*built)
