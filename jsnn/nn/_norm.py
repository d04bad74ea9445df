r"""Batch normalisation with PyTorch's exact statistics, in the four flavours SNN papers use.

All follow ``torch.nn.BatchNorm2d`` defaults: ``eps = 1e-5``, ``momentum = 0.1``; the batch is
normalised with the **biased** variance, ``running_var`` is updated with the **unbiased** one:

.. math::
   \hat x = \frac{x - \mu_B}{\sqrt{\sigma^2_B + \epsilon}}\,\gamma + \beta, \qquad
   r_\mu \leftarrow (1 - m)\,r_\mu + m\,\mu_B, \qquad
   r_{\sigma^2} \leftarrow (1 - m)\,r_{\sigma^2} + m\,\frac{n}{n-1}\sigma^2_B

* :class:`BatchNorm`: **time-merged** (TET, SML, SpikingJelly multi-step): statistics over every
  axis but the channel, i.e. over ``T·B·H·W`` for ``[T, B, H, W, C]``; running stats updated once
  per call. On ``[B, H, W, C]`` or ``[B, F]`` it is an ordinary ``BatchNorm2d`` / ``BatchNorm1d``.
* :class:`PerStepBatchNorm`: CLIF's single-step execution; statistics of each time step ``t`` over
  ``B·H·W`` and the running stats updated **T times per call, in order** ``t = 0..T-1``.
* :class:`ThresholdDependentBatchNorm`: tdBN (Zheng et al., AAAI 2021), time-merged statistics with
  the normalised value scaled by ``alpha·v_th``.
* :class:`TemporalEffectiveBatchNorm`: TEBN-style (Duan et al., NeurIPS 2022), time-merged
  statistics followed by a learnable per-step scale ``p_t`` (one scalar per step by default).

**Mode.** ``use_running_average`` (set for the whole model by ``model.train()`` /
``model.eval()``) switches between batch statistics + running update and the running statistics.

**Devices.** With the batch sharded by ``jax.sharding.NamedSharding`` under ``jax.jit``, the
``jnp.mean`` over the batch axis is a *global* mean: XLA inserts the cross-device reduction, so the
statistics are synchronised (SyncBN) without any ``axis_name``. (``axis_name`` is needed only inside
``shard_map`` / ``pmap``, which jsnn does not use.)

**Statistics per group of samples** (``stat_group_size=N``, or the kind ``"time_merged@N"`` in
:func:`make_norm`): PyTorch ``DistributedDataParallel`` *without* SyncBN, or ``DataParallel``,
normalises each GPU's share of the batch with that share's statistics. With ``N`` = the per-GPU batch
of the official run, the batch axis (of ``B`` samples, ``B`` divisible by ``N``) is cut into ``B/N``
consecutive groups and each group is normalised with its own mean and biased variance (over ``T·N·H·W``
values for the time-merged layer), independently of how many devices jsnn runs on. The running
statistics follow **group 0 only**, with ``n = T·N·H·W`` in the unbiased factor: DDP broadcasts rank 0's
buffers to every replica at each forward (``broadcast_buffers=True``), and ``DataParallel`` keeps only
the device-0 replica's buffer updates, so in both the surviving running stats are those of the first
GPU's share, which is the first ``N`` samples of the batch. With the batch sharded contiguously over
devices and ``N`` dividing the per-device batch, every group lives on one device and no statistic
crosses devices.

**Parameters.** ``scale`` (γ = 1) and ``bias`` (β = 0) are ``nnx.Param``; ``mean`` / ``var`` are
``nnx.BatchStat`` (flax's names for PyTorch's ``running_mean`` / ``running_var``), stored in
``param_dtype`` (float32 by default).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["BatchNorm", "PerStepBatchNorm", "ThresholdDependentBatchNorm",
           "TemporalEffectiveBatchNorm", "NORM_KINDS", "make_norm", "batch_normalise"]


def _channel_view(v: jax.Array, ndim: int) -> jax.Array:
  """``[C] -> [1, ..., 1, C]`` of rank ``ndim`` (explicit, for ``rank_promotion="raise"``)."""
  return v.reshape((1,) * (ndim - 1) + v.shape[-1:])


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def batch_normalise(x: jax.Array, gamma: jax.Array, beta: jax.Array, axes: tuple[int, ...],
                    epsilon: float) -> tuple[jax.Array, jax.Array, jax.Array]:
  r"""Training-mode batch normalisation ``(y, μ, σ²)`` whose backward keeps only ``x``.

  .. math::
     \mu = \frac1n\sum x, \quad \sigma^2 = \frac1n\sum (x - \mu)^2, \quad
     y = (x - \mu)\,\frac{1}{\sqrt{\sigma^2 + \epsilon}}\,\gamma + \beta

  with the sums over ``axes`` (``n`` values per channel). The forward is exactly the layers'
  formula (bitwise). The backward is PyTorch's BatchNorm backward, with
  ``\hat x = (x - \mu)/\sqrt{\sigma^2 + \epsilon}`` recomputed from ``x``:

  .. math::
     \bar\beta = \sum \bar y, \quad \bar\gamma = \sum \bar y\,\hat x, \quad
     \bar x = \frac{\gamma}{\sqrt{\sigma^2+\epsilon}}\Big(\bar y - \frac{\bar\beta}{n}
       - \hat x\,\frac{\bar\gamma}{n}\Big) + \frac{\bar\mu}{n}
       + \frac{2 (x - \mu)}{n}\,\bar{\sigma^2}

  Autodiff of the forward keeps ``x - μ``, ``x̂`` and the products it needs (three to four arrays
  the size of ``x``); this keeps ``x`` and two per-channel vectors. Gradients equal autodiff's up
  to float32 rounding (summation order; ``tests/test_nn.py`` asserts ≤ 1e-6 relative to the
  largest entry, and 1e-12 in float64).

  Args:
    x: ``[..., C]`` activations (e.g. ``[T, B, H, W, C]``).
    gamma, beta: scale and shift broadcastable to ``x`` (``[1, ..., 1, C]``), in ``x``'s dtype.
    axes: the reduced axes (static).
    epsilon: ``ε`` (static).

  Returns:
    ``y`` like ``x``; ``μ`` and biased ``σ²`` with ``axes`` kept as size 1.
  """
  mean, var = _moments(x, axes)
  inv = 1.0 / jnp.sqrt(var + jnp.asarray(epsilon, x.dtype))
  return (x - mean) * inv * gamma + beta, mean, var


def _moments(x: jax.Array, axes: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
  """Mean and biased (centred) variance over ``axes``, kept as size-1 axes."""
  mean = jnp.mean(x, axis=axes, keepdims=True)
  return mean, jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)


def _batch_normalise_fwd(x, gamma, beta, axes, epsilon):
  y, mean, var = batch_normalise(x, gamma, beta, axes, epsilon)
  return (y, mean, var), (x, mean, var, gamma, beta)


def _sum_to(a: jax.Array, shape: tuple[int, ...]) -> jax.Array:
  """``a`` summed over the axes where ``shape`` has size 1 (the transpose of broadcasting)."""
  axes = tuple(i for i, (d, s) in enumerate(zip(a.shape, shape)) if s == 1 and d != 1)
  return jnp.sum(a, axis=axes, keepdims=True) if axes else a


def _batch_normalise_bwd(axes, epsilon, res, cts):
  x, mean, var, gamma, beta = res
  dy, dmean, dvar = cts
  n = math.prod(x.shape[a] for a in axes)
  inv = 1.0 / jnp.sqrt(var + jnp.asarray(epsilon, x.dtype))
  centred = x - mean
  xhat = centred * inv
  sum_dy = jnp.sum(dy, axis=axes, keepdims=True)
  sum_dy_xhat = jnp.sum(dy * xhat, axis=axes, keepdims=True)
  dx = (gamma * inv) * (dy - sum_dy / n - xhat * (sum_dy_xhat / n))
  dx = dx + dmean / n + centred * (2.0 * dvar / n)
  return (dx, _sum_to(sum_dy_xhat, gamma.shape).reshape(gamma.shape),
          _sum_to(sum_dy, beta.shape).reshape(beta.shape))


batch_normalise.defvjp(_batch_normalise_fwd, _batch_normalise_bwd)


class BatchNorm(nnx.Module):
  """Time-merged BatchNorm with PyTorch semantics (see the module docstring).

  Input ``[T, B, H, W, C]``, ``[T, B, F]``, ``[B, H, W, C]`` or ``[B, F]``: statistics over all
  axes except the last (channel) one.

  Args:
    num_features: channels ``C``.
    momentum: PyTorch momentum (weight of the new batch statistic), 0.1.
    epsilon: 1e-5.
    use_running_average: start in eval mode (default: train mode).
    param_dtype: dtype of ``scale``, ``bias``, ``mean``, ``var``.
    stat_group_size: ``None`` (statistics over the whole batch: one GPU, or SyncBN) or ``N``:
      training statistics per group of ``N`` consecutive samples of the batch axis and running
      statistics from group 0 (DDP without SyncBN, ``N`` = per-GPU batch; see the module
      docstring). The batch axis is axis 1 of ``[T, B, H, W, C]`` / ``[T, B, F]`` and axis 0 of
      ``[B, H, W, C]`` / ``[B, F]``.
    rngs: unused (parameters are constants); accepted for NNX uniformity.

  Raises:
    ValueError: at trace time, if the channel axis is not ``C`` or a training batch has a single
      value per channel (PyTorch raises too), or the batch is not a multiple of
      ``stat_group_size``; at construction, a ``stat_group_size`` below 1 or on a layer without
      grouped statistics (:class:`PerStepBatchNorm`).

  References:
    Ioffe & Szegedy, ICML 2015; PyTorch ``torch.nn.BatchNorm2d``. TET ``tdBatchNorm`` and SML
    ``BatchNorm2d`` on ``[B·T, ...]`` are this layer.
  """

  _grouped_statistics = True  # PerStepBatchNorm's own call does not implement stat_group_size

  def __init__(self, num_features: int, *, momentum: float = 0.1, epsilon: float = 1e-5,
               use_running_average: bool = False, param_dtype=jnp.float32,
               stat_group_size: int | None = None, rngs: nnx.Rngs | None = None):
    del rngs
    if stat_group_size is not None:
      if int(stat_group_size) != stat_group_size or stat_group_size < 1:
        raise ValueError(f"{type(self).__name__}: stat_group_size must be None or a positive "
                         f"integer (the per-GPU batch), got {stat_group_size!r}.")
      if not self._grouped_statistics:
        raise ValueError(f"{type(self).__name__} has no stat_group_size option; use "
                         "stat_group_size=None (or the time-merged BatchNorm).")
      stat_group_size = int(stat_group_size)
    self.stat_group_size = stat_group_size
    self.num_features = num_features
    self.momentum = momentum
    self.epsilon = epsilon
    self.use_running_average = use_running_average
    self.scale = nnx.Param(jnp.ones((num_features,), param_dtype))
    self.bias = nnx.Param(jnp.zeros((num_features,), param_dtype))
    self.mean = nnx.BatchStat(jnp.zeros((num_features,), param_dtype))
    self.var = nnx.BatchStat(jnp.ones((num_features,), param_dtype))

  # -- shared pieces ---------------------------------------------------------------------------
  def _check(self, x: jax.Array, min_ndim: int, layout: str) -> None:
    if x.ndim < min_ndim or x.shape[-1] != self.num_features:
      raise ValueError(f"{type(self).__name__}: expected channels-last input {layout} with "
                       f"C={self.num_features}, got shape {x.shape}.")

  def _update(self, means: jax.Array, vars_biased: jax.Array, n: int) -> None:
    """PyTorch's running-stat update, once per row of ``means``/``vars_biased`` ``[K, C]`` in order.

    Each row holds one batch's mean and biased variance over ``n`` values; ``K = 1`` for a
    time-merged call, ``K = T`` for per-step BN.
    """
    if n < 2:
      raise ValueError(f"{type(self).__name__}: expected more than 1 value per channel when "
                       f"training, got {n}.")
    m = self.momentum
    dt = self.mean[...].dtype
    means = jax.lax.stop_gradient(means).astype(dt)
    unbiased = jax.lax.stop_gradient(vars_biased).astype(dt) * (n / (n - 1))
    r_mean, r_var = self.mean[...], self.var[...]
    for k in range(means.shape[0]):
      r_mean = m * means[k] + (1.0 - m) * r_mean
      r_var = m * unbiased[k] + (1.0 - m) * r_var
    self.mean[...] = r_mean
    self.var[...] = r_var

  def _normalise(self, x, mean, var):
    """``(x - mean)/sqrt(var + eps)·γ + β`` with ``mean``/``var`` already shaped like ``x``."""
    ndim = x.ndim
    inv = 1.0 / jnp.sqrt(var + jnp.asarray(self.epsilon, x.dtype))
    gamma = _channel_view(self.scale[...].astype(x.dtype), ndim)
    beta = _channel_view(self.bias[...].astype(x.dtype), ndim)
    return (x - mean) * inv * gamma + beta

  def _running(self, x):
    ndim = x.ndim
    return (_channel_view(self.mean[...].astype(x.dtype), ndim),
            _channel_view(self.var[...].astype(x.dtype), ndim))

  # -- call -------------------------------------------------------------------------------------
  def __call__(self, x: jax.Array, *, use_running_average: bool | None = None) -> jax.Array:
    """Normalises ``x [..., C]`` with statistics over all leading axes (time-merged)."""
    x = jnp.asarray(x)
    self._check(x, 2, "[T, B, ..., C] or [B, ..., C]")
    ura = self.use_running_average if use_running_average is None else use_running_average
    if ura:
      mean, var = self._running(x)
    elif self.stat_group_size is not None:
      return self._grouped(x)
    else:
      axes = tuple(range(x.ndim - 1))
      y, mean, var = self._batch_statistics(x, axes)
      self._update(mean.reshape(1, -1), var.reshape(1, -1), int(math.prod(x.shape[:-1])))
      return y
    return self._normalise(x, mean, var)

  def _batch_statistics(self, x, axes):
    """``(y, mean, var)`` normalised with the batch statistics over ``axes``: through
    :func:`batch_normalise` (the backward keeps only ``x``) unless a subclass changes
    ``_normalise``, whose autodiff is used then."""
    if type(self)._normalise is BatchNorm._normalise:
      gamma = _channel_view(self.scale[...].astype(x.dtype), x.ndim)
      beta = _channel_view(self.bias[...].astype(x.dtype), x.ndim)
      return batch_normalise(x, gamma, beta, axes, float(self.epsilon))
    mean, var = _moments(x, axes)
    return self._normalise(x, mean, var), mean, var


  def _grouped(self, x: jax.Array) -> jax.Array:
    """Training call with statistics per group of ``stat_group_size`` samples (DDP without
    SyncBN); running statistics from group 0."""
    axis = 1 if x.ndim in (3, 5) else 0
    b, n_group = x.shape[axis], self.stat_group_size
    if b % n_group:
      raise ValueError(f"{type(self).__name__}: batch of {b} (axis {axis} of {x.shape}) is not a "
                       f"multiple of stat_group_size={n_group}; use a batch divisible by it or "
                       f"stat_group_size=None.")
    xg = x.reshape(x.shape[:axis] + (b // n_group, n_group) + x.shape[axis + 1:])
    axes = tuple(a for a in range(xg.ndim - 1) if a != axis)    # all but the group and channel
    y, mean, var = self._batch_statistics(xg, axes)              # mean, var: [1.., G, 1.., C]
    n = int(math.prod(xg.shape[:-1])) // (b // n_group)
    # group 0 through a one-hot sum, not a slice: a slice of a dimension sharded over devices is
    # not implemented under explicit sharding, a reduction is.
    onehot = (jnp.arange(b // n_group) == 0).astype(mean.dtype)
    onehot = onehot.reshape((1,) * axis + (-1,) + (1,) * (mean.ndim - axis - 1))
    first = lambda v: jnp.sum(v * onehot, axis=axis).reshape(1, -1)
    self._update(first(mean), first(var), n)
    return y.reshape(x.shape)


class PerStepBatchNorm(BatchNorm):
  """CLIF's BatchNorm: statistics per time step, running stats updated T times in order.

  CLIF calls the network once per time step, so its ``BatchNorm2d`` sees ``x[t] [B, C, H, W]``:
  step ``t`` is normalised with its own batch statistics and the running stats are updated after
  each step (``t = 0, 1, ..., T-1``, momentum 0.1 each). One set of ``scale``/``bias`` is shared by
  all steps. In eval mode the running statistics are used at every step.

  Input ``[T, B, H, W, C]`` or ``[T, B, F]`` (time-major, at least 3 axes). Arguments as
  :class:`BatchNorm`.

  References:
    Huang et al., *CLIF*, ICML 2024 (``train.py`` single-step loop with ``nn.BatchNorm2d``).
  """

  _grouped_statistics = False

  def __call__(self, x: jax.Array, *, use_running_average: bool | None = None) -> jax.Array:
    """Normalises ``x [T, B, ..., C]`` step by step."""
    x = jnp.asarray(x)
    self._check(x, 3, "[T, B, ..., C] (time-major)")
    ura = self.use_running_average if use_running_average is None else use_running_average
    if ura:
      mean, var = self._running(x)
    else:
      axes = tuple(range(1, x.ndim - 1))
      y, mean, var = self._batch_statistics(x, axes)            # mean, var: [T, 1, ..., 1, C]
      n = int(math.prod(x.shape[1:-1]))
      self._update(mean.reshape(x.shape[0], -1), var.reshape(x.shape[0], -1), n)  # t = 0..T-1
      return y
    return self._normalise(x, mean, var)


class ThresholdDependentBatchNorm(BatchNorm):
  r"""tdBN: time-merged BatchNorm whose normalised value is scaled by ``alpha·v_th``.

  .. math:: y = \gamma\,\frac{\alpha V_{th}\,(x - \mu)}{\sqrt{\sigma^2 + \epsilon}} + \beta

  with ``(μ, σ²)`` over ``T·B·H·W`` (train) or the running statistics (eval), updated as
  :class:`BatchNorm`. The tdBN paper uses ``alpha = 1`` and ``1/√2`` before a residual addition.
  (TET's ``tdBatchNorm`` has **no** such scaling: use :class:`BatchNorm` for TET.)

  Args:
    num_features: channels ``C``.
    alpha: the α of tdBN.
    v_th: the neurons' threshold ``V_th``.
    **kwargs: as :class:`BatchNorm`.

  References:
    Zheng et al., *Going Deeper With Directly-Trained Larger Spiking Neural Networks*, AAAI 2021.
  """

  def __init__(self, num_features: int, *, alpha: float = 1.0, v_th: float = 1.0, **kwargs):
    super().__init__(num_features, **kwargs)
    self.alpha = alpha
    self.v_th = v_th

  def _normalise(self, x, mean, var):
    inv = jnp.asarray(self.alpha * self.v_th, x.dtype) / jnp.sqrt(
        var + jnp.asarray(self.epsilon, x.dtype))
    gamma = _channel_view(self.scale[...].astype(x.dtype), x.ndim)
    beta = _channel_view(self.bias[...].astype(x.dtype), x.ndim)
    return (x - mean) * inv * gamma + beta


class TemporalEffectiveBatchNorm(BatchNorm):
  r"""TEBN-style BatchNorm: time-merged statistics, then a learnable scale per time step.

  .. math:: y_t = p_t \cdot \mathrm{BN}(x)_t

  where ``BN`` is :class:`BatchNorm` over ``T·B·H·W`` and ``p`` (``nnx.Param``, initialised to 1)
  has shape ``[T]`` (one scalar per step, as the TEBN code's ``p [T, 1, 1, 1, 1]``) or ``[T, C]``
  with ``per_channel=True``.

  Args:
    num_features: channels ``C``.
    T: number of time steps (the input must have it).
    per_channel: one ``p_t`` per channel.
    **kwargs: as :class:`BatchNorm`.

  References:
    Duan et al., *Temporal Effective Batch Normalization in Spiking Neural Networks*, NeurIPS 2022.
  """

  def __init__(self, num_features: int, *, T: int, per_channel: bool = False, **kwargs):
    super().__init__(num_features, **kwargs)
    self.T = T
    dtype = self.scale[...].dtype
    self.step_scale = nnx.Param(jnp.ones((T, num_features) if per_channel else (T,), dtype))

  def __call__(self, x: jax.Array, *, use_running_average: bool | None = None) -> jax.Array:
    """Normalises ``x [T, B, ..., C]`` (time-merged) and scales step ``t`` by ``p_t``."""
    x = jnp.asarray(x)
    self._check(x, 3, "[T, B, ..., C] (time-major)")
    if x.shape[0] != self.T:
      raise ValueError(f"TemporalEffectiveBatchNorm: expected time-major input [T, B, ..., C] with "
                       f"T={self.T}, got shape {x.shape}.")
    y = super().__call__(x, use_running_average=use_running_average)
    p = self.step_scale[...].astype(x.dtype)
    p = p.reshape((self.T,) + (1,) * (x.ndim - 1 - (p.ndim - 1)) + p.shape[1:])
    return y * p


NORM_KINDS = ("time_merged", "per_step", "tdbn", "tebn")


def make_norm(kind: str, num_features: int, *, T: int | None = None, v_th: float = 1.0,
              alpha: float = 1.0, **kwargs) -> BatchNorm:
  """Builds a normalisation layer by name (config code; resolve once, outside the step).

  Args:
    kind: ``"time_merged"`` (TET/SML/SpikingJelly), ``"per_step"`` (CLIF), ``"tdbn"``, ``"tebn"``;
      ``"<kind>@N"`` (e.g. ``"time_merged@128"``, not for ``per_step``) sets ``stat_group_size=N``:
      statistics per ``N`` samples as DDP without SyncBN with ``N`` per GPU (module docstring). A
      model's ``norm=`` string reaches this function, so ``config.model.norm="time_merged@128"``
      selects it from a config.
    num_features: channels ``C``.
    T: time steps (required for ``"tebn"``).
    v_th: threshold for ``"tdbn"``.
    alpha: α for ``"tdbn"``.
    **kwargs: passed to the layer (``momentum``, ``epsilon``, ``param_dtype``).

  Returns:
    The layer.

  Raises:
    ValueError: unknown ``kind`` or missing ``T`` for TEBN, or a bad ``@N`` suffix.
  """
  kind, at, group = str(kind).partition("@")
  if at:
    if not group.isdigit() or int(group) < 1:
      raise ValueError(f"make_norm: bad statistics group in {kind}@{group!r}; expected "
                       f"'<kind>@<positive integer>', e.g. 'time_merged@128'.")
    kwargs["stat_group_size"] = int(group)
  if kind == "time_merged":
    return BatchNorm(num_features, **kwargs)
  if kind == "per_step":
    return PerStepBatchNorm(num_features, **kwargs)
  if kind == "tdbn":
    return ThresholdDependentBatchNorm(num_features, alpha=alpha, v_th=v_th, **kwargs)
  if kind == "tebn":
    if T is None:
      raise ValueError("make_norm('tebn', ...) needs T.")
    return TemporalEffectiveBatchNorm(num_features, T=T, **kwargs)
  raise ValueError(f"make_norm: unknown kind {kind!r}; expected one of {NORM_KINDS}.")
