"""Tests for `jsnn.losses`: parity with the official PyTorch losses (tests/ref), closed forms, bad input.

Layouts are named in variable names: the refs are batch-first (`*_bt`, `[B, T, C]`) or t-major flattened
(`out_all`, `[T·B, C]`); jsnn is time-major (`*_tbc`, `[T, B, C]`).
"""

from __future__ import annotations

import doctest
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jsnn import losses
from jsnn.losses import _distillation, _metrics, _temporal
from helpers import assert_close, assert_equal, maybe_jit

LAMBS = ["0", "0.0001", "0.001", "0.05"]
ATOL = 1e-6
_LOGITS_BTC = np.zeros((2, 4, 10), np.float32)  # B=2, T=4: the official TET layout
_LABELS = np.array([3, 7])


# ---------------------------------------------------------------------------------------------- numpy


def _np_log_softmax(z):
  z = z - z.max(-1, keepdims=True)
  return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _np_ce(z_bc, y, eps=0.0):
  """PyTorch CrossEntropyLoss(label_smoothing=eps), batch mean, float64."""
  logp = _np_log_softmax(np.asarray(z_bc, np.float64))
  classes = logp.shape[-1]
  target = (1.0 - eps) * np.eye(classes)[y] + eps / classes
  return float(-(target * logp).sum(-1).mean())


def _random_logits(seed, shape=(5, 3, 7), dtype=np.float32):
  return (2.0 * np.random.RandomState(seed).randn(*shape)).astype(dtype)


# --------------------------------------------------------------------------------- reference parity


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("lamb", LAMBS)
def test_tet_matches_official(ref, jit, lamb):
  r = ref("tet_loss_B2_T4_C10.npz")
  logits_tbc = r["outputs_bt"].transpose(1, 0, 2)
  loss_fn = maybe_jit(functools.partial(losses.tet, lamb=float(lamb), phi=1.0), jit)
  loss, grad_tbc = jax.value_and_grad(loss_fn)(logits_tbc, r["labels"])
  assert loss.dtype == jnp.float32
  assert_close(loss, r[f"loss_lamb{lamb}"], atol=ATOL)
  assert_close(grad_tbc.transpose(1, 0, 2), r[f"grad_lamb{lamb}"], atol=ATOL)


def test_tet_weights_ce_by_one_minus_lamb(ref):
  """The official form is (1−λ)·CE + λ·MSE, not CE + λ·MSE: the two differ by ≫ 1e-6 at λ = 0.05."""
  r = ref("tet_loss_B2_T4_C10.npz")
  logits_tbc = r["outputs_bt"].transpose(1, 0, 2)
  ce = float(losses.tet(logits_tbc, r["labels"], lamb=0.0))
  mse = float(np.mean((logits_tbc.astype(np.float64) - 1.0) ** 2))
  for lamb in LAMBS:
    assert abs((1 - float(lamb)) * ce + float(lamb) * mse - r[f"loss_lamb{lamb}"]) < ATOL
  assert abs(ce + 0.05 * mse - r["loss_lamb0.05"]) > 1e-2


@pytest.mark.parametrize("jit", [False, True])
def test_sdt_matches_official(ref, jit):
  r = ref("tet_loss_B2_T4_C10.npz")
  logits_tbc = r["outputs_bt"].transpose(1, 0, 2)
  loss, grad_tbc = jax.value_and_grad(maybe_jit(losses.sdt, jit))(logits_tbc, r["labels"])
  assert_close(loss, r["loss_sdt_mean_then_ce"], atol=ATOL)
  assert_close(grad_tbc.transpose(1, 0, 2), r["grad_sdt_mean_then_ce"], atol=ATOL)


