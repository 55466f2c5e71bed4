"""Forward+backward throughput of rnn_core.loss_and_grad, and of PyTorch on the same
model when it is installed.

Model: vocab 65 -> embedding 256 -> one tanh-RNN or LSTM layer of 256 -> linear 65
-> cross-entropy (sum), on batches of 32 sequences of 64 tokens (bptt = 64).
Ours and PyTorch's are timed alternately in one run, with the same thread count
and dtype; medians are reported. One JSON line per (cell, dtype):

    {"cell", "dtype", "threads", "tokens_per_s", "torch_tokens_per_s", "ratio", ...}

Usage: python scripts/bench_bptt.py [--threads 1] [--repeats 7]
"""

import argparse
import json
import os
import sys
import time

VOCAB, HIDDEN, T, BATCH = 65, 256, 64, 32


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1, help="BLAS/torch threads (default 1)")
    p.add_argument("--repeats", type=int, default=7, help="timed runs per case (default 7)")
    p.add_argument("--cells", nargs="+", default=["rnn", "lstm"], choices=["rnn", "lstm", "gru"])
    p.add_argument("--dtypes", nargs="+", default=["float32", "float64"],
                   choices=["float32", "float64"])
    return p.parse_args()


def limit_threads(n):
    """Must run before numpy is imported for the environment variables to count;
    threadpoolctl, if installed, then also limits the already-loaded BLAS."""
    from jobs.hadoop.launch import BLAS_THREAD_VARS  # imports no numpy

    for var in BLAS_THREAD_VARS:
        os.environ[var] = str(n)
    import numpy  # noqa: F401  (load BLAS under the limits above)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(n)
    except ImportError:
        pass


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def ours(cell, dtype, inputs, targets):
    from rnn_core import ModelConfig, init_params, loss_and_grad
    cfg = ModelConfig(cell=cell, hidden=HIDDEN, vocab_size=VOCAB, dtype=dtype)
    theta = init_params(cfg, seed=0)
    return lambda: loss_and_grad(theta, cfg, inputs, targets, bptt=T)


def theirs(cell, dtype, inputs, targets, threads):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    tdtype = getattr(torch, dtype)
    embed = torch.nn.Embedding(VOCAB, HIDDEN).to(tdtype)
    rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        HIDDEN, HIDDEN, batch_first=True).to(tdtype)
    out = torch.nn.Linear(HIDDEN, VOCAB).to(tdtype)
    params = [*embed.parameters(), *rnn.parameters(), *out.parameters()]
    x, y = torch.from_numpy(inputs), torch.from_numpy(targets)

    def run():
        for p in params:
            p.grad = None
        h, _ = rnn(embed(x))
        loss = torch.nn.functional.cross_entropy(out(h).reshape(-1, VOCAB), y.reshape(-1),
                                                 reduction="sum")
        loss.backward()
    return run


def main():
    args = parse_args()
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    limit_threads(args.threads)
    import numpy as np

    rng = np.random.default_rng(0)
    inputs = rng.integers(0, VOCAB, size=(BATCH, T))
    targets = rng.integers(0, VOCAB, size=(BATCH, T))
    for cell in args.cells:
        for dtype in args.dtypes:
            run_ours = ours(cell, dtype, inputs, targets)
            run_torch = theirs(cell, dtype, inputs, targets, args.threads)
            run_ours()                                   # warm-up
            if run_torch:
                run_torch()
            t_ours, t_torch = [], []
            for _ in range(args.repeats):
                t_ours.append(timed(run_ours))
                if run_torch:
                    t_torch.append(timed(run_torch))
            tps = BATCH * T / float(np.median(t_ours))
            torch_tps = BATCH * T / float(np.median(t_torch)) if run_torch else None
            print(json.dumps({
                "cell": cell, "dtype": dtype, "threads": args.threads,
                "vocab": VOCAB, "hidden": HIDDEN, "bptt": T, "batch": BATCH,
                "repeats": args.repeats,
                "tokens_per_s": round(tps),
                "torch_tokens_per_s": round(torch_tps) if torch_tps else None,
                "ratio": round(tps / torch_tps, 3) if torch_tps else None,
            }), flush=True)


if __name__ == "__main__":
    main()
