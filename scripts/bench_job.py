#!/usr/bin/env python
"""Benchmark the training job's overhead: one gradient epoch in-process vs through mrjob.

On a character corpus of real text (Python's own standard library source, >= 1M tokens):

* ``inprocess``: the same decode -> minibatch -> BPTT gradient sum -> optimizer step, in a
  plain Python loop (what a map task computes, without mrjob);
* ``inline``: the epoch job through mrjob's inline runner (one process, one task at a time);
* ``local``: mrjob's local runner with 2 map tasks in parallel (2 cores).

The variants alternate over ``--repeats`` rounds; medians are reported. Prints JSON lines:
one per variant, then a summary with ``overhead`` (inline / in-process - 1),
``local_speedup`` (inline / local) and ``shuffle_bytes`` (bytes written by the map side
after combining, summed over tasks; should be about tasks x |θ| x itemsize x 4/3).

    python scripts/bench_job.py [--tokens 1000000] [--repeats 3] [--hidden 128]
"""
import argparse
import contextlib
import glob
import json
import os
import statistics
import sys
import sysconfig
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
# every variant (in-process, inline, local tasks) computes with one BLAS thread
from jobs.hadoop.launch import default_blas_threads  # noqa: E402  (imports no numpy)

default_blas_threads()
from rnn_core.heap import keep_freed_memory  # noqa: E402

keep_freed_memory()  # the in-process variant's memory reused as in a task's
from jobs.data.batches import iter_batches  # noqa: E402
from jobs.cli import main as _cli_main  # noqa: E402


def cli_main(argv):
    """Run a hadoop-rnn command with its progress lines on stderr: stdout is for JSON."""
    with contextlib.redirect_stdout(sys.stderr):
        return _cli_main(argv)
from jobs.data.dataset import Dataset  # noqa: E402
from jobs.hadoop.launch import RunnerOptions, run_job  # noqa: E402
from jobs.mr.train_epoch import MRTrainEpoch  # noqa: E402
from jobs.run.state import RunSettings, TrainingState  # noqa: E402
from rnn_core import ModelConfig, init_params, loss_and_grad  # noqa: E402
from rnn_core.optimizers import OptimizerConfig, apply, init_state  # noqa: E402
from rnn_core.serialization import save_arrays  # noqa: E402
from workdir import add_work_flag, work_dir  # noqa: E402


def stdlib_files(tokens):
    """Sorted standard-library modules whose total size just exceeds ``tokens`` bytes."""
    files, total = [], 0
    for path in sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py"))):
        files.append(path)
        total += os.path.getsize(path)
        if total >= tokens:
            break
    return files


def stdlib_dataset(out, chars, chunk, valid, shards):
    """Prepare (unless already there) a character dataset of ~``chars`` of stdlib source."""
    if not os.path.exists(os.path.join(out, "meta.json")):
        cli_main(["prepare", "--kind", "text", "--out", out, "--chunk", str(chunk),
                  "--valid", str(valid), "--shards", str(shards), *stdlib_files(chars)])
    return out


def in_process_epoch(dataset, state):
    """Gradient epoch without mrjob: the mapper's work on every shard, then one step."""
    cfg, s = state.model, state.settings
    total_loss = total_count = 0.0
    grad = None
    for chunk_batch in iter_batches(dataset.iter_chunks("train", cfg), cfg, s.batch):
        loss_sum, count, grad_sum = loss_and_grad(state.theta, cfg, *chunk_batch,
                                                  bptt=s.bptt or None)
        total_loss += loss_sum
        total_count += count
        grad = grad_sum if grad is None else grad + grad_sum
    return apply(state.optimizer, state.theta, grad / total_count, state.opt_state)[0]


def job_epoch(dataset, state_file, state, runner, tmp_dir=None):
    extra = ["--cleanup", "NONE", "--local-tmp-dir", tmp_dir] if tmp_dir else []
    options = RunnerOptions(runner=runner, extra_args=extra)
    return run_job(MRTrainEpoch, ["--state", state_file],  # the settings are the state's
                   dataset.shard_uris("train"), options)


def shuffle_bytes(tmp_dir):
    """Bytes the local runner's reducer read: the map side's output after combining."""
    inputs = glob.glob(os.path.join(tmp_dir, "*", "step", "000", "reducer", "*", "input"))
    return sum(os.path.getsize(path) for path in inputs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--cell", default="lstm")
    parser.add_argument("--dtype", default="float32")
    add_work_flag(parser)
    args = parser.parse_args()

    with work_dir(args.work, "bench-job-") as work:
        dataset = Dataset(stdlib_dataset(os.path.join(work, "data"), args.tokens, chunk=129,
                                         valid=0.01, shards=2))
        model = ModelConfig(cell=args.cell, hidden=args.hidden, dtype=args.dtype,
                            **dataset.model_sizes())
        optimizer = OptimizerConfig(name="adam", lr=0.002, clip_norm=5.0)
        theta = init_params(model, seed=0)
        state = TrainingState(model=model, optimizer=optimizer, theta=theta,
                              settings=RunSettings(mode="gradient", batch=32, bptt=64, seed=0),
                              opt_state=init_state(optimizer, theta))
        state_file = os.path.join(work, "state.npz")
        save_arrays(state_file, state.to_arrays())
        tokens = dataset.meta["counts"]["train"]["steps"]

        times = {"inprocess": [], "inline": [], "local": []}
        shuffled = None
        for _ in range(args.repeats):
            for variant in times:
                started = time.perf_counter()
                if variant == "inprocess":
                    in_process_epoch(dataset, state)
                else:
                    tmp_dir = tempfile.mkdtemp(dir=work) if variant == "local" else None
                    job_epoch(dataset, state_file, state, variant, tmp_dir)
                    if tmp_dir:
                        shuffled = shuffle_bytes(tmp_dir)
                times[variant].append(time.perf_counter() - started)
        medians = {variant: statistics.median(t) for variant, t in times.items()}
        for variant, seconds in medians.items():
            print(json.dumps({"variant": variant, "seconds": round(seconds, 3),
                              "tokens_per_s": round(tokens / seconds), "tokens": tokens,
                              "runs": [round(t, 3) for t in times[variant]]}))
        print(json.dumps({
            "overhead": round(medians["inline"] / medians["inprocess"] - 1, 4),
            "local_speedup": round(medians["inline"] / medians["local"], 3),
            "shuffle_bytes": shuffled, "params": int(theta.size),
            "param_bytes": int(theta.nbytes),
            "cell": args.cell, "hidden": args.hidden, "dtype": args.dtype, "tokens": tokens,
            "cores": os.cpu_count()}))


if __name__ == "__main__":
    main()
