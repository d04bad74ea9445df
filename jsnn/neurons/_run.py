"""Running a pure neuron step over time, and the checks every step shares.

A step has the signature ``step(state, x, *, params, spike_fn, **static) -> (state, spikes)``: the
carry comes first, so ``jax.lax.scan(functools.partial(step, params=p, spike_fn=sg), state0, xs)``
runs it over time-major inputs ``xs [T, B, ...]`` with no lambda.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jsnn.neurons import _residuals

__all__ = ["run", "run_with_states", "align_params", "exact_div", "check_memory_options", "RESIDUALS"]

Step = Callable[[Any, jax.Array], tuple[Any, jax.Array]]


def align_params(params: NamedTuple, x: jax.Array) -> NamedTuple:
  """Casts every neuron constant to ``x.dtype`` and left-pads it to ``x``'s rank.

  Constants may be Python scalars, scalars, or per-neuron / per-channel arrays that broadcast
  against the trailing axes of ``x [B, ...]``. The explicit padding keeps the steps valid under
  ``jax_numpy_rank_promotion="raise"``; the cast makes float32 parameters usable in a float64 run.
  ``None`` entries (e.g. ``v_reset=None`` for soft reset) are kept.

  Raises:
    ValueError: a constant does not broadcast against ``x``.
    TypeError: a constant is not a real number.
  """
  out = {}
  for name, value in params._asdict().items():
    if value is None:
      out[name] = None
      continue
    # A constant that is not traced stays concrete (evaluated now, not staged into the jitted
    # program), so steps can specialise on it (see exact_div).
    with jax.ensure_compile_time_eval() if not _traced(value) else contextlib.nullcontext():
      out[name] = _align(type(params).__name__, name, value, x)
  return type(params)(**out)


def _traced(value) -> bool:
  return any(isinstance(v, jax.core.Tracer) for v in jax.tree_util.tree_leaves(value))


def _align(owner: str, name: str, value, x: jax.Array) -> jax.Array:
  p = jnp.asarray(value)
  if not (jnp.issubdtype(p.dtype, jnp.floating) or jnp.issubdtype(p.dtype, jnp.integer)):
    raise TypeError(f"{owner}.{name} must be a real number, got dtype {p.dtype}.")
  if p.ndim > x.ndim or any(a not in (1, b) for a, b in zip(p.shape[::-1], x.shape[::-1])):
    raise ValueError(
        f"{owner}.{name} has shape {p.shape}; expected a scalar or a shape "
        f"that broadcasts against the trailing axes of the per-step input {x.shape}, e.g. "
        f"{x.shape[-1:]} per channel or {x.shape[1:]} per neuron.")
  return p.astype(x.dtype).reshape((1,) * (x.ndim - p.ndim) + p.shape)


def _check_run_inputs(state: Any, xs: jax.Array) -> None:
  if not jnp.issubdtype(xs.dtype, jnp.floating):
    raise TypeError(f"run: xs must be a floating-point array [T, B, ...], got dtype {xs.dtype}.")
  if xs.ndim < 2:
    raise ValueError(f"run: xs must be time-major [T, B, ...] (rank >= 2), got shape {xs.shape}.")
  step_shape = xs.shape[1:]
  for path, leaf in jax.tree_util.tree_leaves_with_path(state):
    name = jax.tree_util.keystr(path)
    shape = jnp.shape(leaf)
    if shape != step_shape:
      hint = ""
      if len(shape) == xs.ndim - 1 and shape[0] == xs.shape[0] and len(xs.shape) > 1:
        hint = (f" It looks as if xs is batch-first [B, T, ...]; transpose it to time-major "
                f"[T, B, ...] = {(xs.shape[1], xs.shape[0]) + xs.shape[2:]}.")
      raise ValueError(
          f"run: state{name} has shape {shape} but each time step xs[t] has shape {step_shape}; "
          f"expected xs time-major [T, B, ...] = [T, {', '.join(map(str, shape))}].{hint}")
    dtype = jnp.result_type(leaf)
    if dtype != xs.dtype:
      raise TypeError(f"run: state{name} has dtype {dtype} but xs has dtype {xs.dtype}; build the "
                      "initial state with the neuron's init function from xs[0].")


RESIDUALS = ("auto", "default", "minimal")


def run(step: Step, state: Any, xs: ArrayLike, *, remat: str | int | None = None,
        residuals: str = "auto", unroll: int | bool = 1) -> tuple[Any, jax.Array]:
  """Runs ``step`` over the leading (time) axis of ``xs`` with ``jax.lax.scan``.

  Returns ``(final_state, spikes [T, B, ...])``; :func:`run_with_states` also returns the state
  after every step. Arguments and errors as in :func:`run_with_states`.
  """
  return _scan(step, state, xs, trace=False, remat=remat, residuals=residuals, unroll=unroll)


def run_with_states(step: Step, state: Any, xs: ArrayLike, *, remat: str | int | None = None,
                    residuals: str = "auto", unroll: int | bool = 1
                    ) -> tuple[Any, jax.Array, Any]:
  """:func:`run` that also returns the state after every step (monitoring, parity checks).

  Returns ``(final_state, spikes, states)``: each leaf of ``states`` is ``[T, B, ...]`` (e.g. the
  membrane potential after fire and reset, SpikingJelly's ``v_seq``). It costs memory ``O(T)``.
  """
  return _scan(step, state, xs, trace=True, remat=remat, residuals=residuals, unroll=unroll)


def _scan(step: Step, state: Any, xs: ArrayLike, *, trace: bool,
          remat: str | int | None = None, residuals: str = "auto", unroll: int | bool = 1):
  """Runs ``step`` over the leading (time) axis of ``xs`` with ``jax.lax.scan``.

  Args:
    step: ``step(state, x) -> (state, spikes)`` (a neuron step with ``params`` and ``spike_fn``
      bound by ``functools.partial``).
    state: initial state; every leaf has the per-step shape ``[B, ...]`` and ``xs``'s dtype.
    xs: inputs, time-major ``[T, B, ...]``.
    trace: also return the state after every step (:func:`run_with_states`).
    remat: memory-bounded BPTT (static). ``None``: plain autodiff (XLA keeps every intermediate
      of every step). ``"step"``: ``jax.checkpoint`` on the step, so the backward keeps only the
      carried state per step and recomputes the rest (about 1/3 of the residuals of a LIF step).
      An int ``k``: chunked time; an outer scan over ``T/k`` chunks whose inner ``k``-step scan is
      rematerialised, so only the state at chunk boundaries is kept: activation memory grows as
      ``T/k + k`` instead of ``T``. ``T`` must be divisible by ``k``. Gradients are the same as
      with ``None`` (the same operations are recomputed).
    residuals: what the backward keeps (static). ``"default"``: whatever ``jax.grad`` of the
      scan keeps (plain autodiff). ``"minimal"``: one ``custom_vjp`` over the whole scan that
      keeps only the pre-spike potential ``H [T, B, ...]`` (CLIF: ``H`` and the complementary
      potential) and runs a reverse scan (see ``jsnn/neurons/_residuals.py``); gradients equal
      plain autodiff's, surrogate shape parameters and traced constants included. Supported for
      the LIF / IF family and CLIF (``decay_lif_step``, ``if_step``, ``lif_step``, ``plif_step``,
      ``clif_step`` bound with ``functools.partial(step, params=..., spike_fn=...)``, e.g.
      ``Neuron.bound_step()``); needs ``remat=None``. ``"auto"`` (the default): ``"minimal"``
      where it gives autodiff's gradients to rounding-free identity of every operation (a
      supported step, ``remat=None`` and no traced ``v_reset``, whose gradient ``"minimal"``
      sums in another order, ~4e-7 relative), else ``"default"``. ``"minimal"`` keeps 2-5x less
      than ``"default"`` for one neuron layer and was faster on CPU in every measurement
      (``experiments/README.md``); gradients were bitwise equal to autodiff's in the tests
      (``tests/test_memory.py``: at most 1e-6 relative where XLA fuses the two programs
      differently).
    unroll: ``jax.lax.scan``'s ``unroll`` (static).

  Returns:
    ``(final_state, spikes)`` with ``spikes [T, B, ...]``, or ``(final_state, spikes, states)`` if
    ``trace``.

  Raises:
    ValueError: ``xs`` is not ``[T, B, ...]`` for the given state (e.g. batch-first input), ``T``
      is not divisible by the chunk size, an unknown ``remat`` / ``residuals`` value, or
      ``residuals="minimal"`` with an unsupported (custom) step or with ``remat``.
    TypeError: non-floating ``xs`` or a state of another dtype.
  """
  xs = jnp.asarray(xs)
  check_memory_options(remat, residuals, who="run")
  _check_run_inputs(state, xs)

  def body(s, x):
    s, out = step(s, x)
    return s, ((out, s) if trace else out)

  if residuals == "auto":
    residuals = "minimal" if _minimal_is_exact(step, remat) else "default"
  if residuals == "minimal":
    if remat is not None:
      raise ValueError(f"run: residuals='minimal' needs remat=None, got remat={remat!r}.")
    split, params, spike_fn = _residuals.split_of(step)
    traced = _residuals.is_traced(params)
    final, ys = _residuals.minimal_scan(split, align_params(params, xs[0]), spike_fn, state, xs,
                                        trace=trace, params_traced=traced, unroll=unroll)
  elif remat is None:
    final, ys = jax.lax.scan(body, state, xs, unroll=unroll)
  elif remat == "step":
    final, ys = jax.lax.scan(jax.checkpoint(body), state, xs, unroll=unroll)
  else:
    final, ys = _chunked_scan(body, state, xs, remat, unroll)
  if not trace:
    return final, ys
  spikes, states = ys
  return final, spikes, states


def _minimal_is_exact(step, remat) -> bool:
  """``residuals="auto"``: the minimal-residual scan applies and sums every gradient as autodiff."""
  if remat is not None or not _residuals.is_supported(step):
    return False
  v_reset = getattr(step.keywords["params"], "v_reset", None)
  return not _residuals.is_traced(v_reset)


def check_memory_options(remat, residuals, *, who: str) -> None:
  """Raises ``ValueError`` listing the valid values for a bad ``remat`` or ``residuals``."""
  if not (remat is None or remat == "step" or (
      isinstance(remat, int) and not isinstance(remat, bool) and remat >= 1)):
    raise ValueError(f"{who}: remat must be None, 'step' or a positive int chunk size, got "
                     f"{remat!r}.")
  if residuals not in RESIDUALS:
    raise ValueError(f"{who}: residuals must be one of {RESIDUALS}, got {residuals!r}.")


def _chunked_scan(body, state, xs, k: int, unroll=1):
  t = xs.shape[0]
  if t % k:
    raise ValueError(f"run: T = {t} is not divisible by the remat chunk size {k}; choose a "
                     f"divisor of T (e.g. {[d for d in range(1, t + 1) if t % d == 0]}).")
  chunks = xs.reshape((t // k, k) + xs.shape[1:])

  @jax.checkpoint
  def chunk(s, x_chunk):
    return jax.lax.scan(body, s, x_chunk, unroll=unroll)

  final, ys = jax.lax.scan(chunk, state, chunks)
  return final, jax.tree.map(lambda y: y.reshape((t,) + y.shape[2:]), ys)


def exact_div(a: jax.Array, b: jax.Array) -> jax.Array:
  """``a / b`` rounded as IEEE division even when ``b`` is a broadcast scalar.

  XLA rewrites a division by a broadcast scalar into a multiplication by its reciprocal, which is
  up to 1 ulp off (38% of float32 results differ for ``b = 1.7``). SpikingJelly divides by ``tau``,
  so bit-level parity of the membrane potential needs a true division. ``b + 0 * a`` has ``a``'s
  shape and depends on ``a`` at run time, so the rewrite cannot fire; it fuses into the same loop
  (one extra multiply-add per element).

  When ``b`` is concrete (not traced) and every entry is a power of two (SpikingJelly's and CLIF's
  default ``tau = 2``), ``1/b`` is exact, so ``a * (1/b)`` *is* the correctly rounded ``a / b``:
  that multiplication is returned instead (bitwise the same result for every finite ``a``, no
  division and no extra operations in the forward or the backward pass; an infinite ``a`` gives
  ``±inf`` instead of the NaN of ``inf·0``).
  """
  recip = _exact_reciprocal(b, a.dtype)
  if recip is not None:
    return a * recip
  return a / (b + a * 0)


def _exact_reciprocal(b, dtype):
  """``1/b`` in ``dtype`` if ``b`` is concrete and its reciprocal is exact in ``dtype``, else None."""
  if _traced(b):
    return None
  try:
    bn = np.asarray(b, np.float64)
  except (TypeError, ValueError, jax.errors.ConcretizationTypeError):
    return None
  if bn.size == 0 or not np.all(np.isfinite(bn)) or np.any(bn == 0):
    return None
  mant, _ = np.frexp(np.abs(bn))
  if not np.all(mant == 0.5):
    return None
  with np.errstate(over="ignore", under="ignore"):
    recip = np.asarray(1.0 / bn).astype(dtype)
  if not np.all(recip.astype(np.float64) * bn == 1.0):  # over/underflows in a narrow dtype
    return None
  return jnp.asarray(recip, dtype)
