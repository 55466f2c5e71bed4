"""Running `hadoop-rnn train` again and again from cron: limits per run, new data, the wrapper."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from helpers import cli_args, load_run_state, train_small
from jobs.cli import EXIT_LOCKED, EXIT_NOTHING_TO_DO, EXIT_OK
from jobs.commands import train as train_command
from jobs.training import Limits, TrainingError
from jobs.storage import LocalStore
from test_lock import write_lock

CRON = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts",
                    "hadoop-rnn-cron")
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} "




def test_the_same_command_repeated_continues_to_the_target_then_does_nothing(text_data,
                                                                               tmp_path):
    run_dir = str(tmp_path / "run")
    codes = [train_small(text_data[0], run_dir, "--epochs", "3", "--max-epochs-per-run", "2")
             for _ in range(3)]
    assert codes == [EXIT_OK, EXIT_OK, EXIT_NOTHING_TO_DO]
    assert [m["epoch"] for m in load_run_state(run_dir).history] == [1, 2, 3]


def test_max_epochs_per_run_stops_and_says_how_far_the_run_is(text_data, tmp_path):
    lines = []
    train_small(text_data[0], str(tmp_path / "run"), "--epochs", "3", "--max-epochs-per-run",
                "1", log=lines.append)
    assert lines[-1] == ("stopping after 1 epoch(s) (--max-epochs-per-run): at epoch 1 of 3; "
                         "run again to continue")


def test_time_budget_does_not_start_an_epoch_that_would_overrun():
    assert Limits(time_budget=100).reached(10, 1, 30, 60, 4) is None
    reason = Limits(time_budget=100).reached(10, 1, 30, 71, 4)
    assert "another (~30s) would overrun --time-budget 100s (71s used)" in reason


def test_time_budget_lets_the_first_epoch_of_a_new_run_start():
    assert Limits(time_budget=1).reached(10, 0, None, 5, 0) is None


def test_time_budget_shorter_than_one_epoch_is_an_error(text_data, tmp_path):
    run_dir = str(tmp_path / "run")
    train_small(text_data[0], run_dir, "--epochs", "1")
    with pytest.raises(TrainingError, match="too short for one epoch.*nothing was started"):
        train_small(text_data[0], run_dir, "--epochs", "2", "--time-budget", "0.001")
    assert load_run_state(run_dir).epoch == 1


def test_new_data_between_runs_is_recorded_as_the_data_version_of_each_epoch(text_data,
                                                                              tmp_path):
    data_dir, meta = text_data
    run_dir = str(tmp_path / "run")
    train_small(data_dir, run_dir, "--epochs", "1")
    meta_path = os.path.join(data_dir, "meta.json")
    with open(meta_path, "w") as f:
        json.dump(dict(meta, fingerprint="new-version-0123456789"), f)
    lines = []
    train_small(data_dir, run_dir, "--epochs", "2", log=lines.append)
    assert [m["data_version"] for m in load_run_state(run_dir).history] == [
        meta["fingerprint"], "new-version-0123456789"]
    assert any("the data changed since epoch 1" in line for line in lines)
    metrics = [json.loads(x) for x in open(os.path.join(run_dir, "metrics.jsonl"))]
    assert metrics[1]["data_version"] == "new-version-0123456789"


def test_log_option_appends_timestamped_lines(text_data, tmp_path):
    log_file = tmp_path / "train.log"
    args = cli_args("train", "--data", text_data[0], "--run", tmp_path / "run", "--epochs", 1,
                    "--hidden", 8, "--log", log_file)
    train_command.main(args)
    train_command.main(args)
    lines = log_file.read_text().splitlines()
    assert all(re.match(STAMP + "hadoop-rnn train: ", line) for line in lines)
    assert any("epoch 1/1" in line for line in lines[1:-1]) and "nothing to do" in lines[-1]


# -- scripts/hadoop-rnn-cron -----------------------------------------------------------------

def cron(*args, env=None):
    """Run the wrapper with a cron-like environment; return the exit code."""
    env = {"HOME": os.environ.get("HOME", "/"), "PATH": "/usr/bin:/bin", **(env or {})}
    return subprocess.run([CRON, *args], env=env, capture_output=True, timeout=120).returncode


@pytest.fixture
def env_file(tmp_path):
    """An --env file that puts this Python's hadoop-rnn on PATH, as a user's would."""
    path = tmp_path / "env.sh"
    path.write_text(f'export PATH="{os.path.dirname(sys.executable)}:$PATH"\n'
                    "export HADOOP_RNN_TEST_MARK=sourced\n")
    return str(path)


def test_cron_wrapper_logs_timestamped_output_and_keeps_exit_codes(text_data, tmp_path,
                                                                   env_file):
    log_file, run_dir = tmp_path / "logs" / "cron.log", str(tmp_path / "run")
    line = ["--log", str(log_file), "--env", env_file, "--data", text_data[0], "--run", run_dir,
            "--epochs", "1", "--hidden", "8"]
    assert [cron(*line), cron(*line)] == [EXIT_OK, EXIT_NOTHING_TO_DO]
    lines = log_file.read_text().splitlines()
    assert all(re.match(STAMP, x) for x in lines)
    assert re.match(STAMP + "start: hadoop-rnn train --data ", lines[0])
    assert lines[-1].endswith("exit 3") and any(x.endswith("exit 0") for x in lines)
    assert any("epoch 1/1" in x for x in lines)


def test_cron_wrapper_passes_the_locked_exit_code(text_data, tmp_path, env_file):
    run = LocalStore(tmp_path / "run")
    write_lock(run)
    assert cron("--log", str(tmp_path / "cron.log"), "--env", env_file, "--data",
                text_data[0], "--run", run.root) == EXIT_LOCKED


def test_cron_wrapper_sources_the_env_file_before_running(tmp_path, env_file):
    fake = tmp_path / "fake-hadoop-rnn"
    fake.write_text('#!/bin/sh\necho "mark=$HADOOP_RNN_TEST_MARK args=$*"\nexit 7\n')
    fake.chmod(0o755)
    log_file = tmp_path / "cron.log"
    assert cron("--log", str(log_file), "--env", env_file, "--run", "x",
                env={"HADOOP_RNN_BIN": str(fake)}) == 7
    assert "mark=sourced args=train --run x" in log_file.read_text()


def test_cron_wrapper_without_log_is_a_usage_error(tmp_path):
    assert cron("--data", "x") == 2


def test_cron_wrapper_keytab_without_principal_is_a_usage_error(tmp_path):
    assert cron("--log", str(tmp_path / "cron.log"), "--keytab", str(tmp_path / "k")) == 2


def test_cron_wrapper_with_an_unreadable_keytab_exits_2_before_running(tmp_path, env_file):
    log_file = tmp_path / "cron.log"
    assert cron("--log", str(log_file), "--env", env_file, "--keytab", str(tmp_path / "none"),
                "--principal", "rnn", "--run", "x") == 2
    assert log_file.read_text().splitlines()[-1].endswith(
        f"exit 2: cannot read the keytab {tmp_path / 'none'}")


def test_cron_wrapper_forwards_sigterm_and_the_driver_releases_the_lock(text_data, tmp_path,
                                                                        env_file):
    log_file, run = tmp_path / "cron.log", LocalStore(tmp_path / "run")
    proc = subprocess.Popen([CRON, "--log", str(log_file), "--env", env_file, "--data",
                             text_data[0], "--run", run.root, "--epochs", "100"])
    deadline = time.monotonic() + 60
    while "epoch 1/100" not in (log_file.read_text() if log_file.exists() else ""):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    assert "terminated by SIGTERM" in log_file.read_text() and not run.exists("lock.json")