def test_tet_lamb0_is_exactly_the_mean_per_step_ce(ref):
  r = ref("tet_loss_B2_T4_C10.npz")
  logits_tbc = r["outputs_bt"].transpose(1, 0, 2)
  per_step = np.mean([float(losses.sdt(logits_tbc[t:t + 1], r["labels"])) for t in range(4)])
  assert_close(losses.tet(logits_tbc, r["labels"]), per_step, atol=ATOL)
  assert_equal(losses.tet(logits_tbc, r["labels"]), losses.tet(logits_tbc, r["labels"], lamb=0.0))


@pytest.mark.parametrize("old,new", [("clif_loss", "jsnn.losses.clif"), ("mix_loss", "jsnn.losses.mix"),
                                     ("sml_loss", "jsnn.losses.sml"), ("tet_ce", "jsnn.losses.tet"),
                                     ("temporal_efficient_training_cross_entropy", "jsnn.losses.tet")])
def test_old_loss_names_raise_naming_the_new_one(old, new):
  with pytest.raises(AttributeError, match=f"jsnn.losses.{old} was renamed: use {new}"):
    getattr(losses, old)


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("target,key", [("const", "const1"), ("onehot", "onehot")])
def test_clif_loss_matches_official(ref, jit, target, key):
  r = ref("clif_loss_T4_B2_C10.npz")
  steps, batch, classes = r["out_bt"].shape[1], r["out_bt"].shape[0], r["out_bt"].shape[2]
  logits_tbc = r["out_all"].reshape(steps, batch, classes)  # out_all is t-major [T·B, C]
  assert_equal(logits_tbc, r["out_bt"].transpose(1, 0, 2))
  loss_fn = maybe_jit(functools.partial(losses.clif, target=target), jit)
  loss, grad_tbc = jax.value_and_grad(loss_fn)(logits_tbc, r["labels"])
  assert_close(loss, r[f"loss_{key}"], atol=ATOL)
  assert_close(grad_tbc.reshape(steps * batch, classes), r[f"grad_out_all_{key}"], atol=ATOL)


def test_clif_const_equals_tet_lamb005(ref):
  r = ref("clif_loss_T4_B2_C10.npz")
  logits_tbc = r["out_bt"].transpose(1, 0, 2)
  assert_close(losses.clif(logits_tbc, r["labels"]), losses.tet(logits_tbc, r["labels"], lamb=0.05),
               atol=1e-7)
  assert_close(r["loss_const1"], ref("tet_loss_B2_T4_C10.npz")["loss_lamb0.05"], atol=0.0)


def _sml_inputs(r, n):
  aux_keys = [f"n{n}_aux{i + 1}" for i in range(n)]
  return r[f"n{n}_final"], [r[k] for k in aux_keys], r[f"n{n}_labels"]


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("n", [1, 2])
def test_sml_distillation_matches_official(ref, jit, n):
  r = ref("sml_loss_B2_C10.npz")
  final_bc, aux_bc, labels = _sml_inputs(r, n)
  hyper = dict(temperature=float(r["temperature"]), alpha=float(r["alpha"]), lamb=float(r["lamb"]))

  def loss_fn(final, aux):
    parts = losses.sml_distillation_components(final, aux, labels, **hyper)
    return parts.loss, parts

  (loss, parts), (g_final, g_aux) = jax.value_and_grad(maybe_jit(loss_fn, jit), argnums=(0, 1),
                                                       has_aux=True)(final_bc, aux_bc)
  assert isinstance(parts, losses.SMLComponents)
  assert_equal(losses.sml_distillation(final_bc, aux_bc, labels, **hyper), loss)
  assert_close(loss, r[f"n{n}_loss"], atol=ATOL)
  assert_close(parts.hard, r[f"n{n}_hard_component"], atol=ATOL)
  assert_close(parts.soft, r[f"n{n}_soft_component"], atol=ATOL)
  assert_close(loss, hyper["lamb"] * parts.soft + (1 - hyper["lamb"]) * parts.hard, atol=ATOL)
  assert_close(g_final, r[f"n{n}_grad_final"], atol=ATOL)
  for i, g in enumerate(g_aux):
    assert_close(g, r[f"n{n}_grad_aux{i + 1}"], atol=ATOL, err_msg=f"aux{i + 1}")


