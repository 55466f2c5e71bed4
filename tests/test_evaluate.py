"""`hadoop-rnn evaluate`: metrics next to their baselines, in process and as a MapReduce job."""
import json
import math
import os

import numpy as np
import pytest
from helpers import SUNSPOTS_CSV, SUNSPOTS_SERIES, cli_args, make_run

from jobs.commands.evaluate import evaluate_kwargs
from jobs.data import corpus
from jobs.data.chunks import split_point, split_points
from jobs.scoring import ScoringError, evaluate
from jobs.cli import main as cli_main
from jobs.run.checkpoint import load_latest
from jobs.data.dataset import Dataset
from jobs.storage import open_store
from jobs.run.trained import RunError

def run_evaluate(*argv):
    return evaluate(**evaluate_kwargs(cli_args("evaluate", *argv)))


def test_text_metrics_are_consistent_nats_bits_and_perplexity(text_run):
    m = run_evaluate("--run", text_run[1])
    assert m["bits_per_char"] == pytest.approx(m["loss"] / math.log(2))
    assert m["perplexity"] == pytest.approx(math.exp(m["loss"]))
    assert m["baseline"] == "unigram" and m["split"] == "valid" and m["epoch"] == 2


def test_text_loss_equals_the_drivers_validation_loss(text_run):
    state = load_latest(open_store(text_run[1]))
    assert run_evaluate("--run", text_run[1])["loss"] == pytest.approx(
        state.history[-1]["valid_loss"])


def test_unigram_baseline_is_the_smoothed_training_distribution_on_validation_text(text_run):
    meta = Dataset(text_run[0]).meta
    text = corpus.read_text(meta["sources"][0])
    valid = text[split_point(len(text), 0.2):]
    p = (np.array(meta["train_counts"]) + 1.0) / (sum(meta["train_counts"]) + len(meta["vocab"]))
    expected = -np.mean(np.log(p[corpus.encode(valid, meta["vocab"])]))
    assert run_evaluate("--run", text_run[1])["baseline_loss"] == pytest.approx(expected)


def test_mapreduce_job_gives_the_in_process_numbers_in_float64(text_run):
    here = run_evaluate("--run", text_run[1], "--runner", "process")
    job = run_evaluate("--run", text_run[1], "--runner", "inline")
    assert (here["runner"], job["runner"]) == ("process", "inline")
    for key in ("loss", "baseline_loss", "steps"):  # a float64 model: only the order of
        assert job[key] == pytest.approx(here[key], rel=1e-12, abs=0)  # additions differs


def test_local_data_is_scored_in_process_by_default(text_run):
    default = run_evaluate("--run", text_run[1])
    assert default["runner"] == "process"
    assert default == {**run_evaluate("--run", text_run[1], "--runner", "process")}


@pytest.mark.parametrize("data,expected", [
    ("hdfs:///datasets/ds", "hadoop"), ("hdfs://namenode:8020/ds", "hadoop"),
    ("/local/ds", None), ("relative/ds", None)])
def test_auto_runner_is_the_hadoop_runner_for_data_on_hdfs(data, expected):
    from jobs.hadoop.launch import RunnerOptions
    from jobs.scoring import AUTO, scoring_runner

    chosen = scoring_runner(AUTO, data)
    assert (chosen.runner if chosen else None) == expected
    mine = RunnerOptions(runner="hadoop", conf="my.conf")
    assert scoring_runner(AUTO, data, hadoop=mine) is (mine if expected else None)
    assert scoring_runner(None, data) is None  # explicit: in process
    inline = RunnerOptions(runner="inline")
    assert scoring_runner(inline, data) is inline


def test_evaluate_flags_default_to_auto_with_the_runner_flags_for_hadoop():
    kwargs = evaluate_kwargs(cli_args("evaluate", "--run", "R", "--mrjob-conf", "my.conf",
                                      "--python-bin", "/opt/py"))
    assert kwargs["runner"] == "auto"
    hadoop = kwargs["hadoop"]
    assert (hadoop.runner, hadoop.conf, hadoop.python_bin) == ("hadoop", "my.conf", "/opt/py")
    assert evaluate_kwargs(cli_args("evaluate", "--run", "R", "--runner", "process"))[
        "runner"] is None


def test_series_reports_mse_in_original_units_next_to_persistence(series_run):
    m = run_evaluate("--run", series_run[1])
    values = np.loadtxt(SUNSPOTS_CSV, delimiter=",", skiprows=1)[:, 1]
    valid = values[split_point(len(values), 0.2) - 1:]
    assert m["baseline_mse"] == pytest.approx(np.mean(np.diff(valid) ** 2))
    assert m["baseline_mae"] == pytest.approx(np.mean(np.abs(np.diff(valid))))
    std = Dataset(series_run[0]).meta["normalization"]["std"][0]
    assert m["mse"] == pytest.approx(m["mse_normalized"] * std ** 2)
    assert m["loss"] == pytest.approx(m["mse_normalized"])  # one column
    assert m["steps"] == len(valid) - 1


