"""Bad input to a run directory and a run's data (issue round 3): what train and evaluate do.

A run directory that holds a model is never replaced by a new run; a run reads exactly the
data it started on; a resumed epoch covers its data once; a lock that is not a lock is taken
over; and each refusal says what is wrong in the user's terms. docs/operations.md names the
test that backs each case.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO, TINY, load_run_state, prepare_cli, train_cli, write_text_data

from jobs.run.checkpoint import FAULT_ENV
from jobs.run.trained import RunError, load_run
from jobs.scoring import ScoringError, evaluate
from jobs.training import TrainingError, loop


def files_of(directory):
    """Every file under ``directory`` with its bytes: compare to prove nothing changed."""
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in Path(directory).rglob("*") if p.is_file()}


def text_dataset(tmp_path, name, text, valid=0.2):
    source = tmp_path / f"{name}.txt"
    source.write_text(text)
    out = str(tmp_path / name)
    prepare_cli("--kind", "text", str(source), "--out", out, "--chunk", 9, "--valid", valid,
                "--force")
    return out


def trained(tmp_path, epochs=2):
    """A text dataset and a tiny run trained on it for ``epochs``: (data_dir, run_dir)."""
    data, run = write_text_data(tmp_path / "data")[0], str(tmp_path / "run")
    assert train_cli("--data", data, "--run", run, "--epochs", epochs, *TINY) == 0
    return data, run


# -- a run directory holding a model is never replaced ------------------------------------

def test_train_refuses_a_run_holding_only_best_npz_and_keeps_it(tmp_path):
    data, run = trained(tmp_path)
    for name in os.listdir(run):
        if name != "best.npz":
            os.remove(os.path.join(run, name))
    before = files_of(run)
    with pytest.raises(TrainingError, match="holds best.npz but no latest.npz.*copy best.npz "
                                            "to latest.npz"):
        train_cli("--data", data, "--run", run, "--epochs", 3, "--cell", "lstm")
    assert files_of(run) == before


def test_train_continues_from_best_npz_copied_to_latest_as_the_refusal_says(tmp_path):
    data, run = trained(tmp_path)
    best = load_run_state(run, "best.npz")
    for name in os.listdir(run):
        if name != "best.npz":
            os.remove(os.path.join(run, name))
    Path(run, "latest.npz").write_bytes(Path(run, "best.npz").read_bytes())
    assert train_cli("--data", data, "--run", run, "--epochs", best.epoch + 1) == 0
    assert load_run_state(run).epoch == best.epoch + 1


def test_train_refuses_a_new_run_in_a_directory_of_other_files(tmp_path):
    data = write_text_data(tmp_path / "data")[0]
    run = tmp_path / "notes"
    run.mkdir()
    (run / "plan.txt").write_text("keep me")
    with pytest.raises(TrainingError, match=r"holds no checkpoint to continue from, but holds "
                                            r"plan.txt"):
        train_cli("--data", data, "--run", str(run), "--epochs", 1, *TINY)
    assert os.listdir(run) == ["plan.txt"]


def test_train_starts_a_new_run_where_only_a_dead_drivers_lock_is_left(tmp_path):
    data = write_text_data(tmp_path / "data")[0]
    run = tmp_path / "run"
    run.mkdir()
    (run / "lock.json").write_text(json.dumps({"token": "x", "heartbeat": 0, "lease": 1}))
    assert train_cli("--data", data, "--run", str(run), "--epochs", 1, *TINY) == 0


@pytest.mark.parametrize("run", ["same", "dataset"])
def test_train_refuses_the_dataset_directory_as_its_run_directory(tmp_path, run):
    data = write_text_data(tmp_path / "data")[0]
    other = write_text_data(tmp_path / "other")[0]
    before = files_of(data)
    with pytest.raises(TrainingError, match="is a dataset directory .*a directory of its own"):
        train_cli("--data", data, "--run", data if run == "same" else other, "--epochs", 1,
                  *TINY)
    assert files_of(data) == before and "lock.json" not in os.listdir(other)


# -- a run reads exactly the data it started on -------------------------------------------

def replace_dataset(data_dir):
    """What ``prepare --force`` of other text does to ``data_dir``, done from outside."""
    parent = Path(data_dir).parent
    text_dataset(parent, Path(data_dir).name, "entirely other words, other symbols: 0123 " * 40)


def test_train_stops_before_an_epoch_when_the_dataset_was_replaced_under_it(tmp_path):
    data, run = str(tmp_path / "ds"), str(tmp_path / "run")
    text_dataset(tmp_path, "ds", "abcab cabba " * 60)

    def log(line):
        if line.startswith("epoch 1/"):
            replace_dataset(data)

    with pytest.raises(TrainingError, match="the dataset changed under the run"):
        train_cli("--data", data, "--run", run, "--epochs", 3, *TINY, log=log)
    state = load_run_state(run)
    assert state.epoch == 1 and state.model.vocab_size == 5  # 'abc', space, newline


def test_train_commits_nothing_of_a_job_that_ran_while_the_dataset_was_replaced(
        tmp_path, monkeypatch):
    data, run = str(tmp_path / "ds"), str(tmp_path / "run")
    text_dataset(tmp_path, "ds", "abcab cabba " * 60)
    real_job = loop.run_epoch_job

    def job_during_which_prepare_force_runs(state, *args, **kwargs):
        result = real_job(state, *args, **kwargs)
        if state.epoch == 1:
            replace_dataset(data)
        return result

    monkeypatch.setattr(loop, "run_epoch_job", job_during_which_prepare_force_runs)
    with pytest.raises(TrainingError, match="nothing of the job that saw the change was "
                                            "committed"):
        train_cli("--data", data, "--run", run, "--epochs", 3, *TINY)
    assert load_run_state(run).epoch == 1


def test_train_on_data_of_another_vocabulary_says_the_data_differs_not_a_flag(tmp_path):
    data, run = trained(tmp_path, epochs=1)
    other = text_dataset(tmp_path, "other", "xyz " * 100)
    with pytest.raises(TrainingError) as refused:
        train_cli("--data", other, "--run", run, "--epochs", 2)
    message = str(refused.value)
    assert "is not the data the run was trained on: its vocab_size is 5" in message
    assert "asked for" not in message


def test_a_model_that_does_not_fit_the_data_is_named_by_its_sizes_only(tmp_path):
    _, run = trained(tmp_path, epochs=1)
    other = text_dataset(tmp_path, "other", "xyz " * 100)
    with pytest.raises(RunError) as refused:
        load_run(run, other)
    assert str(refused.value).endswith("the data's vocab_size is 5, the model's "
                                       f"{load_run_state(run).model.vocab_size}")


# -- a resumed epoch covers its data once ---------------------------------------------------

def test_an_epoch_resumed_with_other_map_tasks_finishes_with_the_ones_it_started_with(tmp_path):
    data, meta = write_text_data(tmp_path / "data")
    run = str(tmp_path / "run")
    flags = ["--mode", "average", "--syncs-per-epoch", "2", "--epochs", "1", *TINY]
    killed = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "train", "--data", data, "--run", run, *flags,
         "--map-tasks", "2"], cwd=REPO, capture_output=True,
        env={**os.environ, FAULT_ENV: "kill-after-round:1.1", "TMPDIR": str(tmp_path)})
    assert killed.returncode < 0 and Path(run, "round.npz").exists()
    lines = []
    assert train_cli("--data", data, "--run", run, *flags, "--map-tasks", "3",
                     log=lines.append) == 0
    assert any("finishing epoch 1 with the map tasks its rounds ran with (--map-tasks 2)" in x
               for x in lines)
    assert load_run_state(run).history[0]["records"] == meta["counts"]["train"]["records"]


# -- a lock that is not a lock ------------------------------------------------------------

@pytest.mark.parametrize("record", [
    {"token": "t", "host": "h", "pid": 1, "heartbeat": "soon", "lease": "long"},
    {"token": "t", "host": "h", "pid": 1, "heartbeat": time.time() + 10 ** 6, "lease": 900},
])
def test_train_takes_over_a_lock_record_no_driver_could_have_written(tmp_path, record):
    data = write_text_data(tmp_path / "data")[0]
    run = tmp_path / "run"
    run.mkdir()
    (run / "lock.json").write_text(json.dumps(record))
    assert train_cli("--data", data, "--run", str(run), "--epochs", 1, *TINY) == 0


# -- clear messages -------------------------------------------------------------------------

def test_a_garbage_round_npz_is_named_without_numpys_pickle_hint(tmp_path):
    data, run = trained(tmp_path, epochs=1)
    Path(run, "round.npz").write_bytes(b"this is not an archive")
    with pytest.raises(Exception) as refused:
        train_cli("--data", data, "--run", run, "--epochs", 2)
    message = str(refused.value)
    assert "round.npz is not a usable checkpoint" in message and "pickle" not in message


def test_evaluate_of_an_empty_validation_part_says_why_it_is_empty(tmp_path):
    data = text_dataset(tmp_path, "ds", "abcab cabba " * 60, valid=0)
    run = str(tmp_path / "run")
    train_cli("--data", data, "--run", run, "--epochs", 1, *TINY)
    with pytest.raises(ScoringError, match=r"holds no chunks \(prepared with --valid 0, or a part shorter than one chunk\)"):
        evaluate(run, split="valid")