def test_sml_defaults_and_stacked_aux_match_list(ref):
  r = ref("sml_loss_B2_C10.npz")
  final_bc, aux_bc, labels = _sml_inputs(r, 2)
  from_list = losses.sml_distillation(final_bc, aux_bc, labels)  # defaults are the script values
  assert_close(from_list, r["n2_loss"], atol=ATOL)
  assert_equal(losses.sml_distillation(final_bc, np.stack(aux_bc), labels), from_list)


def test_sml_stop_gradients():
  """KL(sg(o_s)‖o_i) trains only o_i and KL(sg(o_i)‖o_s) only o_s: with α=0, λ=1 and one module the
  gradient w.r.t. o_s is the gradient of the second KL alone."""
  final_bc, aux_bc = _random_logits(3, (2, 10)), _random_logits(4, (2, 10))
  grad_fn = jax.jit(jax.grad(functools.partial(losses.sml_distillation, alpha=0.0, lamb=1.0)))
  g_final = grad_fn(final_bc, [aux_bc], _LABELS)
  tau = 3.0
  q = np.exp(_np_log_softmax(aux_bc.astype(np.float64) / tau))
  p = np.exp(_np_log_softmax(final_bc.astype(np.float64) / tau))
  expected = (p - q) / (tau * final_bc.shape[0]) / (2 + 1e-8)  # d/do_s KL_τ(q‖softmax(o_s/τ)) / (2N)
  assert_close(g_final, expected, atol=ATOL)


def test_ref_parity_float64(ref, x64):
  """float64 runs; the refs come from float32 torch code, so compare at float32 accuracy."""
  r = ref("tet_loss_B2_T4_C10.npz")
  logits_tbc = r["outputs_bt"].transpose(1, 0, 2).astype(np.float64)
  loss, grad_tbc = jax.value_and_grad(jax.jit(functools.partial(losses.tet, lamb=0.05)))(
      logits_tbc, r["labels"])
  assert loss.dtype == jnp.float64 and grad_tbc.dtype == jnp.float64
  assert_close(loss, r["loss_lamb0.05"], atol=ATOL)
  assert_close(grad_tbc.transpose(1, 0, 2), r["grad_lamb0.05"], atol=ATOL)
  s = ref("sml_loss_B2_C10.npz")
  final_bc, aux_bc, labels = _sml_inputs(s, 2)
  loss = jax.jit(losses.sml_distillation)(final_bc.astype(np.float64),
                                          [a.astype(np.float64) for a in aux_bc], labels)
  assert loss.dtype == jnp.float64
  assert_close(loss, s["n2_loss"], atol=ATOL)


# ------------------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize("lamb", [0.0, 0.3, 1.0])
def test_tet_gradient_closed_form(x64, lamb):
  """Spec §2.2: dL/dO = (1−λ)/(T·B)·(softmax(O_tb) − onehot(y_b)) + 2λ(O−φ)/(B·T·C)."""
  steps, batch, classes, phi = 5, 3, 7, 0.7
  logits_tbc = _random_logits(0, (steps, batch, classes), np.float64)
  labels = np.array([0, 6, 2])
  grad = jax.jit(jax.grad(functools.partial(losses.tet, lamb=lamb, phi=phi)))(logits_tbc, labels)
  softmax = np.exp(_np_log_softmax(logits_tbc))
  expected = ((1 - lamb) / (steps * batch) * (softmax - np.eye(classes)[labels][None])
              + 2 * lamb * (logits_tbc - phi) / (batch * steps * classes))
  assert grad.dtype == jnp.float64
  assert_close(grad, expected, atol=1e-12)


