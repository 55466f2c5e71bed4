#!/usr/bin/env python
"""The reduce side of an epoch for a large model: bytes, seconds and memory against R.

Trains one epoch of an LSTM-512 x 2 (4.3 M parameters with the stdlib vocabulary; float32,
average mode, Adam: the default flags) on a small character dataset, once per (runner, R),
each in a fresh process, and prints one JSON line per run:

* ``shuffle_bytes``, ``reducer_bytes_max``: record bytes into all reducers / the largest one
* ``slices``: records per map task (max(R, what the 8 MB record budget needs))
* ``reduce_seconds_max``: the slowest reduce task's time in its reduce calls (sum, add, step)
* ``job_seconds``, ``epoch_seconds``: the MapReduce job and the whole epoch (with validation)
* ``driver_peak_rss_mb``: the driver process (the runner's tasks are other processes)
* ``map_rss_mb_max``, ``reduce_rss_mb_max``: the largest Python task process, against
  ``theta_mb`` (|θ| x 4 bytes)

    python scripts/bench_reduce.py [--runners local,hadoop] [--reducers 1,2,4] [--chars 6000]

``hadoop`` needs the dev cluster (``eval "$(scripts/hadoop-dev-cluster start)"``).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from workdir import add_work_flag, work_dir  # noqa: E402
sys.path.insert(0, os.path.join(REPO, "scripts"))

MODEL = ["--cell", "lstm", "--hidden", "512", "--layers", "2", "--batch", "16"]


def one_run(runner, data, run, reducers, map_tasks):
    """Train one epoch in this process; print the JSON line."""
    from jobs.hadoop.launch import RunnerOptions
    from jobs.mr.train_epoch import slice_plan
    from jobs.training import Limits, RunSpec, train
    from jobs.storage import open_store
    from jobs.run.checkpoint import load_latest

    spec = RunSpec(cell="lstm", hidden=512, layers=2, batch=16)
    result = train(data, run, epochs=1, spec=spec, log=lambda line: None, limits=Limits(),
                   runner=RunnerOptions(runner=runner, reducers=reducers, map_tasks=map_tasks))
    m = result.metrics[0]
    state = load_latest(open_store(run))
    print(json.dumps({
        "runner": runner, "reducers": reducers, "map_tasks": m["map_tasks"],
        "params": int(state.theta.size), "theta_mb": round(state.theta.nbytes / 2**20, 1),
        "slices": slice_plan(state.model, state.optimizer, reducers).count,
        "shuffle_bytes": m["shuffle_bytes"], "reducer_bytes_max": m["reducer_bytes_max"],
        "reduce_seconds_max": round(m["reduce_seconds_max"], 2),
        "job_seconds": round(m["job_seconds"], 1), "epoch_seconds": round(m["seconds"], 1),
        "driver_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "map_rss_mb_max": m["map_rss_mb_max"], "reduce_rss_mb_max": m["reduce_rss_mb_max"]}),
        flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runners", default="local,hadoop")
    parser.add_argument("--reducers", default="1,2,4")
    parser.add_argument("--chars", type=int, default=6000, help="training characters")
    parser.add_argument("--map-tasks", type=int, default=4)
    parser.add_argument("--one", nargs=4, metavar=("RUNNER", "DATA", "RUN", "R"),
                        help=argparse.SUPPRESS)
    add_work_flag(parser)
    args = parser.parse_args()
    if args.one:
        runner, data, run, reducers = args.one
        return one_run(runner, data, run, int(reducers), args.map_tasks)

    from bench_job import stdlib_dataset

    with work_dir(args.work, "bench-reduce-") as work:
        hdfs = f"hdfs:///tmp/bench-reduce/{uuid.uuid4().hex}"
        runners = args.runners.split(",")
        datasets = {}
        for runner in runners:
            if runner == "hadoop" and not os.environ.get("HADOOP_RNN_WEBHDFS_URL"):
                sys.exit('no dev cluster: run eval "$(scripts/hadoop-dev-cluster start)" first')
            data = f"{hdfs}/data" if runner == "hadoop" else os.path.join(work, "data")
            if data not in datasets.values():
                stdlib_dataset(data, args.chars, chunk=50, valid=0.1, shards=args.map_tasks)
            datasets[runner] = data
        try:
            for runner in runners:
                for reducers in map(int, args.reducers.split(",")):
                    run = (f"{hdfs}/run-{reducers}" if runner == "hadoop"
                           else os.path.join(work, f"run-{runner}-{reducers}"))
                    subprocess.run([sys.executable, __file__, "--map-tasks", str(args.map_tasks),
                                    "--one", runner, datasets[runner], run, str(reducers)],
                                   check=True, env={**os.environ, "PYTHONPATH": REPO})
        finally:
            if "hadoop" in runners:
                from jobs.storage import open_store
                open_store(hdfs).client.delete(open_store(hdfs).root, recursive=True)


if __name__ == "__main__":
    main()
