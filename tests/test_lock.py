"""The run lock (jobs.run.lock) and how `hadoop-rnn train` holds it."""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from jobs.run.checkpoint import CheckpointError
from helpers import train_cli
from jobs.training import loop
from jobs.cli import EXIT_LOCKED, EXIT_OK
from jobs.run import lock as lock_module
from jobs.run.lock import (LOCK, TAKEOVER, LockHeld, LockLost, RunLock, describe, is_stale,
                            pid_alive)
from jobs.storage import LocalStore, StoreError

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
        with lock._mutex:      # not between a beat's read and its write (a residual race)
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


# -- the lock's parts, exactly ---------------------------------------------------------------

class HookedStore(LocalStore):
    """A local store that runs ``hooks[(method, name)](store)`` before (key "before ...") or
    after a call, to play another driver acting in between, and counts create_exclusive calls."""

    def __init__(self, root, hooks=None):
        super().__init__(root)
        self.hooks, self.created = dict(hooks or {}), []

    def _hook(self, when, method, name):
        hook = self.hooks.pop((when, method, name), None)
        return hook(self) if hook else None

    def create_exclusive(self, name, data):
        self.created.append(name)
        forced = self._hook("instead of", "create_exclusive", name)
        if forced is not None:
            return forced
        made = super().create_exclusive(name, data)
        self._hook("after", "create_exclusive", name)
        return made

    def read_bytes(self, name):
        self._hook("before", "read_bytes", name)
        return super().read_bytes(name)


def other_lock(**fields):
    return lambda store: write_lock(store, **fields)


def test_describe_names_host_pid_start_and_heartbeat_age():
    record = {"host": "h1", "pid": 7, "started": 1_000_000.0, "heartbeat": 1_000_010.0}
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(1_000_000.0))
    assert describe(record, now=1_000_025.4) == f"host h1 pid 7 since {since} (heartbeat 15s ago)"


def test_describe_of_an_empty_record_says_start_and_heartbeat_are_unknown():
    assert describe({}, now=100.0) == "host None pid None since an unknown time (no heartbeat)"


def test_describe_of_a_heartbeat_in_the_future_says_so():
    assert describe({"heartbeat": 1100.0}, now=1000.0).endswith("(heartbeat 100s in the future)")


def test_describe_without_now_uses_the_current_time(monkeypatch):
    monkeypatch.setattr(lock_module.time, "time", lambda: 500.0)
    assert describe({"heartbeat": 200.0}).endswith("(heartbeat 300s ago)")


def test_pid_alive_probes_the_process_with_signal_zero(monkeypatch):
    probes = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: probes.append((pid, sig)))
    assert pid_alive("123") is True
    assert probes == [(123, 0)]


def test_pid_alive_of_a_process_of_another_user_is_true(monkeypatch):
    def refuse(pid, sig):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "kill", refuse)
    assert pid_alive(1) is True


@pytest.mark.parametrize("pid", [None, "x", 2 ** 80])
def test_pid_alive_of_a_pid_that_is_not_one_is_false(pid):
    assert pid_alive(pid) is False


def test_pid_alive_tells_a_live_process_from_a_dead_one():
    assert pid_alive(os.getpid()) is True and pid_alive(dead_pid()) is False


def fresh(**fields):
    return {"token": "t", "heartbeat": 1000.0, "lease": 60.0, **fields}


@pytest.mark.parametrize("record, now, stale", [
    (fresh(), 1060.0, False),                    # exactly one lease old: still held
    (fresh(), 1060.5, True),
    (fresh(host="elsewhere", pid=1), 1000.0, False),
    (["not", "a", "dict"], 1000.0, True),
    (None, 1000.0, True),
    ({"token": "t", "heartbeat": 1000.0}, 1000.0, True),
    (fresh(heartbeat="1000"), 1000.0, True),     # fields of the wrong type: not a lock record
    (fresh(lease=None), 1000.0, True),
    (fresh(lease=True), 1000.0, True),
    (fresh(lease=float("inf")), 1000.0, True),
    (fresh(token=7), 1000.0, True),
    (fresh(lease=-5.0), 1000.0, True),
    (fresh(), 940.0, False),                     # a lease ahead: a clock that far off, at most
    (fresh(), 900.0, True),                      # further ahead: no driver wrote that
])
def test_is_stale_once_the_heartbeat_is_older_than_the_lease_or_the_record_is_not_one(
        record, now, stale):
    assert is_stale(record, now=now, host="here") is stale