def test_temporal_losses_numpy_float64(x64):
  logits_tbc = _random_logits(1, dtype=np.float64)
  labels = np.array([1, 0, 6])
  onehot = np.eye(7)[labels]
  mean_bc = logits_tbc.mean(0)
  per_step_ce = np.mean([_np_ce(o, labels) for o in logits_tbc])
  cases = {
      "sdt": (losses.sdt(logits_tbc, labels), _np_ce(mean_bc, labels)),
      "tet_lamb0": (losses.tet(logits_tbc, labels), per_step_ce),
      "tet": (losses.tet(logits_tbc, labels, lamb=0.2, phi=0.5),
              0.8 * per_step_ce + 0.2 * np.mean((logits_tbc - 0.5) ** 2)),
      "clif_onehot": (losses.clif(logits_tbc, labels, target="onehot", lamb=0.1),
                      0.9 * per_step_ce + 0.1 * np.mean((logits_tbc - onehot[None]) ** 2)),
      "mix": (losses.mix(logits_tbc, labels, lamb=0.2),
              0.2 * np.mean((mean_bc - onehot) ** 2) + 0.8 * _np_ce(mean_bc, labels)),
  }
  for name, (actual, expected) in cases.items():
    assert actual.dtype == jnp.float64, name
    assert_close(actual, expected, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("jit", [False, True])
def test_mix_loss_matches_numpy_float32(jit):
  logits_tbc = _random_logits(2)
  labels = np.array([3, 3, 0])
  loss = maybe_jit(functools.partial(losses.mix, lamb=0.05), jit)(logits_tbc, labels)
  mean_bc = logits_tbc.astype(np.float64).mean(0)
  expected = 0.05 * np.mean((mean_bc - np.eye(7)[labels]) ** 2) + 0.95 * _np_ce(mean_bc, labels)
  assert loss.dtype == jnp.float32
  assert_close(loss, expected, atol=ATOL)


@pytest.mark.parametrize("eps", [0.1, 0.5, 1.0])
def test_label_smoothing_matches_numpy(x64, eps):
  """PyTorch semantics: CE against (1−ε)·onehot + ε/C, i.e. (1−ε)·NLL + ε·mean_c(−log p_c)."""
  logits_tbc = _random_logits(5, dtype=np.float64)
  labels = np.array([2, 4, 6])
  per_step = np.mean([_np_ce(o, labels, eps) for o in logits_tbc])
  assert_close(losses.tet(logits_tbc, labels, label_smoothing=eps), per_step, atol=1e-12)
  assert_close(losses.sdt(logits_tbc, labels, label_smoothing=eps),
               _np_ce(logits_tbc.mean(0), labels, eps), atol=1e-12)
  assert_close(losses.clif(logits_tbc, labels, label_smoothing=eps),
               0.95 * per_step + 0.05 * np.mean((logits_tbc - 1.0) ** 2), atol=1e-12)
  logp = _np_log_softmax(logits_tbc.mean(0))
  formula = np.mean(-(1 - eps) * logp[np.arange(3), labels] - eps * logp.mean(-1))
  assert_close(losses.sdt(logits_tbc, labels, label_smoothing=eps), formula, atol=1e-12)


def test_traced_hyperparameters_under_jit():
  """λ, ε, τ may be traced (schedules): same values as static, and no retrace when they change."""
  logits_tbc, labels = _random_logits(6), np.array([0, 1, 2])
  traces = []

  @jax.jit
  def loss_fn(logits, lamb, eps):
    traces.append(None)
    return losses.tet(logits, labels, lamb=lamb, label_smoothing=eps)

  for lamb, eps in [(0.0, 0.0), (0.05, 0.1), (0.5, 0.2)]:
    expected = 0.0 if lamb == 0.0 else lamb * np.mean((logits_tbc.astype(np.float64) - 1.0) ** 2)
    expected += (1 - lamb) * np.mean([_np_ce(o, labels, eps) for o in logits_tbc])
    assert_close(loss_fn(logits_tbc, jnp.float32(lamb), jnp.float32(eps)), expected, atol=ATOL)
  assert len(traces) == 1
  final_bc, aux_bc = _random_logits(7, (3, 7)), _random_logits(8, (3, 7))
  sml = jax.jit(lambda tau: losses.sml_distillation(final_bc, [aux_bc], labels, temperature=tau))
  assert_close(sml(jnp.float32(2.0)),
               jax.jit(functools.partial(losses.sml_distillation, temperature=2.0))(final_bc, [aux_bc], labels),
               atol=ATOL)


def test_accuracy_and_predict_hand_case():
  # T=2, B=3, C=3. Sample 0: mean [0.5, 1.5, 0] → 1; sample 1: mean [2, 0, 1] → 0; sample 2: → 2.
  logits_tbc = np.array([[[1.0, 0.0, 0.0], [4.0, 0.0, 2.0], [0.0, 0.0, 1.0]],
                         [[0.0, 3.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.5, 1.0]]], np.float32)
  assert_equal(losses.predict(logits_tbc), [1, 0, 2])
  for jit in (False, True):
    assert_close(maybe_jit(losses.accuracy, jit)(logits_tbc, np.array([1, 0, 0])), 2 / 3, atol=1e-7)
    assert_close(maybe_jit(losses.accuracy, jit)(logits_tbc, np.array([1, 0, 2])), 1.0, atol=0.0)


def test_docstring_examples():
  for module in (_temporal, _distillation, _metrics):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, module.__name__


# ----------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("fn", [losses.sdt, losses.tet, losses.clif,
                                functools.partial(losses.mix, lamb=0.1), losses.accuracy])
