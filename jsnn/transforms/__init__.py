"""Surrogate-shape controllers, optax transforms and training helpers of the adaptive-SG methods.

* AdaLi: epoch width schedule, traced surrogate per epoch, density, auto bounds ([R]).
* PSG ([R]): learnable shape parameters (R1: :class:`ParametricSurrogate`, positivity maps,
  :func:`psg_label_fn` for `optax.partition`, :func:`clip_params`) and the FDG search (R2, also
  Dspike's temperature update).
* PDA ([R]): initial potential shift and the potential-distribution penalty.
* LSG / MPD-AGL / DS-ATGO width rules; TIT stage runner; per-layer monitors.

Items marked [R] are reconstructions (the papers' code or text was not available); their docstrings
say so. Imports jax, optax, numpy and `jsnn.surrogate` / `jsnn.neurons` only.
"""

from jsnn.transforms._adali import SCHEDULE_KINDS as SCHEDULE_KINDS
from jsnn.transforms._adali import AdaLiBounds as AdaLiBounds
from jsnn.transforms._adali import adali_surrogate as adali_surrogate
from jsnn.transforms._adali import adali_width as adali_width
from jsnn.transforms._adali import compute_density as compute_density
from jsnn.transforms._adali import fit_adali_bounds as fit_adali_bounds
from jsnn.transforms._clipping import ClipParamsState as ClipParamsState
from jsnn.transforms._clipping import clip_params as clip_params
from jsnn.transforms._labels import DEFAULT_LABEL as DEFAULT_LABEL
from jsnn.transforms._labels import SURROGATE_KEYS as SURROGATE_KEYS
from jsnn.transforms._labels import SURROGATE_LABEL as SURROGATE_LABEL
from jsnn.transforms._labels import psg_label_fn as psg_label_fn
from jsnn.transforms._monitors import LayerStats as LayerStats
from jsnn.transforms._monitors import layer_stats as layer_stats
from jsnn.transforms._monitors import monitor_layers as monitor_layers
from jsnn.transforms._monitors import run_with_potentials as run_with_potentials
from jsnn.transforms._pda import pda_init as pda_init
from jsnn.transforms._pda import pda_penalty as pda_penalty
from jsnn.transforms._pda import pda_shift_state as pda_shift_state
from jsnn.transforms._psg import BoundedSigmoidMap as BoundedSigmoidMap
from jsnn.transforms._psg import ParametricSurrogate as ParametricSurrogate
from jsnn.transforms._psg import SoftplusMap as SoftplusMap
from jsnn.transforms._psg import parametric_surrogate as parametric_surrogate
from jsnn.transforms._search import ShapeSearchResult as ShapeSearchResult
from jsnn.transforms._search import finite_difference_grad as finite_difference_grad
from jsnn.transforms._search import surrogate_shape_search as surrogate_shape_search
from jsnn.transforms._tit import TITStage as TITStage
from jsnn.transforms._tit import time_inheritance_training as time_inheritance_training
from jsnn.transforms._tit import tit_schedule as tit_schedule
from jsnn.transforms._widths import ds_atgo_threshold as ds_atgo_threshold
from jsnn.transforms._widths import ds_atgo_width as ds_atgo_width
from jsnn.transforms._widths import lsg_width as lsg_width
from jsnn.transforms._widths import mpd_agl_width as mpd_agl_width

__all__ = [
    "AdaLiBounds",
    "BoundedSigmoidMap",
    "ClipParamsState",
    "DEFAULT_LABEL",
    "LayerStats",
    "ParametricSurrogate",
    "SCHEDULE_KINDS",
    "SURROGATE_KEYS",
    "SURROGATE_LABEL",
    "ShapeSearchResult",
    "SoftplusMap",
    "TITStage",
    "adali_surrogate",
    "adali_width",
    "clip_params",
    "compute_density",
    "ds_atgo_threshold",
    "ds_atgo_width",
    "finite_difference_grad",
    "fit_adali_bounds",
    "layer_stats",
    "lsg_width",
    "monitor_layers",
    "mpd_agl_width",
    "parametric_surrogate",
    "pda_init",
    "pda_penalty",
    "pda_shift_state",
    "psg_label_fn",
    "run_with_potentials",
    "surrogate_shape_search",
    "time_inheritance_training",
    "tit_schedule",
]
