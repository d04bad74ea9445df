"""jsnn.train: the trainer (pytree state, jitted sharded steps, orbax checkpoints, reporting).

Not imported by ``import jsnn`` (it pulls in orbax); import it explicitly::

    from jsnn import train
    graphdef, state = train.create_train_state(model, tx)

Layout: ``state`` (TrainState, split/merge of NNX models), ``step`` (pure ``train_step`` /
``eval_step`` and the classification loss/eval adapters), ``sharding`` (mesh, batch and state
shardings), ``checkpoint`` (orbax wrapper), ``inputs`` (the data contract and an in-memory
implementation), ``config`` (validation, optimiser and schedules), ``reporting`` (metrics.jsonl,
summary.json, plot, table) and ``loop`` (``train_and_evaluate``).

The trainer never imports ``jsnn.models`` or ``jsnn.data``: the model, the data and the loss are
arguments, resolved by name in ``experiments/main.py``.
"""

from jsnn.train.checkpoint import Checkpointer as Checkpointer
from jsnn.train.config import make_optimizer as make_optimizer
from jsnn.train.config import make_schedule as make_schedule
from jsnn.train.config import validate_config as validate_config
from jsnn.train.inputs import ArrayData as ArrayData
from jsnn.train.inputs import IteratorData as IteratorData
from jsnn.train.inputs import TrainData as TrainData
from jsnn.train.loop import train_and_evaluate as train_and_evaluate
from jsnn.train.sharding import batch_sharding as batch_sharding
from jsnn.train.sharding import global_batch as global_batch
from jsnn.train.sharding import make_mesh as make_mesh
from jsnn.train.sharding import maybe_initialize_distributed as maybe_initialize_distributed
from jsnn.train.sharding import replicated as replicated
from jsnn.train.sharding import state_shardings as state_shardings
from jsnn.train.state import TrainState as TrainState
from jsnn.train.state import create_sharded_train_state as create_sharded_train_state
from jsnn.train.state import create_train_state as create_train_state
from jsnn.train.state import merge_model as merge_model
from jsnn.train.state import split_model as split_model
from jsnn.train.step import eval_step as eval_step
from jsnn.train.step import train_step as train_step

__all__ = [
    "ArrayData",
    "Checkpointer",
    "IteratorData",
    "TrainData",
    "TrainState",
    "batch_sharding",
    "create_sharded_train_state",
    "create_train_state",
    "eval_step",
    "global_batch",
    "make_mesh",
    "make_optimizer",
    "make_schedule",
    "maybe_initialize_distributed",
    "merge_model",
    "replicated",
    "split_model",
    "state_shardings",
    "train_and_evaluate",
    "train_step",
    "validate_config",
]

from jsnn._renamed import renamed_getattr as _renamed_getattr  # noqa: E402

RENAMED = {
    "classification_loss": "a jsnn.methods.Method's loss_fn(input_key=...), e.g. "
                           "jsnn.methods.tet().loss_fn()",
    "classification_eval": "a jsnn.methods.Method's eval_fn(input_key=...), e.g. "
                           "jsnn.methods.tet().eval_fn()",
}
__getattr__ = _renamed_getattr(__name__, RENAMED)
