"""More bad input (round 4): what a data engineer new to hadoop-rnn tried, and what it does.

Each test is one case: the command or call, and the behaviour promised for it (nothing lost,
nothing silently wrong, a one-line error). docs/operations.md names the tests that back each
guarantee; tests/test_bad_input.py holds the first catalogue.
"""
import multiprocessing
import os
import signal
import time

import numpy as np
import pytest
from helpers import (SUNSPOTS_CSV, SUNSPOTS_SERIES, TINY, cli_args, prepare_cli, train_cli)

from jobs.commands.sample import sample_kwargs
from jobs.generating import sample
from jobs.interrupts import signals_raise
from jobs.run.trained import RunError
from jobs.training import TrainingError


def test_a_process_forked_under_the_command_dies_of_sigterm_as_a_task_pool_expects():
    # mrjob's local runner forks its task pool inside the command; Pool.terminate() after a
    # failed task sends SIGTERM and waits for the workers to die of it
    with signals_raise():
        worker = multiprocessing.get_context("fork").Process(target=time.sleep, args=(60,))
        worker.start()
        time.sleep(0.2)
        worker.terminate()
        worker.join(20)
    assert worker.exitcode == -signal.SIGTERM


def test_a_series_file_whose_path_has_a_space_is_refused_by_the_local_runner_saying_why(
        tmp_path):
    spaced = tmp_path / "sun spots.csv"
    spaced.write_bytes(open(SUNSPOTS_CSV, "rb").read())
    with pytest.raises(ValueError, match="sun spots.csv: the local runner cannot read a series "
                                         "file whose path holds a space.*--runner inline"):
        prepare_cli("--kind", "series", spaced, "--column", "SUNACTIVITY", "--out",
                    tmp_path / "ds", "--runner", "local")
    assert not (tmp_path / "ds").exists()


def test_rows_further_apart_than_the_series_step_are_reported_and_empty_rows_fill_them(
        tmp_path):
    days = [f"2026-01-{d:02d}" for d in range(1, 32)] + [f"2026-02-{d:02d}" for d in range(1, 29)]
    rows = [f"{day},{n % 7}" for n, day in enumerate(days)]
    gapped = tmp_path / "gap.csv"
    gapped.write_text("day,v\n" + "\n".join(rows[:30] + rows[31:]) + "\n")
    lines = []
    prepare_cli("--kind", "series", gapped, "--column", "v", "--time", "day", "--out",
                tmp_path / "ds", log=lines.append)
    assert any("1 series skip times (" in line and "1 gap(s)" in line for line in lines), lines
    filled = tmp_path / "filled.csv"  # the way out the message gives: a row with no value
    filled.write_text("day,v\n" + "\n".join(rows[:30] + [f"{days[30]},"] + rows[31:]) + "\n")
    lines = []
    meta = prepare_cli("--kind", "series", filled, "--column", "v", "--time", "day", "--out",
                       tmp_path / "ds2", log=lines.append)
    assert not any("skip times" in line for line in lines)
    assert meta["missing"]["totals"] == {"v": 1}


def test_sample_with_a_series_dataset_names_both_kinds_not_the_wrong_one(text_run, tmp_path):
    series = str(tmp_path / "series")
    prepare_cli(*SUNSPOTS_SERIES, "--out", series)
    with pytest.raises(RunError, match="is a series dataset, the model in .* a text model"):
        sample(**sample_kwargs(cli_args("sample", "--run", text_run[1], "--data", series)))


def test_an_epoch_that_reads_fewer_records_than_the_dataset_holds_is_not_committed(tmp_path):
    data, run = str(tmp_path / "data"), str(tmp_path / "run")
    (tmp_path / "t.txt").write_text("the quick brown fox jumps over the lazy dog\n" * 40)
    prepare_cli("--kind", "text", tmp_path / "t.txt", "--out", data, "--chunk", 20)
    shard = os.path.join(data, "train", "part-00000.txt")
    with open(shard, encoding="utf-8") as f:
        lines = f.readlines()
    with open(shard, "w", encoding="utf-8") as f:  # a copy cut short after prepare
        f.writelines(lines[:-5])
    with pytest.raises(TrainingError, match="5 are missing from its shards"):
        train_cli("--data", data, "--run", run, "--epochs", 1, *TINY)
    assert not os.path.exists(run)


def test_a_business_day_series_weekends_are_not_reported_as_skipped_times(tmp_path):
    days = [d for d in np.arange(np.datetime64("2026-01-05"), np.datetime64("2026-04-06"))
            if d.astype("datetime64[D]").item().weekday() < 5]
    table = tmp_path / "weekdays.csv"
    table.write_text("day,v\n" + "".join(f"{d},{n % 5}\n" for n, d in enumerate(days)))
    lines = []
    prepare_cli("--kind", "series", table, "--column", "v", "--time", "day", "--out",
                tmp_path / "ds", log=lines.append)
    assert not any("skip times" in line for line in lines), lines
