"""train --start-map-tasks M --start-epochs E: average mode's first E epochs on about M map
tasks, the later ones on --map-tasks (early on the gradient is noisy: few tasks use the
steps better; docs/scaling.md, "Picking N")."""
import numpy as np
import pytest

from helpers import SMALL, load_run_state, train_small, write_text_data
from jobs.training import TrainingError

AVERAGE = ["--mode", "average", "--runner", "inline", "--map-tasks", "6"]
START = ["--start-map-tasks", "3", "--start-epochs", "1"]


def map_tasks_of(run_dir):
    return [m["map_tasks"] for m in load_run_state(run_dir).history]


def test_the_start_epochs_run_on_the_start_map_tasks_and_the_later_ones_on_map_tasks(tmp_path):
    data, _ = write_text_data(tmp_path / "data")
    started, plain = str(tmp_path / "started"), str(tmp_path / "plain")
    assert train_small(data, started, *AVERAGE, *START, "--epochs", "3") == 0
    assert train_small(data, plain, *AVERAGE, "--epochs", "1") == 0
    assert map_tasks_of(started) == [3] + map_tasks_of(plain) * 2
    assert map_tasks_of(plain)[0] > 3


def test_a_run_resumed_after_its_start_equals_one_run_through_it(tmp_path):
    data, _ = write_text_data(tmp_path / "data")
    whole, parts = str(tmp_path / "whole"), str(tmp_path / "parts")
    assert train_small(data, whole, *AVERAGE, *START, "--epochs", "2") == 0
    assert train_small(data, parts, *AVERAGE, *START, "--epochs", "1") == 0
    assert train_small(data, parts, *AVERAGE, "--epochs", "2") == 0
    a, b = load_run_state(whole), load_run_state(parts)
    assert np.array_equal(a.theta, b.theta)
    assert [m["map_tasks"] for m in a.history] == [m["map_tasks"] for m in b.history]


def test_the_log_says_how_many_steps_a_task_takes_in_the_start_and_after(tmp_path):
    data, _ = write_text_data(tmp_path / "data")
    lines = []
    assert train_small(data, str(tmp_path / "run"), *AVERAGE, *START, "--epochs", "1",
                       log=lines.append) == 0
    assert any(line.startswith("epochs 1-1 (--start-epochs): average mode: 3 map tasks")
               for line in lines)


def test_a_resumed_run_refuses_another_start(tmp_path):
    data, _ = write_text_data(tmp_path / "data")
    run = str(tmp_path / "run")
    assert train_small(data, run, *AVERAGE, *START, "--epochs", "1") == 0
    with pytest.raises(TrainingError, match="start_epochs: checkpoint has 1, asked for 2"):
        train_small(data, run, *AVERAGE, "--start-map-tasks", "3", "--start-epochs", "2",
                    "--epochs", "2")


@pytest.mark.parametrize("flags, message", [
    (["--start-map-tasks", "3"], "--start-map-tasks M and --start-epochs E go together"),
    (["--start-epochs", "2"], "--start-map-tasks M and --start-epochs E go together"),
    (["--mode", "gradient", *START], "--start-map-tasks is for --mode average"),
])
def test_an_incomplete_or_gradient_mode_start_is_a_clear_error_before_anything_is_written(
        tmp_path, flags, message):
    data, _ = write_text_data(tmp_path / "data")
    run = tmp_path / "run"
    with pytest.raises(ValueError, match=message):
        train_small(data, str(run), *AVERAGE, *flags, "--epochs", "1")
    assert not run.exists()


def test_more_start_map_tasks_than_records_is_a_clear_error_before_anything_is_written(
        tmp_path):
    data, meta = write_text_data(tmp_path / "data")
    records, run = meta["counts"]["train"]["records"], tmp_path / "run"
    with pytest.raises(TrainingError,
                       match=f"--start-map-tasks {records + 1}: the training split"):
        train_small(data, str(run), *AVERAGE, "--start-map-tasks", str(records + 1),
                    "--start-epochs", "1", "--epochs", "1")
    assert not run.exists()