def test_is_stale_without_now_uses_the_current_time(monkeypatch):
    monkeypatch.setattr(lock_module.time, "time", lambda: 2000.0)
    assert is_stale(fresh()) is True


def test_is_stale_when_its_process_on_the_given_host_is_gone():
    assert is_stale(fresh(host="here", pid=dead_pid()), now=1000.0, host="here") is True
    assert is_stale(fresh(host="here", pid=os.getpid()), now=1000.0, host="here") is False


def test_heartbeat_period_is_a_third_of_the_lease_and_at_least_half_a_second(tmp_path):
    store = LocalStore(tmp_path)
    assert RunLock(store, lease=60).heartbeat_every == 20.0
    assert RunLock(store, lease=0.9).heartbeat_every == 0.5
    assert RunLock(store, lease=60, heartbeat_every=2).heartbeat_every == 2


def test_each_lock_has_its_own_random_token(tmp_path):
    a, b = RunLock(LocalStore(tmp_path)), RunLock(LocalStore(tmp_path))
    assert len(a.token) == 32 and int(a.token, 16) >= 0 and a.token != b.token


def test_lock_file_is_json_with_sorted_keys(tmp_path):
    store = LocalStore(tmp_path)
    with RunLock(store):
        raw = store.read_bytes(LOCK)
    assert raw == json.dumps(json.loads(raw), sort_keys=True).encode()


def test_heartbeat_runs_in_a_daemon_thread_named_run_lock_heartbeat(tmp_path):
    with RunLock(LocalStore(tmp_path)) as lock:
        assert lock._thread.name == "run-lock-heartbeat" and lock._thread.daemon


def test_release_stops_the_heartbeat_thread(tmp_path):
    lock = RunLock(LocalStore(tmp_path), heartbeat_every=0.05).acquire()
    thread = lock._thread
    lock.release()
    assert not thread.is_alive() and lock._thread is None


def test_release_of_a_lock_never_acquired_does_nothing(tmp_path):
    store = LocalStore(tmp_path)
    theirs = write_lock(store)
    RunLock(store).release()
    assert read_lock(store) == theirs


@pytest.mark.parametrize("content", [b"not json", b"[1, 2]", b'"a string"'])
def test_read_of_a_lock_file_that_is_not_a_record_is_an_empty_dict(tmp_path, content):
    store = LocalStore(tmp_path)
    store.write_bytes(LOCK, content)
    assert RunLock(store).read() == {}


def test_read_without_a_lock_file_is_none(tmp_path):
    store = LocalStore(tmp_path)
    store.makedirs()
    assert RunLock(store).read() is None


def test_lock_released_under_our_feet_is_acquired_on_the_next_look(tmp_path):
    store = HookedStore(tmp_path, {("instead of", "create_exclusive", LOCK): lambda s: False})
    with RunLock(store) as lock:
        assert read_lock(store)["token"] == lock.token
    assert store.created == [LOCK, LOCK]


def test_taking_over_a_stale_lock_replaces_it_in_one_pass(tmp_path):
    store = HookedStore(tmp_path)
    write_lock(store, heartbeat=0)
    with RunLock(store) as lock:
        assert read_lock(store)["token"] == lock.token
    assert store.created == [LOCK, TAKEOVER, LOCK]


def test_a_takeover_finished_by_another_driver_meanwhile_is_looked_at_again(tmp_path):
    # our takeover marker is refused, but the other taker's marker is gone when we read it
    store = HookedStore(tmp_path, {("instead of", "create_exclusive", TAKEOVER): lambda s: False})
    write_lock(store, heartbeat=0)
    with RunLock(store) as lock:
        assert read_lock(store)["token"] == lock.token


