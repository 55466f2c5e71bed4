"""A pytest plugin: the CPU seconds of each test, its own and its processes', as JSON lines.

On 2 busy cores CI's time follows its CPU time, which ``--durations`` does not show: a test
that waits on a YARN job is long but cheap, one that starts twenty Python processes short
but dear. Each test (setup, call and teardown) appends a line to $CPU_PER_TEST_OUT:

    {"test": NODE_ID, "self": S, "children": C, "cluster": K, "wall": W}

``self`` is the pytest process's CPU, ``children`` that of the processes it waited for (and
theirs), ``cluster`` that of the dev cluster's JVM in $HADOOP_RNN_DEV_CLUSTER_DIR (its YARN
containers included, 0 without one), all in CPU-seconds, and ``wall`` in seconds. Under
xdist each worker writes its tests' lines; ``cluster`` is only the test's own when the
cluster's tests run one at a time (``-n 0``).

    PYTHONPATH=scripts CPU_PER_TEST_OUT=/tmp/cpu.jsonl python -m pytest -p cpu_per_test -n 2 tests
"""
import json
import os
import resource
import time

import pytest

OUT = "CPU_PER_TEST_OUT"


def _rusage_seconds(who):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def cluster_seconds():
    """CPU-seconds of the dev cluster's JVM and its waited-for children, or 0 without one."""
    try:
        with open(os.path.join(os.environ["HADOOP_RNN_DEV_CLUSTER_DIR"], "cluster.pid")) as f:
            pid = f.read().strip()
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (KeyError, OSError, IndexError):
        return 0.0
    return sum(int(ticks) for ticks in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def counters():
    return {"self": _rusage_seconds(resource.RUSAGE_SELF),
            "children": _rusage_seconds(resource.RUSAGE_CHILDREN),
            "cluster": cluster_seconds(), "wall": time.monotonic()}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    path = os.environ.get(OUT)
    before = counters() if path else None
    yield
    if path:
        after = counters()
        line = {"test": item.nodeid, **{k: round(after[k] - before[k], 2) for k in before}}
        with open(path, "a") as f:
            f.write(json.dumps(line) + "\n")
