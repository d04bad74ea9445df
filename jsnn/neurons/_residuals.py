r"""BPTT with minimal residuals: one ``custom_vjp`` over the whole time scan.

Every neuron of the LIF / IF family splits into a *charge* and a *fire-and-reset* part:

.. math::
   H_t = \mathrm{charge}(V_{t-1}, X_t), \qquad (V_t, S_t) = \mathrm{post}(H_t),
   \quad S_t = \Theta(H_t - V_{th}),\ V_t = \mathrm{reset}(H_t, S_t)

``post`` depends on ``H_t`` alone, so the pre-spike potential ``H_t [T, B, ...]`` is all the
backward needs: it recomputes ``S_t`` and ``V_t = post(H_t)`` (hence ``V_{t-1}`` from ``H_{t-1}``)
and runs the reverse scan

.. math::
   \bar H_t = \partial_H \mathrm{post}^\top(\bar V_t, \bar S_t), \qquad
   \bar V_{t-1} = \partial_V \mathrm{charge}^\top \bar H_t, \qquad
   \bar X_t = \partial_X \mathrm{charge}^\top \bar H_t

with the very functions of the step (``jax.vjp`` of ``charge`` and ``post``, so the surrogate's own
backward and its shape-parameter gradient are used). Plain autodiff of ``lax.scan`` instead keeps
every intermediate XLA needs (for TET's LIF: ``H - V_th``, ``H`` and ``1 - S`` per step).

For neurons with a second state variable (CLIF's complementary potential ``M``), ``charge``
returns a tuple ``H_t = (h_t, M_{t-1})``: ``post`` then needs nothing else, and the backward keeps
two arrays per step instead of the ~6 plain autodiff keeps.

``charge`` is affine in ``X`` for every registered neuron, so its transpose w.r.t. ``V`` and ``X``
does not depend on ``X_t``. ``X_t`` is also saved only when a traced constant's gradient needs it
(SpikingJelly LIF / PLIF with ``decay_input=True`` and a traced ``tau`` / ``w``); constants that are
Python numbers or concrete arrays are not differentiated and never force it.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from jsnn.neurons import _loop

__all__ = ["SplitStep", "register_split", "split_of", "is_supported", "supported_steps",
           "minimal_scan", "is_traced"]


class SplitStep(NamedTuple):
  """A neuron step as ``charge(state, x, p) -> h`` and ``post(h, p, spike_fn) -> (state, s)``.

  ``x_in_param_grads``: the gradient of some constant of ``charge`` depends on ``x``.
  """

  charge: Callable
  post: Callable
  x_in_param_grads: bool


_REGISTRY: dict[Callable, Callable[..., SplitStep]] = {}


def register_split(step: Callable, factory: Callable[..., SplitStep]) -> None:
  """Registers ``factory(**static_options) -> SplitStep`` for the pure step ``step``."""
  _REGISTRY[step] = factory


def supported_steps() -> tuple[str, ...]:
  """Names of the steps that ``residuals="minimal"`` supports."""
  return tuple(sorted(f.__name__ for f in _REGISTRY))


def is_supported(step: Callable) -> bool:
  """Whether ``step`` is a ``functools.partial`` of a registered step with ``params`` and
  ``spike_fn`` bound (what :func:`split_of` accepts)."""
  kw = getattr(step, "keywords", None) or {}
  return (getattr(step, "func", None) in _REGISTRY and not getattr(step, "args", ())
          and {"params", "spike_fn"} <= kw.keys())


def split_of(step: Callable) -> tuple[SplitStep, Any, Any]:
  """``(split, params, spike_fn)`` of a bound step ``partial(step, params=, spike_fn=, **static)``.

  Raises:
    ValueError: ``step`` is not a ``functools.partial`` of a registered step (e.g. CLIF).
  """
  fn = getattr(step, "func", None)
  kw = dict(getattr(step, "keywords", {}) or {})
  if not is_supported(step):
    name = getattr(fn, "__name__", None) or getattr(step, "__name__", type(step).__name__)
    raise ValueError(
        f"run: residuals='minimal' supports the bound steps {supported_steps()} (TET/SML LIF, "
        f"SpikingJelly IF/LIF/PLIF, AdaLi IF/LIF, CLIF), got {name}. Custom steps are not "
        "supported unless registered with jsnn.neurons._residuals.register_split: use "
        "residuals='default', with remat='step' or a chunk size to bound memory.")
  params, spike_fn = kw.pop("params"), kw.pop("spike_fn")
  return _REGISTRY[fn](**kw), params, spike_fn


def _partition(tree):
  """Splits a pytree's leaves into traced ones (differentiable) and concrete ones (constants)."""
  leaves, treedef = jax.tree_util.tree_flatten(tree)
  mask = tuple(isinstance(leaf, jax.core.Tracer) for leaf in leaves)
  traced = [leaf for leaf, m in zip(leaves, mask) if m]
  const = [leaf for leaf, m in zip(leaves, mask) if not m]
  return traced, const, (treedef, mask)


