#!/usr/bin/env python
"""What a smaller minibatch costs per token: BPTT tokens/s against the chunks per minibatch.

Giving each of N map tasks a smaller minibatch b raises how far N can buy time (docs/scaling.md,
"Why S(N) stops growing": S(N) ≤ (b₁/b)(1 + B/b₁) in epochs), but every step then multiplies
skinnier matrices. This bench times rnn_core.loss_and_grad (forward and backward, windows of
``--steps`` tokens, random tokens of a vocabulary of 84) for each hidden size and minibatch,
the minibatches interleaved within each repeat so that a change in the machine's load hits
them alike, and prints one JSON line per hidden size with the median tokens/s per minibatch
and its ratio to the largest minibatch given:

    OPENBLAS_NUM_THREADS=1 python scripts/bench_minibatch.py --hidden 64 256 512 --batches 4 8 16 32

The ratio times S(N) in epochs is the speedup in time (an epoch of N tasks is 1/N of the
tokens at the ratio's speed).
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from rnn_core import ModelConfig, init_params, loss_and_grad  # noqa: E402
from rnn_core.heap import keep_freed_memory  # noqa: E402

VOCAB = 84  # Shakespeare's characters


def tokens_per_second(cfg, theta, batch, steps, tokens):
    """Tokens/s of loss_and_grad over about ``tokens`` tokens in minibatches of ``batch``."""
    rng = np.random.default_rng(0)
    inputs, targets = rng.integers(0, VOCAB, (2, batch, steps))
    calls = max(1, round(tokens / (batch * steps)))
    started = time.perf_counter()
    for _ in range(calls):
        loss_and_grad(theta, cfg, inputs, targets)
    return calls * batch * steps / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell", default="lstm", choices=("rnn", "lstm", "gru"))
    parser.add_argument("--hidden", nargs="+", type=int, default=[64, 256, 512])
    parser.add_argument("--batches", nargs="+", type=int, default=[4, 8, 16, 32])
    parser.add_argument("--steps", type=int, default=64, help="tokens per chunk (default 64)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=16384,
                        help="tokens per timing of the smallest model (fewer for larger ones)")
    args = parser.parse_args()
    if min(args.batches + args.hidden + [args.steps, args.repeats, args.tokens]) < 1:
        parser.error("--hidden, --batches, --steps, --repeats and --tokens must be >= 1")
    keep_freed_memory()  # as in a map task
    for hidden in args.hidden:
        cfg = ModelConfig(cell=args.cell, hidden=hidden, vocab_size=VOCAB, dtype=args.dtype)
        theta = init_params(cfg, seed=0)
        tokens = max(args.batches) * args.steps * max(1, args.tokens * 64 // (hidden * 1024))
        timed = {b: [] for b in args.batches}
        for _ in range(args.repeats):
            for b in args.batches:
                timed[b].append(tokens_per_second(cfg, theta, b, args.steps, tokens))
        median = {b: float(np.median(t)) for b, t in timed.items()}
        top = median[max(args.batches)]
        print(json.dumps({"cell": args.cell, "hidden": hidden, "dtype": args.dtype,
                          "steps": args.steps, "repeats": args.repeats,
                          "tokens_per_s": {b: round(v) for b, v in median.items()},
                          "of_largest": {b: round(v / top, 2) for b, v in median.items()}}),
              flush=True)


if __name__ == "__main__":
    main()
