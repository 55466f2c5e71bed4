"""Shared fixtures: small real datasets written in the project's record format, tiny trained
runs, HDFS directories. The functions and constants they use are in tests/helpers.py."""
import inspect
import textwrap

from jobs.hadoop.launch import default_blas_threads

# One BLAS thread in each test process, as the CLI and the tasks have (set before numpy loads,
# unless the environment says otherwise): the workers of -n auto already take every core, and
# OpenBLAS's idle threads spin on cores another worker needs (docs/testing.md, "How long CI
# takes"). The printed figures do not depend on the thread count.
default_blas_threads()

import pytest  # noqa: E402
from helpers import (REPO, SMALL, SUNSPOTS_SERIES, copy_to_store, hadoop_rnn, hdfs_test_dir,
                     make_run, prepare_cli, write_local_framework_conf, write_text_data)

# the test files handed out first, in this order (pytest_collection_modifyitems)
FIRST = {path: rank for rank, path in enumerate([
    "tests/test_readme_walkthroughs.py", "tests/test_kerberos_cluster.py",
    "tests/test_ha_cluster.py", "tests/test_webhdfs_fallback.py"])}

try:
    from _pytest.nodeid import coerce_node_id   # pytest 9 and later
except ImportError:
    coerce_node_id = None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist's ``--dist loadgroup`` (the README's test command), the tests of
    the dev cluster run in two groups, each one test after another on one worker, beside the
    rest on the others: those that run YARN jobs (``yarn``), and those that use only HDFS or
    Hadoop's local framework. The cluster's tests wait on it more than they compute, so two
    workers share them; YARN jobs never run side by side, since one job would wait for the
    other's containers and the two-NodeManager test counts the nodes its tasks ran on.

    The README's walk-throughs, the longest of the other tests, come first, then the tests of
    the production-shape clusters, which mostly wait (on kinit, a failover, `hadoop fs`): the
    scheduler hands out the rest in this order, so none of them starts last and leaves one
    worker running it while the other has nothing to do."""
    items.sort(key=lambda item: FIRST.get(item.nodeid.split("::")[0], len(FIRST)))
    for item in items:
        group = ("yarn" if item.get_closest_marker("yarn")
                 else "hadoop" if item.get_closest_marker("hadoop") else None)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
            # pytest-xdist 3.8 tells the scheduler a test's group by appending it to
            # item._nodeid, which pytest 9 no longer reads (its node id is item._id): without
            # this, --dist loadgroup spreads a group's tests over every worker
            if coerce_node_id and getattr(config.option, "loadgroup", False):
                item._id = coerce_node_id(f"{item.nodeid}@{group}")


@pytest.fixture
def text_data(tmp_path):
    """:func:`write_text_data` with a validation split: (data_dir, meta)."""
    return write_text_data(tmp_path / "data")


@pytest.fixture
def train_only_text_data(tmp_path):
    """:func:`write_text_data` without a validation split: (data_dir, meta)."""
    return write_text_data(tmp_path / "data", validation=False)


@pytest.fixture(scope="session")
def text_run(tmp_path_factory):
    """A tiny character model trained on real text (textwrap's source)."""
    tmp = tmp_path_factory.mktemp("text")
    (tmp / "textwrap.py").write_text(inspect.getsource(textwrap)[:6000])
    return make_run(tmp, ["--kind", "text", tmp / "textwrap.py", "--chunk", 33, "--valid", 0.2])


@pytest.fixture(scope="session")
def series_run(tmp_path_factory):
    """A tiny forecaster trained on real data (yearly sunspots 1700-1759)."""
    tmp = tmp_path_factory.mktemp("series")
    return make_run(tmp, SUNSPOTS_SERIES, epochs=3)


@pytest.fixture
def hdfs_dir():
    """A fresh HDFS directory, as an hdfs:// URI, removed afterwards (needs the dev cluster)."""
    yield from hdfs_test_dir()


@pytest.fixture(scope="session")
def eight_shard_epochs_on_yarn(tmp_path_factory):
    """One average-mode epoch of the :data:`SMALL` model on YARN, on a text dataset of 8
    training shards on HDFS (textwrap's source, no validation split) read one map task per
    shard, run once in task containers (``--no-uber``) and once as an uber job.

    Returns a dict: ``data`` (its URI), ``conf`` (the mrjob.conf that splits per shard),
    ``flags`` (the rest of the command line), ``runs`` {"containers", "uber"} (run URIs).
    The tests that run this epoch another way (in Hadoop's local framework, with a failed
    map attempt) compare with these runs: an epoch on YARN costs tens of seconds. Only tests
    marked ``yarn`` use it, so under xdist it runs once, on their worker.
    """
    tmp = tmp_path_factory.mktemp("eight-shards")
    for hdfs in hdfs_test_dir():
        source = tmp / "textwrap.txt"
        source.write_text(inspect.getsource(textwrap))
        prepare_cli("--kind", "text", source, "--out", tmp / "data", "--shards", 8,
                    "--chunk", 33, "--valid", 0)     # no validation split: no scoring jobs
        data = copy_to_store(tmp / "data", hdfs + "/data").uri()
        conf = tmp / "split-per-shard.conf"
        conf.write_text(f"include: {REPO}/conf/mrjob.conf\nrunners:\n  hadoop:\n    jobconf:\n"
                        "      mapreduce.input.fileinputformat.split.minsize: 1073741824\n")
        flags = ["--runner", "hadoop", "--data", data, *SMALL, "--mode", "average",
                 "--epochs", "1"]
        runs = {"containers": f"{hdfs}/containers", "uber": f"{hdfs}/uber"}
        hadoop_rnn("train", *flags, "--mrjob-conf", str(conf), "--run", runs["containers"],
                   "--no-uber")
        hadoop_rnn("train", *flags, "--mrjob-conf", str(conf), "--run", runs["uber"])
        yield {"data": data, "conf": str(conf), "flags": flags, "runs": runs}


@pytest.fixture
def local_framework_conf(tmp_path):
    """An mrjob.conf that runs the hadoop runner's jobs in Hadoop's local framework."""
    return write_local_framework_conf(tmp_path)
