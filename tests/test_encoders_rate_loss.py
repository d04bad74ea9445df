"""Poisson / latency encoders, flatten order, the firing-rate MSE loss and soft labels (issue 15)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jsnn.nn as jn
from jsnn import losses
from tests.helpers import assert_close, assert_equal, maybe_jit


# ------------------------------------------------------------------------------------ encoders
@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_poisson_rate_and_determinism(jit, dtype, x64):
  x = jnp.asarray([[0.0, 0.25, 0.5, 1.0]], dtype)
  key = jax.random.key(3)
  enc = maybe_jit(lambda k, v: jn.poisson_encode(k, v, 4000), jit)
  s = enc(key, x)
  assert s.shape == (4000, 1, 4) and s.dtype == dtype
  assert set(np.unique(np.asarray(s))) <= {0.0, 1.0}
  rate = np.asarray(s.mean(0))[0]
  assert rate[0] == 0.0 and rate[3] == 1.0          # never / always
  assert abs(rate[1] - 0.25) < 0.03 and abs(rate[2] - 0.5) < 0.03   # ~4.5 sigma at n=4000
  assert_equal(enc(key, x), s)                      # same key, same spikes
  # the closed form: spike iff u < x for the uniforms of that key
  u = jax.random.uniform(key, (4000, 1, 4), dtype=dtype)
  assert_equal(s, (u < x[None]).astype(dtype))


@pytest.mark.parametrize("jit", [False, True])
def test_latency_linear_and_log(jit):
  T = 5
  x = jnp.asarray([[1.0, 0.75, 0.5, 0.1, 0.0]], jnp.float32)
  lin = maybe_jit(lambda v: jn.latency_encode(v, T), jit)(x)
  assert_equal(lin.sum(0), np.ones((1, 5)))                  # exactly one spike each
  assert_equal(np.argmax(np.asarray(lin), axis=0)[0], np.round((T - 1) * (1 - np.asarray(x[0]))))
  log = maybe_jit(lambda v: jn.latency_encode(v, T, function="log"), jit)(x)
  alpha = np.expm1(T - 1.0)
  t_f = np.round(T - 1 - np.log(alpha * np.asarray(x[0], np.float64) + 1))
  assert_equal(np.argmax(np.asarray(log), axis=0)[0], t_f)
  assert t_f[0] == 0 and t_f[-1] == T - 1


def test_encoder_errors():
  with pytest.raises(ValueError, match=r"poisson_encode: expected intensities in \[0, 1\]"):
    jn.poisson_encode(jax.random.key(0), np.array([[1.5]], np.float32), 4)
  with pytest.raises(TypeError, match=r"latency_encode: expected floating-point intensities"):
    jn.latency_encode(np.array([[1]], np.uint8), 4)
  with pytest.raises(ValueError, match=r"T must be a positive int"):
    jn.latency_encode(np.array([[0.5]], np.float32), 0)
  with pytest.raises(ValueError, match=r"function must be one of \('linear', 'log'\)"):
    jn.latency_encode(np.array([[0.5]], np.float32), 4, function="exp")


# ------------------------------------------------------------------------------------ flatten
def test_flatten_orders():
  x = jnp.arange(2 * 3 * 4 * 5, dtype=jnp.float32).reshape(1, 2, 3, 4, 5)   # [T, B, H, W, C]
  assert_equal(jn.flatten(x), np.asarray(x).reshape(1, 2, -1))               # default unchanged
  chw = jn.flatten(x, order="chw")
  assert_equal(chw, np.asarray(x).transpose(0, 1, 4, 2, 3).reshape(1, 2, -1))  # torch.flatten(NCHW)
  with pytest.raises(ValueError, match=r"order must be one of \('hwc', 'chw'\), got 'whc'"):
    jn.flatten(x, order="whc")
  with pytest.raises(ValueError, match=r"order='chw' flattens a channels-last .* needs ndim=3"):
    jn.flatten(x, 2, order="chw")


# ------------------------------------------------------------------------------------ rate_mse
@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_rate_mse_closed_form_and_grad(jit, dtype, x64):
  rng = np.random.RandomState(0)
  s = (rng.rand(4, 3, 5) < 0.4).astype(np.float64)
  y = np.array([1, 4, 0])
  rate = s.mean(0)
  onehot = np.eye(5)[y]
  want = np.mean((rate - onehot) ** 2)
  fn = maybe_jit(losses.rate_mse, jit)
  got = fn(jnp.asarray(s, dtype), jnp.asarray(y))
  assert got.dtype == dtype
  assert_close(got, want, atol=0, rtol=1e-6 if dtype == jnp.float32 else 1e-12)
  g = jax.grad(lambda v: losses.rate_mse(v, jnp.asarray(y)))(jnp.asarray(s, dtype))
  want_g = np.broadcast_to(2 * (rate - onehot) / (3 * 5) / 4, s.shape)
  assert_close(g, want_g, atol=1e-7 if dtype == jnp.float32 else 1e-15)
  assert_close(fn(jnp.asarray(s, dtype), jnp.asarray(onehot, dtype)), want, atol=0,
               rtol=1e-6 if dtype == jnp.float32 else 1e-12)        # one-hot targets


def test_rate_mse_errors():
  s = np.zeros((4, 2, 10), np.float32)
  with pytest.raises(ValueError, match=r"logits must be time-major \[T, B, C\]"):
    losses.rate_mse(s[0], np.array([1, 2]))
  with pytest.raises(ValueError, match=r"labels must lie in \[0, C\) = \[0, 10\), got values in \[1, 12\]"):
    losses.rate_mse(s, np.array([1, 12]))
  with pytest.raises(ValueError, match=r"one-hot / soft targets must have shape \[B, C\] = \(2, 10\)"):
    losses.rate_mse(s, np.zeros((2, 9), np.float32))


# ------------------------------------------------------------------------------------ soft labels
@pytest.mark.parametrize("name", ["sdt", "tet", "clif", "mix"])
@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_one_hot_labels_equal_integer_labels(ref, name, eps):
  r = ref("tet_loss_B2_T4_C10.npz")
  logits = jnp.asarray(np.swapaxes(r["outputs_bt"], 0, 1))         # [T, B, C]
  labels = jnp.asarray(r["labels"]).astype(jnp.int32)
  fn = getattr(losses, name)
  kw = {"lamb": 0.2} if name in ("mix", "tet") else {}
  if name == "clif":
    kw = {"target": "onehot"}
  a = fn(logits, labels, label_smoothing=eps, **kw)
  b = fn(logits, jax.nn.one_hot(labels, 10), label_smoothing=eps, **kw)
  c = fn(logits, jax.nn.one_hot(labels, 10).astype(jnp.int32), label_smoothing=eps, **kw)
  assert_close(b, a, atol=0, rtol=2e-7)
  assert_close(c, a, atol=0, rtol=2e-7)


def test_soft_labels_closed_form():
  rng = np.random.RandomState(1)
  z = rng.randn(3, 2, 4)
  q = rng.dirichlet(np.ones(4), size=2)
  zbar = z.mean(0)
  logp = zbar - np.log(np.exp(zbar).sum(-1, keepdims=True))
  want = np.mean(-(q * logp).sum(-1))
  assert_close(losses.sdt(jnp.asarray(z, jnp.float32), jnp.asarray(q, jnp.float32)), want,
               atol=0, rtol=1e-6)
  eps = 0.2
  qs = (1 - eps) * q + eps / 4
  assert_close(losses.sdt(jnp.asarray(z, jnp.float32), jnp.asarray(q, jnp.float32),
                          label_smoothing=eps), np.mean(-(qs * logp).sum(-1)), atol=0, rtol=1e-6)


def test_soft_label_errors():
  z = np.zeros((4, 2, 10), np.float32)
  with pytest.raises(ValueError, match=r"soft targets must be probabilities in \[0, 1\], got values in \[-1.0, 0.0\]"):
    losses.tet(z, np.eye(10, dtype=np.float32)[:2] - 1.0)
  with pytest.raises(TypeError, match=r"labels must be integer class indices of shape \[B\]"):
    losses.sdt(z, np.array([1.0, 2.0], np.float32))


@pytest.mark.parametrize("module", ["jsnn.nn._encoders", "jsnn.losses._rate",
                                    "jsnn.data.events._dataset_source", "jsnn.interop._sequential",
                                    "jsnn.interop.synops"])
def test_docstring_examples(module):
  import doctest
  import importlib
  result = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
  assert result.attempted > 0 and result.failed == 0
