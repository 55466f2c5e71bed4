"""Forward+backward throughput of rnn_core.loss_and_grad against PyTorch and against the
machine's own matrix products (the roofline).

Model: vocab 65 -> embedding 256 -> one tanh-RNN, LSTM or GRU layer of 256 -> linear 65
-> cross-entropy (sum), on batches of 32 sequences of 64 tokens (bptt = 64). Timed
alternately in one run, with the same thread count and dtype, as CPU time of the calling
thread (so use --threads 1), medians reported:

* ours: loss_and_grad on one batch;
* torch: the same model in PyTorch, when it is installed;
* gemms: the matrix products of ours alone, the same shapes, layouts and counts (the
  per-step products T times each, the window-wide ones once): the fastest ours could be
  with every elementwise pass free;
* large: the one product (T*B, H) @ (H, G*H), the recurrent product of all steps at once.

FLOPs count the matrix products only (2mkn each). One JSON line per (cell, dtype):

    {"cell", "dtype", "tokens_per_s", "torch_tokens_per_s", "ratio", "gflops",
     "gemm_gflops", "of_gemm", "large_gemm_gflops", "of_large_gemm", "gemm_ms", "rest_ms",
     "nonlinear_ms", "bound_of_large_gemm"}

of_gemm = gflops / gemm_gflops (= gemm_ms over ours' time); rest_ms is ours' time minus
gemm_ms: the elementwise passes, the loss, the Python around them. nonlinear_ms is the
part of it that is the cell's transcendental passes, timed alone: the gates' and the
state's tanh or exp over one window, as cells.py computes them (window_nonlinearities).
bound_of_large_gemm is the fraction of the large rate ours would reach if its products and
those passes were all it did, every other elementwise pass, the loss and the Python free.

With --map-task it also runs a training map task (jobs.mr.train_epoch, gradient mode, in
this process under mrjob's sandbox) over the records of --map-batches such batches, and
bare loss_and_grad over the same batches already decoded: one JSON line per cell and dtype,

    {"map_task_tokens_per_s", "bptt_tokens_per_s", "map_task_of_bptt", "per_batch_of_bptt",
     "empty_task_ms", "decode_ms", "add_up_ms", ...}

with the map task's own work timed alone: a task over no records (empty_task_ms: reading
the state, emitting θ's slices; once per task, whatever its input), decoding and batching
the records (jobs.data.batches), adding up the gradients. per_batch_of_bptt leaves the
once-per-task cost out: the map task's rate over a split far longer than this one.

Usage: python scripts/bench_bptt.py [--threads 1] [--repeats 7] [--cells ...] [--dtypes ...]
                                    [--map-task] [--map-batches 16] [--work DIR]
"""

import argparse
import io
import json
import os
import sys
import time

from workdir import add_work_flag, work_dir

VOCAB, HIDDEN, T, BATCH = 65, 256, 64, 32
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1, help="BLAS/torch threads (default 1)")
    p.add_argument("--repeats", type=int, default=7, help="timed runs per case (default 7)")
    p.add_argument("--cells", nargs="+", default=["rnn", "lstm", "gru"], choices=list(GATES))
    p.add_argument("--dtypes", nargs="+", default=["float32", "float64"],
                   choices=["float32", "float64"])
    p.add_argument("--map-task", action="store_true",
                   help="also time a training map task against bare BPTT on the same data")
    p.add_argument("--map-batches", type=int, default=16,
                   help="minibatches in the map task's input (default 16)")
    add_work_flag(p)
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
    """CPU seconds of this thread in fn(): every timed run here computes on the calling
    thread, and other processes on a busy machine then inflate it far less than the wall
    clock."""
    start = time.thread_time()
    fn()
    return time.thread_time() - start


def medians(runs, repeats):
    """{name: median seconds} of the callables in `runs`, called in turn `repeats` times
    after one warm-up round."""
    import numpy as np

    for fn in runs.values():
        fn()
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            times[name].append(timed(fn))
    return {name: float(np.median(t)) for name, t in times.items()}


def model(cell, dtype):
    from rnn_core import ModelConfig, init_params
    cfg = ModelConfig(cell=cell, hidden=HIDDEN, vocab_size=VOCAB, dtype=dtype)
    return cfg, init_params(cfg, seed=0)


def ours(cell, dtype, inputs, targets):
    from rnn_core import loss_and_grad
    cfg, theta = model(cell, dtype)
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


