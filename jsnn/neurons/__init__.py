"""Pure neuron steps ``step(state, x, *, params, spike_fn) -> (state, spikes)`` and ``run``."""

from jsnn.neurons._papers import CLIFParams as CLIFParams
from jsnn.neurons._papers import CLIFState as CLIFState
from jsnn.neurons._papers import DecayLIFParams as DecayLIFParams
from jsnn.neurons._papers import clif_init as clif_init
from jsnn.neurons._papers import clif_step as clif_step
from jsnn.neurons._papers import decay_lif_step as decay_lif_step
from jsnn.neurons._papers import zero_init as zero_init
from jsnn.neurons._run import align_params as align_params
from jsnn.neurons._run import run as run
from jsnn.neurons._spikingjelly import IFParams as IFParams
from jsnn.neurons._spikingjelly import LIFParams as LIFParams
from jsnn.neurons._spikingjelly import LIFState as LIFState
from jsnn.neurons._spikingjelly import PLIFParams as PLIFParams
from jsnn.neurons._spikingjelly import if_step as if_step
from jsnn.neurons._spikingjelly import lif_init as lif_init
from jsnn.neurons._spikingjelly import lif_step as lif_step
from jsnn.neurons._spikingjelly import plif_params as plif_params
from jsnn.neurons._spikingjelly import plif_step as plif_step
