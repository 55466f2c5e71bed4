"""What an epoch job asks of the cluster: reducers, map tasks and container memory, from |θ|.

Each map task's output is cut into slice records of at most
:data:`jobs.mr.slices.RECORD_BUDGET` bytes (B), so a task JVM's heap need not grow with the
model; its Python child does, since it holds θ. With P = |θ| x itemsize (bytes of θ)::

    map JVM heap        = JVM_BASE_MB + io.sort.mb + 4 B             (then at least the configured -Xmx)
    reduce JVM heap     = JVM_BASE_MB + 8 B                          (then at least the configured -Xmx)
    map Python          = PY_BASE_MB + PY_THETA_COPIES x P           (θ, optimizer slots, step temporaries)
    reduce Python       = PY_BASE_MB + 12 B                          (a few records and one slice)
    container (map)     = map heap + JVM_OVERHEAD_MB + map Python    (then at least the configured size)
    container (reduce)  = reduce heap + JVM_OVERHEAD_MB + reduce Python

rounded up to 128 MB. A small job runs as an *uber* job (see :func:`uber_jobconf`): its
tasks run one after another inside the ApplicationMaster's container, which is then sized as
``AM heap + map heap + JVM_OVERHEAD_MB + map Python``. A container larger than the cluster
allows (``yarn.scheduler.maximum-allocation-mb``) is an error before the job is submitted; so the
largest model a cluster trains has P = (max allocation - map heap - JVM_OVERHEAD_MB -
PY_BASE_MB) / PY_THETA_COPIES. The constants were measured with scripts/bench_reduce.py.

Job settings are read the way Hadoop's job client reads them: the client configuration in
``$HADOOP_CONF_DIR`` (``mapred-site.xml``, ``yarn-site.xml``), Hadoop's defaults otherwise.
"""
import math
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from jobs.hadoop.launch import UBER_ENABLE
from jobs.mr.slices import RECORD_BUDGET

MB = 1024 * 1024
JVM_BASE_MB = 160        # a task JVM's own heap use (Hadoop, Streaming, buffers)
JVM_OVERHEAD_MB = 256    # a JVM's memory outside its heap (metaspace, threads, code)
PY_BASE_MB = 200         # a Python task with numpy and mrjob loaded, small minibatches
PY_THETA_COPIES = 16     # vectors of θ's size a map task's Python holds at its peak
DEFAULT_SORT_MB = 100    # mapreduce.task.io.sort.mb
DEFAULT_MAX_ALLOCATION_MB = 8192  # yarn.scheduler.maximum-allocation-mb
DEFAULT_CONTAINER_MB = 1024       # mapreduce.{map,reduce}.memory.mb
DEFAULT_AM_HEAP_MB = 1024         # -Xmx of yarn.app.mapreduce.am.command-opts
DEFAULT_UBER_MAX_MAPS = 9         # mapreduce.job.ubertask.maxmaps
# An uber job saves the start of its map and reduce containers: 4 s a job on the dev
# cluster (13.6 s against 9.4 s, docs/scaling.md), more on a busy cluster. It pays for that by running its map
# tasks one after another, so a job is made uber only while that costs less than this.
UBER_MAX_LOST_SECONDS = 4.0
# BPTT seconds per token on one core, a + b x |θ|: a float64 LSTM on a shared core (an
# idle core runs a float32 one 4 times faster: scripts/cost_model.py measure,
# docs/cost_constants.json). An upper bound, so that a job is uber only if it is small.
TOKEN_SECONDS_A = 4.0e-5
TOKEN_SECONDS_B = 3.0e-10
ROUND_MB = 128


class ClusterTooSmall(ValueError):
    """The model needs larger containers than the cluster allows; the message says what to raise."""


def hadoop_conf(name, default=None, conf_dir=None):
    """A property of the Hadoop client configuration ($HADOOP_CONF_DIR/*-site.xml), or default."""
    conf_dir = conf_dir or os.environ.get("HADOOP_CONF_DIR")
    if not conf_dir:
        return default
    for site in ("mapred-site.xml", "yarn-site.xml", "core-site.xml"):
        path = os.path.join(conf_dir, site)
        if not os.path.exists(path):
            continue
        for prop in ET.parse(path).getroot().iter("property"):
            if prop.findtext("name") == name:
                return prop.findtext("value")
    return default


def _round_up(mb):
    return int(math.ceil(mb / ROUND_MB) * ROUND_MB)


def _xmx_mb(java_opts):
    """The -Xmx of JVM options in MB (None if absent)."""
    match = re.search(r"-Xmx(\d+)([kKmMgG]?)", java_opts or "")
    if not match:
        return None
    value, unit = int(match.group(1)), match.group(2).lower()
    return {"k": value / 1024, "m": value, "g": value * 1024, "": value / MB}[unit]


def _with_xmx(java_opts, heap_mb):
    """JVM options with their -Xmx set to ``heap_mb`` (other options kept)."""
    if _xmx_mb(java_opts) is None:
        return f"{java_opts or ''} -Xmx{heap_mb}m".strip()
    return re.sub(r"-Xmx\d+[kKmMgG]?", f"-Xmx{heap_mb}m", java_opts)


@dataclass(frozen=True)
class TaskMemory:
    """Container and heap sizes of one kind of task (MB), with the parts they add up from."""

    kind: str          # "map" or "reduce"
    heap_mb: int
    python_mb: int
    container_mb: int