def window_gemms(cell, dtype):
    """The matrix products of one window of loss_and_grad as (count, a, b, order): operands
    of the shapes and memory layouts rnn_core uses (.T: a transposed view), and the order of
    the product's array ("F": column-major, as the LSTM's per-step arrays in float32)."""
    import numpy as np
    from rnn_core.cells import backward_UT, column_major

    rng = np.random.default_rng(0)
    N, H, G, V = T * BATCH, HIDDEN, GATES[cell] * HIDDEN, VOCAB

    def m(*shape):
        return rng.standard_normal(shape).astype(dtype)
    if cell == "lstm" and column_major(np.dtype(dtype), BATCH):
        # h[t-1] @ U and dXP[t] @ Uᵀ on column-major (B, ·) arrays, U column-major
        steps = [(T, np.asfortranarray(m(BATCH, H)), np.asfortranarray(m(H, G)), "F"),
                 (T, np.asfortranarray(m(BATCH, G)), m(H, G).T, "F")]
    else:
        steps = [(T, m(BATCH, H), m(H, G), "C"),
                 (T, m(BATCH, G), backward_UT({"U": m(H, G)}), "C")]
    return [
        # forward: the lookup table E @ W, the recurrence, the output layer
        (1, m(V, H), m(H, G), "C"), steps[0], (1, m(N, H), m(H, V), "C"),
        # backward: the output layer's dW and dH, the recurrence (Uᵀ as the cells take it),
        (1, m(N, H).T, m(N, V), "C"), (1, m(N, V), m(H, V).T, "C"), steps[1],
        # dU over the window, the table's rows by id (one-hot), its dW and dE
        (1, m(N, H).T, m(N, G), "C"), (1, m(N, V).T, m(N, G), "C"),
        (1, m(V, H).T, m(V, G), "C"), (1, m(V, G), m(H, G).T, "C"),
    ]


def window_nonlinearities(cell, dtype):
    """The transcendental passes of one window's forward as (count, ufunc, x, out): the gate
    and state nonlinearities each cell computes per step, on arrays of its shapes and layouts
    (the LSTM's σ from exp where its steps are column-major, from tanh elsewhere, as
    cells.lstm_gates_ computes them)."""
    import numpy as np
    from rnn_core.cells import column_major

    H = HIDDEN

    def passes(ufunc, n, columns=slice(None), order="C"):
        x, out = (np.full((BATCH, n), 0.5, dtype=dtype, order=order)[:, columns]
                  for _ in range(2))
        return T, ufunc, x, out
    if cell == "rnn":
        return [passes(np.tanh, H)]
    if cell == "gru":        # σ on r and z (through tanh), tanh on n
        return [passes(np.tanh, 3 * H, slice(0, 2 * H)),
                passes(np.tanh, 3 * H, slice(2 * H, None))]
    if column_major(np.dtype(dtype), BATCH):    # exp on i, f and o; tanh on g and on c
        return [passes(np.exp, 2 * H, order="F"), passes(np.exp, H, order="F"),
                passes(np.tanh, H, order="F"), passes(np.tanh, H, order="F")]
    return [passes(np.tanh, 4 * H), passes(np.tanh, H)]


def run_nonlinearities(passes):
    def run():
        for count, ufunc, x, out in passes:
            for _ in range(count):
                ufunc(x, out=out)
    return run


def gemm_flops(gemms):
    return sum(count * 2 * a.shape[0] * a.shape[1] * b.shape[1] for count, a, b, _ in gemms)


def run_gemms(gemms):
    import numpy as np

    outs = [np.empty((a.shape[0], b.shape[1]), a.dtype, order=order)
            for _, a, b, order in gemms]

    def run():
        for (count, a, b, _), out in zip(gemms, outs):
            for _ in range(count):
                np.matmul(a, b, out=out)
    return run


def bench_cell(cell, dtype, inputs, targets, args):
    import numpy as np

    gemms = window_gemms(cell, dtype)
    large = [(1, np.ones((T * BATCH, HIDDEN), dtype), np.ones((HIDDEN, GATES[cell] * HIDDEN),
                                                                dtype), "C")]
    runs = {"ours": ours(cell, dtype, inputs, targets),
            "torch": theirs(cell, dtype, inputs, targets, args.threads),
            "gemms": run_gemms(gemms), "large": run_gemms(large),
            "nonlinear": run_nonlinearities(window_nonlinearities(cell, dtype))}
    t = medians({name: fn for name, fn in runs.items() if fn}, args.repeats)
    flops = gemm_flops(gemms)
    gflops, gemm_gflops = flops / t["ours"] / 1e9, flops / t["gemms"] / 1e9
    large_gflops = gemm_flops(large) / t["large"] / 1e9
    tps = BATCH * T / t["ours"]
    torch_tps = BATCH * T / t["torch"] if "torch" in t else None
    return {
        "cell": cell, "dtype": dtype, "threads": args.threads,
        "vocab": VOCAB, "hidden": HIDDEN, "bptt": T, "batch": BATCH, "repeats": args.repeats,
        "tokens_per_s": round(tps),
        "torch_tokens_per_s": round(torch_tps) if torch_tps else None,
        "ratio": round(tps / torch_tps, 3) if torch_tps else None,
        "mflop_per_token": round(flops / (BATCH * T) / 1e6, 3),
        "gflops": round(gflops, 1), "gemm_gflops": round(gemm_gflops, 1),
        "of_gemm": round(gflops / gemm_gflops, 3),
        "large_gemm_gflops": round(large_gflops, 1),
        "of_large_gemm": round(gflops / large_gflops, 3),
        "gemm_ms": round(t["gemms"] * 1e3, 2),
        "rest_ms": round((t["ours"] - t["gemms"]) * 1e3, 2),
        "nonlinear_ms": round(t["nonlinear"] * 1e3, 2),
        "bound_of_large_gemm": round(flops / (t["gemms"] + t["nonlinear"]) / 1e9
                                     / large_gflops, 3),
    }


