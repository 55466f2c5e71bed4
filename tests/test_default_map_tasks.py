"""A series run's defaults count the map tasks the runner really starts."""
import json

import pytest
from helpers import SUNSPOTS_CSV, prepare_cli, train_cli

from jobs.data.dataset import Dataset
from jobs.hadoop.launch import RunnerOptions
from jobs.training.epoch_job import expected_map_tasks


@pytest.mark.parametrize("shards, map_tasks", [(1, None), (3, None), (1, 1), (1, 6), (2, 3),
                                             (3, 2)])
def test_the_expected_map_tasks_are_the_ones_the_inline_runner_starts(tmp_path, shards,
                                                                        map_tasks):
    data, run = str(tmp_path / "data"), str(tmp_path / "run")
    prepare_cli("--kind", "series", SUNSPOTS_CSV, "--column", "SUNACTIVITY", "--valid", 0.2,
                "--shards", shards, "--out", data)
    flags = ["--map-tasks", map_tasks] if map_tasks else []
    train_cli("--data", data, "--run", run, "--epochs", 1, "--hidden", 4, *flags)
    with open(f"{run}/metrics.jsonl", encoding="utf-8") as f:
        started = json.loads(f.readline())["map_tasks"]
    options = RunnerOptions(runner="inline", map_tasks=map_tasks)
    assert expected_map_tasks(Dataset(data), options) == started


def test_on_hadoop_a_task_reads_a_shard_unless_map_tasks_are_asked_for(tmp_path):
    data = str(tmp_path / "data")
    prepare_cli("--kind", "series", SUNSPOTS_CSV, "--column", "SUNACTIVITY", "--valid", 0.2,
                "--shards", 3, "--out", data)
    dataset = Dataset(data)
    assert expected_map_tasks(dataset, RunnerOptions(runner="hadoop")) == 3
    assert expected_map_tasks(dataset, RunnerOptions(runner="hadoop", map_tasks=8)) == 8


def test_the_default_epochs_are_kept_from_the_start_of_the_run(tmp_path):
    data, run = str(tmp_path / "data"), str(tmp_path / "run")
    prepare_cli("--kind", "series", SUNSPOTS_CSV, "--column", "SUNACTIVITY", "--valid", 0.2,
                "--out", data)
    said = []
    train_cli("--data", data, "--run", run, "--hidden", 4, "--max-epochs-per-run", 1,
              log=said.append)
    chosen = int(next(line for line in said if line.startswith("epoch 1/")).split("/")[1].split()[0])
    said.clear()
    train_cli("--data", data, "--run", run, "--map-tasks", 1, "--max-epochs-per-run", 1,
              log=said.append)
    assert any(line.startswith(f"epoch 2/{chosen} ") for line in said)
