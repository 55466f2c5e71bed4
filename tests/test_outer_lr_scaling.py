"""Average mode's inner learning rate scaled with the map tasks: --lr-scaling sqrt."""
import inspect
import math
import textwrap

import pytest

from helpers import load_run_state, prepare_cli, train_small
from jobs.cli import EXIT_NOTHING_TO_DO, EXIT_OK
from jobs.mr.outer import inner_lr_scale


def test_sqrt_scaling_multiplies_the_inner_lr_by_the_root_of_the_map_tasks():
    assert inner_lr_scale("sqrt", 4) == 2.0
    assert inner_lr_scale("sqrt", 1) == 1.0


def test_no_scaling_keeps_the_lr_at_any_n():
    assert inner_lr_scale("none", 32) == 1.0


def test_an_unknown_scaling_is_refused_in_one_line():
    with pytest.raises(ValueError, match="^lr_scaling must be one of sqrt, none, got 'linear'$"):
        inner_lr_scale("linear", 4)


def test_a_run_on_n_map_tasks_trains_with_lr_times_root_n_and_says_so(text_data, tmp_path):
    lines = []  # three training shards: three map tasks on the inline runner
    run_dir = str(tmp_path / "run")
    assert train_small(text_data[0], run_dir, "--epochs", "1", "--mode", "average", "--lr",
                       "0.01", "--lr-scaling", "sqrt", "--map-tasks", "3",
                       log=lines.append) == EXIT_OK
    state = load_run_state(run_dir)
    assert state.optimizer.lr == pytest.approx(0.01 * math.sqrt(3))
    assert (state.settings.lr_scaling, state.settings.base_lr) == ("sqrt", 0.01)
    assert any(line.startswith("inner learning rate 0.01 x √3 = 0.01732 for 3 map tasks")
               for line in lines)


def test_a_scaled_run_resumes_with_the_lr_it_was_asked_for(text_data, tmp_path):
    run_dir = str(tmp_path / "run")
    flags = ("--mode", "average", "--lr", "0.01", "--lr-scaling", "sqrt", "--map-tasks", "3")
    train_small(text_data[0], run_dir, "--epochs", "1", *flags)
    assert train_small(text_data[0], run_dir, "--epochs", "2", *flags) == EXIT_OK
    assert train_small(text_data[0], run_dir, "--epochs", "2", *flags) == EXIT_NOTHING_TO_DO
    assert load_run_state(run_dir).optimizer.lr == pytest.approx(0.01 * math.sqrt(3))


def test_one_map_task_keeps_the_lr_as_given(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text(inspect.getsource(textwrap)[:6000])
    data, run_dir = str(tmp_path / "data"), str(tmp_path / "run")
    prepare_cli("--kind", "text", "--out", data, "--chunk", "33", "--shards", "1", str(text))
    train_small(data, run_dir, "--epochs", "1", "--mode", "average", "--lr", "0.01",
                "--lr-scaling", "sqrt", "--map-tasks", "1")
    state = load_run_state(run_dir)
    assert state.optimizer.lr == 0.01 and state.settings.base_lr is None


def test_gradient_mode_keeps_the_lr_as_given(text_data, tmp_path):
    run_dir = str(tmp_path / "run")
    train_small(text_data[0], run_dir, "--epochs", "1", "--mode", "gradient", "--lr", "0.01",
                "--lr-scaling", "sqrt")
    state = load_run_state(run_dir)
    assert state.optimizer.lr == 0.01 and state.settings.base_lr is None
