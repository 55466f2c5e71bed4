#!/usr/bin/env python
"""The gradient noise scale of a run along its training: how far N map tasks can buy time.

McCandlish et al. 2018 ("An empirical model of large-batch training") measure how much a
larger batch helps by the gradient noise scale B = tr(Σ)/|G|², G the gradient of the whole
training loss and Σ the covariance of one example's gradient (here an example is one chunk
record). Taking the steps of batch b costs, to a given loss, S_min (1 + B/b) sequential
steps: a batch far below B is noise-bound (a larger one is as good as more steps), one far
above it is curvature-bound (a larger one is wasted). Averaging N map tasks of batch b is
at best one task with batch N·b, so in this model the speedup to a target loss is

    S(N) ≈ (1 + B/b) / (1 + B/(N·b))      → 1 + B/b as N grows,

whatever the outer optimizer (a model: it assumes a learning rate suited to each batch;
docs/scaling.md compares it with the measured S(N)). This bench measures B at the kept checkpoints of a run
(θ after epoch e) from K minibatch gradients of b chunks each, drawn from the training
records at random:

    a = mean |g_k|², c = |mean g_k|²;  tr(Σ) = b (a - c) K/(K - 1),  |G|² = c - tr(Σ)/(K b)

(the unbiased estimates of McCandlish et al.'s appendix A), and prints one JSON line per
epoch with B in chunks and the model's S(N) for each N of ``--tasks`` ("bound"):

    python scripts/bench_noise_scale.py --data DATA --run RUN --tasks 2 4 8 16 32

Chunks of a text dataset start from a zero state, so their gradients are independent given
θ; for series with a warm-up the estimate is the same formula over the records as they are.
"""
import argparse
import gzip
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def noise_scale(gradients, batch):
    """(B, tr(Σ), |G|²) of K minibatch gradients.

    gradients: (K, n) array, each row the mean gradient of ``batch`` examples drawn
    independently; K ≥ 2. B = tr(Σ)/|G|² in examples (inf if the estimate of |G|² is not
    positive: the noise swamps the mean gradient at this K).
    """
    gradients = np.asarray(gradients, dtype=np.float64)
    k = gradients.shape[0]
    if k < 2:
        raise ValueError(f"the noise scale needs at least 2 minibatch gradients, got {k}")
    a = float(np.mean(np.sum(gradients ** 2, axis=1)))
    c = float(np.sum(gradients.mean(axis=0) ** 2))
    trace = batch * (a - c) * k / (k - 1)
    norm2 = c - trace / (k * batch)
    return (trace / norm2 if norm2 > 0 else float("inf")), trace, norm2


def speedup_bound(scale, batch, tasks):
    """What N tasks of ``batch`` examples each buy over one to a target loss in the model
    of McCandlish et al., where it is the most they can: (1 + B/b) / (1 + B/(N b))."""
    return (1 + scale / batch) / (1 + scale / (tasks * batch))


def training_lines(data_dir):
    """The record lines of the dataset's training shards (a bench reads them whole)."""
    with open(os.path.join(data_dir, "meta.json")) as f:
        meta = json.load(f)
    lines = []
    for name in meta["train"]:
        path = os.path.join(data_dir, name)
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            lines.extend(line for line in f if line.strip())
    return lines


def minibatch_gradients(theta, cfg, lines, batch, count, seed):
    """(count, |θ|) mean gradients of ``count`` minibatches of ``batch`` records drawn at
    random without replacement."""
    from jobs.data.batches import make_batch, read_chunk
    from rnn_core import loss_and_grad

    picks = np.random.default_rng(seed).choice(len(lines), size=batch * count, replace=False)
    out = np.empty((count, theta.size))
    for k in range(count):
        records = [read_chunk(lines[i], cfg) for i in picks[k * batch:(k + 1) * batch]]
        inputs, targets, mask = make_batch(records, cfg)
        _, scored, grad_sum = loss_and_grad(theta, cfg, inputs, targets, mask)
        out[k] = grad_sum / scored
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the prepared dataset")
    parser.add_argument("--run", required=True, help="a run directory; its kept checkpoints "
                        "(ckpt-NNNNNN.npz) are measured")
    parser.add_argument("--batch", type=int, default=32, help="chunks per minibatch (b)")
    parser.add_argument("--batches", type=int, default=200, help="minibatch gradients (K)")
    parser.add_argument("--tasks", nargs="+", type=int, default=[2, 4, 8, 16, 32])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from jobs.run.checkpoint import read_checkpoint
    from jobs.storage import open_store

    run = open_store(args.run)
    names = sorted(n for n in run.list() if n.startswith("ckpt-") and n.endswith(".npz"))
    if not names:
        sys.exit(f"bench_noise_scale.py: {args.run} has no ckpt-NNNNNN.npz")
    lines = training_lines(args.data)
    # an epoch's validation loss is scored by the next job: the run's metrics have them all
    valid = {m["epoch"]: m.get("valid_loss")
             for m in map(json.loads, run.read_bytes("metrics.jsonl").decode().splitlines())}
    if len(lines) < args.batch * args.batches:
        sys.exit(f"bench_noise_scale.py: {len(lines)} training records, fewer than "
                 f"--batch x --batches = {args.batch * args.batches}")
    for name in names:
        state = read_checkpoint(run, name)[0]
        grads = minibatch_gradients(state.theta, state.model, lines, args.batch, args.batches,
                                    args.seed)
        scale, trace, norm2 = noise_scale(grads, args.batch)
        print(json.dumps({
            "epoch": state.epoch, "valid_loss": valid.get(state.epoch),
            "noise_scale_chunks": round(scale, 1), "trace": trace, "grad_norm2": norm2,
            "batch": args.batch, "batches": args.batches,
            "bound": {n: round(speedup_bound(scale, args.batch, n), 2) for n in args.tasks},
        }), flush=True)


if __name__ == "__main__":
    main()
