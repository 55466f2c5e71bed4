"""The run directory's commit path (jobs.run.checkpoint), against a local store: fast, no job."""
import json
import os
import re
import signal

import numpy as np
import pytest

from jobs.run import checkpoint
from jobs.run.checkpoint import (BEST, FAULT_ENV, LATEST, METRICS, ROUND, CheckpointError,
                                 commit, fault_point, load_checkpoint, load_latest,
                                 newest_checkpoint, remove_leftovers, repair, resume_point)
from jobs.run.lock import LockLost
from jobs.run.state import RunSettings, TrainingState
from jobs.storage import LocalStore
from rnn_core import ModelConfig, init_params
from rnn_core.optimizers import OptimizerConfig, init_state
from rnn_core.serialization import arrays_to_bytes

MODEL = ModelConfig(cell="gru", hidden=3, vocab_size=4)
OPTIMIZER = OptimizerConfig(name="adam", lr=0.01)


# validation loss after each epoch: the best epoch is 1, then 2 (after epochs 2 and 3), then
# 4 (after epochs 4 to 10)
VALID_LOSS = {1: 3.0, 2: 2.0, 3: 2.5, 4: 1.0, 5: 1.5, 6: 1.2, 7: 1.1, 8: 1.3, 9: 1.4, 10: 1.2}


def state_of_epoch(epoch, validated=True):
    """The training state after ``epoch`` epochs: θ and history differ from epoch to epoch."""
    theta = init_params(MODEL, seed=0) + epoch
    history = [{"epoch": e, "train_loss": 2.0 / e, "lr": 0.01,
                "valid_loss": VALID_LOSS[e] if validated else None} for e in range(1, epoch + 1)]
    return TrainingState(model=MODEL, optimizer=OPTIMIZER, settings=RunSettings(mode="average"),
                         theta=theta, opt_state=init_state(OPTIMIZER, theta), epoch=epoch,
                         history=history, data_version="v1")


def file_bytes(epoch):
    return arrays_to_bytes(state_of_epoch(epoch).to_arrays())


def ckpt(epoch):
    return f"ckpt-{epoch:06d}.npz"


class RecordingStore(LocalStore):
    """A local store that records the names it writes."""

    def __init__(self, root):
        super().__init__(root)
        self.writes = []

    def write_bytes(self, name, data):
        self.writes.append(name)
        super().write_bytes(name, data)


def assert_same_state(state, expected):
    assert (state.epoch, state.history, state.settings, state.data_version) == (
        expected.epoch, expected.history, expected.settings, expected.data_version)
    np.testing.assert_array_equal(state.theta, expected.theta)


# -- commit ----------------------------------------------------------------------------------

def test_commit_of_a_best_epoch_writes_its_checkpoint_then_best_then_latest_then_metrics(
        tmp_path):
    run = RecordingStore(tmp_path)
    commit(run, state_of_epoch(4))
    assert run.writes == [ckpt(4), BEST, LATEST, METRICS]
    assert run.read_bytes(ckpt(4)) == run.read_bytes(BEST) == run.read_bytes(LATEST) \
        == file_bytes(4)


def test_commit_of_an_epoch_that_is_not_the_best_leaves_best_alone(tmp_path):
    run = RecordingStore(tmp_path)
    commit(run, state_of_epoch(4))
    run.writes.clear()
    commit(run, state_of_epoch(5))
    assert run.writes == [ckpt(5), LATEST, METRICS]
    assert run.read_bytes(BEST) == file_bytes(4) and run.read_bytes(LATEST) == file_bytes(5)


def test_commit_without_validation_losses_makes_every_epoch_the_best(tmp_path):
    run = RecordingStore(tmp_path)
    commit(run, state_of_epoch(3, validated=False))
    assert run.writes == [ckpt(3), BEST, LATEST, METRICS]


def test_committed_checkpoint_loads_back_as_the_state(tmp_path):
    run = LocalStore(tmp_path)
    commit(run, state_of_epoch(2))
    assert_same_state(load_latest(run), state_of_epoch(2))


def test_commit_writes_metrics_as_one_sorted_json_line_per_epoch(tmp_path):
    run = LocalStore(tmp_path)
    commit(run, state_of_epoch(2))
    assert run.read_bytes(METRICS).decode("utf-8") == (
        '{"epoch": 1, "lr": 0.01, "train_loss": 2.0, "valid_loss": 3.0}\n'
        '{"epoch": 2, "lr": 0.01, "train_loss": 1.0, "valid_loss": 2.0}\n')


def test_commit_keeps_the_newest_three_numbered_checkpoints_by_default(tmp_path):
    run = LocalStore(tmp_path)
    for epoch in range(1, 6):
        commit(run, state_of_epoch(epoch))
    assert run.list() == [BEST, ckpt(3), ckpt(4), ckpt(5), LATEST, METRICS]


