"""Shared test configuration.

Strict dtype promotion and `rank_promotion="raise"` turn silent `[T, B]` / `[B, T]` broadcasting
mix-ups and float32/float64 mixes into errors (the equinox convention). float64 is off by default and
switched on only inside the tests that need it, through the `x64` fixture / `jax.enable_x64`.
"""

from __future__ import annotations

import pathlib

import jax
import numpy as np
import pytest

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")

REF_DIR = pathlib.Path(__file__).parent / "ref"


@pytest.fixture(scope="session")
def ref():
  """Loads `tests/ref/<name>` (copied from the official code's outputs; see tests/ref/README.md)."""
  cache: dict[str, np.lib.npyio.NpzFile] = {}

  def load(name: str):
    if name not in cache:
      cache[name] = np.load(REF_DIR / name)
    return cache[name]

  return load


@pytest.fixture
def x64():
  """Runs the test body with float64 enabled; restores the default afterwards."""
  with jax.enable_x64(True):
    yield


@pytest.fixture(scope="module")
def fast_compile():
  """Fewer XLA optimisations for a whole test module: compiles ~2x faster (flax's train_test
  does the same). Use with ``pytestmark = pytest.mark.usefixtures("fast_compile")``."""
  old = jax.config.read("jax_disable_most_optimizations")
  jax.config.update("jax_disable_most_optimizations", True)
  yield
  jax.config.update("jax_disable_most_optimizations", old)
