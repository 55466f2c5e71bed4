"""Faults `hadoop-rnn train` survives with nothing lost: kills, bad records, bad checkpoints.

The SIGKILL tests run the real command in a subprocess. ``HADOOP_RNN_FAULT`` (see
jobs.run.checkpoint.fault_point) kills it at exact points of a commit; the random-delay trials kill
it anywhere. More random trials: ``HADOOP_RNN_SLOW_TESTS=1 pytest -m slow tests/test_faults.py``
(``HADOOP_RNN_KILL_TRIALS`` sets how many). The map-attempt failure needs the Hadoop dev
cluster (``eval "$(scripts/hadoop-dev-cluster start)"``; ``-m hadoop``).
"""
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import SMALL, load_run_state, train_small, write_text_data

from jobs.data.dataset import write_dataset
from jobs.run.checkpoint import FAULT_ENV
from jobs.training import TrainingError
from jobs.data.records import encode_record

REPO = Path(__file__).resolve().parent.parent
EPOCHS = 3
FLAGS = [*SMALL, "--mode", "average", "--epochs", str(EPOCHS)]


# -- SIGKILL of the driver -------------------------------------------------------------------

def train_command(data_dir, run_dir, *flags):
    return [sys.executable, "-m", "jobs.cli", "train", "--data", data_dir, "--run", run_dir,
            *FLAGS, *flags]