@pytest.mark.parametrize("keep", [1, 2])
def test_commit_keeps_the_newest_keep_numbered_checkpoints(tmp_path, keep):
    run = LocalStore(tmp_path)
    for epoch in range(1, 5):
        commit(run, state_of_epoch(epoch), keep=keep)
    assert run.list() == [BEST] + [ckpt(e) for e in range(5 - keep, 5)] + [LATEST, METRICS]


def test_commit_keeps_files_that_are_not_numbered_checkpoints(tmp_path):
    run = LocalStore(tmp_path)
    run.write_bytes("notes.txt", b"mine")
    run.write_bytes("ckpt-1.npz", b"not numbered like ours")
    for epoch in range(1, 5):
        commit(run, state_of_epoch(epoch), keep=1)
    assert run.list() == [BEST, "ckpt-000004.npz", "ckpt-1.npz", LATEST, METRICS, "notes.txt"]


class FakeLock:
    def __init__(self, lost=False):
        self.lost, self.verified = lost, 0

    def verify(self):
        self.verified += 1
        if self.lost:
            raise LockLost("taken over")


def test_commit_verifies_the_lock_once_before_writing(tmp_path):
    run, lock = LocalStore(tmp_path), FakeLock()
    commit(run, state_of_epoch(1), lock=lock)
    assert lock.verified == 1 and run.list() == [BEST, ckpt(1), LATEST, METRICS]


def test_commit_with_a_lost_lock_writes_nothing(tmp_path):
    run = LocalStore(tmp_path)
    with pytest.raises(LockLost, match="^taken over$"):
        commit(run, state_of_epoch(1), lock=FakeLock(lost=True))
    assert run.list() == []


def test_commit_passes_its_fault_points_in_order_with_the_epoch(tmp_path, monkeypatch):
    run, seen = LocalStore(tmp_path), []
    monkeypatch.setattr(checkpoint, "fault_point",
                        lambda point, epoch: seen.append((point, epoch, run.list())))
    commit(run, state_of_epoch(4), lock=FakeLock())
    assert seen == [("kill-before-commit", 4, []),
                    ("kill-after-ckpt", 4, [ckpt(4)]),
                    ("kill-after-best", 4, [BEST, ckpt(4)]),
                    ("kill-after-latest", 4, [BEST, ckpt(4), LATEST])]


def test_commit_of_an_epoch_that_is_not_the_best_has_no_best_fault_point(tmp_path, monkeypatch):
    run, seen = LocalStore(tmp_path), []
    monkeypatch.setattr(checkpoint, "fault_point", lambda point, epoch: seen.append(point))
    commit(run, state_of_epoch(3))
    assert seen == ["kill-before-commit", "kill-after-ckpt", "kill-after-latest"]


def test_fault_point_named_in_the_environment_sigkills_this_process(monkeypatch):
    kills = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: kills.append((pid, sig)))
    monkeypatch.setenv(FAULT_ENV, "kill-after-latest:1,kill-after-ckpt:3")
    fault_point("kill-after-ckpt", 3)
    assert kills == [(os.getpid(), signal.SIGKILL)]


@pytest.mark.parametrize("point, epoch", [("kill-after-ckpt", 1), ("kill-before-commit", 3),
                                          ("kill-after-latest", 3)])
def test_fault_point_not_named_in_the_environment_does_nothing(monkeypatch, point, epoch):
    kills = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: kills.append((pid, sig)))
    monkeypatch.setenv(FAULT_ENV, "kill-after-latest:1,kill-after-ckpt:3")
    fault_point(point, epoch)
    assert kills == []


def test_fault_point_without_the_environment_variable_does_nothing(monkeypatch):
    kills = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: kills.append((pid, sig)))
    monkeypatch.delenv(FAULT_ENV, raising=False)
    fault_point("kill-after-ckpt", 1)
    assert kills == []


# -- reading back ----------------------------------------------------------------------------

def test_newest_checkpoint_of_an_empty_run_is_none(tmp_path):
    run = LocalStore(tmp_path)
    assert newest_checkpoint(run) == (None, None, None)
    assert load_latest(run) is None


def test_newest_checkpoint_is_the_highest_numbered_one_whatever_latest_holds(tmp_path):
    run = LocalStore(tmp_path)
    for epoch in (2, 10, 9):
        run.write_bytes(ckpt(epoch), file_bytes(epoch))
    run.write_bytes(LATEST, file_bytes(9))
    name, state, data = newest_checkpoint(run)
    assert (name, data) == (ckpt(10), file_bytes(10))
    assert_same_state(state, state_of_epoch(10))


