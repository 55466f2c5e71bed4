#!/usr/bin/env python
"""Per-epoch wall time of training on the dev Hadoop cluster, split into overhead and compute.

Needs a running cluster (``eval "$(scripts/hadoop-dev-cluster start)"``). Prepares a character
corpus of Python's standard library source on HDFS, then trains the same model for
``--epochs`` epochs three ways: with the inline runner (no Hadoop: the reference), with
Hadoop's local framework (one JVM, Streaming against HDFS) and on YARN containers.

Prints one JSON line per (runner, epoch): ``job_seconds`` (the MapReduce job, wall),
``task_compute_seconds`` (BPTT in the map tasks, summed over tasks), ``compute_seconds``
(that divided by the map tasks running at once on YARN, i.e. the compute on the critical
path) and
``overhead_seconds`` (job wall minus critical-path compute: job submission, JVM and
container start-up, the distributed cache, shuffle and the driver's reads), then a median
summary per runner.

    python scripts/bench_hadoop.py [--epochs 3] [--chars 300000] [--slots 2]
"""
import argparse
import json
import os
import statistics
import sys
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "scripts"))

from bench_job import cli_main, stdlib_dataset  # noqa: E402
from jobs.storage import open_store  # noqa: E402
from workdir import add_work_flag, work_dir  # noqa: E402


def local_framework_conf(path, tmp_dir):
    with open(path, "w") as f:
        f.write(f"include: {REPO}/conf/mrjob.conf\nrunners:\n  hadoop:\n"
                f"    hadoop_tmp_dir: file://{tmp_dir}\n"
                "    jobconf:\n      mapreduce.framework.name: local\n")
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--chars", type=int, default=300_000)
    parser.add_argument("--slots", type=int, default=2, help="map tasks YARN runs at once")
    add_work_flag(parser)
    args = parser.parse_args()
    if not os.environ.get("HADOOP_RNN_WEBHDFS_URL"):
        sys.exit('no dev cluster: run eval "$(scripts/hadoop-dev-cluster start)" first')

    with work_dir(args.work, "bench-hadoop-") as work:
        hdfs = f"hdfs:///tmp/bench-hadoop/{uuid.uuid4().hex}"
        for data in (f"{hdfs}/data", os.path.join(work, "data")):  # the inline runner reads local files
            stdlib_dataset(data, args.chars, chunk=129, valid=0.02, shards=2)
        conf = local_framework_conf(os.path.join(work, "mrjob.conf"), os.path.join(work, "tmp"))
        variants = {
            "inline": ["--runner", "inline", "--data", os.path.join(work, "data"),
                       "--run", os.path.join(work, "run-inline")],
            "hadoop-local-framework": ["--runner", "hadoop", "--mrjob-conf", conf,
                                       "--data", f"{hdfs}/data", "--run", f"{hdfs}/run-local"],
            "hadoop-yarn": ["--runner", "hadoop", "--data", f"{hdfs}/data", "--run", f"{hdfs}/run-yarn"],
        }
        for name, flags in variants.items():
            cli_main(["train", *flags, "--epochs", str(args.epochs),
                      "--mode", "average", "--cell", "lstm", "--hidden", "64", "--batch", "32",
                      "--bptt", "64", "--seed", "1"])
            run = open_store(flags[flags.index("--run") + 1])
            rows = []
            for m in map(json.loads, run.read_bytes("metrics.jsonl").decode().splitlines()):
                # inline and Hadoop's local framework run one map task at a time
                compute = m["task_compute_seconds"] / (args.slots if name == "hadoop-yarn" else 1)
                rows.append({"runner": name, "epoch": m["epoch"], "seconds": round(m["seconds"], 2),
                             "job_seconds": round(m["job_seconds"], 2),
                             "task_compute_seconds": round(m["task_compute_seconds"], 2),
                             "compute_seconds": round(compute, 2),
                             "overhead_seconds": round(m["job_seconds"] - compute, 2),
                             "tokens": m["tokens"]})
                print(json.dumps(rows[-1]))
            print(json.dumps({"runner": name, "summary": True, **{
                f"median_{k}": round(statistics.median(r[k] for r in rows), 2)
                for k in ("seconds", "job_seconds", "compute_seconds", "overhead_seconds")}}))
        open_store(hdfs).client.delete(open_store(hdfs).root, recursive=True)


if __name__ == "__main__":
    main()
