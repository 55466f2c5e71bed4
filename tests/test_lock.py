"""The run lock (jobs.run.lock) and how `hadoop-rnn train` holds it."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from jobs.run.checkpoint import CheckpointError
from conftest import train_cli
from jobs import training
from jobs.cli import EXIT_LOCKED, EXIT_OK
from jobs.run.lock import LOCK, TAKEOVER, LockHeld, LockLost, RunLock, is_stale
from jobs.storage import LocalStore

SMALL = ["--cell", "gru", "--hidden", "8", "--batch", "4", "--bptt", "8", "--seed", "1"]


def dead_pid():
    """The id of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def write_lock(store, **fields):
    """Put a lock record of another driver into ``store``."""
    record = {"token": "someone-else", "host": "other-host", "pid": 1, "started": time.time(),
              "heartbeat": time.time(), "lease": 900.0, **fields}
    store.makedirs()
    store.write_bytes(LOCK, json.dumps(record).encode())
    return record


def read_lock(store):
    return json.loads(store.read_bytes(LOCK))


def train(data_dir, run_dir, *flags, log=None):
    return train_cli("--data", data_dir, "--run", run_dir, *SMALL, *flags, log=log)


# -- the lock itself -------------------------------------------------------------------------

def test_acquired_lock_records_token_host_pid_times_and_lease(tmp_path):
    store = LocalStore(tmp_path)
    with RunLock(store, lease=60) as lock:
        record = read_lock(store)
    assert record["token"] == lock.token and record["pid"] == os.getpid()
    assert record["lease"] == 60 and record["heartbeat"] >= record["started"] > 0
    assert {"host"} <= set(record)


def test_second_lock_on_a_held_run_raises_naming_the_holder(tmp_path):
    store = LocalStore(tmp_path)
    with RunLock(store):
        with pytest.raises(LockHeld, match=r"locked by another hadoop-rnn train: host .* pid "
                                           rf"{os.getpid()} since "):
            RunLock(store).acquire()


def test_release_deletes_the_lock_file(tmp_path):
    store = LocalStore(tmp_path)
    RunLock(store).acquire().release()
    assert not store.exists(LOCK)


def test_release_leaves_a_lock_that_is_no_longer_ours(tmp_path):
    store = LocalStore(tmp_path)
    lock = RunLock(store).acquire()
    theirs = write_lock(store)
    lock.release()
    assert read_lock(store) == theirs


def test_lock_of_a_dead_process_on_this_host_is_taken_over_at_once(tmp_path):
    store = LocalStore(tmp_path)
    write_lock(store, host=RunLock(store).host, pid=dead_pid())
    with RunLock(store) as lock:
        assert read_lock(store)["token"] == lock.token


def test_lock_with_a_heartbeat_older_than_its_lease_is_taken_over(tmp_path):
    store = LocalStore(tmp_path)
    write_lock(store, heartbeat=time.time() - 61, lease=60)
    with RunLock(store) as lock:
        assert read_lock(store)["token"] == lock.token


def test_lock_of_another_host_within_its_lease_is_respected(tmp_path):
    store = LocalStore(tmp_path)
    theirs = write_lock(store, heartbeat=time.time() - 30, lease=60)
    with pytest.raises(LockHeld, match="host other-host pid 1"):
        RunLock(store).acquire()
    assert read_lock(store) == theirs


