"""`--map-tasks N` on the inline and local runners: N map tasks where the data allows, a line
saying what ran where it does not, and the flags that depend on the data checked against it
before anything is written."""
import json

import pytest
from helpers import SUNSPOTS_CSV, prepare_cli, train_cli

from jobs.training import TrainingError


def prepared(tmp_path, shards):
    """The sunspots series (7 training records) in ``shards`` shards (7 at most)."""
    data = str(tmp_path / "data")
    prepare_cli("--kind", "series", SUNSPOTS_CSV, "--column", "SUNACTIVITY", "--valid", 0.2,
                "--test", 0, "--shards", shards, "--out", data)
    return data


def tasks_run(run):
    """The map tasks that trained in the run's first epoch (the job's counter)."""
    with open(f"{run}/metrics.jsonl", encoding="utf-8") as f:
        return json.loads(f.readline())["map_tasks"]


@pytest.mark.parametrize("runner, map_tasks", [("inline", 1), ("local", 1), ("inline", 5),
                                               ("inline", 7)])
def test_map_tasks_up_to_the_records_of_one_shard_run_that_many_tasks(tmp_path, runner,
                                                                       map_tasks):
    data, run = prepared(tmp_path, 1), str(tmp_path / "run")
    said = []
    assert train_cli("--data", data, "--run", run, "--epochs", 1, "--hidden", 4, "--runner",
                     runner, "--map-tasks", map_tasks, log=said.append) == 0
    assert tasks_run(run) == map_tasks
    assert not any(line.startswith("--map-tasks") for line in said)


def test_map_tasks_below_the_shards_run_one_task_per_shard_and_the_log_says_so(tmp_path):
    data, run = prepared(tmp_path, 7), str(tmp_path / "run")
    said = []
    train_cli("--data", data, "--run", run, "--epochs", 1, "--hidden", 4, "--map-tasks", 2,
              log=said.append)
    assert tasks_run(run) == 7
    assert said[0] == ("--map-tasks 2: the inline runner runs 7 map tasks, one per training "
                       "shard (it never joins files; prepare fewer --shards for fewer)")


@pytest.mark.parametrize("runner, map_tasks", [("inline", 8), ("local", 8),
                                               ("inline", 1_000_000)])
def test_map_tasks_above_the_training_records_are_refused_before_anything_is_written(
        tmp_path, runner, map_tasks):
    data, run = prepared(tmp_path, 1), tmp_path / "run"
    with pytest.raises(TrainingError, match=f"^--map-tasks {map_tasks}: the training split has "
                       "7 records and a map task reads whole records: at most 7$"):
        train_cli("--data", data, "--run", str(run), "--epochs", 1, "--hidden", 4,
                  "--runner", runner, "--map-tasks", map_tasks)
    assert not run.exists()


def test_syncs_per_epoch_above_a_tasks_minibatches_are_refused_before_anything_is_written(
        tmp_path):
    data, run = prepared(tmp_path, 1), tmp_path / "run"
    # 4 map tasks of 1 or 2 records: one minibatch of 4 each
    with pytest.raises(TrainingError, match="^--syncs-per-epoch 3: each sync round trains on minibatches of its own, and no "
                       "map task reads more than 1 of 4 chunks an epoch: at most 1$"):
        train_cli("--data", data, "--run", str(run), "--epochs", 1, "--hidden", 4, "--mode",
                  "average", "--batch", 4, "--syncs-per-epoch", 3)
    assert not run.exists()


def test_as_many_sync_rounds_as_a_tasks_minibatches_each_train(tmp_path):
    data, run = prepared(tmp_path, 1), str(tmp_path / "run")
    # one map task of 7 records: 4 minibatches of 2; a round that trained nothing would fail
    assert train_cli("--data", data, "--run", run, "--epochs", 1, "--hidden", 4, "--mode",
                     "average", "--batch", 2, "--syncs-per-epoch", 4, "--map-tasks", 1) == 0
    with open(f"{run}/metrics.jsonl", encoding="utf-8") as f:
        epoch = json.loads(f.readline())
    assert (epoch["map_tasks"], epoch["records"]) == (1, 7)
