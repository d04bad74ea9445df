"""Neuron parity with the official TET / SML / CLIF code and with SpikingJelly, plus run() checks.

Every reference case backpropagates ``L = sum(spike * g_out)`` (tests/ref/README.md), so
``grad_x = dL/dx``. Parity runs in float32 and float64, eagerly and under jit.
"""

from __future__ import annotations

import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from helpers import maybe_jit
from jsnn import neurons as N
from jsnn import surrogate as S


def _run_and_grad(neuron: N.Neuron, x, g):
  """Spikes, state trace, dL/dx and dL/dneuron for ``L = sum(spike * g)``."""

  def loss(x, neuron):
    _, spikes, states = neuron.run_with_states(x)
    return jnp.sum(spikes * g), (spikes, states)

  (_, (spikes, states)), (gx, gn) = jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)(
      x, neuron)
  return spikes, states, gx, gn


PAPER_CASES = [  # (ref file, neuron factory, x key, spike key, grad key, time-major?)
    ("tet_lif_B2_T4_N8.npz", N.tet_lif, "x_tbn", "spike_btn", "grad_x_btn", False),
    ("sml_lif_T4_B2_N8.npz", N.sml_lif, "x_tbn", "spike_tbn", "grad_x_tbn", True),
    ("sml_lif_T4_B2_N8.npz", functools.partial(N.sml_lif, detach_reset=True), "x_tbn",
     "spike_tbn", "grad_x_tbn_memdetach", True),
    ("clif_neurons_T4_B2_N8.npz", N.clif, "x", "clif_spike", "clif_grad_x", True),
    ("clif_neurons_T4_B2_N8.npz", N.clif_lif, "x", "lif_spike", "lif_grad_x", True),
    ("clif_neurons_T4_B2_N8.npz", N.clif_plif, "x", "plif_spike", "plif_grad_x", True),
]


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("f64", [False, True], ids=["f32", "f64"])
@pytest.mark.parametrize("long", [False, True], ids=["short", "long"])
@pytest.mark.parametrize("case", PAPER_CASES, ids=lambda c: f"{c[0][:4]}-{c[4]}")
def test_paper_neuron_parity(ref, case, long, f64, jit, x64):
  name, factory, xk, sk, gk, time_major = case
  z = ref(name)
  pre, suf = ("long_" if long else ""), ("_f64" if f64 else "")
  g_key = xk.replace("x", "g_out")
  x = jnp.asarray(z[pre + xk + suf])
  g = jnp.asarray(z[pre + g_key + suf])
  neuron = factory()
  spikes, states, gx, gn = maybe_jit(_run_and_grad, jit)(neuron, x, g)
  assert spikes.dtype == x.dtype
  exp_s, exp_g = z[pre + sk + suf], z[pre + gk + suf]
  if not time_major:  # TET stores the official batch-first [B, T, N] layout
    exp_s, exp_g = exp_s.swapaxes(0, 1), exp_g.swapaxes(0, 1)
  np.testing.assert_array_equal(spikes, exp_s)
  # TET/SML's surrogates emit float32 spikes even in a float64 run, so their _f64 references are
  # only float32-accurate (tests/ref/README.md); CLIF's float64 references are true float64.
  true_f64 = f64 and name.startswith("clif")
  np.testing.assert_allclose(gx, exp_g, atol=1e-12 if true_f64 else 1e-6, rtol=0)
  if name.startswith("clif"):
    kind = sk.split("_")[0]
    np.testing.assert_allclose(states.v, z[f"{pre}{kind}_v_after_reset{suf}"],
                               atol=1e-12 if f64 else 2.4e-7, rtol=0)
    if kind == "clif":
      np.testing.assert_allclose(states.m, z[f"{pre}clif_m_after_update{suf}"],
                                 atol=1e-12 if f64 else 2.4e-7, rtol=0)
    if kind == "plif":
      np.testing.assert_allclose(gn.params.w, z[f"{pre}plif_grad_w{suf}"],
                                 atol=1e-12 if f64 else 1e-6, rtol=0)
      np.testing.assert_allclose(neuron.params.w, z[f"{pre}plif_w_init{suf}"])