def eventually(condition, seconds=30):
    """Whether ``condition()`` becomes true within ``seconds`` (polled; a loaded machine is slow)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_lock_file_that_is_not_a_lock_record_is_stale():
    assert is_stale({}) and is_stale({"token": "x"})


def test_heartbeat_thread_refreshes_the_lock_file(tmp_path):
    store = LocalStore(tmp_path)
    with RunLock(store, heartbeat_every=0.05):
        first = read_lock(store)["heartbeat"]
        assert eventually(lambda: read_lock(store)["heartbeat"] > first)


def test_verify_raises_lock_lost_once_another_driver_took_over(tmp_path):
    store = LocalStore(tmp_path)
    lock = RunLock(store).acquire()
    write_lock(store)
    with pytest.raises(LockLost, match="no longer ours.*without committing"):
        lock.verify()
    lock.release()


def test_heartbeat_does_not_overwrite_a_lock_taken_over(tmp_path):
    store = LocalStore(tmp_path)
    with RunLock(store, heartbeat_every=0.05) as lock:
        theirs = write_lock(store)
        assert eventually(lambda: lock.lost)
        assert read_lock(store) == theirs


def test_only_one_of_many_concurrent_takers_of_a_stale_lock_wins(tmp_path):
    store = LocalStore(tmp_path)
    for trial in range(10):
        write_lock(store, heartbeat=0, token=f"stale-{trial}")
        start, winners, losers = threading.Barrier(6), [], []

        def take():
            lock = RunLock(store)
            start.wait()
            try:
                winners.append(lock.acquire())
            except LockHeld:
                losers.append(lock)

        threads = [threading.Thread(target=take) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(winners) == 1, f"trial {trial}: {len(winners)} takers won"
        assert read_lock(store)["token"] == winners[0].token
        winners[0].release()
        assert not store.exists(TAKEOVER)


def test_a_takeover_marker_left_by_a_dead_taker_is_cleared(tmp_path):
    store = LocalStore(tmp_path)
    write_lock(store, heartbeat=0)
    store.write_bytes(TAKEOVER, json.dumps({"token": "t", "heartbeat": 0, "lease": 1}).encode())
    with RunLock(store) as lock:
        assert read_lock(store)["token"] == lock.token


# -- the driver holding it -------------------------------------------------------------------

def test_train_on_a_locked_run_exits_locked_and_changes_nothing(text_data, tmp_path):
    run = LocalStore(tmp_path / "run")
    theirs = write_lock(run)
    lines = []
    assert train(text_data[0], run.root, "--epochs", "1", log=lines.append) == EXIT_LOCKED
    assert run.list() == [LOCK] and read_lock(run) == theirs
    assert len(lines) == 1 and "locked by another hadoop-rnn train: host other-host" in lines[0]


def test_train_takes_over_the_lock_of_a_dead_driver_and_releases_it(text_data, tmp_path):
    run = LocalStore(tmp_path / "run")
    write_lock(run, host=RunLock(run).host, pid=dead_pid())
    assert train(text_data[0], run.root, "--epochs", "1") == EXIT_OK
    assert not run.exists(LOCK)


def test_train_releases_the_lock_when_it_fails(text_data, tmp_path):
    run = LocalStore(tmp_path / "run")
    run.makedirs()
    run.write_bytes("ckpt-000001.npz", b"not a checkpoint")
    with pytest.raises(CheckpointError):
        train(text_data[0], run.root, "--epochs", "1")
    assert not run.exists(LOCK)


def test_train_commits_nothing_after_losing_the_lock(text_data, tmp_path, monkeypatch):
    run = LocalStore(tmp_path / "run")
    real_run_epoch = training.run_epoch

    def run_epoch_then_lose_the_lock(*args, **kwargs):
        state = real_run_epoch(*args, **kwargs)
        write_lock(run)
        return state

    monkeypatch.setattr(training, "run_epoch", run_epoch_then_lose_the_lock)
    with pytest.raises(LockLost):
        train(text_data[0], run.root, "--epochs", "1")
    assert run.list() == [LOCK]


def test_sigterm_releases_the_lock_and_exits_143(text_data, tmp_path):
    run = LocalStore(tmp_path / "run")
    proc = subprocess.Popen([sys.executable, "-m", "jobs.cli", "train", "--data", text_data[0],
                             "--run", run.root, *SMALL, "--epochs", "50"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    proc.stdout.readline()  # "new run in ...": the lock is held
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, out
    assert "terminated by SIGTERM" in out
    assert not run.exists(LOCK)
