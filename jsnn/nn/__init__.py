"""Flax NNX layers for spiking networks: neurons, time folding, normalisation, dropout, init.

Layout: time-major ``[T, B, H, W, C]`` (channels-last) for conv nets, ``[T, B, F]`` for dense
layers. Only :class:`SpikingNeuron` scans over T; every stateless op runs once on the time-folded
``[T·B, ...]`` batch. ``model.train()`` / ``model.eval()`` switch BatchNorm and Dropout only.
"""

from jsnn.nn._dropout import Dropout as Dropout
from jsnn.nn._encode import INPUT_KINDS as INPUT_KINDS
from jsnn.nn._encoders import LATENCY_FUNCTIONS as LATENCY_FUNCTIONS
from jsnn.nn._encoders import latency_encode as latency_encode
from jsnn.nn._encoders import poisson_encode as poisson_encode
from jsnn.nn._encode import direct_encode as direct_encode
from jsnn.nn._encode import encode_input as encode_input
from jsnn.nn._init import conv_fan_in as conv_fan_in
from jsnn.nn._init import kaiming_normal_fan_out as kaiming_normal_fan_out
from jsnn.nn._init import normal as normal
from jsnn.nn._init import torch_default_bias_init as torch_default_bias_init
from jsnn.nn._init import torch_default_kernel_init as torch_default_kernel_init
from jsnn.nn._init import zeros as zeros
from jsnn.nn._layers import FLATTEN_ORDERS as FLATTEN_ORDERS
from jsnn.nn._layers import Conv as Conv
from jsnn.nn._layers import Linear as Linear
from jsnn.nn._layers import TimeFolded as TimeFolded
from jsnn.nn._layers import adaptive_avg_pool as adaptive_avg_pool
from jsnn.nn._layers import avg_pool as avg_pool
from jsnn.nn._layers import flatten as flatten
from jsnn.nn._layers import fold_time as fold_time
from jsnn.nn._layers import max_pool as max_pool
from jsnn.nn._layers import unfold_time as unfold_time
from jsnn.nn._neuron import NeuronConstant as NeuronConstant
from jsnn.nn._neuron import SpikingNeuron as SpikingNeuron
from jsnn.nn._neuron import SurrogateShape as SurrogateShape
from jsnn.nn._neuron import RECORDABLE as RECORDABLE
from jsnn.nn._neuron import as_neuron as as_neuron
from jsnn.nn._neuron import set_neuron as set_neuron
from jsnn.nn._neuron import set_spike_fn as set_spike_fn
from jsnn.nn._neuron import spiking_layers as spiking_layers
from jsnn.nn._norm import NORM_KINDS as NORM_KINDS
from jsnn.nn._norm import BatchNorm as BatchNorm
from jsnn.nn._norm import PerStepBatchNorm as PerStepBatchNorm
from jsnn.nn._norm import TemporalEffectiveBatchNorm as TemporalEffectiveBatchNorm
from jsnn.nn._norm import ThresholdDependentBatchNorm as ThresholdDependentBatchNorm
from jsnn.nn._norm import batch_normalise as batch_normalise
from jsnn.nn._norm import make_norm as make_norm
from jsnn.nn._remat import remat_call as remat_call
from jsnn.nn._params import count_params as count_params

__all__ = [
    "BatchNorm", "Conv", "Dropout", "FLATTEN_ORDERS", "INPUT_KINDS", "LATENCY_FUNCTIONS", "Linear", "NORM_KINDS", "NeuronConstant",
    "PerStepBatchNorm", "SpikingNeuron", "SurrogateShape", "TemporalEffectiveBatchNorm",
    "ThresholdDependentBatchNorm", "TimeFolded", "adaptive_avg_pool", "as_neuron", "avg_pool",
    "batch_normalise",
    "conv_fan_in", "count_params", "direct_encode", "encode_input", "flatten", "fold_time",
    "kaiming_normal_fan_out", "latency_encode", "make_norm", "max_pool", "normal", "poisson_encode",
    "remat_call",
    "RECORDABLE", "set_neuron", "set_spike_fn", "spiking_layers",
    "torch_default_bias_init", "torch_default_kernel_init", "unfold_time", "zeros",
]

from jsnn._renamed import renamed_getattr as _renamed_getattr  # noqa: E402

RENAMED = {"set_surrogate": "jsnn.nn.set_spike_fn(model, spike_fn)"}
__getattr__ = _renamed_getattr(__name__, RENAMED)
