"""The code blocks of docs/methods.md run as written (in order, in one namespace), so the documented
hand-written step stays in sync with jsnn.methods."""

from __future__ import annotations

import pathlib
import re

import jax
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("fast_compile")


def _blocks(path: pathlib.Path) -> list[str]:
  return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def test_methods_doc_blocks_run():
  blocks = _blocks(ROOT / "docs" / "methods.md")
  assert len(blocks) >= 8
  namespace: dict = {}
  with jax.numpy_dtype_promotion("standard"):   # optax's Adam, as the doc notes
    for block in blocks:
      if block.lstrip().startswith("c.method"):   # a config fragment, checked below
        continue
      exec(compile(block, "docs/methods.md", "exec"), namespace)  # noqa: S102
  assert namespace["model"] is not None and float(namespace["loss"]) == float(namespace["loss"])


def test_methods_doc_config_fragment_builds_the_method():
  import jsnn.methods
  fragment = next(b for b in _blocks(ROOT / "docs" / "methods.md") if b.lstrip().startswith("c.method"))

  class C:
    pass

  c = C()
  exec(fragment, {"c": c})  # noqa: S102
  method = jsnn.methods.from_config(c.method, c.method_kw)
  assert method.name == "clif+tet" and method.neuron is jsnn.neurons.clif


def test_methods_doc_has_one_row_per_method():
  import jsnn.methods
  text = (ROOT / "docs" / "methods.md").read_text()
  for name in jsnn.methods.METHODS:
    assert f"jsnn/methods/{name}.py" in text, name
