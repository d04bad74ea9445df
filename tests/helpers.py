"""Small test helpers on top of chex.

``assert_close`` / ``assert_equal`` are ``chex.assert_trees_all_close`` / ``assert_trees_all_equal``
with numpy's broadcasting of the expected value (a scalar or a list against an array), so a parity
test states ``assert_close(grad, ref["grad"], atol=1e-6)`` in one line. ``maybe_jit`` is the
``jit`` axis of the parity tests' ``[False, True]`` parametrisation (``chex.variants`` does the same
for test classes, see ``tests/test_methods.py``).
"""

from __future__ import annotations

import chex
import jax
import numpy as np


def maybe_jit(fn, jit: bool):
  """`jax.jit(fn)` when `jit` else `fn`, so every parity test runs in both modes."""
  return jax.jit(fn) if jit else fn


def _pair(actual, expected):
  actual, expected = np.asarray(actual), np.asarray(expected)
  return actual, np.broadcast_to(expected, np.broadcast_shapes(actual.shape, expected.shape))


def assert_close(actual, expected, *, atol: float, rtol: float = 0.0, err_msg: str = ""):
  """``|actual - expected| <= atol + rtol * |expected|`` elementwise (chex), with ``err_msg``."""
  actual, expected = _pair(actual, expected)
  chex.assert_trees_all_close(np.broadcast_to(actual, expected.shape), expected, atol=atol,
                              rtol=rtol, custom_message=err_msg or None)


def assert_equal(actual, expected, err_msg: str = ""):
  """Exact equality (NaN equals NaN, as numpy's ``assert_array_equal``)."""
  actual, expected = _pair(actual, expected)
  np.testing.assert_array_equal(np.broadcast_to(actual, expected.shape), expected,
                                err_msg=err_msg)
