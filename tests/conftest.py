"""Shared fixtures: small real datasets written in the project's record format."""
import inspect
import os
import shutil
import textwrap
import uuid
from pathlib import Path

import numpy as np
import pytest

from jobs.data.dataset import write_dataset
from jobs.cli import parse_args
from jobs.commands.prepare import prepare_kwargs
from jobs.commands.train import exit_code, train_kwargs
from jobs.data.chunks import cut_chunks
from jobs.preparing import prepare
from jobs.training import train
from jobs.storage import open_store


def text_chunks(text, vocab, chunk, prefix):
    """Cut ``text`` into chunk records of ``chunk`` ids overlapping by one."""
    index = {ch: i for i, ch in enumerate(vocab)}
    ids = np.array([index[ch] for ch in text], dtype=np.int64)
    return [(f"{prefix}/{n}", values) for n, (values, _) in enumerate(cut_chunks(ids, chunk))]


def write_text_data(data_dir, validation=True):
    """A character dataset from real text (textwrap's source), with shards of unequal size.

    ``validation``: whether it has a validation split (without one, training runs no
    scoring job: tests on the cluster that do not check validation save a job per run).
    Returns (data_dir, meta).
    """
    source = inspect.getsource(textwrap)
    train_text, valid_text = source[:6000], source[6000:7500]
    vocab = sorted(set(train_text) | set(valid_text))
    train = text_chunks(train_text, vocab, 33, "textwrap")
    valid = text_chunks(valid_text, vocab, 33, "textwrap-valid") if validation else []
    train_counts = [train_text.count(symbol) for symbol in vocab]  # the unigram baseline's
    meta = write_dataset(str(data_dir), "text", {"train": train, "valid": valid}, shards=3,
                         vocab=vocab, chunk=33, train_counts=train_counts)
    # make the shards unequal: move lines from the first shard to the last
    first, last = data_dir / meta["train"][0], data_dir / meta["train"][-1]
    lines = first.read_text().splitlines(keepends=True)
    first.write_text("".join(lines[:7]))
    last.write_text(last.read_text() + "".join(lines[7:]))
    return str(data_dir), meta


@pytest.fixture
def text_data(tmp_path):
    """:func:`write_text_data` with a validation split: (data_dir, meta)."""
    return write_text_data(tmp_path / "data")


@pytest.fixture
def train_only_text_data(tmp_path):
    """:func:`write_text_data` without a validation split: (data_dir, meta)."""
    return write_text_data(tmp_path / "data", validation=False)



SUNSPOTS_CSV = os.path.join(os.path.dirname(__file__), "data", "sunspots_1700_1759.csv")
TINY = ["--hidden", "8", "--batch", "4", "--dtype", "float64", "--lr", "0.01"]


def cli_args(*argv):
    """The Namespace ``hadoop-rnn argv...`` gives its command's main."""
    return parse_args([str(a) for a in argv])


def quiet(line):
    """A log function that drops its lines."""


def prepare_cli(*argv, log=None):
    """``hadoop-rnn prepare argv...`` through the Python API; returns the meta dict."""
    return prepare(**prepare_kwargs(cli_args("prepare", *argv)), log=log or quiet)


def train_cli(*argv, log=None):
    """``hadoop-rnn train argv...`` through the Python API; returns the exit code."""
    return exit_code(train(**train_kwargs(cli_args("train", *argv)), log=log or quiet))


def make_run(tmp, prepare_argv, epochs=2):
    """Prepare a dataset and train a tiny model on it; return (data_dir, run_dir)."""
    data, run = str(tmp / "data"), str(tmp / "run")
    prepare_cli(*prepare_argv, "--out", data)
    train_cli("--data", data, "--run", run, "--epochs", epochs, *TINY)
    return data, run


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
    return make_run(tmp, ["--kind", "series", SUNSPOTS_CSV, "--column", "SUNACTIVITY",
                          "--chunk", 12, "--valid", 0.2], epochs=3)


def require_dev_cluster():
    """Skip the test unless the dev Hadoop cluster's environment is set; under CI=true, fail."""
    missing = [what for what, ok in [
        ("HADOOP_RNN_WEBHDFS_URL is not set", os.environ.get("HADOOP_RNN_WEBHDFS_URL")),
        ("no `hadoop` on PATH", shutil.which("hadoop"))] if not ok]
    if missing:
        msg = (f"Hadoop dev cluster not available ({'; '.join(missing)}); run "
               'eval "$(scripts/hadoop-dev-cluster start)" first')
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)


@pytest.fixture
def hdfs_dir():
    """A fresh HDFS directory, as an hdfs:// URI, removed afterwards (needs the dev cluster)."""
    require_dev_cluster()
    uri = f"hdfs:///tmp/hadoop-rnn-tests/{uuid.uuid4().hex}"
    store = open_store(uri)
    store.makedirs()
    yield uri
    store.client.delete(store.root, recursive=True)


def copy_to_store(local_dir, uri):
    """Copy a local directory tree (e.g. a dataset) to a store URI; return the store."""
    store = open_store(uri)
    for path in Path(local_dir).rglob("*"):
        if path.is_file():
            store.write_bytes(path.relative_to(local_dir).as_posix(), path.read_bytes())
    return store