def test_clif_is_not_the_inplace_clifspike(ref):
  """The unused CLIFSpike with the in-place sigmoid_ bug differs on the long input; we are not it."""
  z = ref("clif_neurons_T4_B2_N8.npz")
  _, spikes = N.clif()(jnp.asarray(z["long_x"]))
  assert np.any(np.asarray(spikes) != z["long_clifspike_inplace_spike"])


# --- SpikingJelly: 62 IF / LIF / PLIF configurations in two versions -----------------------------

SJ_FILES = {"2.0.0": "sj/sj_lif_variants.npz", "0.0.0.0.14": "sj/v0.0.0.0.14/sj_lif_variants.npz"}


def _sj_configs():
  out = []
  for version, path in SJ_FILES.items():
    with np.load(f"tests/ref/{path}") as z:
      out += [(version, c) for c in json.loads(str(z["configs"]))]
  return out


SJ_CASES = _sj_configs()


def _sj_neuron(cfg, version, w) -> N.Neuron:
  sg = getattr(S, cfg["surrogate"])(**cfg["surrogate_params"])
  common = dict(v_th=cfg["v_threshold"], v_reset=cfg["v_reset"], spike_fn=sg)
  if cfg["neuron"] == "IFNode":
    return N.sj_if(detach_reset=cfg["detach_reset"], **common)
  kw = dict(decay_input=cfg["decay_input"], detach_reset=cfg["detach_reset"], sj_version=version)
  if cfg["neuron"] == "LIFNode":
    return N.sj_lif(tau=cfg["tau"], **kw, **common)
  neuron = N.sj_plif(init_tau=cfg["init_tau"], **kw, **common)
  return neuron.replace(params=neuron.params._replace(w=w))


def _fma_sensitive(cfg, version) -> bool:
  """Products that XLA's CPU backend fuses into FMA instructions (no flag turns this off,
  openxla/xla#41579): PLIF's ``(v - v_r) * sigmoid(w)`` with ``sigmoid(w) != 1/2``, and the
  0.0.0.0.14 charge ``v * (1 - 1/tau)`` with a non-dyadic tau. There the float32 potential can
  differ from PyTorch's by 1 ulp; everywhere else it is bit-identical."""
  if cfg["neuron"] == "ParametricLIFNode":
    return cfg["init_tau"] != 2.0
  return version != "2.0.0" and cfg["neuron"] == "LIFNode" and cfg["tau"] != 2.0


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("version,cfg", SJ_CASES, ids=[f"{v}-{c['name']}" for v, c in SJ_CASES])
def test_spikingjelly_neuron_parity(ref, version, cfg, jit, x64):
  z = ref(SJ_FILES[version])
  name = cfg["name"]
  for suf in ("", "_f64"):
    x, g = jnp.asarray(z["x" + suf]), jnp.asarray(z["g_out" + suf])
    w = jnp.asarray(z[f"{name}_w{suf}"]) if f"{name}_w{suf}" in z.files else None
    neuron = _sj_neuron(cfg, version, w)
    spikes, states, gx, gn = maybe_jit(_run_and_grad, jit)(neuron, x, g)
    np.testing.assert_array_equal(spikes, z[f"{name}_spike{suf}"])
    v_ref = z[f"{name}_v_seq{suf}"]
    if suf == "_f64":
      np.testing.assert_allclose(states.v, v_ref, atol=1e-12, rtol=0)
      np.testing.assert_allclose(gx, z[f"{name}_grad_x{suf}"], atol=1e-12, rtol=0)
    else:
      if _fma_sensitive(cfg, version):
        np.testing.assert_allclose(states.v, v_ref, atol=2.4e-7, rtol=0)
      else:
        np.testing.assert_array_equal(states.v, v_ref)
      np.testing.assert_allclose(gx, z[f"{name}_grad_x{suf}"], atol=1e-5, rtol=0)
    if cfg["neuron"] == "ParametricLIFNode":
      np.testing.assert_allclose(gn.params.w, z[f"{name}_grad_w{suf}"],
                                 atol=1e-12 if suf else 1e-5, rtol=0)


