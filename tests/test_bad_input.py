"""A catalogue of bad input: what a new user (or cron) may throw at hadoop-rnn, and what it does.

Each test is one case: the command or call, and the behaviour promised for it (nothing lost,
nothing silently wrong, a usage error or a one-line error). docs/operations.md names the
tests that back each guarantee.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import replace

import numpy as np
import pytest
from helpers import (SUNSPOTS_CSV, TINY, cli_args, prepare_cli, prepare_sunspots, quiet,
                     siblings, train_cli, tree)

from jobs import demo
from jobs.preparing import api as preparing
from jobs.cli import main as cli_main
from jobs.commands.evaluate import evaluate_kwargs
from jobs.commands.sample import sample_kwargs
from jobs.data.dataset import Dataset
from jobs.generating import forecast_run, sample
from jobs.run.checkpoint import commit, load_latest
from jobs.run.trained import RunError
from jobs.scoring import evaluate
from jobs.storage import open_store
from jobs.training import RunSpec, TrainingError, train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRON = os.path.join(ROOT, "scripts", "hadoop-rnn-cron")


def meta_of(data_dir):
    with open(os.path.join(data_dir, "meta.json"), encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture
def series_ds(tmp_path):
    """A series dataset of the sunspots file in tmp/ds."""
    return prepare_sunspots(tmp_path / "ds")


def text_file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def text_ds(tmp_path, name, text):
    """A text dataset of ``text`` (one file) in tmp/name."""
    out = str(tmp_path / name)
    prepare_cli("--kind", "text", text_file(tmp_path, name + ".txt", text), "--out", out,
                "--chunk", 9, "--valid", 0.2)
    return out


def copy_run_with_theta(run, tmp_path, change):
    """A copy of the run directory whose newest θ is ``change(θ)``; returns its path."""
    copy = str(tmp_path / "run-copy")
    shutil.copytree(run, copy)
    store = open_store(copy)
    state = load_latest(store)
    state.theta = change(state.theta)
    commit(store, state)
    return copy


# -- data loss: prepare --force and demo ------------------------------------------------------

def test_prepare_force_with_a_bad_column_leaves_the_old_dataset_whole(series_ds):
    before = tree(series_ds)
    with pytest.raises(ValueError, match="no column 'vall'"):
        prepare_cli("--kind", "series", SUNSPOTS_CSV, "--column", "vall", "--out", series_ds,
                    "--force")
    assert tree(series_ds) == before and siblings(series_ds) == ["ds"]


def test_prepare_force_with_an_input_that_is_not_text_leaves_the_old_dataset_whole(series_ds):
    before = tree(series_ds)
    with pytest.raises(ValueError, match="not UTF-8"):
        prepare_cli("--kind", "text", "/bin/ls", "--out", series_ds, "--force")
    assert tree(series_ds) == before


def test_prepare_force_killed_before_the_swap_leaves_the_old_dataset_whole(series_ds,
                                                                          monkeypatch):
    real_write = preparing.write_meta

    def write_then_die(*args, **kwargs):  # the new dataset is complete: Ctrl-C right now
        real_write(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(preparing, "write_meta", write_then_die)
    before = tree(series_ds)
    with pytest.raises(KeyboardInterrupt):
        prepare_cli("--kind", "series", SUNSPOTS_CSV, "--column", "YEAR", "--out", series_ds,
                    "--force")
    assert tree(series_ds) == before and siblings(series_ds) == ["ds"]


def test_prepare_force_reads_an_input_inside_out_before_replacing_it(tmp_path):
    out = text_ds(tmp_path, "ds", "abcab" * 40)
    shard = os.path.join(out, "train", "part-00000.txt")
    meta = prepare_cli("--kind", "text", shard, "--out", out, "--force")
    assert meta["kind"] == "text" and Dataset(out).meta["fingerprint"] == meta["fingerprint"]


@pytest.mark.hadoop
def test_prepare_force_on_hdfs_with_a_bad_column_leaves_the_old_dataset_whole(hdfs_dir):
    out = hdfs_dir + "/ds"
    old = prepare_cli("--kind", "series", SUNSPOTS_CSV, "--column", "SUNACTIVITY", "--out", out)
    with pytest.raises(ValueError, match="no column 'vall'"):
        prepare_cli("--kind", "series", SUNSPOTS_CSV, "--column", "vall", "--out", out,
                    "--force")
    assert Dataset(out).meta == old and open_store(hdfs_dir).list() == ["ds"]
    new = prepare_cli("--kind", "series", SUNSPOTS_CSV, "--column", "YEAR", "--out", out,
                      "--force")
    assert Dataset(out).meta == new and open_store(hdfs_dir).list() == ["ds"]


def test_prepare_force_refuses_a_directory_that_is_not_a_dataset(tmp_path):
    mine = tmp_path / "mine"
    (mine / "train").mkdir(parents=True)
    (mine / "train" / "notes.csv").write_text("my notes\n")
    with pytest.raises(preparing.PrepareError, match="not a dataset.*nothing was changed"):
        prepare_cli("--kind", "series", SUNSPOTS_CSV, "--column", "SUNACTIVITY",
                    "--out", mine, "--force")
    assert tree(str(mine)) == {"train/notes.csv": b"my notes\n"}


def test_prepare_force_refuses_a_dataset_directory_holding_other_files(series_ds):
    with open(os.path.join(series_ds, "valid", "notes.txt"), "w") as f:
        f.write("mine\n")
    before = tree(series_ds)
    with pytest.raises(preparing.PrepareError, match="notes.txt is not part of the dataset"):
        prepare_cli("--kind", "series", SUNSPOTS_CSV, "--column", "YEAR", "--out", series_ds,
                    "--force")
    assert tree(series_ds) == before


def test_demo_never_replaces_a_dataset_it_did_not_write(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo, "MODULES", ("bisect.py",))
    monkeypatch.setattr(demo, "SPEC", RunSpec(hidden=8, batch=8))
    run = tmp_path / "run"
    run.mkdir()
    text_ds(run, "data", "my own data\n" * 30)
    before = tree(str(run / "data"))
    assert cli_main(["demo", "--run", str(run), "--epochs", "1", "--length", "5"]) == 1
    assert "the demo did not write" in capsys.readouterr().err
    assert tree(str(run / "data")) == before


# -- silently wrong: data of another encoding, huge values, NaN --------------------------------

def test_resume_on_a_vocabulary_of_the_same_size_but_other_characters_is_an_error(tmp_path):
    first, other = text_ds(tmp_path, "abc", "abcab\n" * 30), text_ds(tmp_path, "xyz", "xyzxy\n" * 30)
    run = str(tmp_path / "run")
    assert train_cli("--data", first, "--run", run, "--epochs", 1, *TINY) == 0
    with pytest.raises(RunError, match="differs from the data the run was trained on in the "
                                       "vocabulary"):
        train_cli("--data", other, "--run", run, "--epochs", 2)
    assert load_latest(open_store(run)).epoch == 1


def test_resume_on_series_with_other_normalization_is_an_error(series_ds, tmp_path):
    run = str(tmp_path / "run")
    assert train_cli("--data", series_ds, "--run", run, "--epochs", 1, *TINY) == 0
    prepare_cli("--kind", "series", SUNSPOTS_CSV, "--column", "SUNACTIVITY", "--out", series_ds,
                "--chunk", 12, "--valid", 0.5, "--force")
    with pytest.raises(RunError, match="normalization statistics"):
        train_cli("--data", series_ds, "--run", run, "--epochs", 2)


@pytest.mark.parametrize("command", ["evaluate", "sample"])
def test_evaluate_or_sample_with_data_of_another_vocabulary_is_an_error(tmp_path, command):
    first, other = text_ds(tmp_path, "abc", "abcab\n" * 30), text_ds(tmp_path, "xyz", "xyzxy\n" * 30)
    run = str(tmp_path / "run")
    train_cli("--data", first, "--run", run, "--epochs", 1, *TINY)
    call, kwargs = {"evaluate": (evaluate, evaluate_kwargs), "sample": (sample, sample_kwargs)}[command]
    with pytest.raises(RunError, match="vocabulary"):
        call(**kwargs(cli_args(command, "--run", run, "--data", other)))


def test_series_values_near_1e300_are_an_error_naming_the_column(tmp_path):
    path = text_file(tmp_path, "huge.csv", "t,big\n" + "".join(f"{i},{(i % 3 + 1)}e300\n"
                                                            for i in range(40)))
    with pytest.raises(ValueError, match="column 'big'.*too large"):
        prepare_cli("--kind", "series", path, "--column", "big", "--out", tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


def test_evaluate_json_is_valid_json_when_a_metric_overflows(text_run, tmp_path, capsys):
    run = copy_run_with_theta(text_run[1], tmp_path, lambda theta: theta * 1e6)
    assert cli_main(["evaluate", "--run", run, "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)  # no Infinity: JSON has none
    assert metrics["loss"] > 709 and metrics["perplexity"] is None


def test_evaluate_of_a_nan_model_is_an_error_not_a_success(text_run, tmp_path, capsys):
    run = copy_run_with_theta(text_run[1], tmp_path, lambda theta: theta * np.nan)
    assert cli_main(["evaluate", "--run", run, "--json"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "non-finite loss" in err


def test_a_diverging_run_does_not_commit_a_non_finite_validation_loss(series_ds, tmp_path):
    run = str(tmp_path / "run")
    with pytest.raises(TrainingError, match="non-finite validation loss.*Lower --lr"):
        # one step per epoch (--batch 32: more than the 5 chunks; the series default would
        # take 5), so the training loss, computed before the step, is still finite. Epoch 1
        # is committed, its loss pending; the job of epoch 2 scores it: not finite
        train_cli("--data", series_ds, "--run", run, "--epochs", 2, "--lr", "1e30", "--clip",
                  "0", "--optimizer", "sgd", "--hidden", 8, "--batch", 32)
    assert sorted(os.listdir(run)) == ["best.npz", "ckpt-000001.npz", "latest.npz",
                                       "metrics.jsonl"]
    assert '"valid_loss": null' in open(os.path.join(run, "metrics.jsonl")).read()


def test_numpy_warnings_in_an_inline_task_do_not_crash_it(series_ds):
    # A θ that overflows in every map task. In a subprocess: pytest records warnings itself,
    # which would hide how the inline runner's binary stderr turns them into a TypeError.
    script = f"""
