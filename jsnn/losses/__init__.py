"""Losses and readout for spiking networks: pure functions on time-major logits `[T, B, C]`.

Imports only jax and numpy (nothing else from jsnn), the way optax's losses do.
"""

from ._distillation import SMLComponents as SMLComponents
from ._distillation import sml_distillation as sml_distillation
from ._distillation import sml_loss as sml_loss
from ._metrics import accuracy as accuracy
from ._metrics import predict as predict
from ._rate import rate_mse as rate_mse
from ._temporal import clif_loss as clif_loss
from ._temporal import mix_loss as mix_loss
from ._temporal import sdt as sdt
from ._temporal import temporal_efficient_training_cross_entropy as temporal_efficient_training_cross_entropy
from ._temporal import tet as tet
from ._temporal import tet_ce as tet_ce

__all__ = [
    "SMLComponents",
    "accuracy",
    "clif_loss",
    "mix_loss",
    "predict",
    "rate_mse",
    "sdt",
    "sml_distillation",
    "sml_loss",
    "temporal_efficient_training_cross_entropy",
    "tet",
    "tet_ce",
]
