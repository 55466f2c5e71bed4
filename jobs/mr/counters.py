"""The Hadoop counters hadoop-rnn's jobs report, and reading them back in the driver."""
import os
import socket

from mrjob.compat import jobconf_from_env

COUNTERS = "hadoop-rnn"
BAD_BY_REASON = "hadoop-rnn bad records by reason"
BAD_BY_SHARD = "hadoop-rnn bad records by shard"
TASKS_BY_NODE = "hadoop-rnn map tasks by node"


def current_shard():
    """The file name of the input split this map task reads ("input" when unknown)."""
    return os.path.basename(jobconf_from_env("mapreduce.map.input.file", "") or "input")


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