def driver_env(tmp_path, fault=""):
    """The environment of a driver subprocess: its temporary files (which a SIGKILL leaves
    behind, e.g. mrjob's) under ``tmp_path``, and the fault to inject."""
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    return {**os.environ, "TMPDIR": str(tmp), FAULT_ENV: fault}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The kill tests' dataset and the run they must end like: an uninterrupted run of the
    same command. Returns (data_dir, its RunState, its wall time in seconds)."""
    tmp = tmp_path_factory.mktemp("uninterrupted")
    data_dir = write_text_data(tmp / "data")[0]
    run_dir = str(tmp / "run")
    started = time.monotonic()
    subprocess.run(train_command(data_dir, run_dir), env=driver_env(tmp), check=True,
                   capture_output=True)
    return data_dir, load_run_state(run_dir), time.monotonic() - started


def check_nothing_half_done(run_dir):
    """Every checkpoint in the run loads and holds epochs 1..N exactly once."""
    for path in Path(run_dir).glob("*.npz"):
        state = load_run_state(run_dir, path.name)
        assert [m["epoch"] for m in state.history] == list(range(1, state.epoch + 1)), path


def check_finished_like_uninterrupted(run_dir, theta):
    state = load_run_state(run_dir)
    assert state.theta.tobytes() == theta.tobytes()
    best = load_run_state(run_dir, "best.npz")
    assert best.epoch == state.best_epoch()
    assert best.history == state.history[:best.epoch]
    assert [m["epoch"] for m in state.history] == list(range(1, EPOCHS + 1))
    assert all(m["valid_loss"] is not None and "valid_pending" not in m for m in state.history)
    check_nothing_half_done(run_dir)
    lines = (Path(run_dir) / "metrics.jsonl").read_text().splitlines()
    assert [re.search(r'"epoch": (\d+)', x).group(1) for x in lines] == ["1", "2", "3"]
    leftovers = [p.name for p in Path(run_dir).iterdir() if p.name.startswith((".tmp-", "lock"))]
    assert leftovers == []


def committed_epochs(run_dir):
    return max([int(p.name[5:11]) for p in Path(run_dir).glob("ckpt-*.npz")], default=0)


def run_killing_at_random(command, rng, env, max_delay, max_kills=4):
    """Run ``command`` again and again, SIGKILLing it after a random delay of up to
    ``max_delay`` seconds (at most ``max_kills`` times), until it finishes on its own; check
    the run directory after every kill. Return the epochs committed at each kill."""
    run_dir = command[command.index("--run") + 1]
    killed_at = []
    while True:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=env)
        delay = rng.uniform(0.1, max_delay) if len(killed_at) < max_kills else 300
        try:
            _, err = proc.communicate(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            check_nothing_half_done(run_dir)
            killed_at.append(committed_epochs(run_dir))
            continue
        assert proc.returncode in (0, 3), err.decode()
        return killed_at


def random_kill_trials(uninterrupted, tmp_path, trials, seed):
    data_dir, reference, seconds = uninterrupted
    rng = random.Random(seed)
    kills = []
    for trial in range(trials):
        run_dir = str(tmp_path / f"trial-{trial}")
        # delays up to 90% of an uninterrupted run's time: most runs are killed at least
        # once, at start-up, inside a job or around a commit, however fast the machine is
        kills.append(run_killing_at_random(train_command(data_dir, run_dir), rng,
                                           driver_env(tmp_path), max_delay=0.9 * seconds))
        check_finished_like_uninterrupted(run_dir, reference.theta)
    print(f"{trials} trials; epochs committed at each kill, per trial: {kills}")
    assert sum(map(len, kills)) >= trials, f"too few kills to test anything: {kills}"


def test_driver_killed_at_random_points_ends_bit_identical(uninterrupted, tmp_path):
    random_kill_trials(uninterrupted, tmp_path, trials=5, seed=2026)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("HADOOP_RNN_SLOW_TESTS") != "1",
                    reason="slow: set HADOOP_RNN_SLOW_TESTS=1")
def test_driver_killed_at_many_random_points_ends_bit_identical(uninterrupted, tmp_path):
    random_kill_trials(uninterrupted, tmp_path, seed=int(os.environ.get("HADOOP_RNN_KILL_SEED", 7)),
                       trials=int(os.environ.get("HADOOP_RNN_KILL_TRIALS", 25)))


@pytest.mark.parametrize("point", ["kill-before-commit", "kill-after-ckpt", "kill-after-best",
                                   "kill-after-latest"])
def test_driver_killed_at_a_commit_point_ends_bit_identical(uninterrupted, tmp_path, point):
    data_dir, reference, _ = uninterrupted
    run_dir = str(tmp_path / "run")
    command = train_command(data_dir, run_dir)
    killed = subprocess.run(command, env=driver_env(tmp_path, f"{point}:2"), capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    check_nothing_half_done(run_dir)
    assert subprocess.run(command, env=driver_env(tmp_path), capture_output=True).returncode == 0
    check_finished_like_uninterrupted(run_dir, reference.theta)


def test_driver_killed_after_a_sync_round_resumes_mid_epoch_and_ends_bit_identical(text_data,
                                                                                   tmp_path):
    rounds = ["--syncs-per-epoch", "2"]
    stop = f"kill-before-validation:{EPOCHS}"  # epoch 3 committed, its loss not yet scored
    reference = str(tmp_path / "uninterrupted")
    command = train_command(text_data[0], reference, *rounds)
    assert subprocess.run(command, env=driver_env(tmp_path, stop),
                          capture_output=True).returncode == -signal.SIGKILL
    expected = load_run_state(reference, "best.npz")
    subprocess.run(command, env=driver_env(tmp_path), check=True, capture_output=True)
    run_dir = str(tmp_path / "run")
    command = train_command(text_data[0], run_dir, *rounds)
    killed = subprocess.run(command, env=driver_env(tmp_path, f"kill-after-round:{EPOCHS}.1"),
                            capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    assert load_run_state(run_dir).epoch == EPOCHS - 1 and (Path(run_dir) / "round.npz").exists()
    # round 1 of epoch 3 brought epoch 2's validation loss, which the resumed driver commits
    # with epoch 3 (best.npz too, if epoch 2 is the best), as the uninterrupted one did
    assert subprocess.run(command, env=driver_env(tmp_path, stop),
                          capture_output=True).returncode == -signal.SIGKILL
    best = load_run_state(run_dir, "best.npz")
    assert (best.epoch, best.theta.tobytes()) == (expected.epoch, expected.theta.tobytes())
    assert ([m["valid_loss"] for m in best.history]
            == [m["valid_loss"] for m in expected.history])
    assert subprocess.run(command, env=driver_env(tmp_path), capture_output=True).returncode == 0
    check_finished_like_uninterrupted(run_dir, load_run_state(reference).theta)
    assert not (Path(run_dir) / "round.npz").exists()
    assert ([m["valid_loss"] for m in load_run_state(run_dir).history]
            == [m["valid_loss"] for m in load_run_state(reference).history])
    best, expected = load_run_state(run_dir, "best.npz"), load_run_state(reference, "best.npz")
    assert (best.epoch, best.theta.tobytes()) == (expected.epoch, expected.theta.tobytes())


def test_driver_killed_after_its_last_checkpoint_repairs_latest_and_validates_on_rerun(
        text_data, tmp_path):
    run_dir = str(tmp_path / "run")
    command = train_command(text_data[0], run_dir)
    subprocess.run(command, env=driver_env(tmp_path, f"kill-after-ckpt:{EPOCHS}"))
    assert load_run_state(run_dir).epoch == EPOCHS - 1
    # no epoch to train, but the last θ's validation to score (after latest is repaired)
    assert subprocess.run(command, env=driver_env(tmp_path)).returncode == 0
    assert load_run_state(run_dir).epoch == EPOCHS
    assert load_run_state(run_dir).history[-1]["valid_loss"] is not None
    assert subprocess.run(command, env=driver_env(tmp_path)).returncode == 3  # nothing to do


def test_driver_killed_between_the_last_epoch_and_its_validation_ends_bit_identical(
        uninterrupted, tmp_path):
    data_dir, reference, _ = uninterrupted
    run_dir = str(tmp_path / "run")
    command = train_command(data_dir, run_dir)
    killed = subprocess.run(command, env=driver_env(tmp_path, f"kill-before-validation:{EPOCHS}"),
                            capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    assert load_run_state(run_dir).history[-1]["valid_pending"] is True
    assert subprocess.run(command, env=driver_env(tmp_path), capture_output=True).returncode == 0
    check_finished_like_uninterrupted(run_dir, reference.theta)
    assert ([m["valid_loss"] for m in load_run_state(run_dir).history]
            == [m["valid_loss"] for m in reference.history])


def test_checkpoint_write_killed_midway_leaves_the_old_or_the_new_file(tmp_path):
    """LocalStore.write_bytes under SIGKILL: the target is whole, old or new, never half."""
    writer = ("import sys; from jobs.storage import LocalStore\n"
              "store = LocalStore(sys.argv[1])\n"
              "store.write_bytes('ckpt.npz', bytes(2**22)); print('ready', flush=True)\n"
              "for n in range(1, 10**6): store.write_bytes('ckpt.npz', bytes([n % 256]) * 2**22)\n")
    rng = random.Random(11)
    for trial in range(5):
        proc = subprocess.Popen([sys.executable, "-c", writer, str(tmp_path)],
                                env=driver_env(tmp_path), stdout=subprocess.PIPE)
        assert proc.stdout.readline() == b"ready\n"  # the first version is written
        try:
            proc.wait(timeout=rng.uniform(0.3, 1.5))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        data = (tmp_path / "ckpt.npz").read_bytes()
        assert len(data) == 2**22 and data == data[:1] * 2**22


# -- corrupted records -----------------------------------------------------------------------

def corrupt_text(line, vocab_size):
    """Three ways a text record goes bad, each a function of a good line."""
    key, code, shape, crc, payload = line.split("\t")
    return {
        "bad encoding": "\t".join([key, code, shape, crc, "\xe9" + payload[1:]]),
        "wrong length": "\t".join([key, code, str(int(shape) + 1), crc, payload]),
        "token id out of vocabulary": encode_record(key, np.full(int(shape), vocab_size + 5)),
    }


def corrupt_shard(path, count, bad_line):
    """Replace ``count`` lines of the shard at ``path`` by ``bad_line(good_line)``."""
    lines = path.read_bytes().decode("ascii").splitlines()
    step = max(1, len(lines) // count)
    for i in range(0, step * count, step):
        lines[i] = bad_line(lines[i])
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))


def one_percent(meta):
    return -(-meta["counts"]["train"]["records"] // 100)


@pytest.mark.parametrize("reason", ["bad encoding", "wrong length", "token id out of vocabulary"])
def test_one_percent_bad_records_are_skipped_counted_and_recorded(text_data, tmp_path, reason):
    data_dir, meta = text_data
    shard = Path(data_dir) / meta["train"][-1]
    corrupt_shard(shard, one_percent(meta),
                  lambda line: corrupt_text(line, len(meta["vocab"]))[reason])
    lines = []
    run_dir = str(tmp_path / "run")
    train_small(data_dir, run_dir, "--epochs", "1", "--max-bad-records", "0.02", log=lines.append)
    m = load_run_state(run_dir).history[0]
    assert m["bad_records"] == one_percent(meta)
    assert m["bad_records_by_reason"] == {reason: one_percent(meta)}
    assert m["records"] == meta["counts"]["train"]["records"] - one_percent(meta)
    assert any(f"skipped {one_percent(meta)} bad records" in x and shard.name in x
               for x in lines)


def test_bad_records_above_the_threshold_fail_the_epoch_naming_the_shard(text_data, tmp_path):
    data_dir, meta = text_data
    shard = Path(data_dir) / meta["train"][-1]
    corrupt_shard(shard, one_percent(meta),
                  lambda line: corrupt_text(line, len(meta["vocab"]))["wrong length"])
    run_dir = tmp_path / "run"
    with pytest.raises(TrainingError, match=rf"{shard.name} \(2\); above --max-bad-records "
                                            r"0.005: fix or re-prepare those shards"):
        train_small(data_dir, str(run_dir), "--epochs", "1", "--max-bad-records", "0.005")
    assert not list(run_dir.glob("*.npz"))


@pytest.fixture
def series_data(tmp_path):
    """A small one-column series dataset (noisy sine waves in chunks of 17 steps)."""
    rng = np.random.default_rng(3)
    t = np.arange(17)[:, None]
    chunks = [(f"s/{i}", np.sin(0.3 * t + i) + 0.05 * rng.standard_normal((17, 1)))
              for i in range(140)]
    data_dir = str(tmp_path / "series")
    meta = write_dataset(data_dir, "series", {"train": chunks[:100], "valid": chunks[100:]},
                         shards=2, columns=["x"])
    return data_dir, meta


def test_one_percent_series_records_with_nan_are_skipped_and_counted(series_data, tmp_path):
    data_dir, meta = series_data
    shard = Path(data_dir) / meta["train"][0]

    def with_nan(line):
        key = line.split("\t")[0]
        return encode_record(key, np.full((17, 1), np.nan))

    corrupt_shard(shard, 1, with_nan)
    run_dir = str(tmp_path / "run")
    train_small(data_dir, run_dir, "--epochs", "1")
    m = load_run_state(run_dir).history[0]
    assert m["bad_records_by_reason"] == {"non-finite value": 1} and m["records"] == 99


# -- checkpoints that are not ours -----------------------------------------------------------

def snapshot(directory):
    return {p.name: p.read_bytes() for p in Path(directory).iterdir()}


def test_checkpoint_of_another_model_configuration_is_refused_and_nothing_overwritten(
        text_data, series_data, tmp_path):
    run_dir = tmp_path / "run"
    train_small(text_data[0], str(run_dir), "--epochs", "1")
    before = snapshot(run_dir)
    with pytest.raises(TrainingError, match=r"is not the data the run was trained on: it is "
                                            r"a series dataset, the run's model a text model.*"
                                            r"a new --run"):
        train_small(series_data[0], str(run_dir), "--epochs", "2")
    assert snapshot(run_dir) == before


# -- no unpickling ---------------------------------------------------------------------------

UNPICKLING = [
    (r"^\s*(import|from)\s+(c?[Pp]ickle|dill|cloudpickle|joblib|shelve|marshal)\b",
     "pickle import"),
    (r"allow_pickle\s*=\s*True", "allow_pickle=True"),
    (r"Pickle\w*Protocol", "an mrjob pickle protocol"),
    (r"\bnp\.load\((?![^)]*allow_pickle=False)", "np.load( without allow_pickle=False"),
    (r"\bnumpy\.load\((?![^)]*allow_pickle=False)", "numpy.load( without allow_pickle=False"),
    (r"\btorch\.load\((?![^)]*weights_only=True)", "torch.load( without weights_only=True"),
]


def test_no_code_unpickles_what_it_reads():
    sources = [p for d in ("jobs", "rnn_core", "scripts") for p in (REPO / d).rglob("*.py")]
    assert len(sources) > 20
    found = []
    for path in sources:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for pattern, what in UNPICKLING:
                if re.search(pattern, line):
                    found.append(f"{path.relative_to(REPO)}:{n}: {what}")
    assert found == []
    loader = (REPO / "rnn_core" / "serialization.py").read_text()
    assert "np.load(path_or_fileobj, allow_pickle=False)" in loader


# -- a failed map task attempt on Hadoop -----------------------------------------------------

@pytest.mark.hadoop
@pytest.mark.yarn
def test_failed_first_map_attempt_is_rerun_and_theta_is_unchanged(eight_shard_epochs_on_yarn,
                                                                  hdfs_dir):
    epoch = eight_shard_epochs_on_yarn
    run = f"{hdfs_dir}/run"
    done = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "train", *epoch["flags"], "--mrjob-conf",
         epoch["conf"], "--run", run],
        env={**os.environ, FAULT_ENV: "fail-first-map-attempt"}, capture_output=True, text=True,
        timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    faulted, clean = load_run_state(run), load_run_state(epoch["runs"]["containers"])
    assert faulted.history[0]["failed_map_attempts"] >= 1
    assert clean.history[0]["failed_map_attempts"] == 0
    assert faulted.theta.tobytes() == clean.theta.tobytes()