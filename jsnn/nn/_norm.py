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

**Parameters.** ``scale`` (γ = 1) and ``bias`` (β = 0) are ``nnx.Param``; ``mean`` / ``var`` are
``nnx.BatchStat`` (flax's names for PyTorch's ``running_mean`` / ``running_var``), stored in
``param_dtype`` (float32 by default).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = ["BatchNorm", "PerStepBatchNorm", "ThresholdDependentBatchNorm",
           "TemporalEffectiveBatchNorm", "NORM_KINDS", "make_norm"]


def _channel_view(v: jax.Array, ndim: int) -> jax.Array:
  """``[C] -> [1, ..., 1, C]`` of rank ``ndim`` (explicit, for ``rank_promotion="raise"``)."""
  return v.reshape((1,) * (ndim - 1) + v.shape[-1:])


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
    rngs: unused (parameters are constants); accepted for NNX uniformity.

  Raises:
    ValueError: at trace time, if the channel axis is not ``C`` or a training batch has a single
      value per channel (PyTorch raises too).

  References:
    Ioffe & Szegedy, ICML 2015; PyTorch ``torch.nn.BatchNorm2d``. TET ``tdBatchNorm`` and SML
    ``BatchNorm2d`` on ``[B·T, ...]`` are this layer.
  """

  def __init__(self, num_features: int, *, momentum: float = 0.1, epsilon: float = 1e-5,
               use_running_average: bool = False, param_dtype=jnp.float32,
               rngs: nnx.Rngs | None = None):
    del rngs
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
    else:
      axes = tuple(range(x.ndim - 1))
      mean = jnp.mean(x, axis=axes, keepdims=True)
      var = jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)
      self._update(mean.reshape(1, -1), var.reshape(1, -1), int(math.prod(x.shape[:-1])))
    return self._normalise(x, mean, var)


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

  def __call__(self, x: jax.Array, *, use_running_average: bool | None = None) -> jax.Array:
    """Normalises ``x [T, B, ..., C]`` step by step."""
    x = jnp.asarray(x)
    self._check(x, 3, "[T, B, ..., C] (time-major)")
    ura = self.use_running_average if use_running_average is None else use_running_average
    if ura:
      mean, var = self._running(x)
    else:
      axes = tuple(range(1, x.ndim - 1))
      mean = jnp.mean(x, axis=axes, keepdims=True)              # [T, 1, ..., 1, C]
      var = jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)
      n = int(math.prod(x.shape[1:-1]))
      self._update(mean.reshape(x.shape[0], -1), var.reshape(x.shape[0], -1), n)  # t = 0..T-1
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
    kind: ``"time_merged"`` (TET/SML/SpikingJelly), ``"per_step"`` (CLIF), ``"tdbn"``, ``"tebn"``.
    num_features: channels ``C``.
    T: time steps (required for ``"tebn"``).
    v_th: threshold for ``"tdbn"``.
    alpha: α for ``"tdbn"``.
    **kwargs: passed to the layer (``momentum``, ``epsilon``, ``param_dtype``).

  Returns:
    The layer.

  Raises:
    ValueError: unknown ``kind`` or missing ``T`` for TEBN.
  """
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