def test_a_live_takeover_by_another_driver_is_respected(tmp_path):
    store = LocalStore(tmp_path)
    write_lock(store, heartbeat=0)
    store.write_bytes(TAKEOVER, json.dumps(fresh(host="other-host", pid=1,
                                                 heartbeat=time.time())).encode())
    with pytest.raises(LockHeld, match=rf"^{re.escape(store.uri())}: another driver is taking "
                                       r"over a stale lock: host other-host pid 1 since "):
        RunLock(store).acquire()


def test_a_stale_lock_that_changed_hands_meanwhile_is_not_taken(tmp_path):
    # between our look at the stale lock and our takeover, another driver took it
    store = HookedStore(tmp_path, {("after", "create_exclusive", TAKEOVER): other_lock(
        token="the-new-holder", host="other-host", pid=2)})
    write_lock(store, heartbeat=0)
    with pytest.raises(LockHeld, match=rf"^{re.escape(store.uri())} is locked by another "
                                       r"hadoop-rnn train: host other-host pid 2 since "):
        RunLock(store).acquire()
    assert read_lock(store)["token"] == "the-new-holder" and not store.exists(TAKEOVER)


def test_a_lock_that_keeps_changing_hands_is_given_up_after_three_looks(tmp_path):
    class Refusing(HookedStore):  # the lock file is created and removed by others each time
        def create_exclusive(self, name, data):
            self.created.append(name)
            return False

    store = Refusing(tmp_path)
    with pytest.raises(LockHeld, match=rf"^{re.escape(store.uri())}: the lock keeps changing "
                                       r"hands; try again$"):
        RunLock(store).acquire()
    assert store.created == [LOCK] * 3


def test_a_lock_lost_right_after_creating_it_raises_naming_the_winner(tmp_path):
    store = HookedStore(tmp_path, {("after", "create_exclusive", LOCK): other_lock(
        token="winner", host="other-host", pid=3)})
    with pytest.raises(LockHeld, match=rf"^{re.escape(store.uri())}: lost the race for the "
                                       r"lock to host other-host pid 3 since "):
        RunLock(store).acquire()


def test_a_lock_deleted_right_after_creating_it_raises_lost_race(tmp_path):
    store = HookedStore(tmp_path, {("after", "create_exclusive", LOCK): lambda s: s.delete(LOCK)})
    with pytest.raises(LockHeld, match=rf"^{re.escape(store.uri())}: lost the race for the "
                                       r"lock to host None pid None since "):
        RunLock(store).acquire()


def test_lock_lost_message_says_who_holds_it_now(tmp_path):
    store = LocalStore(tmp_path)
    lock = RunLock(store).acquire()
    write_lock(store, host="other-host", pid=1)
    with pytest.raises(LockLost, match=rf"^{re.escape(store.uri(LOCK))} is no longer ours \(now "
                                       r"host other-host pid 1 since [^)]*\(heartbeat \d+s ago\)\): "
                                       r"another driver took over the run; this one stops "
                                       r"without committing$") as first:
        lock.verify()
    with pytest.raises(LockLost) as second:  # and keeps saying so
        lock.verify()
    assert str(second.value) == str(first.value)
    lock.release()


def test_lock_lost_message_when_the_file_is_gone_says_absent(tmp_path):
    store = LocalStore(tmp_path)
    lock = RunLock(store).acquire()
    store.delete(LOCK)
    with pytest.raises(LockLost, match=r"is no longer ours \(now absent\): another driver"):
        lock.verify()
    lock.release()


def test_heartbeat_goes_on_after_a_store_hiccup(tmp_path):
    def hiccup(store):
        raise StoreError("cannot read: connection reset")

    store = HookedStore(tmp_path)
    with RunLock(store, heartbeat_every=0.05):
        store.hooks[("before", "read_bytes", LOCK)] = hiccup
        assert eventually(lambda: ("before", "read_bytes", LOCK) not in store.hooks)
        after_hiccup = read_lock(store)["heartbeat"]
        assert eventually(lambda: read_lock(store)["heartbeat"] > after_hiccup)


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
    real_run_round = loop.run_round

    def run_round_then_lose_the_lock(*args, **kwargs):
        state = real_run_round(*args, **kwargs)
        write_lock(run)
        return state

    monkeypatch.setattr(loop, "run_round", run_round_then_lose_the_lock)
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
