"""Losses as sums over scored steps, with their gradients w.r.t. the model outputs.

Sums (not means) so that the losses and gradients of disjoint shards add up to
those of their union. Both functions may overwrite their first argument.
"""

import numpy as np


def cross_entropy(logits, targets, mask=None, need_grad=True):
    """Softmax cross-entropy in nats.

    logits (N, V) float (overwritten), targets (N,) ids, mask (N,) of 0/1 or None.
    Returns (loss_sum: float, dlogits (N, V) or None)."""
    rows = np.arange(len(targets))
    logits -= logits.max(axis=1, keepdims=True)       # softmax is shift-invariant
    target_logit = logits[rows, targets]
    exp = np.exp(logits, out=logits)
    sum_exp = exp.sum(axis=1)
    nll = np.log(sum_exp) - target_logit               # (N,)
    if mask is not None:
        nll *= mask
    loss = float(nll.sum(dtype=np.float64))
    if not need_grad:
        return loss, None
    probs = exp
    probs /= sum_exp[:, None]
    probs[rows, targets] -= 1.0
    if mask is not None:
        probs *= mask[:, None]
    return loss, probs


def squared_error(y, targets, mask=None, need_grad=True):
    """Σ (y - target)^2 over scored steps and output dims (no 1/2 factor).

    y, targets (N, O) float, mask (N,) of 0/1 or None.
    Returns (loss_sum: float, dy (N, O) or None)."""
    diff = y - targets
    if mask is not None:
        diff *= mask[:, None]
    loss = float(np.sum(diff * diff, dtype=np.float64))
    if not need_grad:
        return loss, None
    diff *= 2.0
    return loss, diff


LOSSES = {"tokens": cross_entropy, "series": squared_error}
