"""Stateless layers that run once on the time-folded batch ``[T·B, ...]``.

Only neurons scan over time (style.md §2 rule 2). Convolutions, dense layers, pooling and flatten
have no state, so they run on the time-major input ``[T, B, ...]`` with time folded into the batch:
``[T, B, H, W, C] -> [T·B, H, W, C] -> op -> [T, B, H', W', C']``, exactly SpikingJelly's / TET's
``SeqToANNContainer``. Every layer here folds *all* leading axes, so the same layer also runs on a
plain ``[B, H, W, C]`` batch (e.g. inside SML's ANN surrogate modules).

Layouts are channels-last (flax): images ``[..., H, W, C]``, dense features ``[..., F]``. Padding
and strides follow PyTorch (symmetric explicit padding), so output sizes match the official code,
including stride-2 convolutions where flax's ``"SAME"`` would pad asymmetrically.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jsnn.nn import _init

__all__ = ["fold_time", "unfold_time", "TimeFolded", "Conv", "Linear", "avg_pool", "max_pool",
           "adaptive_avg_pool", "flatten", "FLATTEN_ORDERS"]


def fold_time(x: jax.Array, ndim: int) -> tuple[jax.Array, tuple[int, ...]]:
  """Folds every leading axis of ``x`` into one batch axis, keeping the last ``ndim`` axes.

  Args:
    x: ``[T, B, *sample]`` (or any number of leading axes) with ``len(sample) == ndim``.
    ndim: number of trailing per-sample axes (3 for ``[H, W, C]``, 1 for ``[F]``).

  Returns:
    ``(x_folded [T·B, *sample], lead)`` where ``lead = (T, B)`` restores the layout with
    :func:`unfold_time`.
  """
  lead = x.shape[:x.ndim - ndim]
  return x.reshape((int(math.prod(lead)),) + x.shape[x.ndim - ndim:]), lead


def unfold_time(y: jax.Array, lead: tuple[int, ...]) -> jax.Array:
  """Inverse of :func:`fold_time`: ``[T·B, *rest] -> [T, B, *rest]``."""
  return y.reshape(tuple(lead) + y.shape[1:])


def _check_rank(x: jax.Array, ndim: int, who: str, layout: str) -> None:
  if x.ndim < ndim + 1:
    raise ValueError(f"{who}: expected input {layout} (at least {ndim + 1} axes), got shape "
                     f"{x.shape}.")


class TimeFolded(nnx.Module):
  """Runs a stateless module or function once on the time-folded batch.

  ``TimeFolded(fn, ndim)(x)`` with ``x [T, B, *sample]`` returns ``unfold(fn(fold(x)))``: TET's
  ``SeqToANNContainer``. ``fn`` must treat its leading axis as a batch (no statistics across it
  unless that is intended, e.g. a time-merged BatchNorm).

  Attributes:
    fn: the wrapped module or function ``[N, *sample] -> [N, *out]``.
    ndim: number of per-sample axes of the input (3 for images ``[H, W, C]``).
  """

  def __init__(self, fn: Callable, ndim: int = 3):
    self.fn = fn
    self.ndim = ndim

  def __call__(self, x: jax.Array) -> jax.Array:
    """Applies ``fn`` on ``[T·B, *sample]`` and restores ``[T, B, *out]``."""
    x = jnp.asarray(x)
    _check_rank(x, self.ndim, "TimeFolded", f"[T, B, <{self.ndim} sample axes>]")
    y, lead = fold_time(x, self.ndim)
    return unfold_time(self.fn(y), lead)


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
  return (int(v), int(v)) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


# ---------------------------------------------------------------------------------------------
# Weight gradients (``wgrad=``): autodiff's, or XLA:CPU's fast path (same forward and input grad)
# ---------------------------------------------------------------------------------------------
CONV_WGRAD = ("auto", "autodiff", "taps")
LINEAR_WGRAD = ("auto", "autodiff", "transpose")
_CONV_DN = ("NHWC", "HWIO", "NHWC")


def _check_wgrad(who: str, wgrad, valid: tuple[str, ...]) -> str:
  if not isinstance(wgrad, str) or wgrad not in valid:
    raise ValueError(f"{who}: wgrad={wgrad!r} is not supported; expected one of "
                     f"{', '.join(repr(v) for v in valid)}.")
  return wgrad


def _resolve_wgrad(who: str, wgrad, valid: tuple[str, ...], cpu_default: str) -> str:
  """The weight-gradient path a layer traces: ``"auto"`` is ``cpu_default`` when JAX's default
  backend is the CPU and ``"autodiff"`` on GPU/TPU, whose vendor libraries compute it well.
  Checked here so a bad value set with ``set_attributes`` after construction is reported when
  traced."""
  wgrad = _check_wgrad(who, wgrad, valid)
  if wgrad == "auto":
    return cpu_default if jax.default_backend() == "cpu" else "autodiff"
  return wgrad


def _conv_op(x, w, strides, padding, out_dtype):
  """The forward convolution, the same primitive ``nnx.Conv`` / the ``dtype=`` path emit."""
  return jax.lax.conv_general_dilated(x, w, strides, padding, dimension_numbers=_CONV_DN,
                                      preferred_element_type=out_dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def conv_taps(x: jax.Array, w: jax.Array, strides: tuple[int, int],
              padding: tuple[tuple[int, int], tuple[int, int]], out_dtype=None) -> jax.Array:
  """NHWC / HWIO convolution whose weight gradient is one matmul per kernel tap.

  The forward and the input gradient are exactly autodiff's (the same XLA convolutions). Only the
  weight gradient differs. For an output ``y[n, p, q, o] = Σ_{i,j,c} x_pad[n, s_h·p + i, s_w·q + j,
  c] · w[i, j, c, o]``, the weight gradient of tap ``(i, j)`` is a plain matrix product

      dW[i, j] = X_ij^T · dY,   X_ij = x_pad[:, i : i + s_h·(H'-1) + 1 : s_h,
                                             j : j + s_w·(W'-1) + 1 : s_w, :]  as [N·H'·W', C_in],
                                dY   = dy as [N·H'·W', C_out],

  i.e. ``dW = Σ_taps x_shifted^T · dy`` written tap by tap: ``kh·kw`` GEMMs of
  ``[C_in, N·H'·W'] @ [N·H'·W', C_out]`` on strided views of the zero-padded input, instead of
  XLA's weight-gradient convolution (a convolution with an ``H' x W'``-sized kernel).

  Why: on XLA:CPU that weight-gradient convolution is about 5x slower than PyTorch's (oneDNN) on
  one core, while the per-tap GEMMs run on XLA:CPU's fast dot path (0.41x of XLA's time on
  ``[128, 16, 16, 64] -> 128``, 3x3; a single dot on a full im2col was 0.58x, building the
  ``kh·kw``-times larger buffer costs more than it saves). On GPU/TPU the vendor libraries compute
  the weight-gradient convolution well: keep autodiff there.

  Args:
    x: input ``[N, H, W, C_in]`` (already cast to the compute dtype).
    w: kernel ``[kh, kw, C_in, C_out]`` (same dtype as ``x``).
    strides: ``(s_h, s_w)``.
    padding: ``((lo_h, hi_h), (lo_w, hi_w))`` explicit padding (negative values crop).
    out_dtype: ``preferred_element_type`` of the forward (accumulation / output dtype), or None.

  Returns:
    ``[N, H', W', C_out]``, bitwise equal to ``jax.lax.conv_general_dilated`` with the same
    arguments. The weight gradient equals autodiff's up to summation order (float32: ~1e-6
    relative); as with autodiff it is accumulated in the cotangent's dtype and cast to ``w``'s.
  """
  return _conv_op(x, w, strides, padding, out_dtype)


def _conv_taps_fwd(x, w, strides, padding, out_dtype):
  return _conv_op(x, w, strides, padding, out_dtype), (x, w)


def _conv_taps_bwd(strides, padding, out_dtype, res, g):
  x, w = res
  _, vjp_x = jax.vjp(lambda x_: _conv_op(x_, w, strides, padding, out_dtype), x)
  kh, kw, cin, cout = w.shape
  n, ho, wo = g.shape[:3]
  sh, sw = strides
  # autodiff's rule upcasts x to the cotangent's dtype too (mixed precision: bf16 x, f32 dy)
  xp = jax.lax.pad(x.astype(g.dtype), jnp.zeros((), g.dtype),
                   ((0, 0, 0),) + tuple((lo, hi, 0) for lo, hi in padding) + ((0, 0, 0),))
  g2 = g.reshape(n * ho * wo, cout)

  window = (n, sh * (ho - 1) + 1, sw * (wo - 1) + 1, cin)

  def tap(_, ij):  # [C_in, N·H'·W'] @ [N·H'·W', C_out]
    zero = jnp.zeros((), ij.dtype)
    xs = jax.lax.dynamic_slice(xp, (zero, ij[0], ij[1], zero), window)[:, ::sh, ::sw, :]
    return None, xs.reshape(n * ho * wo, cin).T @ g2

  # One tap after the other (a loop, not kh·kw independent dots): XLA would otherwise keep all
  # kh·kw transposed input copies alive at once (+720 MiB on VGGSNN's second layer at B=16).
  taps = jnp.asarray([(i, j) for i in range(kh) for j in range(kw)], jnp.int32)
  _, dw = jax.lax.scan(tap, None, taps)
  return vjp_x(g)[0], dw.reshape(kh, kw, cin, cout).astype(w.dtype)


conv_taps.defvjp(_conv_taps_fwd, _conv_taps_bwd)


def _dense_op(x, w, out_dtype):
  """``x [N, K] @ w [K, M]``, the same primitive ``nnx.Linear`` / the ``dtype=`` path emit."""
  return jax.lax.dot_general(x, w, (((1,), (0,)), ((), ())), preferred_element_type=out_dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def dense_transpose(x: jax.Array, w: jax.Array, out_dtype=None) -> jax.Array:
  """``x [N, K] @ w [K, M]`` whose weight gradient multiplies a materialised ``x^T``.

  The forward and the input gradient are exactly autodiff's. The weight gradient is
  ``dW = x^T · dy``; autodiff emits it as one dot contracting both operands on their leading
  (batch) axis, which XLA:CPU does not hand to its fast GEMM path (it wants the canonical
  ``[M, K] @ [K, N]``) and runs 1.3-1.5x slower. Here ``x^T`` is materialised (an
  ``optimization_barrier`` keeps XLA from folding the transpose back into the dot), so the dot is
  canonical. On GPU/TPU keep autodiff.

  Args:
    x: ``[N, K]`` (already cast to the compute dtype).
    w: ``[K, M]`` (same dtype as ``x``).
    out_dtype: ``preferred_element_type`` of the forward, or None.

  Returns:
    ``[N, M]``, bitwise equal to ``jax.lax.dot_general`` with the same arguments.
  """
  return _dense_op(x, w, out_dtype)


def _dense_transpose_fwd(x, w, out_dtype):
  return _dense_op(x, w, out_dtype), (x, w)


def _dense_transpose_bwd(out_dtype, res, g):
  x, w = res
  _, vjp_x = jax.vjp(lambda x_: _dense_op(x_, w, out_dtype), x)
  xt = jax.lax.optimization_barrier(x.T.astype(g.dtype))
  return vjp_x(g)[0], (xt @ g).astype(w.dtype)


dense_transpose.defvjp(_dense_transpose_fwd, _dense_transpose_bwd)


class Conv(nnx.Module):
  """2-D convolution (PyTorch ``Conv2d`` semantics) on ``[T, B, H, W, C]`` or ``[B, H, W, C]``.

  All leading axes are folded into one batch, so the convolution runs once on ``[T·B, H, W, C]``.
  Padding is symmetric and explicit (PyTorch ``padding=p``); the kernel is ``HWIO``.

  Args:
    in_features: input channels ``C_in``.
    out_features: output channels ``C_out``.
    kernel_size: ``k`` or ``(kh, kw)``.
    stride: ``s`` or ``(sh, sw)``.
    padding: ``p`` or ``(ph, pw)``, zero padding on both sides (PyTorch).
    use_bias: add a bias (PyTorch ``bias=True``).
    kernel_init: kernel initialiser; default PyTorch's ``kaiming_uniform_(a=√5)``.
    bias_init: bias initialiser; default PyTorch's U(±1/√fan_in) with ``fan_in = kh·kw·C_in``.
    dtype: compute dtype (mixed precision, e.g. ``jnp.bfloat16``): the input and the float32
      kernel are cast to it and the products are accumulated and returned in the input's dtype
      (``preferred_element_type``), so the layers around it (norms, neurons' membrane
      potentials) stay in float32. Spikes (0/1) are exact in bfloat16. None: plain ``nnx.Conv``
      in the input's dtype.
    wgrad: how the kernel gradient is computed. ``"autodiff"``: JAX's transpose rule, a
      weight-gradient convolution. ``"taps"``: one matmul per kernel tap on a shifted, strided
      view of the padded input, ``dW[i, j] = x_shifted(i, j)^T · dy`` (see :func:`conv_taps`);
      the forward and the input gradient stay bitwise autodiff's and ``dW`` equals autodiff's up
      to summation order (float32: within 1e-6 of the largest entry in the tests). ``"auto"``
      (default): ``"taps"`` when JAX's default backend is the CPU, where XLA's weight-gradient
      convolution is ~5x slower than PyTorch's on one core and ``"taps"`` made a CIFAR conv net's
      train step 0.7-0.8x of autodiff's; ``"autodiff"`` on GPU/TPU. Every stride / padding /
      kernel size this layer accepts is supported, with and without ``dtype``. Can be switched
      on a built model with ``model.set_attributes(jsnn.nn.Conv, wgrad="autodiff")`` (before
      jitting).
    rngs: NNX random streams (``params``).

  Raises:
    ValueError: at construction, if ``wgrad`` is not one of ``"auto"``, ``"autodiff"``,
      ``"taps"``; at trace time, if the input is not ``[..., H, W, C_in]``.
  """

  def __init__(self, in_features: int, out_features: int, kernel_size: int | Sequence[int] = 3,
               *, stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
               use_bias: bool = True, kernel_init=None, bias_init=None, dtype=None,
               wgrad: str = "auto", rngs: nnx.Rngs):
    self.wgrad = _check_wgrad("Conv", wgrad, CONV_WGRAD)
    ks = _pair(kernel_size)
    ph, pw = _pair(padding)
    fan_in = _init.conv_fan_in(ks, in_features)
    self.in_features = in_features
    self.out_features = out_features
    self.conv = nnx.Conv(
        in_features, out_features, kernel_size=ks, strides=_pair(stride),
        padding=((ph, ph), (pw, pw)), use_bias=use_bias,
        kernel_init=kernel_init or _init.torch_default_kernel_init(),
        bias_init=bias_init or _init.torch_default_bias_init(fan_in), rngs=rngs)
    self.strides, self.padding, self.dtype = _pair(stride), ((ph, ph), (pw, pw)), dtype

  def __call__(self, x: jax.Array) -> jax.Array:
    """``[..., H, W, C_in] -> [..., H', W', C_out]`` with PyTorch output sizes."""
    x = jnp.asarray(x)
    _check_rank(x, 3, "Conv", "[T, B, H, W, C] or [B, H, W, C]")
    if x.shape[-1] != self.in_features:
      raise ValueError(f"Conv: expected channels-last input [..., H, W, C] with "
                       f"C={self.in_features}, got shape {x.shape}.")
    taps = _resolve_wgrad("Conv", self.wgrad, CONV_WGRAD, "taps") == "taps"
    op = conv_taps if taps else _conv_op
    y, lead = fold_time(x, 3)
    y, k, out_dtype = _operands(self.conv, y, self.dtype)
    out = op(y, k, self.strides, self.padding, out_dtype)
    return unfold_time(_add_bias(out, self.conv.bias), lead)


class Linear(nnx.Module):
  """Dense layer (PyTorch ``Linear`` semantics) on ``[T, B, F]`` or ``[B, F]``.

  Args:
    in_features: ``F_in``.
    out_features: ``F_out``.
    use_bias: add a bias.
    kernel_init: kernel ``(in, out)`` initialiser; default PyTorch's U(±1/√in).
    bias_init: default PyTorch's U(±1/√in).
    dtype: compute dtype (as :class:`Conv`: operands cast, accumulation in the input's dtype).
    wgrad: how the kernel gradient ``dW = x^T · dy`` is computed. ``"autodiff"``: JAX's
      transpose rule, one dot contracting both operands on the batch axis. ``"transpose"``: the
      same product with ``x^T`` materialised, so the dot is the canonical ``[M, K] @ [K, N]``
      that XLA:CPU runs on its fast GEMM path (autodiff's form is 1.3-1.5x slower there); see
      :func:`dense_transpose`. Forward and input gradient stay bitwise autodiff's. ``"auto"``
      (default): ``"autodiff"`` on every backend. (``"transpose"`` was the CPU default until a
      quiet-machine run showed it slower: lif_mlp's ANN step 146.5 vs 128.6 ms with autodiff,
      1 thread; the 1.3-1.5x gain was measured on a loaded machine.) Switchable on a built
      model with ``model.set_attributes(jsnn.nn.Linear, wgrad="transpose")`` (before jitting).
    rngs: NNX random streams.

  Raises:
    ValueError: at construction, if ``wgrad`` is not one of ``"auto"``, ``"autodiff"``,
      ``"transpose"``; at trace time, if the last axis is not ``F_in``.
  """

  def __init__(self, in_features: int, out_features: int, *, use_bias: bool = True,
               kernel_init=None, bias_init=None, dtype=None, wgrad: str = "auto",
               rngs: nnx.Rngs):
    self.wgrad = _check_wgrad("Linear", wgrad, LINEAR_WGRAD)
    self.in_features = in_features
    self.out_features = out_features
    self.linear = nnx.Linear(
        in_features, out_features, use_bias=use_bias,
        kernel_init=kernel_init or _init.torch_default_kernel_init(),
        bias_init=bias_init or _init.torch_default_bias_init(in_features), rngs=rngs)
    self.dtype = dtype

  def __call__(self, x: jax.Array) -> jax.Array:
    """``[..., F_in] -> [..., F_out]`` (one matmul over all leading axes)."""
    x = jnp.asarray(x)
    _check_rank(x, 1, "Linear", "[T, B, F] or [B, F]")
    if x.shape[-1] != self.in_features:
      raise ValueError(f"Linear: expected input [..., F] with F={self.in_features}, got shape "
                       f"{x.shape}.")
    fast = _resolve_wgrad("Linear", self.wgrad, LINEAR_WGRAD, "autodiff") == "transpose"
    op = dense_transpose if fast else _dense_op
    y, lead = fold_time(x, 1)
    y, k, out_dtype = _operands(self.linear, y, self.dtype)
    return unfold_time(_add_bias(op(y, k, out_dtype), self.linear.bias), lead)


def _operands(layer, y: jax.Array, dtype):
  """``(y, kernel, out_dtype)`` of a Conv / Linear: cast to the compute ``dtype`` and accumulated
  in ``y``'s dtype when one is set, else promoted as ``nnx.Conv`` / ``nnx.Linear`` do."""
  if dtype is None:
    y, k, _ = layer.promote_dtype((y, layer.kernel[...], None), dtype=layer.dtype)
    return y, k, None
  return y.astype(dtype), layer.kernel[...].astype(dtype), y.dtype


def _add_bias(y: jax.Array, bias) -> jax.Array:
  """``y + bias`` with the bias (``[C]`` or None) cast to ``y``'s dtype and rank."""
  if bias is None:
    return y
  b = bias[...].astype(y.dtype)
  return y + b.reshape((1,) * (y.ndim - 1) + b.shape)


def avg_pool(x: jax.Array, kernel_size: int | Sequence[int], stride=None) -> jax.Array:
  """PyTorch ``AvgPool2d(kernel_size, stride)`` (no padding) on ``[..., H, W, C]``.

  ``stride`` defaults to ``kernel_size``; output size ``floor((H - k)/s) + 1``.
  """
  x = jnp.asarray(x)
  _check_rank(x, 3, "avg_pool", "[T, B, H, W, C] or [B, H, W, C]")
  k = _pair(kernel_size)
  s = k if stride is None else _pair(stride)
  if x.shape[-3] < k[0] or x.shape[-2] < k[1]:
    raise ValueError(f"avg_pool: the {k[0]}x{k[1]} window does not fit the input [..., H, W, C] "
                     f"of shape {x.shape}; the input image is too small for this network.")
  y, lead = fold_time(x, 3)
  summed = jax.lax.reduce_window(y, 0.0, jax.lax.add, (1,) + k + (1,),
                                 (1,) + s + (1,), "VALID")
  return unfold_time(summed / jnp.asarray(k[0] * k[1], y.dtype), lead)


def max_pool(x: jax.Array, kernel_size: int | Sequence[int], stride=None,
             padding: int | Sequence[int] = 0) -> jax.Array:
  """PyTorch ``MaxPool2d(kernel_size, stride, padding)`` on ``[..., H, W, C]`` (pads with −inf)."""
  x = jnp.asarray(x)
  _check_rank(x, 3, "max_pool", "[T, B, H, W, C] or [B, H, W, C]")
  k = _pair(kernel_size)
  s = k if stride is None else _pair(stride)
  ph, pw = _pair(padding)
  y, lead = fold_time(x, 3)
  pooled = jax.lax.reduce_window(y, -jnp.inf, jax.lax.max, (1,) + k + (1,),
                                 (1,) + s + (1,), ((0, 0), (ph, ph), (pw, pw), (0, 0)))
  return unfold_time(pooled, lead)


def _adaptive_matrix(n_in: int, n_out: int) -> np.ndarray:
  """``[n_out, n_in]`` averaging weights of PyTorch's adaptive pooling bins.

  Bin ``i`` covers ``[floor(i·n_in/n_out), ceil((i+1)·n_in/n_out))``.
  """
  m = np.zeros((n_out, n_in), np.float64)
  for i in range(n_out):
    start = (i * n_in) // n_out
    end = -((-(i + 1) * n_in) // n_out)
    m[i, start:end] = 1.0 / (end - start)
  return m


def adaptive_avg_pool(x: jax.Array, output_size: int | Sequence[int]) -> jax.Array:
  """PyTorch ``AdaptiveAvgPool2d(output_size)`` on ``[..., H, W, C]``.

  When ``H`` and ``W`` are multiples of the output size this is a plain block mean; otherwise
  (e.g. CLIF's VGG pooling a 1×1 map to 7×7, which replicates it) each output bin averages PyTorch's
  bin ``[floor(i·H/h), ceil((i+1)·H/h))``.
  """
  x = jnp.asarray(x)
  _check_rank(x, 3, "adaptive_avg_pool", "[T, B, H, W, C] or [B, H, W, C]")
  oh, ow = _pair(output_size)
  h, w = x.shape[-3], x.shape[-2]
  y, lead = fold_time(x, 3)
  if h % oh == 0 and w % ow == 0:
    n, c = y.shape[0], y.shape[-1]
    y = jnp.mean(y.reshape(n, oh, h // oh, ow, w // ow, c), axis=(2, 4))
  else:
    mh = jnp.asarray(_adaptive_matrix(h, oh), y.dtype)
    mw = jnp.asarray(_adaptive_matrix(w, ow), y.dtype)
    y = jnp.einsum("nhwc,oh,pw->nopc", y, mh, mw, precision=jax.lax.Precision.HIGHEST)
  return unfold_time(y, lead)


FLATTEN_ORDERS = ("hwc", "chw")


def flatten(x: jax.Array, ndim: int = 3, *, order: str = "hwc") -> jax.Array:
  """Flattens the last ``ndim`` axes: ``[T, B, H, W, C] -> [T, B, H·W·C]``.

  Args:
    x: ``[..., <ndim axes>]``, e.g. ``[T, B, H, W, C]``.
    ndim: number of trailing axes to flatten.
    order: ``"hwc"`` (default): channels-last order, feature ``(h·W + w)·C + c``; parameter counts
      equal PyTorch's and training from scratch is unaffected, but a PyTorch Linear that follows
      needs its rows permuted (``jsnn.interop.load_state_dict`` does it). ``"chw"``: PyTorch's
      ``nn.Flatten`` order on a channels-last map, feature ``(c·H + h)·W + w`` (the last three
      axes are transposed to ``[C, H, W]`` first; needs ``ndim == 3``), so a PyTorch Linear's
      weight can be used as is (transposed to ``(in, out)``).

  Raises:
    ValueError: an unknown ``order``, ``order="chw"`` with ``ndim != 3``, or too few axes.
  """
  if order not in FLATTEN_ORDERS:
    raise ValueError(f"flatten: order must be one of {FLATTEN_ORDERS}, got {order!r}.")
  if order == "chw" and ndim != 3:
    raise ValueError(f"flatten: order='chw' flattens a channels-last [..., H, W, C] map and needs "
                     f"ndim=3, got ndim={ndim}; use order='hwc'.")
  x = jnp.asarray(x)
  _check_rank(x, ndim, "flatten", f"[..., <{ndim} axes to flatten>]")
  if order == "chw":
    x = jnp.moveaxis(x, -1, -3)
  lead = x.shape[:x.ndim - ndim]
  return x.reshape(lead + (int(math.prod(x.shape[x.ndim - ndim:])),))