def test_batch_first_logits_rejected(fn):
  with pytest.raises(ValueError, match=r"got \[B, T, C\]\? expected time-major \[T, B, C\]"):
    fn(_LOGITS_BTC, _LABELS)
  with pytest.raises(ValueError, match=r"got \[B, T, C\]\? expected time-major \[T, B, C\]"):
    jax.jit(fn)(_LOGITS_BTC, _LABELS)  # shapes are static: raised at trace time


def test_bad_ranks_and_shapes():
  with pytest.raises(ValueError, match=r"time-major \[T, B, C\], got shape \(2, 10\)"):
    losses.tet(np.zeros((2, 10), np.float32), _LABELS)
  with pytest.raises(ValueError, match=r"labels must have shape \[B\] = \(2,\)"):
    losses.tet(np.zeros((4, 2, 10), np.float32), np.array([1, 2, 3]))
  with pytest.raises(ValueError, match=r"time-major \[T, B, C\]"):
    losses.predict(np.zeros((2, 10), np.float32))
  with pytest.raises(ValueError, match=r"time-averaged logits \[B, C\].*mean\(0\)"):
    losses.sml_distillation(np.zeros((4, 2, 10), np.float32), [np.zeros((2, 10), np.float32)], _LABELS)
  with pytest.raises(ValueError, match=r"aux_list_of_bc\[1\] must have shape \[B, C\] = \(2, 10\)"):
    losses.sml_distillation(np.zeros((2, 10), np.float32),
                            [np.zeros((2, 10), np.float32), np.zeros((2, 9), np.float32)], _LABELS)


@pytest.mark.parametrize("bad", [[3, 10], [-1, 7]])
def test_labels_out_of_range(bad):
  with pytest.raises(ValueError, match=r"labels must lie in \[0, C\) = \[0, 10\)"):
    losses.tet(np.zeros((4, 2, 10), np.float32), np.array(bad))
  with pytest.raises(ValueError, match=r"labels must lie in \[0, C\) = \[0, 10\)"):
    losses.sml_distillation(np.zeros((2, 10), np.float32), [np.zeros((2, 10), np.float32)], np.array(bad))
  with pytest.raises(ValueError, match=r"\[0, 10\)"):  # concrete labels closed over by a jitted fn
    jax.jit(lambda o: losses.sdt(o, np.array(bad)))(np.zeros((4, 2, 10), np.float32))


