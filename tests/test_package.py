"""Package-level tests: import hygiene, public API docstrings, and the README example.

* `import jsnn` must not pull in the data/training stack (TensorFlow, tfds, orbax, grain); checked in a
  fresh interpreter so that other tests' imports cannot hide a regression.
* Every public name of the core subpackages resolves and every public callable has a real docstring.
* The first ```python block of README.md runs as written (so the README cannot rot).
* The quickstart in README command 1 still trains to >= 0.95 test accuracy.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pathlib
import re
import subprocess
import sys
import types

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORE_MODULES = ("jsnn.surrogate", "jsnn.neurons", "jsnn.losses", "jsnn.transforms", "jsnn.nn")
FORBIDDEN_AT_IMPORT = ("tensorflow", "tensorflow_datasets", "orbax", "orbax.checkpoint", "grain")


def _run_python(code: str, timeout: float) -> subprocess.CompletedProcess:
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT),
                                                                   os.environ.get("PYTHONPATH")])))
  return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=timeout)


def test_import_jsnn_does_not_load_data_or_training_stack():
  code = ("import sys, jsnn\n"
          f"loaded = [m for m in {FORBIDDEN_AT_IMPORT!r} if m in sys.modules]\n"
          "print(','.join(loaded))\n")
  proc = _run_python(code, timeout=120)
  assert proc.returncode == 0, proc.stderr
  loaded = proc.stdout.strip()
  assert not loaded, f"`import jsnn` imported {loaded}; keep the data/training stack out of the core."


def _public_names(module: types.ModuleType) -> list[str]:
  names = getattr(module, "__all__", None)
  if names is None:
    names = [n for n in vars(module) if not n.startswith("_")]
  return sorted(n for n in names if not isinstance(getattr(module, n, None), types.ModuleType))


def _has_real_docstring(obj) -> bool:
  doc = obj.__doc__  # not inspect.getdoc: an inherited docstring does not count
  if not doc or not doc.strip():
    return False
  name = getattr(obj, "__name__", "")
  # dataclasses and NamedTuples without a docstring get an auto-generated "Name(field, ...)" one.
  return not (inspect.isclass(obj) and name and doc.startswith(f"{name}("))


@pytest.mark.parametrize("module_name", CORE_MODULES)
def test_public_names_resolve_and_are_documented(module_name):
  module = importlib.import_module(module_name)
  names = _public_names(module)
  assert names, f"{module_name} exports nothing"
  missing = [n for n in names if not hasattr(module, n)]
  assert not missing, f"{module_name}.__all__ lists names it does not define: {missing}"
  undocumented = [n for n in names if callable(getattr(module, n)) and
                  not _has_real_docstring(getattr(module, n))]
  assert not undocumented, f"public callables of {module_name} without a docstring: {undocumented}"


def _readme_python_block() -> str:
  text = (ROOT / "README.md").read_text(encoding="utf-8")
  match = re.search(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)
  assert match, "README.md has no ```python block"
  return match.group(1)


def test_readme_example_runs(capsys):
  code = _readme_python_block()
  namespace = {"__name__": "readme_example"}
  exec(compile(code, "README.md:python", "exec"), namespace)  # noqa: S102
  out = capsys.readouterr().out
  assert "[0. 0. 1.]" in out, out  # the forward convention stated in the README comment
  assert namespace["spike_tbn"].shape == (namespace["T"], namespace["B"], namespace["N"])


@pytest.mark.slow
def test_quickstart_reaches_accuracy():
  pytest.importorskip("sklearn")
  # A subprocess: the quickstart runs under default promotion, not this suite's strict settings.
  proc = _run_python("from experiments.quickstart_digits import main; main()", timeout=600)
  assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
  match = re.search(r"^test accuracy: ([0-9.]+)$", proc.stdout, flags=re.MULTILINE)
  assert match, proc.stdout[-2000:]
  assert float(match.group(1)) >= 0.95, proc.stdout[-2000:]