def test_newest_checkpoint_without_numbered_ones_is_latest(tmp_path):
    run = LocalStore(tmp_path)
    run.write_bytes(LATEST, file_bytes(5))
    run.write_bytes("ckpt-5.npz", b"not numbered like ours")
    name, state, data = newest_checkpoint(run)
    assert (name, data) == (LATEST, file_bytes(5))
    assert_same_state(state, state_of_epoch(5))


def test_load_latest_is_the_state_of_the_newest_checkpoint(tmp_path):
    run = LocalStore(tmp_path)
    run.write_bytes(ckpt(3), file_bytes(3))
    run.write_bytes(ckpt(4), file_bytes(4))
    assert_same_state(load_latest(run), state_of_epoch(4))


@pytest.mark.parametrize("content, reason", [
    (b"not a checkpoint", "cannot read arrays: not a valid .npz archive"),
    (arrays_to_bytes({"theta": np.zeros(3)}), "not a hadoop-rnn checkpoint"),
    (arrays_to_bytes({k: v for k, v in state_of_epoch(1).to_arrays().items()
                      if k != "history"}), "'history'"),
    (arrays_to_bytes({**state_of_epoch(1).to_arrays(), "model_config": np.array("{")}),
     "invalid ModelConfig JSON"),
    (arrays_to_bytes({**state_of_epoch(1).to_arrays(), "format": np.array("hadoop-rnn-checkpoint/9")}),
     "not a hadoop-rnn checkpoint"),
    (arrays_to_bytes({**state_of_epoch(1).to_arrays(),
                      "settings": np.array('{"mode": "average", "learning_style": 1}')}),
     "unknown settings ['learning_style']"),
    (arrays_to_bytes({**state_of_epoch(1).to_arrays(), "settings": np.array('{"mode": "median"}')}),
     "mode must be one of gradient, average, got 'median'"),
])
def test_unusable_newest_checkpoint_raises_checkpoint_error_naming_file_and_reason(
        tmp_path, content, reason):
    run = LocalStore(tmp_path)
    run.write_bytes(ckpt(1), content)
    with pytest.raises(CheckpointError) as error:
        newest_checkpoint(run)
    message = str(error.value)
    assert message.startswith(f"{run.uri(ckpt(1))} is not a usable checkpoint (")
    assert reason in message
    assert message.endswith("); nothing was overwritten. Move it away or use a new --run.")
    assert run.read_bytes(ckpt(1)) == content


# -- repair and leftovers --------------------------------------------------------------------

def test_repair_rewrites_a_stale_latest_and_the_metrics_from_the_newest_checkpoint(tmp_path):
    run = RecordingStore(tmp_path)
    run.write_bytes(ckpt(3), file_bytes(3))
    run.write_bytes(LATEST, file_bytes(2))
    run.writes.clear()
    repair(run, *_newest(run))
    assert run.writes == [LATEST, METRICS]
    assert run.read_bytes(LATEST) == file_bytes(3)
    assert run.read_bytes(METRICS).decode().splitlines() == [
        json.dumps(m, sort_keys=True) for m in state_of_epoch(3).history]


def test_repair_of_a_best_epoch_rewrites_best_and_latest(tmp_path):
    run = RecordingStore(tmp_path)
    run.write_bytes(ckpt(4), file_bytes(4))
    run.write_bytes(BEST, file_bytes(2))
    run.write_bytes(LATEST, file_bytes(3))
    run.writes.clear()
    repair(run, *_newest(run))
    assert run.writes == [BEST, LATEST, METRICS]
    assert run.read_bytes(BEST) == run.read_bytes(LATEST) == file_bytes(4)


def test_repair_writes_a_missing_best_and_latest(tmp_path):
    run = LocalStore(tmp_path)
    run.write_bytes(ckpt(4), file_bytes(4))
    repair(run, *_newest(run))
    assert run.read_bytes(BEST) == run.read_bytes(LATEST) == file_bytes(4)
    assert run.list() == [BEST, ckpt(4), LATEST, METRICS]


def test_repair_leaves_an_up_to_date_best_and_latest_alone(tmp_path):
    run = RecordingStore(tmp_path)
    run.write_bytes(ckpt(4), file_bytes(4))
    run.write_bytes(BEST, file_bytes(4))
    run.write_bytes(LATEST, file_bytes(4))
    run.writes.clear()
    repair(run, *_newest(run))
    assert run.writes == [METRICS]


def test_repair_from_latest_itself_rewrites_only_the_metrics(tmp_path):
    run = RecordingStore(tmp_path)
    run.write_bytes(LATEST, file_bytes(2))
    run.writes.clear()
    repair(run, *_newest(run))
    assert run.writes == [METRICS]


def _newest(run):
    name, state, data = newest_checkpoint(run)
    return state, name, data