def test_all_62_configurations_per_version_are_tested():
  for version in SJ_FILES:
    assert sum(v == version for v, _ in SJ_CASES) == 62


# --- learnable constants, long sequences, tracing ------------------------------------------------

def test_learnable_constants_receive_gradients(x64):
  """Per-neuron threshold, decay and tau get gradients equal to finite differences of the smooth
  network (spike replaced by the sigmoid primitive)."""
  rs = np.random.RandomState(3)
  x = jnp.asarray(rs.randn(6, 3, 5) + 0.7)
  g = jnp.asarray(rs.randn(6, 3, 5))
  params = N.LIFParams(tau=jnp.full((5,), 1.8), v_th=jnp.full((5,), 0.9), v_reset=None)
  smooth = S.Sigmoid(4.0).smooth

  def loss(p):
    step = functools.partial(N.lif_step, params=p, spike_fn=smooth)
    _, s = N.run(step, N.lif_init(p, x[0]), x)
    return jnp.sum(s * g)

  grads = jax.grad(loss)(params)
  eps = 1e-6
  for field in ("tau", "v_th"):
    for k in range(5):
      bump = jnp.zeros((5,)).at[k].set(eps)
      up = loss(params._replace(**{field: getattr(params, field) + bump}))
      dn = loss(params._replace(**{field: getattr(params, field) - bump}))
      np.testing.assert_allclose(getattr(grads, field)[k], (up - dn) / (2 * eps), atol=1e-6)
  decay_grad = jax.grad(lambda d: jnp.sum(N.tet_lif(decay=d)(x)[1] * g))(jnp.full((5,), 0.5))
  assert decay_grad.shape == (5,) and np.all(np.isfinite(decay_grad))


def test_grad_through_long_run_uses_scan():
  x = jax.random.normal(jax.random.key(0), (64, 4, 32)) + 0.5
  neuron = N.sj_plif()
  loss = lambda n, x: jnp.sum(n(x)[1])
  jaxpr = str(jax.make_jaxpr(jax.grad(loss))(neuron, x))
  assert "scan" in jaxpr and jaxpr.count("logistic") < 20  # no unrolled Python loop over T
  g = jax.jit(jax.grad(loss, argnums=(0, 1)))(neuron, x)
  assert np.isfinite(float(g[0].params.w)) and g[1].shape == x.shape


def test_new_constant_values_do_not_retrace():
  traces = 0

  @jax.jit
  def f(neuron, x):
    nonlocal traces
    traces += 1
    return jnp.sum(neuron(x)[1])

  x = jnp.ones((4, 2, 3))
  for tau, alpha in ((2.0, 4.0), (3.0, 2.0), (1.5, 1.0)):
    f(N.sj_lif(tau=tau, spike_fn=S.Sigmoid(alpha)), x)
  assert traces == 1


def test_vmap_over_thresholds():
  x = jax.random.normal(jax.random.key(1), (8, 2, 4)) + 1.0
  rates = jax.vmap(lambda th: jnp.mean(N.tet_lif(v_th=th)(x)[1]))(jnp.asarray([0.5, 1.0, 2.0]))
  assert rates[0] >= rates[1] >= rates[2]


def test_trace_returns_potential_after_reset():
  x = jnp.asarray([[[0.6]], [[0.6]], [[0.6]]])  # [T=3, B=1, N=1]
  _, spikes, states = N.tet_lif().run_with_states(x)
  # by hand: m = 0.6 (no spike), m = 0.3 + 0.6 = 0.9 (no spike), m = 0.45 + 0.6 = 1.05 (spike, reset)
  np.testing.assert_allclose(states.v[:, 0, 0], [0.6, 0.9, 0.0], rtol=1e-6)
  np.testing.assert_array_equal(spikes[:, 0, 0], [0.0, 0.0, 1.0])


# --- errors ---------------------------------------------------------------------------------------

