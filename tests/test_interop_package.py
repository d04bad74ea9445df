"""jsnn.interop: public names documented; torch / nir / safetensors never imported eagerly (issue 15)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

MODULES = ("jsnn.interop", "jsnn.interop.nir", "jsnn.interop.torch_weights", "jsnn.interop.synops")


@pytest.mark.parametrize("name", MODULES)
def test_public_names_documented(name):
  module = importlib.import_module(name)
  for n in module.__all__:
    obj = getattr(module, n)
    if callable(obj) and not isinstance(obj, type(sys)):
      assert (obj.__doc__ or "").strip(), f"{name}.{n} has no docstring"


def test_optional_packages_are_imported_lazily():
  code = ("import sys, jsnn, jsnn.interop, jsnn.interop.nir, jsnn.interop.torch_weights\n"
          "print(','.join(m for m in ('torch', 'nir', 'safetensors') if m in sys.modules))\n"
          "import jsnn.interop.nir as n; n._nir(); print('nir' in sys.modules)\n")
  proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout.splitlines() == ["", "True"], proc.stdout
