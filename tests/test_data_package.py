"""Import hygiene of the data stack: no TensorFlow anywhere, `jsnn.data` kept out of `import jsnn`,
and every public name of `jsnn.data` / `jsnn.data.events` documented."""

from __future__ import annotations

import importlib
import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _run(code: str) -> subprocess.CompletedProcess:
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
  return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)


def test_tensorflow_is_not_installed():
  assert importlib.util.find_spec("tensorflow") is None, "TensorFlow must not be installed in this environment"


def test_import_jsnn_imports_neither_tensorflow_nor_the_data_stack():
  proc = _run("import sys, jsnn\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in "
              "('tensorflow', 'tensorflow_datasets', 'grain') or m.startswith('jsnn.data')))")
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout.strip() == "[]", proc.stdout


def test_the_whole_data_path_runs_without_tensorflow(tmp_path):
  pytest.importorskip("tensorflow_datasets")
  pytest.importorskip("grain")
  pytest.importorskip("sklearn")
  code = ("import sys\n"
          "import jsnn.data, jsnn.data.events\n"
          f"batch = next(iter(jsnn.data.digits_pipeline({str(tmp_path)!r}, 'test', batch_size=8)))\n"
          "assert batch['image'].shape == (8, 8, 8, 1)\n"
          "print('tensorflow' in sys.modules)\n")
  proc = _run(code)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert proc.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.parametrize("module_name", ["jsnn.data", "jsnn.data.events"])
def test_public_names_resolve_and_are_documented(module_name):
  pytest.importorskip("tensorflow_datasets")
  pytest.importorskip("grain")
  module = importlib.import_module(module_name)
  assert module.__doc__
  for name in module.__all__:
    obj = getattr(module, name)
    if callable(obj):
      assert obj.__doc__ and obj.__doc__.strip(), f"{module_name}.{name} has no docstring"