def test_batch_first_input_is_rejected():
  x_btn = jnp.zeros((2, 5, 8))  # [B, T, N] passed where [T, B, N] is expected
  state = N.zero_init(None, jnp.zeros((2, 8)))
  step = N.tet_lif().bound_step()
  with pytest.raises(ValueError, match=r"expected xs time-major \[T, B, \.\.\.\] = \[T, 2, 8\]"):
    N.run(step, state, x_btn)


def test_mismatched_state_is_rejected():
  state = N.clif_init(None, jnp.zeros((3, 8)))
  with pytest.raises(ValueError, match=r"state.*has shape \(3, 8\) but each time step"):
    N.run(N.clif().bound_step(), state, jnp.zeros((4, 2, 8)))
  with pytest.raises(ValueError, match=r"time-major \[T, B, \.\.\.\] \(rank >= 2\)"):
    N.run(N.clif().bound_step(), state, jnp.zeros((8,)))


def test_wrong_dtypes_are_rejected():
  with pytest.raises(TypeError, match="floating-point array"):
    N.tet_lif()(jnp.zeros((4, 2, 3), jnp.int32))
  state = N.zero_init(None, jnp.zeros((2, 3), jnp.float16))
  with pytest.raises(TypeError, match="dtype float16 but xs has dtype float32"):
    N.run(N.tet_lif().bound_step(), state, jnp.zeros((4, 2, 3)))


def test_constant_that_does_not_broadcast_is_rejected():
  with pytest.raises(ValueError, match=r"LIFParams.tau has shape \(4,\); expected a scalar"):
    N.sj_lif(tau=jnp.full((4,), 2.0))(jnp.zeros((5, 2, 3)))


def test_bad_versions_and_init_tau():
  with pytest.raises(ValueError, match="sj_version must be one of"):
    N.sj_lif(sj_version="0.0.0.0.12")(jnp.zeros((2, 1, 1)))
  with pytest.raises(ValueError, match="init_tau must be > 1"):
    N.sj_plif(init_tau=1.0)


# --- memory-bounded BPTT --------------------------------------------------------------------------

@pytest.mark.parametrize("remat", ["step", 4, 16])
def test_remat_gives_the_same_gradients(remat):
  x = jax.random.normal(jax.random.key(2), (16, 3, 8)) + 0.6
  g = jax.random.normal(jax.random.key(3), (16, 3, 8))
  neuron = N.clif()

  def loss(neuron, x, remat):
    _, spikes, states = neuron.run_with_states(x, remat=remat)
    return jnp.sum(spikes * g) + 0.1 * jnp.sum(states.v * g)

  ref_val, ref_grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)), static_argnums=2)(
      neuron, x, None)
  val, grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)), static_argnums=2)(
      neuron, x, remat)
  np.testing.assert_allclose(val, ref_val, rtol=1e-6)
  for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(ref_grads)):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_chunked_remat_bounds_activation_memory():
  """Peak temporary memory of the backward (XLA's compiled memory analysis): chunked time keeps
  only chunk-boundary states, so T=64 costs far less than plain autodiff does."""

  def temp_bytes(t, remat):
    x = jnp.ones((t, 16, 512))
    f = jax.jit(jax.grad(lambda x: jnp.sum(
        N.sj_lif()(x, remat=remat, residuals="default")[1])))   # plain autodiff of the scan
    return f.lower(x).compile().memory_analysis().temp_size_in_bytes

  plain64, chunk64, chunk8 = temp_bytes(64, None), temp_bytes(64, 8), temp_bytes(8, 8)
  assert chunk64 < 0.5 * plain64
  assert chunk64 <= 2 * chunk8 + 64 * 16 * 512 * 4  # + the [T, B, N] input cotangent itself


def test_bad_remat_is_rejected():
  with pytest.raises(ValueError, match="not divisible by the remat chunk size 3"):
    N.tet_lif()(jnp.zeros((8, 2, 3)), remat=3)
  with pytest.raises(ValueError, match="remat must be None, 'step' or a positive int"):
    N.tet_lif()(jnp.zeros((8, 2, 3)), remat="chunk")
