"""Shared fixtures: small real datasets written in the project's record format, tiny trained
runs, HDFS directories. The functions and constants they use are in tests/helpers.py."""
import inspect
import textwrap
import uuid

import pytest
from helpers import REPO, SUNSPOTS_SERIES, make_run, require_dev_cluster, write_text_data

from jobs.storage import open_store


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist's ``--dist loadgroup`` (the README's test command), the tests of
    the dev cluster run one after another on one worker, beside the rest on the others: the
    cluster is one machine's YARN, and its tests wait on it more than they compute."""
    for item in items:
        if item.get_closest_marker("hadoop"):
            item.add_marker(pytest.mark.xdist_group("hadoop"))


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
    require_dev_cluster()
    uri = f"hdfs:///tmp/hadoop-rnn-tests/{uuid.uuid4().hex}"
    store = open_store(uri)
    store.makedirs()
    yield uri
    store.client.delete(store.root, recursive=True)


@pytest.fixture
def local_framework_conf(tmp_path):
    """An mrjob.conf that runs the hadoop runner's jobs in Hadoop's local framework."""
    path = tmp_path / "mrjob-local-framework.conf"
    path.write_text(f"""include: {REPO}/conf/mrjob.conf
runners:
  hadoop:
    hadoop_tmp_dir: file://{tmp_path}/hadoop-tmp
    jobconf:
      mapreduce.framework.name: local
""")
    return str(path)
