"""The flat parameter vector θ and its named views.

All parameters live in one 1-D array θ so that shards of a MapReduce job can sum
gradients and optimizers can update everything with vector arithmetic. The tensors,
in θ order (H = hidden, G = gates of the cell: rnn 1, lstm 4, gru 3):

    embed    (V, H)     token models: row v is the input vector of token v
    in.W     (I, H)     series models: input projection x @ in.W + in.b (I - O rows for a
                        model that does not read its targets: cfg.network_inputs)
    in.b     (H,)
    l{k}.W   (H, G*H)   layer k, input-to-gates weights (x @ W)
    l{k}.U   (H, G*H)   layer k, hidden-to-gates weights (h @ U)
    l{k}.b   (G*H,)     layer k, gate bias
    l{k}.bn  (H,)       GRU only: bias added to h @ U_n inside the reset product
    out.W    (H, O)     output projection (O = V logits or series outputs)
    out.b    (O,)

Gate blocks along the G*H axis follow PyTorch: LSTM (i, f, g, o), GRU (r, z, n).
Our W and U are PyTorch's weight_ih_l{k}.T and weight_hh_l{k}.T; our b is
bias_ih + bias_hh (for the GRU, bias_ih + bias_hh on r and z, bias_ih on n, and bn
is bias_hh on n).
"""

import numpy as np

from .config import GATES


def param_shapes(cfg):
    """Ordered list of (name, shape) for every tensor in θ."""
    H, G = cfg.hidden, GATES[cfg.cell]
    if cfg.kind == "tokens":
        shapes = [("embed", (cfg.vocab_size, H))]
    else:
        shapes = [("in.W", (cfg.network_inputs, H)), ("in.b", (H,))]
    for k in range(cfg.layers):
        shapes += [(f"l{k}.W", (H, G * H)), (f"l{k}.U", (H, G * H)), (f"l{k}.b", (G * H,))]
        if cfg.cell == "gru":
            shapes.append((f"l{k}.bn", (H,)))
    shapes += [("out.W", (H, cfg.out_size)), ("out.b", (cfg.out_size,))]
    return shapes


def num_params(cfg):
    """Length of θ."""
    return sum(int(np.prod(shape)) for _, shape in param_shapes(cfg))


def check_theta(theta, cfg):
    """Validate θ and return it as a contiguous 1-D array of cfg.dtype (no copy if it
    already is one)."""
    theta = np.asarray(theta)
    if theta.dtype.kind != "f":
        raise ValueError(f"theta must be a float array, got dtype {theta.dtype}")
    if theta.shape != (num_params(cfg),):
        raise ValueError(f"theta must have shape ({num_params(cfg)},) for this config, "
                         f"got {theta.shape}")
    return np.ascontiguousarray(theta, dtype=cfg.dtype)


def param_views(theta, cfg):
    """Dict name -> view into θ with the tensor's shape (writing a view writes θ).

    θ must be a contiguous 1-D float array of length num_params(cfg)."""
    theta = np.asarray(theta)
    if not (theta.ndim == 1 and theta.flags.c_contiguous):
        raise ValueError("theta must be a contiguous 1-D array to take views of it")
    if theta.dtype.kind != "f" or theta.shape[0] != num_params(cfg):
        raise ValueError(f"theta must be a float array of length {num_params(cfg)}, "
                         f"got dtype {theta.dtype} and shape {theta.shape}")
    views, start = {}, 0
    for name, shape in param_shapes(cfg):
        size = int(np.prod(shape))
        views[name] = theta[start:start + size].reshape(shape)
        start += size
    return views


def init_params(cfg, seed=0):
    """Random θ: weights ~ N(0, 1/fan_in), embedding ~ N(0, 1), biases 0 except the
    LSTM forget gate bias, which is 1 so early gradients flow through the cell. A residual
    model's output layer starts at 0, so the fresh model forecasts persistence, or its AR
    base (the other tensors are drawn as without residual: the same seed gives the same
    hidden layers)."""
    rng = np.random.default_rng(seed)
    theta = np.zeros(num_params(cfg), dtype=cfg.dtype)
    H = cfg.hidden
    for name, p in param_views(theta, cfg).items():
        if name == "embed":
            p[...] = rng.standard_normal(p.shape)
        elif p.ndim == 2:
            p[...] = rng.standard_normal(p.shape) / np.sqrt(p.shape[0])
    views = param_views(theta, cfg)
    if cfg.cell == "lstm":
        for k in range(cfg.layers):
            views[f"l{k}.b"][H:2 * H] = 1.0
    if cfg.residual:
        views["out.W"][...] = 0.0
    return theta
