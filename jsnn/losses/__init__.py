"""Losses and readout for spiking networks: pure functions on time-major logits `[T, B, C]`.

One function per method's loss, named after the method (``sdt``, ``tet``, ``clif``, ``mix`` for
AdaLi's mixed loss, ``sml`` / ``sml_distillation`` for SML), each with one return type. The
methods that use them are in ``jsnn.methods``.

Imports only jax and numpy (nothing else from jsnn), the way optax's losses do.
"""

from jsnn._renamed import renamed_getattr as _renamed_getattr

from ._distillation import SMLComponents as SMLComponents
from ._distillation import sml as sml
from ._distillation import sml_distillation as sml_distillation
from ._distillation import sml_distillation_components as sml_distillation_components
from ._metrics import accuracy as accuracy
from ._metrics import predict as predict
from ._rate import rate_mse as rate_mse
from ._temporal import clif as clif
from ._temporal import mix as mix
from ._temporal import sdt as sdt
from ._temporal import tet as tet
from ._value_checks import check_labels as check_labels

__all__ = [
    "SMLComponents",
    "accuracy",
    "check_labels",
    "clif",
    "mix",
    "predict",
    "rate_mse",
    "sdt",
    "sml",
    "sml_distillation",
    "sml_distillation_components",
    "tet",
]

# Old names: each raises an error naming its replacement (no silent aliases).
RENAMED = {
    "clif_loss": "jsnn.losses.clif",
    "mix_loss": "jsnn.losses.mix",
    "sml_loss": "jsnn.losses.sml (its parts: jsnn.losses.sml_distillation_components)",
    "tet_ce": "jsnn.losses.tet (lamb=0, the default, is the per-step CE alone)",
    "temporal_efficient_training_cross_entropy":
        "jsnn.losses.tet (lamb=0 is SpikingJelly's temporal_efficient_training_cross_entropy)",
}
__getattr__ = _renamed_getattr(__name__, RENAMED)