@pytest.mark.parametrize("lamb", [-0.1, 1.5])
def test_lamb_outside_unit_interval(lamb):
  logits_tbc = np.zeros((4, 2, 10), np.float32)
  match = r"lamb must lie in \[0\.0, 1\.0\]"
  for fn in (losses.tet, losses.clif, losses.mix):
    with pytest.raises(ValueError, match=match):
      fn(logits_tbc, _LABELS, lamb=lamb)
  with pytest.raises(ValueError, match=match):
    losses.sml_distillation(logits_tbc[0], [logits_tbc[1]], _LABELS, lamb=lamb)
  with pytest.raises(ValueError, match=r"label_smoothing must lie in \[0\.0, 1\.0\]"):
    losses.sdt(logits_tbc, _LABELS, label_smoothing=lamb)


@pytest.mark.parametrize("tau", [0.0, -3.0])
def test_temperature_not_positive(tau):
  final_bc = np.zeros((2, 10), np.float32)
  with pytest.raises(ValueError, match=r"temperature must lie in \(0\.0, inf\)"):
    losses.sml_distillation(final_bc, [final_bc], _LABELS, temperature=tau)
  with pytest.raises(ValueError, match=r"alpha must lie in \[0\.0, inf\)"):
    losses.sml_distillation(final_bc, [final_bc], _LABELS, alpha=-0.5)


def test_bad_dtypes_and_options():
  with pytest.raises(TypeError, match=r"floating-point logits of shape \[T, B, C\], got dtype int32"):
    losses.tet(np.zeros((4, 2, 10), np.int32), _LABELS)
  with pytest.raises(TypeError, match=r"floating-point logits of shape \[B, C\]"):
    losses.sml_distillation(np.zeros((2, 10), np.int32), [np.zeros((2, 10), np.float32)], _LABELS)
  with pytest.raises(TypeError, match=r"labels must be integer class indices of shape \[B\]"):
    losses.tet(np.zeros((4, 2, 10), np.float32), np.array([3.0, 7.0], np.float32))
  with pytest.raises(ValueError, match=r"target must be one of 'const', 'onehot'"):
    losses.clif(np.zeros((4, 2, 10), np.float32), _LABELS, target="one_hot")
  with pytest.raises(TypeError, match=r"sequence of \[B, C\] arrays or a stacked \[N, B, C\]"):
    losses.sml_distillation(np.zeros((2, 10), np.float32), np.zeros((2, 10), np.float32), _LABELS)


# ------------------------------------------------------------------------- sml_loss (list outputs)


def _np_sml(snn_tbc, aux, y, tau=3.0, alpha=0.5, lamb=0.9):
  """SML's loss in float64 numpy from spec §3.3, on the time mean of the SNN logits."""
  o_s = np.asarray(snn_tbc, np.float64).mean(0)
  aux = [np.asarray(a, np.float64) for a in aux]
  batch = o_s.shape[0]

  def kl(a, b):  # KL_τ(a ‖ b), batchmean
    log_q, log_p = _np_log_softmax(a / tau), _np_log_softmax(b / tau)
    return float((np.exp(log_q) * (log_q - log_p)).sum() / batch)

  hard = (_np_ce(o_s, y) + alpha * sum(_np_ce(a, y) for a in aux)) / (1 + len(aux) * alpha)
  soft = sum(kl(o_s, a) + kl(a, o_s) for a in aux) / (2 * len(aux) + 1e-8)
  return lamb * soft + (1 - lamb) * hard


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 2])
def test_sml_loss_matches_numpy_closed_form(dtype, n):
  with jax.enable_x64(dtype == np.float64):
    snn_tbc = _random_logits(10, (4, 3, 7), dtype)
    aux = [_random_logits(11 + i, (3, 7), dtype) for i in range(n)]
    labels = np.array([0, 6, 2])
    loss = jax.jit(losses.sml)([snn_tbc, *aux], labels)
    assert loss.dtype == dtype
    atol = 1e-6 if dtype == np.float32 else 1e-12
    assert_close(loss, _np_sml(snn_tbc, aux, labels), atol=atol)
    # The adapter is sml_distillation on the time mean, with the script's defaults (τ 3, α 0.5, λ 0.9).
    direct = losses.sml_distillation(jnp.mean(snn_tbc, axis=0), aux, labels, temperature=3.0,
                                     alpha=0.5, lamb=0.9)
    assert_close(loss, direct, atol=atol)
    kw = dict(temperature=2.0, alpha=1.0, lamb=0.3)
    assert_close(losses.sml(tuple([snn_tbc, *aux]), labels, **kw),
                 _np_sml(snn_tbc, aux, labels, tau=2.0, alpha=1.0, lamb=0.3), atol=atol)


