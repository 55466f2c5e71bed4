"""The whole model over one window of K steps (time-major):

    tokens: ids (K, B)    -> embed -> layer 0 ... layer L-1 -> out -> logits (K, B, V)
    series: x (K, B, I)   -> in    -> layer 0 ... layer L-1 -> out -> y      (K, B, O)
    residual series:                                         y = x[..., :O] + out
    AR residual series:                                      y = AR(p) of x + out

The residual term depends on no parameter, so backward() is the same for all.

Every dense map is applied to the whole window in one matrix product; only the
recurrences (cells.py) loop over time. The recurrent state is a tuple of
(layers, B, H) arrays, like PyTorch's: (h,) for rnn/gru, (h, c) for the LSTM; a model with
an AR base (cfg.ar) appends the last inputs its base needs (highway.py): (h, lags) or
(h, c, lags), lags (n <= p - 1, B, O).
"""

import numpy as np

from . import highway
from .cells import CELLS
from .checks import check_ids, check_inputs, check_real
from .params import check_theta, param_views

ONE_HOT_MAX_IDS = 256     # sum_rows_by_id: largest id range summed by a one-hot product


def init_state(cfg, batch):
    """Zero state for `batch` sequences: (h,) or (h, c), each (layers, batch, H), and for a
    model with an AR base no lags yet, (0, batch, O)."""
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"batch must be a positive int, got {batch!r}")
    shape = (cfg.layers, batch, cfg.hidden)
    state = tuple(np.zeros(shape, dtype=cfg.dtype) for _ in range(CELLS[cfg.cell].n_states))
    return state + ((highway.init_lags(cfg, batch),) if cfg.ar is not None else ())


def check_state(cfg, state, batch):
    """Validate a state from init_state/step and return it as cfg.dtype arrays."""
    n = CELLS[cfg.cell].n_states
    lags = cfg.ar is not None
    if not isinstance(state, (tuple, list)) or len(state) != n + lags:
        raise ValueError(f"state for a {cfg.cell}{' with an AR base' if lags else ''} must be "
                         f"a tuple of {n + lags} arrays")
    shape = (cfg.layers, batch, cfg.hidden)
    recurrent = tuple(np.asarray(s) for s in state[:n])
    for s in recurrent:
        if s.shape != shape or s.dtype.kind != "f":
            raise ValueError(f"state arrays must be float of shape (layers, B, H) = {shape}, "
                             f"got {s.dtype} {s.shape}")
    recurrent = tuple(s.astype(cfg.dtype, copy=False) for s in recurrent)
    return recurrent + ((highway.check_lags(cfg, state[n], batch),) if lags else ())


def linear(X, W, b):
    """X (..., n) @ W (n, m) + b (m,) as one 2-D product -> (..., m)."""
    Y = X.reshape(-1, X.shape[-1]) @ W
    Y += b
    return Y.reshape(X.shape[:-1] + (W.shape[1],))


def linear_backward(X, W, dY, dW, db):
    """Adds the gradients of Y = linear(X, W, b) into dW, db; returns dX."""
    X2, dY2 = X.reshape(-1, X.shape[-1]), dY.reshape(-1, dY.shape[-1])
    dW += X2.T @ dY2
    db += dY2.sum(axis=0)
    return (dY2 @ W.T).reshape(X.shape)