def task_memory(theta_bytes, conf=hadoop_conf):
    """(map, reduce) :class:`TaskMemory` for a θ of ``theta_bytes`` bytes, following the
    formulas of the module docstring and never below the configured sizes."""
    budget_mb = RECORD_BUDGET / MB
    sort_mb = int(conf("mapreduce.task.io.sort.mb", DEFAULT_SORT_MB))
    needs = {"map": (JVM_BASE_MB + sort_mb + 4 * budget_mb,
                     PY_BASE_MB + PY_THETA_COPIES * theta_bytes / MB),
             "reduce": (JVM_BASE_MB + 8 * budget_mb, PY_BASE_MB + 12 * budget_mb)}
    out = []
    for kind, (heap, python) in needs.items():
        heap = _round_up(max(heap, _xmx_mb(conf(f"mapreduce.{kind}.java.opts")) or 0))
        python = _round_up(python)
        configured = int(conf(f"mapreduce.{kind}.memory.mb", DEFAULT_CONTAINER_MB))
        container = max(configured, _round_up(heap + JVM_OVERHEAD_MB + python))
        out.append(TaskMemory(kind, heap, python, container))
    return tuple(out)


def memory_jobconf(theta_bytes, conf=hadoop_conf):
    """The ``--jobconf`` settings of container and heap sizes for a θ of ``theta_bytes``.

    Raises :class:`ClusterTooSmall` when a container would exceed the cluster's maximum.
    """
    limit = int(conf("yarn.scheduler.maximum-allocation-mb", DEFAULT_MAX_ALLOCATION_MB))
    settings = {}
    for memory in task_memory(theta_bytes, conf):
        if memory.container_mb > limit:
            raise ClusterTooSmall(
                f"a {memory.kind} task of this model needs a {memory.container_mb} MB container "
                f"(JVM heap {memory.heap_mb} MB + {JVM_OVERHEAD_MB} MB + Python "
                f"{memory.python_mb} MB for θ of {theta_bytes / MB:.0f} MB), but the cluster "
                f"allows at most {limit} MB (yarn.scheduler.maximum-allocation-mb): raise it on "
                "the ResourceManager, or train a smaller model. Nothing was submitted.")
        settings[f"mapreduce.{memory.kind}.memory.mb"] = memory.container_mb
        settings[f"mapreduce.{memory.kind}.java.opts"] = _with_xmx(
            conf(f"mapreduce.{memory.kind}.java.opts"), memory.heap_mb)
    return settings


def uber_jobconf(input_bytes, map_tasks, reducers, theta_size, theta_bytes, conf=hadoop_conf):
    """The settings that run a small job as an uber job, or {} for a job that is not small.

    An uber job (``mapreduce.job.ubertask.enable``) runs its tasks inside the MapReduce
    ApplicationMaster's JVM, one after another, so no task container starts. It is worth it
    when running the ``map_tasks`` map tasks in sequence instead of side by side loses less
    than :data:`UBER_MAX_LOST_SECONDS`, estimated as (1 - 1/N) x the job's BPTT seconds on
    one core, taking every byte of ``input_bytes`` as a token (at least one byte per token).
    One map task loses nothing. Hadoop allows at most one reducer and
    ``mapreduce.job.ubertask.maxmaps`` map tasks, and itself declines an input larger than
    ``mapreduce.job.ubertask.maxbytes`` (an HDFS block). The ApplicationMaster is sized to
    hold the map task too: its heap plus the map's, its container plus the map's Python.
    ``input_bytes`` may be a function returning it, called only for a job of one reducer and
    few map tasks (sizing a large job's shards would cost the driver a call per shard).
    """
    max_maps = int(conf("mapreduce.job.ubertask.maxmaps", DEFAULT_UBER_MAX_MAPS))
    if reducers != 1 or map_tasks > max_maps:
        return {}
    if callable(input_bytes):
        input_bytes = input_bytes()
    bptt_seconds = input_bytes * (TOKEN_SECONDS_A + TOKEN_SECONDS_B * theta_size)
    if bptt_seconds * (1 - 1 / max(1, map_tasks)) > UBER_MAX_LOST_SECONDS:
        return {}
    map_memory, reduce_memory = task_memory(theta_bytes, conf)
    am_opts = conf("yarn.app.mapreduce.am.command-opts")
    am_heap = _round_up((_xmx_mb(am_opts) or DEFAULT_AM_HEAP_MB) + map_memory.heap_mb)
    am_mb = max(am_heap + JVM_OVERHEAD_MB + map_memory.python_mb,
                map_memory.container_mb, reduce_memory.container_mb)
    if am_mb > int(conf("yarn.scheduler.maximum-allocation-mb", DEFAULT_MAX_ALLOCATION_MB)):
        return {}
    return {UBER_ENABLE: "true",
            "yarn.app.mapreduce.am.resource.mb": am_mb,
            "yarn.app.mapreduce.am.command-opts": _with_xmx(am_opts, am_heap)}


def split_jobconf(input_bytes, map_tasks):
    """Settings that group ``input_bytes`` of input into about ``map_tasks`` splits, with the
    job's ``--combine-splits`` (CombineTextInputFormat: a split takes blocks of one node, then
    of one rack, until it reaches the max size; a file larger than that is cut)."""
    max_size = max(1, math.ceil(input_bytes / map_tasks))
    return {"mapreduce.input.fileinputformat.split.maxsize": max_size,
            # Streaming hands the mapper only the line for TextInputFormat, not for others
            "stream.map.input.ignoreKey": "true"}


def default_reducers(bytes_per_task, map_tasks):
    """R when not given: as many as one task's output needs records of the budget (so a big
    model's reduce work is spread), at most one per map task, at least 1."""
    return max(1, min(map_tasks, math.ceil(bytes_per_task * 4 / 3 / RECORD_BUDGET)))