def test_remove_leftovers_deletes_only_temporary_files(tmp_path):
    run = LocalStore(tmp_path)
    for name in [".tmp-abc", ".tmp-", ckpt(1), LATEST, "x.tmp-1", ".tmpfoo"]:
        run.write_bytes(name, b"x")
    remove_leftovers(run)
    assert run.list() == [".tmpfoo", ckpt(1), LATEST, "x.tmp-1"]



# -- sync rounds: round.npz ------------------------------------------------------------------

def mid_epoch(epoch, rounds=1):
    """The state after ``rounds`` sync rounds of epoch ``epoch + 1``."""
    state = state_of_epoch(epoch)
    state.theta = state.theta + 0.5
    state.rounds = [{"loss_sum": 1.0, "count": 2.0}] * rounds
    return state


def test_commit_of_a_mid_epoch_round_writes_only_round_npz(tmp_path):
    run = RecordingStore(tmp_path)
    commit(run, state_of_epoch(1))
    run.writes.clear()
    commit(run, mid_epoch(1))
    assert run.writes == [ROUND]
    assert newest_checkpoint(run)[0] == ckpt(1) and load_latest(run).epoch == 1


def test_resume_point_is_round_npz_while_it_extends_the_newest_epoch(tmp_path):
    run = LocalStore(tmp_path)
    commit(run, state_of_epoch(1))
    commit(run, mid_epoch(1, rounds=2))
    name, state, _ = resume_point(run)
    assert name == ROUND and len(state.rounds) == 2
    assert state.theta.tobytes() == mid_epoch(1).theta.tobytes()


def test_resume_point_of_a_new_run_with_a_round_committed_is_round_npz(tmp_path):
    run = LocalStore(tmp_path)
    commit(run, mid_epoch(0))
    assert resume_point(run)[0] == ROUND


def test_commit_of_the_epoch_deletes_round_npz_and_a_stale_one_is_ignored(tmp_path):
    run = LocalStore(tmp_path)
    commit(run, state_of_epoch(1))
    commit(run, mid_epoch(1))
    commit(run, state_of_epoch(2))
    assert not run.exists(ROUND)
    run.write_bytes(ROUND, arrays_to_bytes(mid_epoch(1).to_arrays()))  # a driver killed before
    assert resume_point(run)[0] == ckpt(2)                             # deleting it


# -- load_checkpoint -------------------------------------------------------------------------

def committed_run(tmp_path, epochs):
    run = LocalStore(tmp_path)
    for epoch in range(1, epochs + 1):
        commit(run, state_of_epoch(epoch))
    return run


def test_load_checkpoint_of_a_new_run_is_none(tmp_path):
    run = LocalStore(tmp_path)
    assert load_checkpoint(run) is None and load_checkpoint(run, "latest") is None
    assert load_checkpoint(run, "3") is None


def test_load_checkpoint_latest_is_the_newest_epoch(tmp_path):
    assert load_checkpoint(committed_run(tmp_path, 6), "latest").epoch == 6


def test_load_checkpoint_best_is_the_epoch_of_lowest_validation_loss_by_default(tmp_path):
    run = committed_run(tmp_path, 6)
    assert_same_state(load_checkpoint(run), state_of_epoch(4))
    assert_same_state(load_checkpoint(run, "best"), state_of_epoch(4))


def test_load_checkpoint_best_when_the_newest_is_best_is_the_newest(tmp_path):
    run = committed_run(tmp_path, 4)
    run.delete(BEST)  # not read: the newest checkpoint is the best
    assert_same_state(load_checkpoint(run, "best"), state_of_epoch(4))


def test_load_checkpoint_best_of_a_run_without_best_npz_is_the_newest(tmp_path):
    run = committed_run(tmp_path, 6)
    run.delete(BEST)  # a run trained before best.npz existed
    assert_same_state(load_checkpoint(run, "best"), state_of_epoch(6))


@pytest.mark.parametrize("which, epoch", [("5", 5), ("6", 6), ("7", 7), ("4", 4), (4, 4)])
def test_load_checkpoint_of_an_epoch_number_is_that_epoch(tmp_path, which, epoch):
    run = committed_run(tmp_path, 7)  # keeps 5, 6, 7; best.npz holds 4
    assert_same_state(load_checkpoint(run, which), state_of_epoch(epoch))


def test_load_checkpoint_of_an_epoch_not_kept_says_which_epochs_are(tmp_path):
    run = committed_run(tmp_path, 7)
    with pytest.raises(CheckpointError, match=rf"^{re.escape(run.uri())} has no checkpoint of "
                                              r"epoch 2: it keeps epochs 4, 5, 6, 7$"):
        load_checkpoint(run, "2")


def test_load_checkpoint_of_the_newest_epoch_of_a_run_with_only_latest_is_latest(tmp_path):
    run = LocalStore(tmp_path)
    run.write_bytes(LATEST, file_bytes(3))  # no numbered checkpoint
    assert_same_state(load_checkpoint(run, "3"), state_of_epoch(3))
