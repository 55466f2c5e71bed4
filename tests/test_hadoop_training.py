"""Training on the dev Hadoop cluster: data and run directory on HDFS, epochs as Hadoop jobs.

Needs ``eval "$(scripts/hadoop-dev-cluster start)"``; skipped without it, failing under CI=true.
The tests marked ``yarn`` run on real YARN containers; the others use Hadoop's local framework
(``mapreduce.framework.name=local``: Streaming in one JVM against HDFS), which is faster, or
keep only the run directory on HDFS.
"""
import os

import numpy as np
import pytest
from helpers import (SMALL, copy_to_store, hadoop_rnn, hdfs_test_dir, load_run_state,
                     slow_set, write_local_framework_conf, write_text_data)

from jobs.storage import open_store

pytestmark = pytest.mark.hadoop


@pytest.mark.parametrize("on_yarn", [
    pytest.param(False, id="local framework"),
    pytest.param(True, id="yarn", marks=[pytest.mark.yarn, *slow_set(
        "its local framework case: the same two-step job through Hadoop's partitioner and "
        "sort on HDFS; the epochs on YARN run the hadoop runner's jobs in task containers")])])
def test_gradient_epoch_in_three_slices_with_a_clip_equals_the_inline_runner(
        train_only_text_data, hdfs_dir, tmp_path, on_yarn):
    text_data = train_only_text_data   # no validation split: no scoring job after the epoch
    data = copy_to_store(text_data[0], hdfs_dir + "/data")
    run = f"{hdfs_dir}/run"
    conf = [] if on_yarn else ["--mrjob-conf", write_local_framework_conf(tmp_path)]
    # θ in 3 slices over 3 reduce tasks, clipped to the exact global norm (the job's 2nd step)
    hadoop_rnn("train", "--runner", "hadoop", *conf, "--data", data.uri(), "--run", run, *SMALL,
               "--mode", "gradient", "--epochs", "1", "--reducers", "3", "--clip", "0.05")
    inline = str(tmp_path / "inline-run")
    hadoop_rnn("train", "--runner", "inline", "--data", text_data[0], "--run", inline, *SMALL,
               "--mode", "gradient", "--epochs", "1", "--clip", "0.05")
    on_hadoop = load_run_state(run).theta
    reference = load_run_state(inline).theta
    assert np.max(np.abs(on_hadoop - reference)) / np.max(np.abs(reference)) < 1e-9
    names = open_store(run).list()
    assert {"latest.npz", "ckpt-000001.npz", "metrics.jsonl"} <= set(names)


def test_a_run_resumed_from_its_hdfs_checkpoint_ends_bit_identical(train_only_text_data,
                                                                   hdfs_dir):
    # the driver checkpoints and resumes whatever the runner (its epochs on Hadoop equal the
    # inline runner's: the tests above), so the epochs run inline and the run is on HDFS
    common = ["--runner", "inline", "--data", train_only_text_data[0], *SMALL, "--mode",
              "average"]
    straight, resumed = f"{hdfs_dir}/straight", f"{hdfs_dir}/resumed"
    hadoop_rnn("train", *common, "--run", straight, "--epochs", "2")
    hadoop_rnn("train", *common, "--run", resumed, "--epochs", "1")
    hadoop_rnn("train", *common, "--run", resumed, "--epochs", "2")
    assert load_run_state(straight).theta.tobytes() == load_run_state(resumed).theta.tobytes()
    assert [m["epoch"] for m in load_run_state(resumed).history] == [1, 2]


def test_driver_writes_hdfs_checkpoints_through_webhdfs_without_spawning_hadoop(text_data,
                                                                                hdfs_dir):
    # no `hadoop` on PATH: any `hadoop fs` the driver spawned would fail
    path = os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep)
                           if not os.path.exists(os.path.join(d, "hadoop")))
    env = {**os.environ, "PATH": path}
    env.pop("HADOOP_HOME", None)
    run = f"{hdfs_dir}/run"
    hadoop_rnn("train", "--runner", "inline", "--data", text_data[0], "--run", run, *SMALL,
               "--epochs", "2", env=env)
    assert load_run_state(run).epoch == 2
    metrics = open_store(run).read_bytes("metrics.jsonl").decode().splitlines()
    assert len(metrics) == 2


@pytest.mark.yarn
def test_average_epoch_on_yarn_equals_the_plain_python_reference(text_data, hdfs_dir):
    from test_train_job import average_mode_reference

    from jobs.data.batches import read_chunk
    from jobs.data.dataset import Dataset
    from jobs.hadoop.launch import RunnerOptions, run_job_with_state
    from jobs.mr.train_epoch import MRTrainEpoch
    from jobs.training import RunSpec
    from jobs.training.epoch_job import assemble_slices
    from jobs.training.spec import new_state

    dataset = Dataset(text_data[0])
    spec = RunSpec(cell="gru", hidden=12, batch=4, bptt=8, dtype="float64", seed=5,
                   outer_momentum=0.0, inner_state="mean")   # the plain average
    state = new_state(spec, dataset, text_data[0])
    data = copy_to_store(text_data[0], hdfs_dir + "/data")
    result = run_job_with_state(
        MRTrainEpoch, state, [],  # average mode, batch 4, bptt 8: the state's settings
        [data.uri(name) for name in dataset.meta["train"]],
        RunnerOptions(runner="hadoop", extra_args=[  # one split per shard file
            "--jobconf", "mapreduce.input.fileinputformat.split.minsize=1073741824"]),
        collect=lambda pairs: assemble_slices(pairs, state))
    out = result.output
    task_chunks = [[read_chunk(line, state.model) for line in
                    dataset.store.read_bytes(name).splitlines()] for name in dataset.meta["train"]]
    assert len({len(chunks) for chunks in task_chunks}) > 1  # tasks of unequal sizes
    theta, opt_state = average_mode_reference(state, task_chunks)
    assert np.max(np.abs(out["theta"] - theta)) / np.max(np.abs(theta)) < 1e-12
    for name, value in opt_state.items():
        assert np.max(np.abs(out["opt." + name] - value)) <= 1e-12 * np.max(np.abs(value)), name


