"""Helpers shared by the configs: ``parse_arg`` (big_vision's ``bvcc.parse_arg``) and the trainer's
default keys (``base_config``, defined in the package: :mod:`jsnn.train.base_config`), so each
config only states what differs."""

from __future__ import annotations

from typing import Any

import ml_collections

from jsnn.train.base_config import base_config

__all__ = ["parse_arg", "base_config"]

_TRUE, _FALSE = ("1", "true", "yes", "y", "on"), ("0", "false", "no", "n", "off")


def _coerce(key: str, text: str, default: Any) -> Any:
  if isinstance(default, bool):
    if text.lower() in _TRUE + _FALSE:
      return text.lower() in _TRUE
    raise ValueError(f"config arg {key}={text!r}: expected a boolean ({'/'.join(_TRUE[:2])}, "
                     f"{'/'.join(_FALSE[:2])}).")
  if default is None or isinstance(default, str):
    return text
  try:
    return type(default)(text)
  except ValueError:
    raise ValueError(f"config arg {key}={text!r}: expected {type(default).__name__}.") from None


def parse_arg(arg: str | None, **spec: Any) -> ml_collections.ConfigDict:
  """Parses the ``:arg`` of ``--config file.py:arg`` against defaults.

  ``arg`` is a comma-separated list of ``key=value`` items; a bare ``key`` sets a boolean to True
  (``"method=tet,runlocal"``). Values take the type of their default.

  Raises:
    ValueError: an unknown key (the valid ones are listed) or a value of the wrong type.

  Examples:
    >>> a = parse_arg("method=clif,runlocal", method="tet", runlocal=False, T=4)
    >>> (a.method, a.runlocal, a.T)
    ('clif', True, 4)
  """
  values = dict(spec)
  for item in filter(None, (s.strip() for s in (arg or "").split(","))):
    key, sep, text = item.partition("=")
    key = key.strip()
    if key not in spec:
      raise ValueError(f"unknown config arg {key!r}; valid: {', '.join(sorted(spec))}.")
    if not sep:
      if not isinstance(spec[key], bool):
        raise ValueError(f"config arg {key!r} needs a value ({key}=...).")
      values[key] = True
    else:
      values[key] = _coerce(key, text.strip(), spec[key])
  return ml_collections.ConfigDict(values)




def shrink_for_runlocal(c: ml_collections.ConfigDict) -> None:
  """``runlocal``: one train step and one eval step on a 40-image batch, no progress bar or plot."""
  c.total_steps = 1
  c.input.batch_size = 16
  c.input.eval_batch_size = 40
  c.input.eval_max_batches = 1
  c.progress = False
  c.plot = False
