"""Old public names that were renamed: using one raises an error that names the replacement.

jsnn keeps one name per concept and no silent aliases. A module lists its renamed names in
``RENAMED = {"old": "new (how to call it)"}`` and sets ``__getattr__ = renamed_getattr(__name__,
RENAMED)``; ``jsnn.losses.clif_loss`` then raises ``AttributeError: jsnn.losses.clif_loss was
renamed: use jsnn.losses.clif``.
"""

from __future__ import annotations

from typing import Callable, Mapping

__all__ = ["renamed_getattr", "renamed_kwargs"]


def renamed_getattr(module: str, renamed: Mapping[str, str]) -> Callable[[str], object]:
  """A module-level ``__getattr__`` that raises for the names in ``renamed``."""

  def __getattr__(name: str):
    if name in renamed:
      raise AttributeError(f"{module}.{name} was renamed: use {renamed[name]}.")
    raise AttributeError(f"module {module!r} has no attribute {name!r}")

  return __getattr__


def renamed_kwargs(who: str, kwargs: Mapping[str, object], renamed: Mapping[str, str]) -> None:
  """Raises ``TypeError`` for keyword arguments that were renamed or moved (``**kwargs`` catch-all).

  Args:
    who: the callable's name, for the message.
    kwargs: the unexpected keyword arguments it received.
    renamed: ``{"old": "what to use instead"}``.
  """
  for name in kwargs:
    if name in renamed:
      raise TypeError(f"{who}: the argument {name!r} was renamed or moved: use {renamed[name]}.")
  if kwargs:
    raise TypeError(f"{who}: unexpected keyword argument(s) {sorted(kwargs)}.")
