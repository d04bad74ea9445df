"""`jsnn.nn.Conv(wgrad="taps")` / `jsnn.nn.Linear(wgrad="transpose")`: the XLA:CPU weight
gradients (the CPU default through ``wgrad="auto"``). Forward bitwise equal to autodiff's, input and weight gradients equal to autodiff's
(float32 up to summation order, float64 to ~1e-12), jitted, on the time-folded layout."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import jsnn
import jsnn.nn as jn


def rngs(seed: int = 0) -> nnx.Rngs:
  return nnx.Rngs(jax.random.key(seed, impl="rbg"))


def _key(seed: int) -> jax.Array:
  return jax.random.key(seed, impl="rbg")  # compiles faster than threefry on CPU


TOL = {jnp.float32: 1e-5, jnp.float64: 1e-12}


def _cast_params(model, dtype):
  params = nnx.state(model, nnx.Param)
  nnx.update(model, jax.tree.map(lambda p: p.astype(dtype), params))


def _loss_and_grads(model, x):
  """Jitted ``(out, d loss/d params, d loss/d x)`` for ``loss = Σ sin(out)``."""
  graphdef, params = nnx.split(model, nnx.Param)

  @jax.jit
  def f(params, x):
    def loss(params, x):
      out = nnx.merge(graphdef, params)(x)
      return jnp.sum(jnp.sin(out.astype(x.dtype))), out
    (_, out), (gp, gx) = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(params, x)
    return out, gp, gx

  return f(params, x)


def _compare(make, x, dtype, *, tol=None):
  """``make(wgrad)`` builds the layer; checks option vs autodiff on ``x``."""
  ref_m, got_m = make("autodiff"), make(None)
  if dtype is not None:
    _cast_params(ref_m, dtype)
    _cast_params(got_m, dtype)
  ref_out, ref_gp, ref_gx = _loss_and_grads(ref_m, x)
  out, gp, gx = _loss_and_grads(got_m, x)
  assert out.dtype == ref_out.dtype
  np.testing.assert_array_equal(np.asarray(out), np.asarray(ref_out))  # forward: bitwise
  tol = tol if tol is not None else TOL[dtype or jnp.float32]
  scale = lambda a: max(1.0, float(np.max(np.abs(np.asarray(a, np.float64)))))
  np.testing.assert_allclose(np.asarray(gx, np.float64), np.asarray(ref_gx, np.float64),
                             rtol=0, atol=tol * scale(ref_gx))
  for g, r in zip(jax.tree.leaves(gp), jax.tree.leaves(ref_gp)):
    assert g.dtype == r.dtype and g.shape == r.shape
    np.testing.assert_allclose(np.asarray(g, np.float64), np.asarray(r, np.float64),
                               rtol=0, atol=tol * scale(r))


CONV_CASES = [  # (H, W, C_in, C_out, kernel, stride, padding, bias)
    (8, 8, 3, 4, 3, 1, 1, True),
    (9, 7, 3, 5, 3, 2, 1, True),      # stride 2, odd sizes (last row / column unused)
    (8, 8, 2, 3, 1, 1, 0, False),     # 1x1
    (10, 9, 4, 2, (3, 5), (2, 1), (1, 2), True),  # rectangular kernel / stride / padding
    (7, 7, 3, 6, 5, 3, 0, False),     # large stride, no padding
    (6, 6, 2, 2, 2, 2, 0, True),      # even kernel, stride = kernel
]


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv_taps_matches_autodiff(case, dtype):
  h, w, cin, cout, k, s, p, bias = case
  with jax.enable_x64(dtype == jnp.float64):
    x = jax.random.normal(_key(1), (2, 3, h, w, cin), dtype)  # [T, B, H, W, C]
    make = lambda wg: jn.Conv(cin, cout, k, stride=s, padding=p, use_bias=bias,
                              wgrad=wg or "taps", rngs=rngs())
    _compare(make, x, dtype)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("shape,bias", [((4, 5, 7), True), ((6, 3), False), ((2, 3, 4, 16), True)])
def test_linear_transpose_matches_autodiff(shape, bias, dtype):
  with jax.enable_x64(dtype == jnp.float64):
    x = jax.random.normal(_key(2), shape, dtype)
    make = lambda wg: jn.Linear(shape[-1], 9, use_bias=bias, wgrad=wg or "transpose",
                                rngs=rngs())
    _compare(make, x, dtype)


def test_bf16_compute_matches_autodiff():
  """``dtype=bfloat16``: same forward bits, gradients of float32 params to bf16 rounding."""
  x = jax.random.normal(_key(3), (2, 2, 8, 8, 3))
  _compare(lambda wg: jn.Conv(3, 4, 3, stride=2, padding=1, dtype=jnp.bfloat16,
                              wgrad=wg or "taps", rngs=rngs()), x, None, tol=2e-2)
  xf = jax.random.normal(_key(4), (3, 4, 12))
  _compare(lambda wg: jn.Linear(12, 5, dtype=jnp.bfloat16, wgrad=wg or "transpose",
                                rngs=rngs()), xf, None, tol=2e-2)


def test_default_is_auto_and_set_attributes_switches():
  conv, lin = jn.Conv(3, 4, 3, rngs=rngs()), jn.Linear(4, 2, rngs=rngs())
  assert conv.wgrad == "auto" and lin.wgrad == "auto"
  # auto = Conv "taps" on CPU (autodiff elsewhere); Linear autodiff everywhere (its "transpose"
  # path was slower on a quiet machine)
  on_cpu = jax.default_backend() == "cpu"
  auto = nnx.Sequential(jn.Conv(3, 4, 3, padding=1, rngs=rngs()),
                        lambda y: jnp.mean(y, axis=(-3, -2)), jn.Linear(4, 2, rngs=rngs()))
  x = jax.random.normal(_key(5), (2, 2, 6, 6, 3))
  auto_out, auto_gp, _ = _loss_and_grads(auto, x)
  model = nnx.Sequential(jn.Conv(3, 4, 3, padding=1, wgrad="autodiff", rngs=rngs()),
                         lambda y: jnp.mean(y, axis=(-3, -2)),
                         jn.Linear(4, 2, wgrad="autodiff", rngs=rngs()))
  ref_out, ref_gp, _ = _loss_and_grads(model, x)
  graphdef, params = nnx.split(model, nnx.Param)
  grad_jaxpr = lambda: str(jax.make_jaxpr(jax.grad(
      lambda p: jnp.sum(nnx.merge(graphdef, p)(x))))(params))
  jaxpr = grad_jaxpr()  # dots: the Linear's forward, input and weight gradients
  assert jaxpr.count("dot_general") == 3 and "optimization_barrier" not in jaxpr
  model.set_attributes(jn.Conv, wgrad="taps")
  model.set_attributes(jn.Linear, wgrad="transpose")
  assert model.layers[0].wgrad == "taps" and model.layers[2].wgrad == "transpose"
  graphdef, params = nnx.split(model, nnx.Param)
  jaxpr = grad_jaxpr()  # + a loop of one dot per 3x3 tap for the conv's dW; x^T for dense
  assert jaxpr.count("dot_general") >= 3 + 1 and "length=9" in jaxpr
  assert "optimization_barrier" in jaxpr
  out, gp, _ = _loss_and_grads(model, x)
  np.testing.assert_array_equal(np.asarray(out), np.asarray(ref_out))
  for path, g in jax.tree.leaves_with_path(gp):
    r, a = _at(ref_gp, path), _at(auto_gp, path)
    np.testing.assert_allclose(g, r, rtol=0, atol=1e-5)
    if jax.tree_util.keystr(path).startswith("[2]"):  # the Linear: auto = autodiff
      np.testing.assert_array_equal(np.asarray(a), np.asarray(r))
    elif on_cpu:
      np.testing.assert_array_equal(np.asarray(g), np.asarray(a))  # the Conv: auto = taps


def _at(tree, path):
  return dict(jax.tree.leaves_with_path(tree))[path]


@pytest.mark.parametrize("make, shape", [
    (lambda wg: jn.Conv(3, 64, 3, padding=1, wgrad=wg, rngs=rngs()), (4, 8, 32, 32, 3)),
    (lambda wg: jn.Conv(64, 32, 3, stride=2, padding=1, use_bias=False, wgrad=wg, rngs=rngs()),
     (2, 4, 16, 16, 64)),
    (lambda wg: jn.Linear(700, 64, wgrad=wg, rngs=rngs()), (50, 16, 700)),
], ids=["conv_first", "conv_s2", "linear"])
def test_default_weight_gradient_is_as_exact_as_autodiff(make, shape):
  """The default (``"auto"``, the fast path on CPU) at conv_cifar / lif_mlp sizes: forward and input
  gradient bitwise autodiff's; the weight gradient within 1e-6 (of its largest entry) of the
  float64 gradient, and at most 2x as far from it as autodiff's own float32 result (measured: 1/28
  of autodiff's error on the first conv, whose 32768-term sums autodiff rounds to ~6e-6; 1.6x on
  the dense layer, both ~5e-7). The two float32 results differ by summation order only."""
  x = jax.random.normal(_key(6), shape)
  ref_out, ref_gp, ref_gx = _loss_and_grads(make("autodiff"), x)
  out, gp, gx = _loss_and_grads(make("auto"), x)
  np.testing.assert_array_equal(np.asarray(out), np.asarray(ref_out))
  np.testing.assert_array_equal(np.asarray(gx), np.asarray(ref_gx))
  with jax.enable_x64(True):
    exact_m = make("autodiff")
    _cast_params(exact_m, jnp.float64)
    _, exact_gp, _ = _loss_and_grads(exact_m, x.astype(jnp.float64))
  for g, r, e in zip(jax.tree.leaves(gp), jax.tree.leaves(ref_gp), jax.tree.leaves(exact_gp)):
    g, r, e = (np.asarray(a, np.float64) for a in (g, r, e))
    scale = np.abs(e).max()
    assert np.abs(g - e).max() <= 1e-6 * scale
    assert np.abs(g - e).max() <= 2 * np.abs(r - e).max()


def test_invalid_wgrad_raises_listing_valid_values():
  with pytest.raises(ValueError, match="'auto', 'autodiff', 'taps'"):
    jn.Conv(3, 4, 3, wgrad="transpose", rngs=rngs())
  with pytest.raises(ValueError, match="'auto', 'autodiff', 'transpose'"):
    jn.Linear(3, 4, wgrad="taps", rngs=rngs())
  with pytest.raises(ValueError, match="wgrad=None"):
    jn.Linear(3, 4, wgrad=None, rngs=rngs())
  conv = jn.Conv(3, 4, 3, rngs=rngs())
  conv.wgrad = "im2col"  # e.g. set through set_attributes: caught when traced
  with pytest.raises(ValueError, match="'autodiff', 'taps'"):
    conv(jnp.zeros((1, 5, 5, 3)))


def test_jsnn_exports_unchanged():
  assert jsnn.nn.Conv is jn.Conv and jsnn.nn.Linear is jn.Linear
