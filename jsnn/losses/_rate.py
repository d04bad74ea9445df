"""SpikingJelly's firing-rate MSE loss on time-major output spikes `[T, B, C]`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from . import _checks


def rate_mse(spikes_tbc: ArrayLike, labels: ArrayLike) -> jax.Array:
  r"""Mean squared error between the output firing rate and the (one-hot or soft) target.

  .. math::
    r_{b,c} = \frac{1}{T}\sum_{t=1}^{T} S_{t,b,c}, \qquad
    \mathcal{L} = \frac{1}{BC}\sum_{b,c} \big(r_{b,c} - q_{b,c}\big)^2,
    \qquad q = \mathrm{onehot}(y) \text{ or the given soft targets}

  This is the loss of SpikingJelly's tutorials (``F.mse_loss(out_fr, label_onehot)`` with
  ``out_fr = out_spikes.mean(0)``): the correct class should fire at every step, the others never.
  It takes the output layer's spikes (or any per-step output in [0, 1]), not logits.

  Args:
    spikes_tbc: per-step outputs `[T, B, C]`, float (spikes of the output neurons).
    labels: integer class indices `[B]` in [0, C), or one-hot / soft targets `[B, C]`.

  Returns:
    Scalar loss in the outputs' dtype.

  Raises:
    TypeError: integer outputs, or floating labels of rank 1.
    ValueError: the layout errors of the other losses (time-major `[T, B, C]`, labels `[B]` or
      `[B, C]`, labels in range).

  Examples:
    >>> import jax.numpy as jnp
    >>> from jsnn import losses
    >>> spikes = jnp.zeros((4, 2, 10)).at[:, 0, 3].set(1.0)   # sample 0 fires class 3 always
    >>> round(float(losses.rate_mse(spikes, jnp.array([3, 7]))), 4)  # only sample 1 misses: 1/20
    0.05

  References:
    Fang et al., *SpikingJelly*, Science Advances 2023 (tutorial "single fully connected layer
    SNN for MNIST", ``activation_based/examples/lif_fc_mnist.py``).
  """
  spikes, labels = _checks.time_major(spikes_tbc, labels)
  rate = jnp.mean(spikes, axis=0)
  target = _checks.target_probs(labels, spikes.shape[-1], spikes.dtype)
  return jnp.mean(jnp.square(rate - target))
