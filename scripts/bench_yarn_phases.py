#!/usr/bin/env python
"""Where the seconds of a tiny epoch on YARN go: one JSON line per phase, per epoch.

Needs the dev cluster (``eval "$(scripts/hadoop-dev-cluster start)"``). Trains a tiny model
(about 20 KB of text, LSTM-16) for ``--epochs`` epochs on the hadoop runner, timing each
epoch's phases from mrjob's log lines (driver side) and the JobHistory server (cluster
side):

  driver_before  epoch start -> mrjob starts the step: state file, code zip, ``hadoop
                 version``, uploads of the job's files to HDFS
  submit         the ``hadoop jar`` client JVM: job jar, splits, submission to YARN
  am_start       application submitted -> the MR ApplicationMaster runs the job
  containers     the job runs -> its first map attempt starts (container allocation, JVM)
  maps           first map attempt starts -> last map attempt ends (task JVMs, Python,
                 imports, reading the state, BPTT)
  reduce         last map ends -> the reduce ends (shuffle, sort, the optimizer step)
  job_commit     reduce ends -> the job is finished (output commit, AM shutdown)
  client_notice  job finished -> the client says so (polling)
  driver_after   mrjob reads the output and removes its temporary files; the driver checks
                 θ, validates and commits the checkpoint

Variants (``--variants``): ``hadoop-fs`` (mrjob's own ``hadoop fs`` commands around the
job, and task containers), ``containers`` (jobs.hadoop.webhdfs: no JVM but ``hadoop jar``;
task containers, as ``train --no-uber``), ``uber`` (the default: WebHDFS, and the tiny epoch
runs as an uber job, its tasks inside the ApplicationMaster). A summary line per variant
gives the median epoch ``job_seconds`` and each phase's median. The dev cluster's own
settings (its class archive, HDFS close retries) are not variants: start it with
HADOOP_RNN_DEV_CLUSTER_CDS=0 to measure without the archive.

    python scripts/bench_yarn_phases.py [--epochs 5] [--variants containers,uber]
"""
import argparse
import getpass
import inspect
import json
import logging
import os
import statistics
import sys
import textwrap
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from jobs.hadoop.launch import RunnerOptions  # noqa: E402
from jobs.preparing import prepare  # noqa: E402
from jobs.storage import open_store  # noqa: E402
from jobs.training import RunSpec, train  # noqa: E402
from workdir import add_work_flag, work_dir  # noqa: E402

PHASES = ("driver_before", "submit", "am_start", "containers", "maps", "reduce", "job_commit",
          "client_notice", "driver_after")
JHIST_JSON = ["--jobconf", "mapreduce.jobhistory.jhist.format=json"]  # readable history
VARIANTS = {
    "hadoop-fs": {"webhdfs": False, "uber": False},
    "containers": {"webhdfs": True, "uber": False},
    "uber": {"webhdfs": True, "uber": True},
}