def _merge(traced, const, how):
  treedef, mask = how
  traced, const = iter(traced), iter(const)
  return jax.tree_util.tree_unflatten(treedef, [next(traced) if m else next(const) for m in mask])


def is_traced(tree) -> bool:
  """Whether any leaf is a tracer (a constant that may be differentiated)."""
  return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(tree))


def minimal_scan(split: SplitStep, params, spike_fn, state, xs: jax.Array, *, trace: bool,
                 params_traced: bool, unroll: int | bool = 1):
  """``lax.scan`` of ``split`` over ``xs [T, B, ...]`` whose backward keeps only ``H [T, B, ...]``.

  ``params`` must already be aligned to ``xs[0]`` (``align_params``); ``params_traced`` tells
  whether the constants *before* alignment had a traced leaf (under ``jit`` the aligned copies of
  Python numbers are tracers too, but nothing differentiates them). Returns
  ``(final_state, spikes)`` or, with ``trace``, ``(final_state, (spikes, states))``.
  """
  p_tr, p_const, p_how = _partition(params)
  sg_tr, sg_const, sg_how = _partition(spike_fn)
  save_x = split.x_in_param_grads and params_traced
  fn = _custom_scan(split, (p_const, p_how), (sg_const, sg_how), trace, save_x, unroll)
  return fn(p_tr, sg_tr, state, xs)


def _custom_scan(split, p_consts, sg_consts, trace, save_x, unroll):
  """The ``custom_vjp`` scan, closed over the concrete constants (never differentiated)."""
  (p_const, p_how), (sg_const, sg_how) = p_consts, sg_consts

  def forward(p_tr, sg_tr, state, xs):
    p, sg = _merge(p_tr, p_const, p_how), _merge(sg_tr, sg_const, sg_how)

    def body(s, x):
      h = split.charge(s, x, p)
      s, out = split.post(h, p, sg)
      return s, (out, h, s if trace else None)

    final, (spikes, hs, states) = _loop.scan(body, state, xs, unroll=unroll)
    return final, ((spikes, states) if trace else spikes), hs

  @jax.custom_vjp
  def scan(p_tr, sg_tr, state, xs):
    final, ys, _ = forward(p_tr, sg_tr, state, xs)
    return final, ys

  def fwd(p_tr, sg_tr, state, xs):
    final, ys, hs = forward(p_tr, sg_tr, state, xs)
    return (final, ys), (p_tr, sg_tr, state, hs, xs if save_x else None)

  def bwd(res, cts):
    p_tr, sg_tr, state0, hs, xs = res
    ct_final, ct_ys = cts
    ct_spikes, ct_states = ct_ys if trace else (ct_ys, None)
    p_of = lambda tr: _merge(tr, p_const, p_how)
    sg = _merge(sg_tr, sg_const, sg_how)
    zeros = lambda tree: jax.tree.map(jnp.zeros_like, tree)
    t_last = jax.tree.leaves(hs)[0].shape[0] - 1

    def prev_state(t):
      h_prev = jax.tree.map(
          lambda a: jax.lax.dynamic_index_in_dim(a, jnp.maximum(t - 1, 0), keepdims=False), hs)
      recomputed, _ = split.post(h_prev, p_of(p_tr), sg)
      return jax.tree.map(lambda a, b: jnp.where(t == 0, a, b), state0, recomputed)

    def body(carry, inp):
      ct_v, ct_p, ct_sg = carry
      t, h, x, ct_s, ct_st = inp
      if ct_st is not None:
        ct_v = jax.tree.map(jnp.add, ct_v, ct_st)
      _, post_vjp = jax.vjp(lambda h, tr, sg_tr: split.post(h, p_of(tr), _merge(
          sg_tr, sg_const, sg_how)), h, p_tr, sg_tr)
      ct_h, ct_p1, ct_sg1 = post_vjp((ct_v, ct_s))
      x_t = jnp.zeros_like(ct_s) if x is None else x
      _, charge_vjp = jax.vjp(lambda v, x, tr: split.charge(v, x, p_of(tr)), prev_state(t), x_t,
                              p_tr)
      ct_v, ct_x, ct_p2 = charge_vjp(ct_h)
      ct_p = jax.tree.map(lambda a, b, c: a + b + c, ct_p, ct_p1, ct_p2)
      ct_sg = jax.tree.map(jnp.add, ct_sg, ct_sg1)
      return (ct_v, ct_p, ct_sg), ct_x

    ts = jnp.arange(t_last + 1)
    init = (ct_final, zeros(p_tr), zeros(sg_tr))
    (ct_v0, ct_p, ct_sg), ct_xs = _loop.scan(
        body, init, (ts, hs, xs, ct_spikes, ct_states), reverse=True, unroll=unroll,
        after=ct_spikes)
    return ct_p, ct_sg, ct_v0, ct_xs

  scan.defvjp(fwd, bwd)
  return scan