import numpy as np
from jobs.data.dataset import Dataset
from jobs.hadoop.launch import RunnerOptions
from jobs.training import RunSpec
from jobs.training.spec import new_state
from jobs.training.epoch_job import run_epoch_job
dataset = Dataset({series_ds!r})
state = new_state(RunSpec(hidden=8), dataset, {series_ds!r})
state.theta = np.full_like(state.theta, 1e30)
out = run_epoch_job(state, dataset, RunnerOptions("inline")).output
print("loss_sum", float(out["loss_sum"]))
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": ROOT}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout.startswith("loss_sum")


# -- usage errors: nonsense numbers exit 2 and leave nothing ------------------------------------

TRAIN = ["train", "--data", "D", "--run", "R"]
NONSENSE = [
    TRAIN + ["--batch", "0"], TRAIN + ["--batch", "-4"], TRAIN + ["--max-epochs-per-run", "0"],
    TRAIN + ["--epochs", "-1"], TRAIN + ["--lock-lease", "0"], TRAIN + ["--hidden", "0"],
    TRAIN + ["--layers", "0"], TRAIN + ["--lr", "-1"], TRAIN + ["--lr", "nan"],
    TRAIN + ["--lr", "inf"], TRAIN + ["--momentum", "1.5"], TRAIN + ["--clip", "-1"],
    TRAIN + ["--bptt", "-1"], TRAIN + ["--seed", "-1"], TRAIN + ["--task-threads", "0"],
    TRAIN + ["--time-budget", "0"], TRAIN + ["--max-bad-records", "2"],
    TRAIN + ["--decay-every", "0"],
    ["prepare", "x.txt", "--kind", "text", "--out", "O", "--chunk", "1"],
    ["prepare", "x.txt", "--kind", "text", "--out", "O", "--shards", "0"],
    ["prepare", "x.txt", "--kind", "text", "--out", "O", "--valid", "1"],
    ["prepare", "x.txt", "--kind", "text", "--out", "O", "--max-vocab", "1"],
    ["sample", "--run", "R", "--length", "-1"], ["sample", "--run", "R", "--temperature", "0"],
    ["forecast", "--run", "R", "--horizon", "0"],
    ["forecast", "--run", "R", "--horizon", "2", "--context", "0"],
    ["demo", "--epochs", "0"],
]


