"""Tests of the Hadoop development cluster (scripts/hadoop-dev-cluster).

They need a running cluster in the environment:

    eval "$(scripts/hadoop-dev-cluster start)"
    python -m pytest tests/test_dev_cluster.py -m hadoop

Without one (no HADOOP_RNN_WEBHDFS_URL or no `hadoop` on PATH) they are
skipped, except under CI=true, where they fail: CI must start the cluster.
"""
import getpass
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter

import pytest
from helpers import require_dev_cluster

pytestmark = pytest.mark.hadoop

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
WEBHDFS_URL = os.environ.get("HADOOP_RNN_WEBHDFS_URL")
HADOOP_BIN = shutil.which("hadoop")
USER = os.environ.get("HADOOP_USER_NAME") or getpass.getuser()

TEXT = "the quick brown fox\njumps over the lazy dog\nThe dog barks\n"


@pytest.fixture(scope="module", autouse=True)
def dev_cluster():
    require_dev_cluster()


@pytest.fixture
def hdfs_path():
    """A fresh HDFS dir for one test, removed afterwards."""
    path = "/tmp/test-dev-cluster/%s" % uuid.uuid4().hex
    hadoop("fs", "-mkdir", "-p", path)
    yield path
    subprocess.run([HADOOP_BIN, "fs", "-rm", "-r", "-f", "-skipTrash", path],
                   capture_output=True)


def hadoop(*args, check=True, input=None):
    proc = subprocess.run([HADOOP_BIN, *args], capture_output=True,
                          text=True, input=input, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError("hadoop %s exited %d:\n%s" % (
            " ".join(args), proc.returncode, proc.stderr))
    return proc


def test_hadoop_version_is_parsable_by_mrjob():
    out = hadoop("version").stdout
    assert out.startswith("Hadoop 3."), out


def test_fs_put_ls_cat_round_trip(hdfs_path, tmp_path):
    local = tmp_path / "words.txt"
    local.write_text(TEXT)
    hadoop("fs", "-put", str(local), hdfs_path + "/words.txt")

    ls = hadoop("fs", "-ls", hdfs_path)
    assert hdfs_path + "/words.txt" in ls.stdout
    assert ls.stderr == ""

    cat = hadoop("fs", "-cat", hdfs_path + "/words.txt")
    assert cat.stdout == TEXT
    assert cat.stderr == ""


def test_fs_ls_missing_path_stderr_is_only_no_such_file(hdfs_path):
    # mrjob's HadoopFilesystem.exists() treats exit 1 as "missing" only when
    # ALL of stderr is the "No such file or directory" line.
    missing = hdfs_path + "/does-not-exist"
    proc = hadoop("fs", "-ls", missing, check=False)
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("ls: ")
    assert "No such file or directory" in lines[0]

    from mrjob.fs.hadoop import HadoopFilesystem
    fs = HadoopFilesystem([HADOOP_BIN])
    assert not fs.exists(missing)
    assert fs.exists(hdfs_path)


def test_webhdfs_write_read(hdfs_path):
    from hdfs import InsecureClient

    client = InsecureClient(WEBHDFS_URL, user=USER)
    path = hdfs_path + "/webhdfs.txt"
    client.write(path, data=TEXT, encoding="utf-8")
    with client.read(path, encoding="utf-8") as reader:
        assert reader.read() == TEXT
    assert client.status(path)["length"] == len(TEXT.encode())
    # and the hadoop CLI sees the same file
    assert hadoop("fs", "-cat", path).stdout == TEXT


def _expected_counts():
    return Counter(w.lower() for w in re.findall(r"[\w']+", TEXT * 3))


def _run_wordcount(hdfs_path, extra_args=()):
    sys.path.insert(0, TESTS_DIR)
    try:
        from mr_wordcount_devcluster import MRWordCountDevCluster
    finally:
        sys.path.remove(TESTS_DIR)

    for i in range(3):  # 3 input files -> several map tasks
        hadoop("fs", "-put", "-", "%s/input/part-%d.txt" % (hdfs_path, i),
               input=TEXT)

    # unqualified paths would be local to mrjob: use hdfs:// URIs
    uri = os.environ.get("HADOOP_RNN_HDFS_URI", "hdfs://").rstrip("/")
    job = MRWordCountDevCluster([
        "-r", "hadoop",
        "--python-bin", sys.executable,
        "--no-conf",
        "--output-dir", uri + hdfs_path + "/output",
        *extra_args,
        uri + hdfs_path + "/input",
    ])
    start = time.monotonic()
    with job.make_runner() as runner:
        runner.run()
        counts = dict(job.parse_output(runner.cat_output()))
    return counts, time.monotonic() - start


def _yarn_history_jobs():
    """Job ids the MR ApplicationMasters recorded in the history dirs."""
    proc = hadoop("fs", "-ls", "-R", "/tmp/hadoop-yarn/history", check=False)
    return set(re.findall(r"(job_\d+_\d+)[^/\s]*\.jhist", proc.stdout))


@pytest.mark.slow
@pytest.mark.yarn
@pytest.mark.skipif(os.environ.get("HADOOP_RNN_SLOW_TESTS") != "1",
                    reason="slow: set HADOOP_RNN_SLOW_TESTS=1; in CI, every test marked yarn "
                    "runs mrjob jobs in YARN's containers (the two-NodeManager test counts them)")
def test_mrjob_wordcount_on_yarn(hdfs_path):
    before = _yarn_history_jobs()
    counts, elapsed = _run_wordcount(hdfs_path)
    print("word count on YARN: %.1f s" % elapsed)
    assert counts == _expected_counts()
    # the job really ran in YARN containers: its MR ApplicationMaster wrote
    # a job history file (jobs of the local framework write none)
    assert _yarn_history_jobs() - before


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("HADOOP_RNN_SLOW_TESTS") != "1",
                    reason="slow: set HADOOP_RNN_SLOW_TESTS=1; in CI, every test with the "
                    "local_framework_conf fixture runs its jobs this way")
def test_mrjob_wordcount_local_framework(hdfs_path, tmp_path):
    # Fast mode: Streaming runs inside the `hadoop jar` JVM (no YARN
    # containers), reading and writing HDFS. Hadoop's LocalJobRunner stages
    # files on the local disk and drops their scheme, so files that mrjob
    # uploaded to HDFS are then looked up on HDFS and "do not exist": let
    # mrjob keep its working files on the local disk instead.
    counts, elapsed = _run_wordcount(hdfs_path, [
        "-D", "mapreduce.framework.name=local",
        "--hadoop-tmp-dir", "file://%s/mrjob" % tmp_path,
    ])
    print("word count with mapreduce.framework.name=local: %.1f s" % elapsed)
    assert counts == _expected_counts()


def test_start_writes_an_mrjob_conf_whose_python_runs_numpy():
    path = os.path.join(os.environ["HADOOP_RNN_DEV_CLUSTER_DIR"], "mrjob.conf")
    python = re.search(r"^\s+python_bin: (\S+)$", open(path).read(), re.M).group(1)
    assert os.path.isabs(python)
    subprocess.run([python, "-c", "import numpy"], check=True)
