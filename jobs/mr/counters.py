"""The Hadoop counters hadoop-rnn's jobs report, and reading them back in the driver."""
import os
import socket
import resource
from urllib.parse import urlparse

from mrjob.compat import jobconf_from_env

COUNTERS = "hadoop-rnn"
BAD_BY_REASON = "hadoop-rnn bad records by reason"
BAD_BY_SHARD = "hadoop-rnn bad records by shard"
TASKS_BY_NODE = "hadoop-rnn map tasks by node"
# bytes of the record lines each reduce task read, one counter per reduce task
# ("reducer 000003"), summed over the job's steps
REDUCE_INPUT_BYTES = "hadoop-rnn reduce input bytes"
# per task ("map 000002", "reducer 000001 step 0"): its Python process's peak RSS in kB, and
# for reducers the milliseconds spent in reduce calls
TASK_PEAK_RSS = "hadoop-rnn task peak RSS kB"
REDUCE_MILLISECONDS = "hadoop-rnn reduce milliseconds"


def current_shard():
    """The file name of the input split this map task reads ("input" when unknown)."""
    return os.path.basename(jobconf_from_env("mapreduce.map.input.file", "") or "input")


def current_split():
    """(path, start) of the input split this map task reads: the file's path without scheme
    and host (see :func:`input_path`) and the byte offset where the split begins."""
    return (input_path(jobconf_from_env("mapreduce.map.input.file", "")),
            int(jobconf_from_env("mapreduce.map.input.start", "0")))


def input_path(uri):
    """The path of a file URI or path, normalized: ``hdfs://nn:8020/d/x``, ``hdfs:///d/x``,
    ``file:///d/x`` and ``/d/x`` are all ``/d/x``."""
    return os.path.normpath(urlparse(str(uri)).path)


def current_node():
    """The node this task runs on: ``HOST:PORT`` of its YARN NodeManager, else the host name.

    YARN puts NM_HOST and NM_PORT into every container's environment; the port tells apart
    the NodeManagers of a dev cluster, which all run on one host.
    """
    host, port = os.environ.get("NM_HOST"), os.environ.get("NM_PORT")
    return f"{host}:{port}" if host and port else socket.gethostname()


def count_bad_record(job, bad, shard):
    """Count a skipped record (a :class:`jobs.data.records.BadRecord`) by reason and by shard."""
    job.increment_counter(COUNTERS, "bad records")
    job.increment_counter(BAD_BY_REASON, bad.reason)
    job.increment_counter(BAD_BY_SHARD, shard)


def failed_map_attempts(counters):
    """Map task attempts Hadoop re-ran in the job (its "Job Counters" group; 0 off Hadoop)."""
    return sum(int(names.get("Failed map tasks", 0)) for group, names in counters.items()
               if group.strip() == "Job Counters")


def ran_as_uber_job(counters):
    """Whether Hadoop ran the job's tasks inside its ApplicationMaster (an uber job)."""
    return any(int(names.get("TOTAL_LAUNCHED_UBERTASKS", 0)) > 0   # its name, no label
               for group, names in counters.items() if group.strip() == "Job Counters")


def reduce_input_bytes(counters):
    """(total, largest reduce task's) bytes of record lines read by the reducers."""
    per_task = counters.get(REDUCE_INPUT_BYTES, {}).values()
    return sum(per_task), max(per_task, default=0)


def peak_rss_kb():
    """This process's peak resident set size in kB (Linux's ru_maxrss unit)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def task_peaks(counters):
    """{"map_rss_mb_max", "reduce_rss_mb_max", "reduce_seconds_max"} of a job's counters
    (the largest over its tasks; 0 when unknown)."""
    rss = counters.get(TASK_PEAK_RSS, {})
    return {"map_rss_mb_max": round(max([v for k, v in rss.items() if k.startswith("map")],
                                        default=0) / 1024, 1),
            "reduce_rss_mb_max": round(max([v for k, v in rss.items() if k.startswith("reduc")],
                                           default=0) / 1024, 1),
            "reduce_seconds_max": max(counters.get(REDUCE_MILLISECONDS, {}).values(),
                                      default=0) / 1000}