def sum_rows_by_id(ids, rows, n_ids):
    """out[v] = Σ rows[j] over j with ids[j] == v. ids (N,), rows (N, D) -> (n_ids, D).

    (np.add.at does the same with a slow unbuffered loop.) For a small id range a
    one-hot matrix product is fastest; past that, sort the rows and sum the runs."""
    if n_ids <= ONE_HOT_MAX_IDS:
        one_hot = np.zeros((len(ids), n_ids), dtype=rows.dtype)
        one_hot[np.arange(len(ids)), ids] = 1
        return one_hot.T @ rows
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    out = np.zeros((n_ids, rows.shape[1]), dtype=rows.dtype)
    out[sorted_ids[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return out


def use_lookup_table(cfg, n_tokens):
    """Project the whole vocabulary (V rows) instead of the window's tokens when V is
    the smaller count: embed[ids] @ W == (embed @ W)[ids]."""
    return cfg.vocab_size <= n_tokens


def embed_project(views, cfg, ids):
    """Layer-0 input projection of token ids (K, B) -> (K, B, G*H)."""
    E, W, b = views["embed"], views["l0.W"], views["l0.b"]
    if use_lookup_table(cfg, ids.size):
        return linear(E, W, b)[ids]
    return linear(E[ids], W, b)


def embed_project_backward(views, grads, cfg, ids, dXP):
    """Adds the gradients of embed_project into grads."""
    E, W = views["embed"], views["l0.W"]
    ids, dXP = ids.ravel(), dXP.reshape(ids.size, -1)
    if use_lookup_table(cfg, ids.size):
        d_table = sum_rows_by_id(ids, dXP, cfg.vocab_size)       # (V, G*H)
        grads["embed"] += linear_backward(E, W, d_table, grads["l0.W"], grads["l0.b"])
    else:
        dX = linear_backward(E[ids], W, dXP, grads["l0.W"], grads["l0.b"])
        grads["embed"] += sum_rows_by_id(ids, dX, cfg.vocab_size)


def layer_params(views, k):
    """The recurrent parameters of layer k as the cell expects them."""
    return {name: views[f"l{k}.{name}"] for name in ("U", "bn") if f"l{k}.{name}" in views}


def network_input(cfg, x):
    """The columns of series inputs x (K, B, I) the network reads: all of them, or for a
    system driven by its inputs alone (cfg.target_inputs False) those after the targets."""
    return x if cfg.target_inputs else x[..., cfg.output_size:]


def forward(views, cfg, x, state):
    """x: ids (K, B) or series (K, B, I); state: tuple of (layers, B, H) (and the lags of an
    AR base).

    Returns outputs (K, B, V or O), the state after the window, and a cache for
    backward()."""
    cell = CELLS[cfg.cell]
    if cfg.kind == "tokens":
        X, XP = None, embed_project(views, cfg, x)
    else:
        X = linear(network_input(cfg, x), views["in.W"], views["in.b"])
        XP = linear(X, views["l0.W"], views["l0.b"])
    layers, new_state = [], []
    for k in range(cfg.layers):
        if k > 0:
            X = H_out
            XP = linear(X, views[f"l{k}.W"], views[f"l{k}.b"])
        H_out, layer_state, cell_cache = cell.forward(
            layer_params(views, k), XP, tuple(s[k] for s in state[:cell.n_states]))
        layers.append((X, cell_cache))
        new_state.append(layer_state)
    out = linear(H_out, views["out.W"], views["out.b"])
    new_state = tuple(np.stack(s) for s in zip(*new_state))
    if cfg.ar is not None:
        base, lags = highway.ar_base(cfg, x, state[cell.n_states])
        out += base
        new_state += (lags,)
    elif cfg.residual:
        out += x[..., :cfg.output_size]
    return out, new_state, (x, layers, H_out)


def backward(views, grads, cfg, cache, d_out):
    """Adds to `grads` (views like `views`) the gradient of the window given d_out,
    the gradient of the loss w.r.t. the outputs (K, B, V or O)."""
    cell = CELLS[cfg.cell]
    x, layers, H_out = cache
    dH = linear_backward(H_out, views["out.W"], d_out, grads["out.W"], grads["out.b"])
    for k in reversed(range(cfg.layers)):
        X, cell_cache = layers[k]
        dXP, cell_grads = cell.backward(layer_params(views, k), cell_cache, dH)
        for name, g in cell_grads.items():
            grads[f"l{k}.{name}"] += g
        if k == 0 and cfg.kind == "tokens":
            embed_project_backward(views, grads, cfg, x, dXP)
        else:
            dH = linear_backward(X, views[f"l{k}.W"], dXP, grads[f"l{k}.W"], grads[f"l{k}.b"])
    if cfg.kind == "series":
        linear_backward(network_input(cfg, x), views["in.W"], dH, grads["in.W"], grads["in.b"])


def predict(theta, cfg, inputs):
    """Model outputs over a batch of sequences, each from a zero state.

    inputs: ids (B, T) for tokens or floats (B, T, input_size) for series.
    Returns logits (B, T, V) or predictions (B, T, O), in cfg.dtype."""
    theta = check_theta(theta, cfg)
    x = np.swapaxes(check_inputs(cfg, inputs), 0, 1)              # time-major
    out, _, _ = forward(param_views(theta, cfg), cfg, x, init_state(cfg, x.shape[1]))
    return np.swapaxes(out, 0, 1)


def has_base(cfg):
    """Whether the series model ``cfg`` adds its output to a base (the AR(p) forecast or the
    last value)."""
    return cfg.kind == "series" and (cfg.ar is not None or bool(cfg.residual))


def base_only(theta, cfg):
    """A copy of θ whose output layer is zero: the model then forecasts its base alone,
    exactly (the network's correction is out.W · h + out.b)."""
    theta = check_theta(theta, cfg).copy()
    views = param_views(theta, cfg)
    views["out.W"][...] = 0
    views["out.b"][...] = 0
    return theta


def predict_base(cfg, inputs):
    """The base's predictions (B, T, O) over a batch of series (B, T, input_size), each from
    the start (as :func:`predict` from a zero state), in cfg.dtype; needs no θ."""
    x = np.swapaxes(check_inputs(cfg, inputs), 0, 1)              # time-major
    if cfg.ar is not None:
        base, _ = highway.ar_base(cfg, x, highway.init_lags(cfg, x.shape[1]))
    else:
        base = x[..., :cfg.output_size]
    return np.swapaxes(base, 0, 1)


def step(theta, cfg, state, x_t):
    """One step of inference for B sequences.

    x_t: ids (B,) for tokens or floats (B, input_size) for series.
    Returns (logits (B, V) or predictions (B, O), new_state)."""
    theta = check_theta(theta, cfg)
    if cfg.kind == "tokens":
        x_t = check_ids(x_t, cfg.vocab_size, "x_t")
        if x_t.ndim != 1:
            raise ValueError(f"x_t must be token ids of shape (B,), got {x_t.shape}")
    else:
        x_t = check_real(x_t, cfg.input_size, cfg.dtype, "x_t")
        if x_t.ndim != 2:
            raise ValueError(f"x_t must have shape (B, input_size), got {x_t.shape}")
    if x_t.shape[0] == 0:
        raise ValueError("x_t must hold at least one sequence")
    state = check_state(cfg, state, x_t.shape[0])
    out, new_state, _ = forward(param_views(theta, cfg), cfg, x_t[None], state)
    return out[0], new_state