@pytest.mark.parametrize("argv", NONSENSE, ids=[" ".join(a[:1] + a[-2:]) for a in NONSENSE])
def test_a_number_out_of_range_is_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main(argv)
    assert exit_.value.code == 2
    assert f"argument {argv[-2]}: must be" in capsys.readouterr().err


def test_a_train_with_a_bad_value_leaves_no_run_directory(series_ds, tmp_path):
    run = tmp_path / "run"
    with pytest.raises(ValueError, match="hidden"):
        train(series_ds, str(run), spec=RunSpec(hidden=0), log=quiet)
    assert not run.exists()


# -- tracebacks and smaller things -------------------------------------------------------------

def test_the_same_column_twice_is_a_clear_error(tmp_path):
    with pytest.raises(preparing.PrepareError, match=r"column 'SUNACTIVITY' is named more than once \(--column, --inputs, --id, --time\)"):
        prepare_cli("--kind", "series", SUNSPOTS_CSV, "--column", "SUNACTIVITY", "--column",
                    "SUNACTIVITY", "--out", tmp_path / "ds")


def test_a_relative_data_path_works_from_another_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text_ds(tmp_path, "ds", "abcab\n" * 30)
    train_cli("--data", "ds", "--run", tmp_path / "run", "--epochs", 1, *TINY)
    monkeypatch.chdir(tempfile.gettempdir())
    assert len(sample(run=str(tmp_path / "run"), length=5)) == 6


