"""Bad input to the commands that use a trained run (forecast, evaluate) and to train's model
flags: what a user may throw at them, and what they do (issue #26: nothing lost, nothing
silently wrong).

Each test is one case: the command or call, and the behaviour promised for it (a usage error,
a one-line error, or a result that says what it could not compute). docs/operations.md names
the tests that back each guarantee.
"""
import math
import os

import pytest
from helpers import TINY, prepare_cli, prepare_sunspots, train_cli

from jobs.cli import main as cli_main
from jobs.generating import forecast_run
from jobs.scoring import evaluate


def tiny_run(data, run):
    """A tiny model trained one epoch on ``data`` in ``run``; returns ``run``."""
    run = str(run)
    assert train_cli("--data", data, "--run", run, "--epochs", 1, *TINY) == 0
    return run


def test_forecast_input_table_takes_the_rows_of_its_id_in_time_order(tmp_path):
    # two series, rows shuffled: the file's last row is neither series' last time
    rows = [("b", t, 100 + t) for t in range(30)] + [("a", t, t) for t in range(30)]
    rows = rows[1::2] + rows[::2]
    table = tmp_path / "table.csv"
    table.write_text("sid,t,y\n" + "".join(f"{i},{t},{y}\n" for i, t, y in rows))
    data = str(tmp_path / "data")
    prepare_cli("--kind", "series", table, "--column", "y", "--id", "sid", "--time", "t",
                "--chunk", 8, "--valid", 0.2, "--out", data)
    run = tiny_run(data, tmp_path / "run")

    result = forecast_run(run, 2, input=str(table), series_id="b")
    assert result["id"] == "b" and result["last"] == [129.0]   # b at its last time, 29
    with pytest.raises(ValueError, match=r"--id: no series 'zzz' in .*table\.csv \(2 series, "
                                         r"e\.g\. 'a', 'b'\)"):
        forecast_run(run, 2, input=str(table), series_id="zzz")
    with pytest.raises(ValueError, match="holds 2 series; pick one with --id"):
        forecast_run(run, 2, input=str(table))
    repeated = tmp_path / "repeated.csv"
    repeated.write_text(table.read_text() + "b,29,0\n")
    with pytest.raises(ValueError, match="series 'b' in .*repeated.csv: two rows at time 29"):
        forecast_run(run, 2, input=str(repeated), series_id="b")


def test_forecast_horizon_beyond_the_limit_is_refused_saying_why(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main(["forecast", "--run", "R", "--horizon", "100000000"])
    assert exit_.value.code == 2
    assert "errors compound" in capsys.readouterr().err
    with pytest.raises(ValueError, match="--horizon must be 1 to 10,000 steps"):
        forecast_run("no-such-run", 10 ** 8)


def test_evaluate_of_a_constant_series_reports_the_ratio_as_n_a(tmp_path, capsys):
    path = tmp_path / "flat.csv"
    path.write_text("y\n" + "5\n" * 60)
    data = str(tmp_path / "data")
    prepare_cli("--kind", "series", path, "--column", "y", "--chunk", 8, "--valid", 0.2,
                "--out", data)
    run = tiny_run(data, tmp_path / "run")
    assert math.isnan(evaluate(run, runner=None)["ratio_to_best_baseline"])
    assert cli_main(["evaluate", "--run", run]) == 0
    out = capsys.readouterr().out
    assert "model / best baseline (persistence): n/a" in out and "MASE: n/a" in out


def test_residual_on_a_text_dataset_says_it_needs_a_series_dataset(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("a text dataset has characters, not values to add a base to\n" * 20)
    data = str(tmp_path / "data")
    prepare_cli("--kind", "text", text, "--chunk", 9, "--valid", 0.2, "--out", data)
    with pytest.raises(ValueError, match=r"--residual last needs a series dataset; .* is a "
                                         "text dataset"):
        train_cli("--data", data, "--run", tmp_path / "run", "--epochs", 1, *TINY,
                  "--residual", "last")
    assert not (tmp_path / "run").exists()


def test_evaluate_of_a_run_left_with_only_best_npz_reads_it(tmp_path):
    run = tiny_run(prepare_sunspots(tmp_path / "data"), tmp_path / "run")
    for name in os.listdir(run):
        if name == "latest.npz" or name.startswith("ckpt-"):
            os.remove(os.path.join(run, name))
    assert evaluate(run, runner=None)["epoch"] == 1
    with pytest.raises(ValueError, match=r"holds best\.npz \(epoch 1\) but neither latest\.npz "
                                         r"nor a ckpt-NNNNNN\.npz: the newest epoch's "
                                         "checkpoint is gone; --checkpoint best reads"):
        forecast_run(run, 2, checkpoint="latest")
