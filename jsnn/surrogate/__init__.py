"""Surrogate spike functions: Heaviside forward, surrogate backward, differentiable shape.

Each family is a small pytree (a frozen dataclass) whose shape parameters are traced leaves::

    sg = jsnn.surrogate.Sigmoid(alpha=4.0)
    spikes = sg(u - v_th)                      # forward 1[x >= 0], backward alpha*s*(1-s)
    jax.grad(lambda a: loss(Sigmoid(a)))(4.0)  # gradient w.r.t. the shape parameter

Plain functions (``jsnn.surrogate.sigmoid(x, alpha)``) and :func:`by_name` are provided too.
"""

from jsnn.surrogate._core import SurrogateSpike as SurrogateSpike
from jsnn.surrogate._core import heaviside as heaviside
from jsnn.surrogate._core import heaviside_family as heaviside_family
from jsnn.surrogate._paper import AsymmetricRectangle as AsymmetricRectangle
from jsnn.surrogate._paper import Dspike as Dspike
from jsnn.surrogate._paper import Rectangle as Rectangle
from jsnn.surrogate._paper import Triangle as Triangle
from jsnn.surrogate._registry import FAMILIES as FAMILIES
from jsnn.surrogate._registry import by_name as by_name
from jsnn.surrogate._spikingjelly import ATan as ATan
from jsnn.surrogate._spikingjelly import DeterministicPass as DeterministicPass
from jsnn.surrogate._spikingjelly import Erf as Erf
from jsnn.surrogate._spikingjelly import FakeNumericalGradient as FakeNumericalGradient
from jsnn.surrogate._spikingjelly import LeakyKReLU as LeakyKReLU
from jsnn.surrogate._spikingjelly import LogTailedReLU as LogTailedReLU
from jsnn.surrogate._spikingjelly import MultiLevelSpikeCount as MultiLevelSpikeCount
from jsnn.surrogate._spikingjelly import NonzeroSignLogAbs as NonzeroSignLogAbs
from jsnn.surrogate._spikingjelly import PiecewiseExp as PiecewiseExp
from jsnn.surrogate._spikingjelly import PiecewiseLeakyReLU as PiecewiseLeakyReLU
from jsnn.surrogate._spikingjelly import PiecewiseQuadratic as PiecewiseQuadratic
from jsnn.surrogate._spikingjelly import QPseudoSpike as QPseudoSpike
from jsnn.surrogate._spikingjelly import Rect as Rect
from jsnn.surrogate._spikingjelly import S2NN as S2NN
from jsnn.surrogate._spikingjelly import SJ_VERSIONS as SJ_VERSIONS
from jsnn.surrogate._spikingjelly import Sigmoid as Sigmoid
from jsnn.surrogate._spikingjelly import SoftSign as SoftSign
from jsnn.surrogate._spikingjelly import SquarewaveFourierSeries as SquarewaveFourierSeries
from jsnn.surrogate._spikingjelly import SuperSpike as SuperSpike
from jsnn.surrogate._registry import functional as _functional

# Plain-function forms, one per family: `triangle(x, gamma=1.0)` == `Triangle(gamma=1.0)(x)`.
triangle = _functional(Triangle)
rectangle = _functional(Rectangle)
dspike = _functional(Dspike)
asymmetric_rectangle = _functional(AsymmetricRectangle)
sigmoid = _functional(Sigmoid)
atan = _functional(ATan)
piecewise_quadratic = _functional(PiecewiseQuadratic)
piecewise_exp = _functional(PiecewiseExp)
soft_sign = _functional(SoftSign)
erf = _functional(Erf)
super_spike = _functional(SuperSpike)
nonzero_sign_log_abs = _functional(NonzeroSignLogAbs)
rect = _functional(Rect)
q_pseudo_spike = _functional(QPseudoSpike)
piecewise_leaky_relu = _functional(PiecewiseLeakyReLU)
s2nn = _functional(S2NN)
squarewave_fourier_series = _functional(SquarewaveFourierSeries)
leaky_k_relu = _functional(LeakyKReLU)
log_tailed_relu = _functional(LogTailedReLU)
fake_numerical_gradient = _functional(FakeNumericalGradient)
deterministic_pass = _functional(DeterministicPass)
multi_level_spike_count = _functional(MultiLevelSpikeCount)

del _functional