def test_a_missing_recorded_dataset_is_named_as_the_runs(text_run, tmp_path):
    run = copy_run_with_theta(text_run[1], tmp_path, lambda theta: theta)
    store = open_store(run)
    state = load_latest(store)
    state = replace(state, settings=replace(state.settings, data=str(tmp_path / "gone")))
    commit(store, state)
    with pytest.raises(RunError, match=f"dataset the run was trained on is gone.*{tmp_path}/gone"):
        sample(run=run)


def test_plot_out_without_extension_says_the_file_it_wrote(text_run, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert cli_main(["plot", "--run", text_run[1], "--out", str(tmp_path / "loss")]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {tmp_path / 'loss.png'} ")
    assert (tmp_path / "loss.png").exists()


def test_plot_out_an_existing_directory_is_refused(text_run, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert cli_main(["plot", "--run", text_run[1], "--out", str(tmp_path)]) == 1
    assert "is a directory" in capsys.readouterr().err and os.listdir(tmp_path) == []


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """A temporary directory for this test's temporary files (mrjob's and ours)."""
    path = tmp_path / "tmpdir"
    path.mkdir()
    monkeypatch.setenv("TMPDIR", str(path))
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    return path


def test_a_failed_job_leaves_no_temporary_directory(series_ds, tmp_path, private_tmp,
                                                    monkeypatch):
    monkeypatch.setenv("HADOOP_RNN_FAULT", "fail-first-map-attempt")  # the local runner: no retry
    with pytest.raises(Exception):
        train_cli("--data", series_ds, "--run", tmp_path / "run", "--runner", "local", *TINY)
    # (the code zip is made once per process, maybe before this test: it goes at exit)
    assert [p for p in os.listdir(private_tmp) if not p.startswith("hadoop-rnn-code-")] == []


def test_a_failed_job_is_a_one_line_error(series_ds, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HADOOP_RNN_FAULT", "fail-first-map-attempt")
    assert cli_main(["train", "--data", series_ds, "--run", str(tmp_path / "run"), "--runner",
                     "local", *TINY]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("hadoop-rnn train: error: MRTrainEpoch on the local runner: Step 1")


def test_sigterm_leaves_no_temporary_directory(series_ds, tmp_path, private_tmp):
    proc = subprocess.Popen([sys.executable, "-m", "jobs.cli", "train", "--data", series_ds,
                             "--run", str(tmp_path / "run"), "--runner", "local", *TINY,
                             "--epochs", "50"], stdout=subprocess.PIPE, text=True,
                            stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": ROOT, "TMPDIR": str(private_tmp)})
    assert proc.stdout.readline().startswith("new run")
    while not proc.stdout.readline().startswith("epoch 1/"):  # then the next job has started
        assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, out
    left = [name for name in os.listdir(private_tmp) if not is_tempfile_probe(private_tmp / name)]
    assert left == []


def is_tempfile_probe(path):
    """Whether ``path`` is what CPython's tempfile.gettempdir() leaves of a process killed
    while it probes the directory: an empty file with an 8-character random name. A local
    runner's task processes inherit TMPDIR, and SIGTERM reaches them mid-start; the probe
    is CPython's, and nothing of hadoop-rnn's (its directories) may remain."""
    import re

    return (path.is_file() and path.stat().st_size == 0
            and re.fullmatch(r"[a-z0-9_]{8}", path.name) is not None)


def test_standard_input_as_input_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="standard input.*not supported"):
        prepare_cli("--kind", "text", "-", "--out", tmp_path / "ds")


def test_more_shards_than_chunks_reports_the_shards_written(tmp_path):
    lines = []
    prepare_cli("--kind", "text", text_file(tmp_path, "a.txt", "abcab\n" * 30), "--out",
                tmp_path / "ds", "--chunk", 9, "--shards", 500, log=lines.append)
    meta = meta_of(tmp_path / "ds")
    assert f"in {len(meta['train'])} shard(s) for train, {len(meta['valid'])} for valid" in \
        lines[-1] and "500" not in lines[-1]


def test_the_same_file_named_twice_is_read_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text_file(tmp_path, "a.txt", "abcab\n" * 30)
    meta = prepare_cli("--kind", "text", "a.txt", "./a.txt", "--out", "ds", log=quiet)
    assert meta["sources"] == ["a.txt"]


def test_cron_wrapper_usage_is_only_its_comment(tmp_path):
    usage = subprocess.run([CRON, "--help"], capture_output=True, text=True).stdout
    assert usage.startswith("hadoop-rnn-cron: run") and "set -u" not in usage


def test_cron_wrapper_writes_an_env_failure_to_the_log(tmp_path):
    log = tmp_path / "cron.log"
    proc = subprocess.run([CRON, "--log", str(log), "--env", str(tmp_path / "missing.sh"),
                           "--data", "x"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "cannot source --env" in log.read_text() and log.read_text().endswith("exit 2\n")


def test_forecast_of_a_diverged_model_is_an_error(tmp_path, series_ds, capsys):
    run = str(tmp_path / "run")
    train_cli("--data", series_ds, "--run", run, "--epochs", 1, *TINY)
    run = copy_run_with_theta(run, tmp_path, lambda theta: theta * np.nan)
    assert cli_main(["forecast", "--run", run, "--horizon", "2", "--json"]) == 1
    assert "not finite" in capsys.readouterr().err


def test_prepare_out_naming_a_file_is_refused(tmp_path):
    path = text_file(tmp_path, "notes.txt", "keep me\n")
    with pytest.raises(preparing.PrepareError, match="is a file, not a directory"):
        prepare_cli("--kind", "text", path, "--out", path, "--force")
    assert open(path).read() == "keep me\n"


def test_forecast_input_that_does_not_exist_is_named(series_ds, tmp_path):
    run = str(tmp_path / "run")
    train_cli("--data", series_ds, "--run", run, "--epochs", 1, *TINY)
    with pytest.raises(ValueError, match=r"nope\.csv: no such file"):
        forecast_run(run, 2, input=str(tmp_path / "nope.csv"))


def test_train_run_naming_a_file_is_refused(series_ds, tmp_path):
    path = text_file(tmp_path, "notes.txt", "keep me\n")
    with pytest.raises(TrainingError, match="is a file, not a run directory"):
        train_cli("--data", series_ds, "--run", path, "--epochs", 1, *TINY)
    assert open(path).read() == "keep me\n"