def dev_cluster_nodemanagers():
    """How many NodeManagers the running dev cluster has (scripts/hadoop-dev-cluster)."""
    path = os.path.join(os.environ.get("HADOOP_RNN_DEV_CLUSTER_DIR", ""), "nodes.env")
    fields = dict(f.split("=") for f in open(path).read().split()) if os.path.exists(path) else {}
    return int(fields.get("NODEMANAGERS", 1))


@pytest.mark.yarn
def test_an_epoch_on_two_nodemanagers_runs_its_tasks_on_both(eight_shard_epochs_on_yarn):
    """Its θ is that of the same epoch run in one process, the ApplicationMaster of an uber
    job: test_uber_jobs.py compares the two runs of the fixture."""
    if dev_cluster_nodemanagers() < 2:
        message = ("the dev cluster has one NodeManager: start it with "
                   "`scripts/hadoop-dev-cluster start --nodemanagers 2`")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    # 8 map tasks in task containers, to spread over the nodes
    metrics = load_run_state(eight_shard_epochs_on_yarn["runs"]["containers"]).history[-1]
    assert metrics["nodes"] == 2, metrics["tasks_by_node"]
    assert sum(metrics["tasks_by_node"].values()) == 8
    assert all(n > 0 for n in metrics["tasks_by_node"].values())


# the epochs each validated run trains: without --map-tasks, two (the epoch job's map tasks
# score epoch 1, a scoring job epoch 2); with it, one (a scoring job after every epoch job)
VALIDATED_EPOCHS = {"": 2, "2": 1}


@pytest.fixture(scope="module")
def validated_on_hadoop(tmp_path_factory):
    """Gradient-mode epochs of the :data:`SMALL` model on :func:`write_text_data`'s data (it
    has a validation split) on HDFS, in Hadoop's local framework, without and with
    ``--map-tasks 2`` (:data:`VALIDATED_EPOCHS` each), and two epochs on the inline runner
    from the local copy: (runs {"": URI, "2": URI}, the inline run's directory, the local
    framework's mrjob.conf).
    """
    tmp = tmp_path_factory.mktemp("validated")
    data_dir = write_text_data(tmp / "data")[0]
    conf = write_local_framework_conf(tmp)
    for hdfs in hdfs_test_dir():
        data = copy_to_store(data_dir, hdfs + "/data").uri()
        runs = {}
        for map_tasks in ("", "2"):
            runs[map_tasks] = f"{hdfs}/run{map_tasks}"
            hadoop_rnn("train", "--runner", "hadoop", "--mrjob-conf", conf, "--data", data,
                       "--run", runs[map_tasks], *SMALL, "--mode", "gradient",
                       "--epochs", str(VALIDATED_EPOCHS[map_tasks]),
                       *(["--map-tasks", map_tasks] if map_tasks else []))
        inline = str(tmp / "inline")
        hadoop_rnn("train", "--runner", "inline", "--data", data_dir, "--run", inline, *SMALL,
                   "--mode", "gradient", "--epochs", "2")
        yield runs, inline, conf


@pytest.mark.parametrize("map_tasks", ["", "2"])
def test_validation_on_hadoop_gives_the_inline_numbers(validated_on_hadoop, map_tasks):
    # without --map-tasks the epoch job's map tasks score the validation shards; with it
    # (CombineTextInputFormat) the scoring job does, after the epoch job
    runs, inline, _ = validated_on_hadoop
    on_hadoop = [m["valid_loss"] for m in load_run_state(runs[map_tasks]).history]
    reference = [m["valid_loss"] for m in load_run_state(inline).history]
    assert len(on_hadoop) == VALIDATED_EPOCHS[map_tasks]
    assert on_hadoop == pytest.approx(reference[:len(on_hadoop)], rel=1e-9)


def test_evaluate_of_a_run_on_hdfs_runs_on_hadoop_by_default_and_gives_the_loss_in_process(
        validated_on_hadoop):
    import json

    runs, _, conf = validated_on_hadoop
    by_default = json.loads(hadoop_rnn("evaluate", "--run", runs[""], "--mrjob-conf", conf,
                                       "--json").stdout)
    here = json.loads(hadoop_rnn("evaluate", "--run", runs[""], "--runner", "process",
                                 "--json").stdout)
    assert (by_default["runner"], here["runner"]) == ("hadoop", "process")
    assert by_default["loss"] == pytest.approx(here["loss"], rel=1e-12, abs=0)
