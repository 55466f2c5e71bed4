"""`hadoop-rnn train` says what N costs: the minibatch steps per task and sync round."""
import math

import pytest

from helpers import train_small
from jobs.training.epoch_job import steps_line, steps_per_sync


def test_steps_per_sync_are_one_tasks_share_of_the_minibatches_split_over_the_rounds():
    assert steps_per_sync(4225, 1, 32) == 133
    assert steps_per_sync(4225, 8, 32) == 17
    assert steps_per_sync(4225, 8, 32, syncs=2) == 8.5


@pytest.mark.parametrize("name, args", [("map_tasks", (100, 0, 32, 1)), ("batch", (100, 2, 0, 1)),
                                        ("syncs", (100, 2, 32, 0.5))])
def test_steps_per_sync_refuse_a_count_below_one_in_one_line(name, args):
    with pytest.raises(ValueError, match=f"^{name} must be a number >= 1, got"):
        steps_per_sync(*args)


def test_the_steps_line_names_n_k_and_the_steps_per_task_per_sync():
    line = steps_line(4225, 8, 32, 1)
    assert line.startswith("average mode: 8 map tasks, 1 sync per epoch: about 17 minibatch "
                           "steps per task per sync (one task: 133 an epoch)")


def test_the_steps_line_shows_fractions_of_few_steps():
    assert "about 8.5 minibatch steps" in steps_line(4225, 8, 32, 2)


def test_train_logs_the_steps_per_task_per_sync_before_its_first_epoch(text_data, tmp_path):
    lines = []
    train_small(text_data[0], str(tmp_path / "run"), "--epochs", "1", "--mode", "average",
                "--map-tasks", "3", "--syncs-per-epoch", "2", log=lines.append)
    steps = [i for i, line in enumerate(lines) if "minibatch steps per task per sync" in line]
    first_epoch = next(i for i, line in enumerate(lines) if line.startswith("epoch 1"))
    assert len(steps) == 1 and steps[0] < first_epoch
    records = text_data[1]["counts"]["train"]["records"]
    assert lines[steps[0]] == steps_line(records, 3, 4, 2)  # SMALL's batch 4
    assert lines[steps[0]].startswith("average mode: 3 map tasks, 2 syncs per epoch: about "
                                      f"{math.ceil(records / 3 / 4) / 2:,.1f}".removesuffix(".0"))


def test_train_in_gradient_mode_logs_no_steps_line(text_data, tmp_path):
    lines = []
    train_small(text_data[0], str(tmp_path / "run"), "--epochs", "1", "--mode", "gradient",
                log=lines.append)
    assert not any("steps per task per sync" in line for line in lines)


def test_the_steps_line_counts_the_map_tasks_that_run_not_those_asked_for(text_data, tmp_path):
    lines = []  # three training shards: the inline runner never joins them
    train_small(text_data[0], str(tmp_path / "run"), "--epochs", "1", "--mode", "average",
                "--map-tasks", "2", log=lines.append)
    assert any(line.startswith("average mode: 3 map tasks, 1 sync per epoch") for line in lines)
