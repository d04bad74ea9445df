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


class SlowData:
  """A ``jsnn.train.TrainData`` handing out ``data``'s training batches ``sleep_s`` apart, so a
  parent process can kill or signal a training child mid-run (resume and fault tests).

  ``on_next(iterator_state)`` runs before each batch (e.g. to write progress to a file).
  """

  def __init__(self, data, sleep_s: float, on_next=None):
    self.data, self.sleep_s, self.on_next = data, sleep_s, on_next
    self.steps_per_epoch = data.steps_per_epoch
    self.batch_axes = getattr(data, "batch_axes", None)
    self.eval_batches = data.eval_batches

  def train_iterator(self, position=None):
    inner = self.data.train_iterator(position)
    sleep_s, on_next = self.sleep_s, self.on_next

    class It:
      def __next__(self):
        import time
        time.sleep(sleep_s)
        if on_next is not None:
          on_next(inner.get_state())
        return next(inner)

      get_state = inner.get_state

    return It()


def save_params(path, params) -> None:
  """``np.savez`` of a params pytree keyed by tree path (a child run's final weights)."""
  flat = jax.tree_util.tree_flatten_with_path(jax.device_get(params))[0]
  np.savez(path, **{jax.tree_util.keystr(p): np.asarray(v) for p, v in flat})