def chunk_lines(rng, n_batches):
    """Record lines of n_batches * BATCH chunks of T + 1 random tokens (T scored steps each)."""
    from jobs.data.records import encode_record
    return [encode_record(f"{i:05d}/000000", rng.integers(0, VOCAB, T + 1).astype("u2")) + "\n"
            for i in range(n_batches * BATCH)]


def map_task(cell, dtype, lines, work):
    """A training map task over `lines` in this process (mrjob's sandbox), gradient mode."""
    from jobs.mr.train_epoch import MRTrainEpoch
    from jobs.run.state import RunSettings, TrainingState
    from rnn_core.optimizers import OptimizerConfig, init_state
    from rnn_core.serialization import save_arrays

    cfg, theta = model(cell, dtype)
    optimizer = OptimizerConfig(name="adam", lr=0.002)
    state = TrainingState(model=cfg, optimizer=optimizer, theta=theta,
                          settings=RunSettings(mode="gradient", batch=BATCH, bptt=T, seed=0),
                          opt_state=init_state(optimizer, theta))
    state_file = os.path.join(work, f"state-{cell}-{dtype}.npz")
    save_arrays(state_file, state.to_arrays())
    data = "".join(lines).encode()

    def run():
        job = MRTrainEpoch(["--state", state_file])
        job.sandbox(stdin=io.BytesIO(data), stdout=io.BytesIO(), stderr=io.BytesIO())
        job.run_mapper()
    return run


def bench_map_task(cell, dtype, args, work):
    """The map task against bare loss_and_grad on the same minibatches; the map task's own
    work timed alone: a task with no records (loading the state, emitting θ's slices: a cost
    per task), decoding and batching the records, adding up the gradients."""
    import numpy as np
    from jobs.data.batches import iter_batches, read_chunk
    from rnn_core import loss_and_grad

    lines = chunk_lines(np.random.default_rng(0), args.map_batches)
    cfg, theta = model(cell, dtype)

    def decode():
        return list(iter_batches([read_chunk(line, cfg) for line in lines], cfg, BATCH))
    batches = decode()

    def bptt():
        return [loss_and_grad(theta, cfg, *batch, bptt=T) for batch in batches]

    grads = [g for _, _, g in bptt()]

    def add_up():
        total = np.zeros_like(theta)
        for g in grads:
            total += g

    t = medians({"map_task": map_task(cell, dtype, lines, work),
                 "empty_task": map_task(cell, dtype, [], work),
                 "bptt": bptt, "decode": decode, "add_up": add_up}, args.repeats)
    tokens = args.map_batches * BATCH * T
    return {"cell": cell, "dtype": dtype, "minibatches": args.map_batches, "tokens": tokens,
            "map_task_tokens_per_s": round(tokens / t["map_task"]),
            "bptt_tokens_per_s": round(tokens / t["bptt"]),
            "map_task_of_bptt": round(t["bptt"] / t["map_task"], 3),
            "per_batch_of_bptt": round(t["bptt"] / (t["map_task"] - t["empty_task"]), 3),
            **{f"{part}_ms": round(t[part] * 1e3, 1)
               for part in ("map_task", "bptt", "empty_task", "decode", "add_up")}}


def main():
    args = parse_args()
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    limit_threads(args.threads)
    import numpy as np
    from rnn_core.heap import keep_freed_memory
    keep_freed_memory()  # as a map task does: each minibatch reuses the last one's memory

    rng = np.random.default_rng(0)
    inputs = rng.integers(0, VOCAB, size=(BATCH, T))
    targets = rng.integers(0, VOCAB, size=(BATCH, T))
    for cell in args.cells:
        for dtype in args.dtypes:
            print(json.dumps(bench_cell(cell, dtype, inputs, targets, args)), flush=True)
    if args.map_task:
        with work_dir(args.work, "bench-bptt-") as work:
            for cell in args.cells:
                for dtype in args.dtypes:
                    print(json.dumps(bench_map_task(cell, dtype, args, work)), flush=True)


if __name__ == "__main__":
    main()
