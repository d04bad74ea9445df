r"""Shape-parameter search by finite-difference agreement: Dspike's temperature update and PSG R2.

Once per epoch, on one probe batch, Dspike (Li et al. 2021, Algorithm 1) compares the surrogate
gradient of the **first layer's weights** with a finite-difference gradient (FDG) of the true,
spiking loss, and keeps the temperature whose surrogate gradient points most nearly the same way:

.. math::
   \hat g_i = \frac{L(W + \varepsilon e_i) - L(W - \varepsilon e_i)}{2\varepsilon}, \qquad
   a_{e} = \arg\max_{c \in \{a, a(1-\Delta), a(1+\Delta)\}}
   \frac{\langle \nabla^{sg}_W L(W; c), \hat g\rangle}{\|\nabla^{sg}_W L(W; c)\|\,\|\hat g\|}

PSG's variant R2 (**reconstructed [R]**, spec §2.3) is the same search applied to PSG's shape
parameter; stop when the choice repeats. Dspike's `b0`, `Δ` and `ε` were not recovered [?]; the
paper perturbs additively (`a ± Δ`), available here with `relative=False`.

References:
  Li et al., *Differentiable Spike: Rethinking Gradient-Descent for Training Spiking Neural
  Networks*, NeurIPS 2021. Wang, Cheng, Lim, PSG/PDA, Neurocomputing 620 (2025) 129189.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jsnn.transforms import _checks

__all__ = ["ShapeSearchResult", "finite_difference_grad", "surrogate_shape_search"]

LossFn = Callable[[jax.Array, jax.Array], jax.Array]


class ShapeSearchResult(NamedTuple):
  """Outcome of :func:`surrogate_shape_search`.

  Attributes:
    value: the chosen shape parameter (shape of `a`).
    index: its index into `candidates` (0 means "keep `a`").
    candidates: `[K, *a.shape]`, by default `[a, a(1 - Δ), a(1 + Δ)]`.
    cosines: `[K]` cosine similarity of each candidate's surrogate gradient to the FDG.
    fd_grad: the finite-difference gradient, shaped like `weights`.
  """

  value: jax.Array
  index: jax.Array
  candidates: jax.Array
  cosines: jax.Array
  fd_grad: jax.Array


def finite_difference_grad(loss_fn: LossFn, weights: ArrayLike, a: ArrayLike, *, eps: float,
                           batch_size: int | None = None) -> jax.Array:
  """Central finite-difference gradient of `loss_fn(weights, a)` with respect to `weights`.

  Costs `2 * weights.size` loss evaluations, run with `jax.lax.map` (`batch_size` of them vmapped
  at a time). In a spiking network the forward does not depend on the surrogate, so this is the
  gradient of the true (piecewise-constant) loss at scale `eps`.

  Args:
    loss_fn: `loss_fn(weights, a) -> scalar` on a fixed probe batch.
    weights: the probed weights (Dspike: the first layer's), any shape.
    a: the shape parameter (passed through unchanged).
    eps: perturbation size (> 0).
    batch_size: optional `jax.lax.map` batch size.

  Returns:
    An array shaped like `weights`.
  """
  _checks.check_range("eps", eps, low=0.0, low_open=True)
  w = jnp.asarray(weights)
  flat = w.ravel()

  def central(i):
    e = jnp.zeros_like(flat).at[i].set(eps).reshape(w.shape)
    return (loss_fn(w + e, a) - loss_fn(w - e, a)) / (2 * eps)

  idx = jnp.arange(flat.size)
  return jax.lax.map(central, idx, batch_size=batch_size).reshape(w.shape).astype(w.dtype)


def _cosine(u: jax.Array, v: jax.Array) -> jax.Array:
  tiny = jnp.finfo(u.dtype).tiny
  return jnp.vdot(u, v) / jnp.maximum(jnp.linalg.norm(u) * jnp.linalg.norm(v), tiny)


def surrogate_shape_search(loss_fn: LossFn, weights: ArrayLike, a: ArrayLike, *,
                           delta: float = 0.1, eps: float = 1e-2, relative: bool = True,
                           candidates: ArrayLike | None = None, fd_grad: ArrayLike | None = None,
                           batch_size: int | None = None) -> ShapeSearchResult:
  """Picks the shape parameter whose surrogate gradient best matches the FDG (see module doc).

  Pure and jittable (`jax.jit(functools.partial(surrogate_shape_search, loss_fn))`). Ties, e.g.
  an all-zero FDG when `eps` crosses no threshold, keep the current `a` (index 0).

  Args:
    loss_fn: `loss_fn(weights, a) -> scalar`: the network loss on a fixed probe batch, with every
      surrogate built from the shape parameter `a` and the probed layer's weights `weights`.
    weights: the probed weights (Dspike: the first layer's), any shape.
    a: current shape parameter (scalar, or an array scaled jointly).
    delta: step `Δ`; relative (`a(1 ± Δ)`, `0 < Δ < 1`) or additive (`a ± Δ`).
    eps: finite-difference step.
    relative: multiplicative (default) or additive candidates.
    candidates: explicit `[K, *a.shape]` candidates instead of the three above.
    fd_grad: a precomputed FDG (skips the `2 * weights.size` evaluations).
    batch_size: passed to :func:`finite_difference_grad`.

  Returns:
    A :class:`ShapeSearchResult`.
  """
  a = jnp.asarray(a)
  w = jnp.asarray(weights)
  if candidates is None:
    if relative:
      _checks.check_range("delta", delta, low=0.0, high=1.0, low_open=True, high_open=True)
      candidates = jnp.stack([a, a * (1 - delta), a * (1 + delta)])
    else:
      _checks.check_range("delta", delta, low=0.0, low_open=True)
      candidates = jnp.stack([a, a - delta, a + delta])
  candidates = jnp.asarray(candidates, a.dtype)
  if candidates.ndim != a.ndim + 1 or candidates.shape[1:] != a.shape:
    dims = "".join(f", {d}" for d in a.shape)
    raise ValueError(f"candidates must have shape [K, *a.shape] = [K{dims}], got "
                     f"{candidates.shape}.")
  if fd_grad is None:
    fd_grad = finite_difference_grad(loss_fn, w, a, eps=eps, batch_size=batch_size)
  fd_grad = jnp.asarray(fd_grad)
  if fd_grad.shape != w.shape:
    raise ValueError(f"fd_grad must have the weights' shape {w.shape}, got {fd_grad.shape}.")
  sg_grads = jax.vmap(jax.grad(loss_fn), in_axes=(None, 0))(w, candidates)
  cosines = jax.vmap(lambda g: _cosine(g.ravel(), fd_grad.ravel()))(sg_grads)
  index = jnp.argmax(cosines)
  return ShapeSearchResult(candidates[index], index, candidates, cosines, fd_grad)
