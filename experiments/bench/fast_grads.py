"""Prototype: weight gradients that XLA:CPU runs on its fast GEMM path (benchmark variant ``*_fg``).

XLA:CPU (jax 0.10.2) hands a dot to YNNPACK (``__ynn_fusion``) only in the canonical form
``[M, K] @ [K, N]``; the weight gradient of a dense layer, ``x^T @ g`` with both operands
contracted on their leading (batch) axis, falls back to Eigen and runs 1.3-1.5x slower. The weight
gradient of a convolution is emitted as a convolution with a ``H x W``-sized kernel, about 5x
slower than PyTorch's (oneDNN) on one core. Here both are rewritten with ``jax.custom_vjp``:

* dense: ``dW = transpose(x) @ g`` with the transpose materialised (an ``optimization_barrier``
  stops XLA from folding it back into the dot), so the dot is canonical;
* conv: ``dW[i, j] = x_shifted(i, j)^T @ g``, one ``[C_in, N·H·W] @ [N·H·W, C_out]`` dot per
  kernel tap on a shifted (strided) slice of the padded input. On ``[128, 16, 16, 64] -> 128``,
  3x3, this is 0.41x the time of XLA's weight-gradient convolution (paired, 1 thread); one dot
  on a full im2col was 0.58x (building the 9x larger im2col buffer costs more than the dot).

Forward and the input gradient are XLA's own. Gradients equal autodiff's up to float32 summation
order (relative error ~1e-6). This is a measurement aid for the library change proposed in
experiments/README.md, not library code: ``use_fast_grads(model)`` swaps every ``jsnn.nn.Linear``
/ ``jsnn.nn.Conv`` (ungrouped, undilated) of a built model for a wrapper holding the same module.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import nnx

import jsnn.nn as jn


@jax.custom_vjp
def dense(x: jax.Array, w: jax.Array) -> jax.Array:
  """``x [N, K] @ w [K, M]``; the backward materialises ``x^T`` for ``dW``."""
  return x @ w


def _dense_fwd(x, w):
  return x @ w, (x, w)


def _dense_bwd(res, g):
  x, w = res
  return g @ w.T, jax.lax.optimization_barrier(x.T) @ g


dense.defvjp(_dense_fwd, _dense_bwd)


def _conv(x, w, strides, padding):
  return jax.lax.conv_general_dilated(x, w, strides, padding,
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"))


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv(x: jax.Array, w: jax.Array, strides: tuple, padding: tuple) -> jax.Array:
  """NHWC / HWIO convolution with explicit ``padding ((lo, hi), (lo, hi))``."""
  return _conv(x, w, strides, padding)


def _conv_fwd(x, w, strides, padding):
  return _conv(x, w, strides, padding), (x, w)


def _conv_bwd(strides, padding, res, g):
  x, w = res
  _, vjp_x = jax.vjp(lambda x_: _conv(x_, w, strides, padding), x)
  kh, kw, cin, cout = w.shape
  ho, wo = g.shape[1:3]
  sh, sw = strides
  xp = jnp.pad(x, ((0, 0),) + tuple(padding) + ((0, 0),))
  g2 = g.reshape(-1, cout)

  def tap(i, j):  # dW[i, j] = x_shifted(i, j)^T @ g, one [C_in, N·H·W] @ [N·H·W, C_out] dot
    xs = xp[:, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw, :]
    return xs.reshape(-1, cin).T @ g2

  dw = jnp.stack([jnp.stack([tap(i, j) for j in range(kw)]) for i in range(kh)])
  return vjp_x(g)[0], dw


conv.defvjp(_conv_fwd, _conv_bwd)


class FastLinear(nnx.Module):
  """``jsnn.nn.Linear`` with the :func:`dense` backward (same parameters, nested as ``inner``)."""

  def __init__(self, inner: jn.Linear):
    self.inner = inner

  def __call__(self, x):
    lin = self.inner.linear
    y, lead = jn.fold_time(x, 1)
    y = dense(y, lin.kernel[...])
    if lin.bias is not None:
      y = y + lin.bias[...][None]
    return jn.unfold_time(y, lead)


class FastConv(nnx.Module):
  """``jsnn.nn.Conv`` with the :func:`conv` backward (same parameters, nested as ``inner``)."""

  def __init__(self, inner: jn.Conv):
    self.inner = inner

  def __call__(self, x):
    c = self.inner.conv
    y, lead = jn.fold_time(x, 3)
    y = conv(y, c.kernel[...], tuple(c.strides), tuple(tuple(p) for p in c.padding))
    if c.bias is not None:
      y = y + c.bias[...].reshape(1, 1, 1, -1)
    return jn.unfold_time(y, lead)


def _ones(v) -> bool:
  return v is None or (v == 1 if isinstance(v, int) else all(d == 1 for d in v))


def _supported(m) -> bool:
  if isinstance(m, jn.Linear):
    return True
  if isinstance(m, jn.Conv):
    c = m.conv
    return (c.feature_group_count == 1 and _ones(c.kernel_dilation) and _ones(c.input_dilation)
            and not isinstance(c.padding, str))
  return False


def use_fast_grads(model: nnx.Module) -> int:
  """Wraps every supported ``jsnn.nn.Linear`` / ``Conv`` of ``model``; returns the count."""
  paths = [(p, m) for p, m in nnx.iter_modules(model) if _supported(m)]
  for path, module in paths:
    parent = model
    for key in path[:-1]:
      parent = parent[key] if isinstance(key, int) else getattr(parent, key)
    wrapped = FastLinear(module) if isinstance(module, jn.Linear) else FastConv(module)
    if isinstance(path[-1], int):
      parent[path[-1]] = wrapped
    else:
      setattr(parent, path[-1], wrapped)
  return len(paths)
