"""The classical forecasters of evaluate: persistence, seasonal naive, AR(p), and --horizon."""
import numpy as np
import pytest
from helpers import SUNSPOTS_CSV, cli_args, prepare_cli, train_cli
from test_core_autoregression import ar2_process

from rnn_core import baselines
from jobs.cli import main as cli_main
from jobs.commands.evaluate import evaluate_kwargs
from jobs.data.chunks import split_point
from jobs.scoring import evaluate
from rnn_core.autoregression import AR




def test_ar_forecasts_h_steps_by_feeding_its_forecasts_back():
    x = ar2_process(50)
    ar = AR(2, np.array([[0.1, 0.6, -0.3]]))
    predicted = baselines.forecasts(x, np.array([40]), 3, None, ar)["ar"][0, 0]
    a, b = x[37, 0], x[36, 0]
    for _ in range(3):
        a, b = 0.1 + 0.6 * a - 0.3 * b, a
    assert predicted == pytest.approx(a)


def test_persistence_and_seasonal_naive_take_the_last_value_a_step_or_whole_seasons_back():
    x = np.arange(100.0)[:, None]
    targets = np.array([50, 60])
    one = baselines.forecasts(x, targets, 1, 12, None)
    assert one["persistence"][:, 0].tolist() == [49, 59]
    assert one["seasonal_naive"][:, 0].tolist() == [38, 48]
    ahead = baselines.forecasts(x, targets, 13, 12, None)        # 13 steps: two seasons back
    assert ahead["persistence"][:, 0].tolist() == [37, 47]
    assert ahead["seasonal_naive"][:, 0].tolist() == [26, 36]
    assert baselines.forecasts(x, np.array([3]), 1, 12, None)["seasonal_naive"][0, 0] == 0


def test_season_is_detected_on_a_trending_seasonal_series_and_not_on_noise():
    rng = np.random.default_rng(0)
    t = np.arange(600)
    monthly = 0.01 * t + np.sin(2 * np.pi * t / 12) + 0.3 * rng.standard_normal(600)
    assert baselines.detect_season([monthly[:, None]]) == 12
    assert baselines.detect_season([rng.standard_normal((600, 1))]) is None


def run_evaluate(*argv):
    return evaluate(**evaluate_kwargs(cli_args("evaluate", *argv)))


@pytest.fixture(scope="module")
def fresh_residual_run(tmp_path_factory):
    """A residual model trained one epoch with a vanishing step: still persistence."""
    return fresh_run(tmp_path_factory, "last")


@pytest.fixture(scope="module")
def fresh_ar_run(tmp_path_factory):
    """An AR-residual model (the series default) trained one epoch with a vanishing step."""
    return fresh_run(tmp_path_factory, "ar")


def fresh_run(tmp_path_factory, residual):
    tmp = tmp_path_factory.mktemp("fresh")
    data, run = str(tmp / "data"), str(tmp / "run")
    prepare_cli("--kind", "series", SUNSPOTS_CSV, "--column", "SUNACTIVITY", "--chunk", 8,
                "--valid", 0.3, "--test", 0, "--out", data)
    train_cli("--data", data, "--run", run, "--epochs", 1, "--lr", 1e-12, "--hidden", 8,
              "--dtype", "float64", "--residual", residual)
    return data, run


@pytest.mark.parametrize("horizon", [1, 3])
def test_a_fresh_ar_residual_model_forecasts_what_the_ar_baseline_does(fresh_ar_run, horizon):
    m = run_evaluate("--run", fresh_ar_run[1], "--horizon", horizon)
    assert m["mse"] == pytest.approx(m["baselines"]["ar"]["mse"], rel=1e-9)
    assert m["mae"] == pytest.approx(m["baselines"]["ar"]["mae"], rel=1e-9)


@pytest.mark.parametrize("horizon", [1, 3])
def test_every_forecaster_is_scored_on_the_same_held_out_steps(fresh_residual_run, horizon):
    m = run_evaluate("--run", fresh_residual_run[1], "--horizon", horizon, "--season", 11)
    values = np.loadtxt(SUNSPOTS_CSV, delimiter=",", skiprows=1)[:, 1]
    cut = split_point(len(values), 0.3)
    assert m["steps"] == len(values) - cut
    persistence = values[cut - horizon:-horizon]
    assert m["baselines"]["persistence"]["mse"] == pytest.approx(
        np.mean((values[cut:] - persistence) ** 2))
    assert m["baselines"]["seasonal_naive"]["mse"] == pytest.approx(
        np.mean((values[cut:] - values[cut - 11:-11]) ** 2))
    assert set(m["baselines"]) == {"persistence", "seasonal_naive", "ar", "ets", "ar_ets"}
    assert m["ar_order"] >= 1
    # a fresh residual model is persistence, one step and fed back
    assert m["mse"] == pytest.approx(m["baselines"]["persistence"]["mse"], rel=1e-6)


def test_season_0_leaves_out_the_seasonal_naive_forecast(fresh_residual_run):
    m = run_evaluate("--run", fresh_residual_run[1], "--season", 0)
    assert set(m["baselines"]) == {"persistence", "ar", "ets", "ar_ets"} and m["season"] is None


def test_the_table_shows_every_baseline_and_the_ratio_to_the_best(fresh_residual_run, capsys):
    assert cli_main(["evaluate", "--run", fresh_residual_run[1], "--season", "11"]) == 0
    out = capsys.readouterr().out
    for row in ("model", "persistence", "seasonal S=11", "AR(p=", "model / best baseline"):
        assert row in out


def test_h_step_scores_of_the_mapreduce_job_are_the_in_process_ones(fresh_residual_run):
    here = run_evaluate("--run", fresh_residual_run[1], "--horizon", 3)
    job = run_evaluate("--run", fresh_residual_run[1], "--horizon", 3, "--runner", "inline")
    assert (here["runner"], job["runner"]) == ("process", "inline")
    assert job["mse"] == here["mse"] and job["baselines"] == here["baselines"]


def test_h_step_forecasts_at_h_1_condition_on_what_the_one_step_score_does(tmp_path):
    from jobs.data.dataset import Dataset
    from jobs.mr.loss_sums import LossSums
    from jobs.run.trained import load_run
    from jobs.mr.series_rows import model_forecasts, sequence_parts

    data, run = str(tmp_path / "data"), str(tmp_path / "run")
    prepare_cli("--kind", "series", SUNSPOTS_CSV, "--column", "SUNACTIVITY", "--chunk", 8,
                "--valid", 0.3, "--out", data)
    train_cli("--data", data, "--run", run, "--epochs", 2, "--hidden", 8, "--dtype", "float64")
    state, dataset = load_run(run)
    (_, sequence, _, targets, starts, records), = sequence_parts(Dataset(data), "valid",
                                                                 state.model)
    predicted = model_forecasts(state, sequence, targets, starts, 1)
    scored = LossSums(state.theta, state.model, dataset.meta).add_chunks(records)
    assert np.sum((predicted - sequence[targets]) ** 2) == pytest.approx(float(scored["sse"][0]),
                                                                         rel=1e-9)