def test_series_mapreduce_job_gives_the_in_process_numbers_in_float64(series_run):
    here = run_evaluate("--run", series_run[1])
    job = run_evaluate("--run", series_run[1], "--runner", "inline")
    assert job["mse"] == pytest.approx(here["mse"], rel=1e-12, abs=0)
    assert job["baseline_mse"] == pytest.approx(here["baseline_mse"], rel=1e-12, abs=0)


def test_json_flag_prints_one_object_with_the_headline_metrics(series_run, text_run, capsys):
    assert cli_main(["evaluate", "--run", series_run[1], "--json"]) == 0
    assert {"loss", "mse", "baseline_mse"} <= set(json.loads(capsys.readouterr().out))
    assert cli_main(["evaluate", "--run", text_run[1], "--json"]) == 0
    assert {"loss", "bits_per_char"} <= set(json.loads(capsys.readouterr().out))


def test_table_names_model_and_baseline(text_run, capsys):
    assert cli_main(["evaluate", "--run", text_run[1]]) == 0
    out = capsys.readouterr().out
    assert "bits/char" in out and "unigram" in out


def test_data_flag_overrides_the_recorded_dataset(text_run, tmp_path):
    moved = tmp_path / "moved"
    os.rename(text_run[0], moved)
    try:
        with pytest.raises(ValueError, match="prepare the data first"):
            run_evaluate("--run", text_run[1])
        assert run_evaluate("--run", text_run[1], "--data", moved)["steps"] > 0
    finally:
        os.rename(moved, text_run[0])


def test_a_dataset_of_another_shape_is_refused(text_run, series_run):
    with pytest.raises(RunError, match="is a series dataset, the model in .* a text model"):
        run_evaluate("--run", text_run[1], "--data", series_run[0])


def test_a_run_without_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(RunError, match="holds no checkpoint"):
        run_evaluate("--run", tmp_path)


# -- which part is scored --------------------------------------------------------------------

@pytest.fixture(scope="module")
def held_out_run(tmp_path_factory):
    """A tiny forecaster on sunspots prepared with a test part: (data_dir, run_dir)."""
    tmp = tmp_path_factory.mktemp("held-out")
    return make_run(tmp, [*SUNSPOTS_SERIES, "--test", 0.2], epochs=2)


def test_evaluate_scores_the_test_part_by_default_when_the_dataset_holds_one(held_out_run):
    m = run_evaluate("--run", held_out_run[1])
    assert m["split"] == "test" and m["note"] is None
    test_steps = Dataset(held_out_run[0]).meta["counts"]["test"]["steps"]
    assert 0 < m["steps"] <= test_steps


def test_the_best_epochs_score_on_the_split_it_was_chosen_on_says_so(held_out_run, series_run):
    held_out = run_evaluate("--run", held_out_run[1], "--split", "valid")
    assert "chosen on this split" in held_out["note"] and "--split test" in held_out["note"]
    without = run_evaluate("--run", series_run[1])
    assert without["split"] == "valid" and "prepare --test" in without["note"]
    assert run_evaluate("--run", series_run[1], "--checkpoint", "latest")["note"] is None


def test_the_note_is_printed_under_the_table(series_run, capsys):
    cli_main(["evaluate", "--run", series_run[1]])
    assert "  note: the best epoch was chosen on this split" in capsys.readouterr().out


def test_a_split_the_dataset_does_not_have_is_a_clear_error(series_run):
    with pytest.raises(ScoringError, match="has no test split .*prepare --test"):
        run_evaluate("--run", series_run[1], "--split", "test")


def test_scoring_the_test_part_the_baselines_are_fitted_on_everything_before_it(held_out_run):
    from rnn_core.autoregression import fit_ar

    ds = Dataset(held_out_run[0])
    norm = ds.meta["normalization"]
    raw = np.loadtxt(SUNSPOTS_CSV, delimiter=",", skiprows=1, usecols=[1])
    test_start = split_points(len(raw), 0.2, 0.2)[1]
    history = ((raw - norm["mean"][0]) / norm["std"][0])[:test_start, None]
    m = run_evaluate("--run", held_out_run[1])
    assert m["ar_order"] == fit_ar([history]).order
    assert m["ets"] is not None and m["season"] is None      # yearly numbers: no calendar
