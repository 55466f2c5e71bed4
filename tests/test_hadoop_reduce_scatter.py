"""θ sliced over R reducers on the dev Hadoop cluster: Hadoop's partitioner and secondary sort,
grouped input splits, and a 4-million-parameter model on YARN containers.

Needs ``eval "$(scripts/hadoop-dev-cluster start)"``; skipped without it, failing under CI=true.
"""
import json
import os
import inspect
import textwrap

import numpy as np
import pytest
from helpers import copy_to_store, hadoop_rnn, load_run_state, prepare_cli, slow_set

from jobs.storage import open_store

pytestmark = pytest.mark.hadoop

TINY_F64 = ["--cell", "lstm", "--hidden", "16", "--batch", "4", "--bptt", "8", "--dtype",
            "float64", "--seed", "2"]


def text_dataset(tmp_path, hdfs_dir, chars, chunk, shards, name):
    """(local dir, HDFS URI) of a text dataset of textwrap's first ``chars`` characters.

    It has no validation split: these tests check θ, and a run on data without one runs no
    scoring job after its epochs."""
    source = tmp_path / f"{name}.txt"
    source.write_text(inspect.getsource(textwrap)[:chars])
    local = tmp_path / name
    prepare_cli("--kind", "text", source, "--chunk", chunk, "--shards", shards, "--valid", 0,
                "--out", local)
    return str(local), copy_to_store(local, f"{hdfs_dir}/{name}").uri()


@pytest.fixture
def twelve_shards(tmp_path, hdfs_dir):
    """A text dataset in 12 training shards of about the same size, on HDFS."""
    return text_dataset(tmp_path, hdfs_dir, 12000, 33, 12, "data12")[1]


def metrics(run):
    return [json.loads(line) for line in open_store(run).read_bytes("metrics.jsonl").splitlines()]


@pytest.mark.parametrize("every_r", [
    pytest.param((1, 7), id="r-1-7"),  # one reducer, and seven: Hadoop's partitioner at work
    pytest.param((1, 2, 4, 7), id="r-1-2-4-7", marks=slow_set(
        "R = 1 and 7 here, R = 1, 2, 4, 7 on the inline runner and 1, 7 on the local one "
        "(test_reduce_scatter.py)"))])
def test_hadoop_partitioner_and_sort_give_the_same_theta_for_any_r_in_3_grouped_tasks(
        twelve_shards, hdfs_dir, local_framework_conf, every_r):
    runs = {}
    for reducers in every_r:
        runs[reducers] = f"{hdfs_dir}/run-r{reducers}"
        hadoop_rnn("train", "--runner", "hadoop", "--mrjob-conf", local_framework_conf,
                   "--data", twelve_shards, "--run", runs[reducers], *TINY_F64,
                   "--mode", "average", "--epochs", "1", "--reducers", str(reducers),
                   "--map-tasks", "3")
    reference = load_run_state(runs[1]).theta.tobytes()
    assert [load_run_state(run).theta.tobytes() == reference
            for run in runs.values()] == [True] * len(every_r)
    for reducers, run in runs.items():
        m = metrics(run)[0]
        assert m["map_tasks"] == 3  # 12 shards grouped into 3 splits (CombineTextInputFormat)
        # Hadoop's partitioner sent slice s to reduce task s % R: every reducer got ~1/R
        assert m["reducer_bytes_max"] < m["shuffle_bytes"] / reducers * 1.25


def small_text_dataset(tmp_path, hdfs_dir):
    """(local dir, HDFS URI) of a 4,000-character text dataset in 2 shards."""
    return text_dataset(tmp_path, hdfs_dir, 4000, 50, 2, "data")


BIG = ["--cell", "lstm", "--hidden", "512", "--layers", "2"]


@pytest.mark.yarn
def test_lstm_512x2_epoch_on_yarn_with_default_flags(tmp_path, hdfs_dir):
    """Issue 17: every map attempt of this model used to die of Java heap exhaustion."""
    _, data = small_text_dataset(tmp_path, hdfs_dir)
    hadoop_rnn("train", "--runner", "hadoop", "--data", data, "--run", f"{hdfs_dir}/default",
               *BIG, "--batch", "16", "--epochs", "1")
    state = load_run_state(f"{hdfs_dir}/default")
    assert state.theta.size > 4_000_000 and state.epoch == 1
    m = metrics(f"{hdfs_dir}/default")[0]
    assert m["map_tasks"] == 2 and m["reducer_bytes_max"] < m["shuffle_bytes"]


@pytest.mark.slow
@pytest.mark.yarn
@pytest.mark.skipif(os.environ.get("HADOOP_RNN_SLOW_TESTS") != "1",
                    reason="slow (~5 min on YARN): set HADOOP_RNN_SLOW_TESTS=1; in CI, "
                    "test_hadoop_training's YARN gradient test checks 3 slices")
def test_lstm_512x2_float64_gradient_epoch_on_yarn_equals_the_inline_runner(tmp_path, hdfs_dir):
    local, data = small_text_dataset(tmp_path, hdfs_dir)
    gradient = BIG + ["--dtype", "float64", "--mode", "gradient", "--batch", "8", "--seed", "4"]
    hadoop_rnn("train", "--runner", "hadoop", "--data", data, "--run", f"{hdfs_dir}/grad",
               *gradient, "--epochs", "1")
    inline = str(tmp_path / "inline")
    hadoop_rnn("train", "--runner", "inline", "--data", local, "--run", inline, *gradient,
               "--epochs", "1")
    on_yarn = load_run_state(f"{hdfs_dir}/grad").theta
    reference = load_run_state(inline).theta
    assert np.max(np.abs(on_yarn - reference)) <= 1e-9 * np.max(np.abs(reference))