class MrjobEvents(logging.Handler):
    """Records (time, message) of mrjob's log lines."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.events = []

    def emit(self, record):
        self.events.append((record.created, record.getMessage()))

    def first(self, text, after=0.0):
        return next((t for t, m in self.events if t >= after and text in m), None)

    def last(self, text):
        return max((t for t, m in self.events if text in m), default=None)


HISTORY = "/tmp/hadoop-yarn/history/done_intermediate"  # conf/hadoop-dev/mapred-site.xml.in


def job_events(job_id, tries=60):
    """The events of a finished job from its history file (JSON: see JHIST_JSON below)."""
    client = open_store("hdfs:///").client
    user_dir = f"{HISTORY}/{os.environ.get('HADOOP_USER_NAME') or getpass.getuser()}"
    for _ in range(tries):
        names = [n for n in client.list(user_dir) if n.startswith(job_id + "-")
                 and n.endswith(".jhist")] if client.status(user_dir, strict=False) else []
        if names:
            with client.read(f"{user_dir}/{names[0]}") as reader:
                lines = reader.read().decode("utf-8").splitlines()
            return [(e["type"], next(iter(e["event"].values())))
                    for e in map(json.loads, filter(None, lines[2:]))]  # after format and schema
        time.sleep(0.5)  # the AM writes the file as the job ends
    raise RuntimeError(f"no history file of {job_id} under {user_dir}")


def phases(events, started, ended, history):
    """Seconds of each phase of one epoch, from mrjob's log and the job's history events."""
    def times(kind, key):
        return [e[key] / 1000 for t, e in history if t == kind]

    step = events.first("Running step", started)
    submitted = events.first("Submitted application", started)
    done = events.first("completed successfully", started)
    inited = times("JOB_INITED", "launchTime")[0]
    map_starts = times("MAP_ATTEMPT_STARTED", "startTime") or [
        e["startTime"] / 1000 for t, e in history
        if t == "TASK_STARTED" and e["taskType"] == "MAP"]
    first_map = min(map_starts)
    last_map = max(times("MAP_ATTEMPT_FINISHED", "finishTime"))
    reduce_end = max(times("REDUCE_ATTEMPT_FINISHED", "finishTime"), default=last_map)
    finished = times("JOB_FINISHED", "finishTime")[0]
    return {"driver_before": step - started, "submit": submitted - step,
            "am_start": inited - submitted, "containers": first_map - inited,
            "maps": last_map - first_map, "reduce": reduce_end - last_map,
            "job_commit": finished - reduce_end, "client_notice": done - finished,
            "driver_after": ended - done}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--variants", default="containers,uber")
    add_work_flag(parser)
    args = parser.parse_args()
    if not os.environ.get("HADOOP_RNN_WEBHDFS_URL"):
        sys.exit('no dev cluster: run eval "$(scripts/hadoop-dev-cluster start)" first')

    with work_dir(args.work, "bench-yarn-") as work:
        corpus = os.path.join(work, "textwrap.txt")
        with open(corpus, "w") as f:
            f.write(inspect.getsource(textwrap)[:20000])
        hdfs = f"hdfs:///tmp/bench-yarn/{uuid.uuid4().hex}"
        prepare([corpus], f"{hdfs}/data", "text", chunk=50, valid=0, log=lambda line: None)  # no scoring job

        events = MrjobEvents()
        logging.getLogger("mrjob").addHandler(events)
        logging.getLogger("mrjob").setLevel(logging.DEBUG)
        for name in args.variants.split(","):
            variant = VARIANTS[name]
            runner = RunnerOptions(runner="hadoop", extra_args=JHIST_JSON, **variant)
            rows = []
            for epoch in range(1, args.epochs + 1):
                started = time.time()
                train(f"{hdfs}/data", f"{hdfs}/run-{name}", epoch, RunSpec(hidden=16, batch=8),
                      runner, log=lambda line: None)
                ended = time.time()
                job_id = next(m.split("Running job: ")[1].strip() for t, m in reversed(events.events)
                              if "Running job: " in m and t >= started)
                history = job_events(job_id)
                row = {"variant": name, "epoch": epoch, "seconds": round(ended - started, 2),
                       **{k: round(v, 2) for k, v in phases(events, started, ended, history).items()}}
                metrics = json.loads(open_store(f"{hdfs}/run-{name}").read_bytes("metrics.jsonl")
                                     .decode().splitlines()[-1])
                row["job_seconds"] = round(metrics["job_seconds"], 2)
                row["train_loss"] = metrics["train_loss"]
                rows.append(row)
                print(json.dumps(row), flush=True)
            print(json.dumps({"variant": name, "summary": True, "epochs": len(rows), **{
                f"median_{k}": round(statistics.median(r[k] for r in rows), 2)
                for k in ("seconds", "job_seconds") + PHASES}}), flush=True)
        open_store(hdfs).client.delete(open_store(hdfs).root, recursive=True)


if __name__ == "__main__":
    main()
