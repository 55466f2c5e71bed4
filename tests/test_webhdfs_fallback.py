"""Where WebHDFS cannot be reached but ``hadoop fs`` works, the driver's HDFS operations go
through ``hadoop fs``, slower, said once.

Needs ``scripts/hadoop-dev-cluster start --no-webhdfs`` (its client configuration names NameNode
HTTP addresses nothing listens on) with its state directory in HADOOP_RNN_NO_WEBHDFS_CLUSTER_DIR
(skipped otherwise). Every ``hadoop fs`` is a JVM: the test keeps to a few operations.
"""
import subprocess
import sys
import uuid

import pytest
from helpers import REPO, shape_cluster_env

pytestmark = [pytest.mark.no_webhdfs, pytest.mark.xdist_group("no-webhdfs")]

STORE_ROUND_TRIP = """
import sys
from jobs.storage import open_store
store = open_store(sys.argv[1])
store.write_bytes("a/x.txt", b"one")
store.rename("a/x.txt", "a/y.txt")
print(store.read_bytes("a/y.txt").decode(), store.list("a"), store.status("a")["type"])
store.remove_tree()
print(store.exists())
"""


def test_without_webhdfs_the_store_works_through_hadoop_fs_and_says_so_once():
    env = shape_cluster_env("no-webhdfs")
    uri = f"hdfs:///tmp/hadoop-rnn-tests/{uuid.uuid4().hex}"
    done = subprocess.run([sys.executable, "-c", STORE_ROUND_TRIP, uri], capture_output=True,
                          text=True, env={**env, "PYTHONPATH": REPO}, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == ["one ['y.txt'] DIRECTORY", "False"]
    said = [line for line in done.stderr.splitlines() if "WebHDFS cannot be reached" in line]
    assert len(said) == 1 and "through `" in said[0] and "hadoop fs` instead" in said[0]