def test_sml_loss_gradient_closed_form(x64):
  r"""One module, λ, α, τ: with :math:`p = \mathrm{softmax}`, :math:`e_y` the one-hot label,

  .. math:: \partial L/\partial o_{snn}[t] = \frac{1}{TB}\Big[\frac{1-λ}{1+α}(p(o_s) - e_y)
     + \frac{λ}{2τ}(p(o_s/τ) - p(o_1/τ))\Big],\quad
     \partial L/\partial o_1 = \frac{1}{B}\Big[\frac{(1-λ)α}{1+α}(p(o_1) - e_y)
     + \frac{λ}{2τ}(p(o_1/τ) - p(o_s/τ))\Big]

  (each KL's target is stop-gradiented, so only its second argument is differentiated)."""
  snn_tbc = _random_logits(20, (4, 3, 7), np.float64)
  o_1 = _random_logits(21, (3, 7), np.float64)
  labels = np.array([1, 4, 6])
  tau, alpha, lamb = 2.5, 0.7, 0.6
  g_snn, g_1 = jax.jit(jax.grad(
      lambda s, a: losses.sml([s, a], labels, temperature=tau, alpha=alpha, lamb=lamb),
      argnums=(0, 1)))(snn_tbc, o_1)
  steps, batch, classes = snn_tbc.shape
  o_s = snn_tbc.mean(0)
  onehot = np.eye(classes)[labels]
  p = lambda z: np.exp(_np_log_softmax(z))  # noqa: E731
  soft_w = lamb / (2 + 1e-8) / tau
  expected_s = ((1 - lamb) / (1 + alpha) * (p(o_s) - onehot) + soft_w * (p(o_s / tau) - p(o_1 / tau)))
  expected_1 = ((1 - lamb) * alpha / (1 + alpha) * (p(o_1) - onehot)
                + soft_w * (p(o_1 / tau) - p(o_s / tau)))
  assert_close(g_snn, np.broadcast_to(expected_s / (steps * batch), snn_tbc.shape), atol=1e-12)
  assert_close(g_1, expected_1 / batch, atol=1e-12)


def test_sml_loss_bad_input():
  snn_tbc, o_1 = np.zeros((4, 2, 10), np.float32), np.zeros((2, 10), np.float32)
  with pytest.raises(TypeError, match=r"non-empty list \[o_snn \[T, B, C\], o_1 \[B, C\], \.\.\.\]"):
    losses.sml(snn_tbc, _LABELS)  # a single array, not the list
  with pytest.raises(TypeError, match="non-empty list"):
    losses.sml([], _LABELS)
  with pytest.raises(ValueError, match=r"outputs\[0\] must be the SNN's time-major logits \[T, B, C\]"):
    losses.sml([o_1, o_1], _LABELS)
  with pytest.raises(ValueError, match=r"aux_list_of_bc\[0\] must be time-averaged logits \[B, C\]"):
    losses.sml([snn_tbc, snn_tbc], _LABELS)
