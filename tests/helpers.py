"""Small test helpers (no chex: optax dropped it)."""

from __future__ import annotations

import jax
import numpy as np


def maybe_jit(fn, jit: bool):
  """`jax.jit(fn)` when `jit` else `fn`, so every parity test runs in both modes."""
  return jax.jit(fn) if jit else fn


def assert_close(actual, expected, *, atol: float, rtol: float = 0.0, err_msg: str = ""):
  np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), atol=atol, rtol=rtol,
                             err_msg=err_msg)


def assert_equal(actual, expected, err_msg: str = ""):
  np.testing.assert_array_equal(np.asarray(actual), np.asarray(expected), err_msg=err_msg)
