"""Loss and gradient of a batch of sequences by (truncated) backpropagation
through time.

The sequences are cut into windows of `bptt` steps. Each window runs forward from
the state the previous window ended in, then backward to its own first step: the
state is carried across windows but gradients are not (truncated BPTT).
"""

import numpy as np

from . import network
from .checks import check_sequences, check_window
from .losses import LOSSES
from .params import check_theta, param_views


def _run(theta, cfg, inputs, targets, mask, bptt, need_grad, keep_outputs=False):
    theta = check_theta(theta, cfg)
    x, y, m = check_sequences(cfg, inputs, targets, mask)       # time-major
    T, B = x.shape[:2]
    K = check_window(bptt) or T
    views = param_views(theta, cfg)
    grad = np.zeros_like(theta) if need_grad else None
    grads = param_views(grad, cfg) if need_grad else None
    loss_fn = LOSSES[cfg.kind]
    state = network.init_state(cfg, B)
    loss_sum, outputs = 0.0, []
    for s in range(0, T, K):
        out, state, cache = network.forward(views, cfg, x[s:s + K], state)
        if keep_outputs:  # (the token loss turns its logits into probabilities in place)
            outputs.append(out.copy())
        n = out.shape[0] * B
        loss, d_out = loss_fn(out.reshape(n, -1), y[s:s + K].reshape(n, *y.shape[2:]),
                              None if m is None else m[s:s + K].reshape(n), need_grad)
        loss_sum += loss
        if need_grad:
            network.backward(views, grads, cfg, cache, d_out.reshape(out.shape))
    count = float(B * T) if m is None else float(m.sum(dtype=np.float64))
    if keep_outputs:
        return loss_sum, count, np.swapaxes(np.concatenate(outputs), 0, 1)
    return loss_sum, count, grad


def loss_and_grad(theta, cfg, inputs, targets, mask=None, bptt=None):
    """Summed loss and its gradient over a batch.

    theta:   θ, (num_params(cfg),) float
    inputs:  tokens: int ids (B, T);          series: (B, T, input_size)
    targets: tokens: int ids (B, T);          series: (B, T, output_size)
    mask:    (B, T) of 0/1, or None for all ones. Masked steps still advance the
             recurrent state but add nothing to the loss or its gradient.
    bptt:    window length K for truncated BPTT, or None for the full sequence.

    Returns (loss_sum, count, grad_sum): loss summed over scored steps (nats for
    tokens, squared error summed over output dims for series), the number of scored
    steps, and d loss_sum / dθ with θ's shape, in cfg.dtype.
    """
    return _run(theta, cfg, inputs, targets, mask, bptt, need_grad=True)


def loss_only(theta, cfg, inputs, targets, mask=None):
    """(loss_sum, count) of loss_and_grad without the backward pass."""
    loss_sum, count, _ = _run(theta, cfg, inputs, targets, mask, None, need_grad=False)
    return loss_sum, count


def loss_and_outputs(theta, cfg, inputs, targets, mask=None):
    """(loss_sum, count, outputs) of one forward pass: :func:`loss_only`'s sums and the
    outputs (B, T, V or O) :func:`rnn_core.network.predict` gives, the same bits of both."""
    return _run(theta, cfg, inputs, targets, mask, None, need_grad=False, keep_outputs=True)
