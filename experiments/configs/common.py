"""Helpers shared by the configs: ``parse_arg`` (big_vision's ``bvcc.parse_arg``) and the trainer's
default keys (``base_config``, defined in the package: :mod:`jsnn.train.base_config`), so each
config only states what differs."""

from __future__ import annotations

import dataclasses
from typing import Any

import ml_collections

from jsnn.train.base_config import base_config

__all__ = ["parse_arg", "base_config", "set_remat"]

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




def set_remat(c: ml_collections.ConfigDict, remat: str) -> None:
  """``:remat=layer|step|<k>`` of a zoo config: ``c.model.options`` gets that ``remat``
  (``jsnn.models.Options``; kept with any other option the config set, e.g. CLIF's AMP dtype).

  ``layer`` rematerialises every conv -> BN -> neuron block with 1-bit spike inputs (ResNet-19
  T=4 B=32: 0.20x plain autodiff's temporary memory, 1.23x the default step time on CPU,
  experiments/README.md table 11); ``step`` / ``k``: the neurons' time remat. Empty: unchanged.

  Raises:
    ValueError: another value (listing the valid ones).
  """
  if not remat:
    return
  import jsnn.models  # pylint: disable=g-import-not-at-top (configs stay importable without jax)
  value = int(remat) if str(remat).isdigit() else remat
  old = c.model.get("options") or jsnn.models.Options()
  c.model.options = dataclasses.replace(old, remat=value)


def shrink_for_runlocal(c: ml_collections.ConfigDict) -> None:
  """``runlocal``: one train step and one eval step on a 40-image batch, no progress bar or plot."""
  c.total_steps = 1
  c.input.batch_size = 16
  c.input.eval_batch_size = 40
  c.input.eval_max_batches = 1
  c.progress = False
  c.plot = False
