"""jsnn: spiking neural networks in JAX with exact surrogate-gradient methods.

`import jsnn` loads only the core (jax, numpy); the data and training stack (tfds, grain, orbax)
lives in subpackages that are imported explicitly.
"""

from jsnn import losses as losses
from jsnn import neurons as neurons
from jsnn import nn as nn
from jsnn import surrogate as surrogate
from jsnn import transforms as transforms

__version__ = "0.1.0"
