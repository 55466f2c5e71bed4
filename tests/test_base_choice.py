"""A series network is used only where it beats its base (AR or last value) on validation."""
import json
from dataclasses import replace

import numpy as np
import pytest
from helpers import SUNSPOTS_CSV, cli_args, load_run_state, prepare_cli, train_cli

from jobs.commands.evaluate import evaluate_kwargs
from jobs.mr.loss_sums import LossSums
from jobs.run.trained import base_choice, forecasting_state
from jobs.scoring import evaluate
from rnn_core import ModelConfig, init_params, param_views, predict
from rnn_core.network import base_only, predict_base


def ar_model():
    return ModelConfig(cell="gru", hidden=4, input_size=1, output_size=1,
                       residual=True, ar=[[0.1, 0.5, -0.2, 0.1]], dtype="float64")


def test_a_theta_with_a_zero_output_layer_predicts_the_base_exactly():
    cfg = ar_model()
    inputs = np.random.default_rng(0).standard_normal((3, 20, 1))
    theta = init_params(cfg, seed=1)                      # its output layer starts at zero
    param_views(theta, cfg)["out.W"][...] = 0.3
    assert not np.allclose(predict(theta, cfg, inputs), predict_base(cfg, inputs))
    np.testing.assert_array_equal(predict(base_only(theta, cfg), cfg, inputs),
                                  predict_base(cfg, inputs))


def test_scoring_sums_the_base_alone_beside_the_model():
    cfg = ar_model()
    rng = np.random.default_rng(2)
    inputs, targets = rng.standard_normal((4, 12, 1)), rng.standard_normal((4, 12, 1))
    mask = (rng.random((4, 12)) > 0.3).astype(float)
    sums = LossSums(init_params(cfg, seed=0), cfg)
    sums.add(inputs, targets, mask)
    expected = np.sum((predict_base(cfg, inputs) - targets) ** 2 * mask[..., None])
    assert float(sums.sums["base_sum"]) == pytest.approx(expected, rel=1e-12)


def with_losses(state, valid_loss, valid_base_loss, gain_t=3.0):
    history = [{**m, "valid_loss": valid_loss, "valid_base_loss": valid_base_loss,
                "valid_gain_t": gain_t} if m["epoch"] == state.epoch else m
               for m in state.history]
    return replace(state, history=history)


@pytest.fixture(scope="module")
def ar_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ar_run")
    data, run = str(tmp / "data"), str(tmp / "run")
    prepare_cli("--kind", "series", SUNSPOTS_CSV, "--column", "SUNACTIVITY", "--chunk", 8,
                "--valid", 0.3, "--out", data)
    train_cli("--data", data, "--run", run, "--epochs", 2, "--hidden", 8, "--dtype", "float64")
    return data, run


def test_every_scored_epoch_records_its_base_validation_loss_and_the_gain(ar_run):
    state = load_run_state(ar_run[1])
    losses = [m["valid_base_loss"] for m in state.history]
    assert len(losses) == 2 and losses[0] == losses[1] > 0     # the base has no parameters
    assert all(np.isfinite(m["valid_gain_t"]) for m in state.history)


def test_a_network_that_does_not_beat_its_base_on_validation_is_replaced_by_the_base(ar_run):
    state = load_run_state(ar_run[1])
    lost = with_losses(state, 0.5, 0.4)
    chosen, choice = forecasting_state(lost)
    assert choice["uses_base"] and np.array_equal(chosen.theta, base_only(state.theta, state.model))
    kept, _ = forecasting_state(lost, network=True)
    assert kept.theta is lost.theta
    won, choice = forecasting_state(with_losses(state, 0.3, 0.4))
    assert not choice["uses_base"] and won.theta is not None and np.array_equal(
        won.theta, state.theta)


def test_a_win_of_fewer_than_two_standard_errors_is_not_enough(ar_run):
    state = load_run_state(ar_run[1])
    assert forecasting_state(with_losses(state, 0.3, 0.4, gain_t=1.9))[1]["uses_base"]
    assert not forecasting_state(with_losses(state, 0.3, 0.4, gain_t=2.1))[1]["uses_base"]


def test_the_gain_t_statistic_is_the_mean_gain_over_its_standard_error():
    from jobs.training.metrics import gain_t

    gains = np.array([0.3, -0.1, 0.2, 0.4, 0.0])
    expected = gains.mean() / (gains.std() / np.sqrt(len(gains)))
    assert gain_t(gains.sum(), np.sum(gains ** 2), len(gains)) == pytest.approx(expected)
    assert gain_t(2.0, 1.0, 4) == np.inf and gain_t(0.0, 0.0, 4) == 0.0


def test_without_a_recorded_base_loss_the_network_is_used():
    class Old:
        epoch, history = 1, [{"epoch": 1, "valid_loss": 0.3}]
    assert base_choice(Old) is None


def test_evaluate_scores_the_base_where_the_network_lost_on_validation(ar_run, monkeypatch):
    from jobs import scoring

    loaded = scoring.load_run

    def load_losing(*args, **kwargs):
        state, dataset = loaded(*args, **kwargs)
        return with_losses(state, 1.0, 0.5), dataset
    monkeypatch.setattr(scoring, "load_run", load_losing)
    m = evaluate(**evaluate_kwargs(cli_args("evaluate", "--run", ar_run[1])))
    # the base (on the validation part the AR baseline is prepare's fit), ETS or their mean:
    # the one with the lowest validation error
    chosen, errors = m["base_choice"]["forecaster"], m["base_choice"]["valid_mse"]
    assert chosen == min(errors, key=errors.get) and set(errors) == {"ar", "ets", "ar_ets"}
    assert m["mse"] == pytest.approx(m["baselines"][chosen]["mse"], rel=1e-9)
    assert m["base_choice"]["uses_base"] and "evaluate and forecast use" in m["model_note"]
    network = evaluate(**evaluate_kwargs(cli_args("evaluate", "--run", ar_run[1], "--network")))
    assert network["mse"] != pytest.approx(m["mse"], rel=1e-9)


def losing_and_choosing(monkeypatch, forecaster):
    """generating.forecast_run of a run whose network lost on validation to ``forecaster``."""
    from jobs import generating, scoring

    loaded = generating.load_run
    monkeypatch.setattr(generating, "load_run", lambda *a, **k: (
        lambda state, dataset: (with_losses(state, 1.0, 0.5), dataset))(*loaded(*a, **k)))
    monkeypatch.setattr(scoring, "fallback_forecaster",
                        lambda state, dataset, *args: ({None: forecaster}, {}))
    return generating.forecast_run


def test_forecast_with_the_base_chosen_is_the_ar_refitted_on_the_whole_series(ar_run, monkeypatch):
    from jobs.data.dataset import Dataset
    from rnn_core.autoregression import fit_ar

    out = losing_and_choosing(monkeypatch, "ar")(ar_run[1], horizon=3)
    norm = Dataset(ar_run[0]).meta["normalization"]
    raw = np.loadtxt(SUNSPOTS_CSV, delimiter=",", skiprows=1, usecols=[1])
    x = list((raw - norm["mean"][0]) / norm["std"][0])
    ar = fit_ar([np.array(x)[:, None]])
    for _ in range(3):
        x.append(ar.coef[0, 0] + sum(a * x[-i] for i, a in enumerate(ar.coef[0, 1:], 1)))
    expected = np.array(x[-3:]) * norm["std"][0] + norm["mean"][0]
    np.testing.assert_allclose(np.ravel(out["forecast"]), expected, rtol=1e-5)
    assert "use its AR base, refitted" in out["note"]


def test_forecast_with_ets_chosen_is_ets_fitted_on_the_whole_series(ar_run, monkeypatch):
    from rnn_core import smoothing

    out = losing_and_choosing(monkeypatch, "ets")(ar_run[1], horizon=3)
    raw = np.loadtxt(SUNSPOTS_CSV, delimiter=",", skiprows=1, usecols=[1])
    ets = smoothing.fit_ets(raw)                   # yearly numbers: no calendar, no season
    np.testing.assert_allclose(np.ravel(out["forecast"]), smoothing.ahead_of_end(ets, raw, 3),
                               rtol=1e-6)
    assert "use ETS" in out["note"]


def test_forecast_with_the_mean_chosen_is_the_mean_of_the_refitted_ar_and_ets(ar_run,
                                                                             monkeypatch):
    ar = losing_and_choosing(monkeypatch, "ar")(ar_run[1], horizon=3)["forecast"]
    ets = losing_and_choosing(monkeypatch, "ets")(ar_run[1], horizon=3)["forecast"]
    both = losing_and_choosing(monkeypatch, "ar_ets")(ar_run[1], horizon=3)
    np.testing.assert_allclose(both["forecast"], (np.array(ar) + np.array(ets)) / 2)
    assert "the mean of AR and ETS" in both["note"]


def loading_as(module, monkeypatch, valid_loss, valid_base_loss):
    """``module.load_run`` returning its runs with the checkpoint's validation losses set."""
    loaded = module.load_run
    monkeypatch.setattr(module, "load_run", lambda *a, **k: (
        lambda state, dataset: (with_losses(state, valid_loss, valid_base_loss), dataset))(
            *loaded(*a, **k)))


def valid_errors(run):
    """{name: validation MSE} of the classical candidates of ``run``."""
    from jobs.run.trained import load_run
    from jobs.scoring import fallback_forecaster

    state, dataset = load_run(run)
    return fallback_forecaster(state, dataset)[1]


def test_a_network_that_beats_its_base_but_not_a_classical_candidate_is_not_used(
        ar_run, monkeypatch):
    from jobs import scoring

    errors = valid_errors(ar_run[1])
    best = min(errors, key=errors.get)
    # the network 3 standard errors better than its base, but worse than the best candidate
    loading_as(scoring, monkeypatch, 1.01 * errors[best], 2 * max(errors.values()))
    m = evaluate(ar_run[1])
    assert m["base_choice"]["uses_base"] and m["base_choice"]["beaten_by"] == best
    assert m["mse"] == pytest.approx(m["baselines"][best]["mse"], rel=1e-9)
    assert f"but not {'mean' if best == 'ar_ets' else best.upper()}" in m["model_note"]


def test_a_network_that_beats_its_base_and_every_classical_candidate_is_used(
        ar_run, monkeypatch):
    from jobs import scoring

    errors = valid_errors(ar_run[1])
    loading_as(scoring, monkeypatch, 0.99 * min(errors.values()), 2 * max(errors.values()))
    m = evaluate(ar_run[1])
    network = evaluate(ar_run[1], network=True)
    assert not m["base_choice"]["uses_base"] and m["mse"] == network["mse"]


def test_a_forecast_uses_the_classical_candidate_that_beat_the_network(ar_run, monkeypatch):
    from jobs import generating

    errors = valid_errors(ar_run[1])
    best = min(errors, key=errors.get)
    loading_as(generating, monkeypatch, 1.01 * errors[best], 2 * max(errors.values()))
    chosen = generating.forecast_run(ar_run[1], 3)
    network = generating.forecast_run(ar_run[1], 3, network=True)
    assert "but not" in chosen["note"] and chosen["forecast"] != network["forecast"]
    assert chosen["calibration"]["forecaster"] == best


def test_the_candidates_validation_errors_are_kept_in_the_run_and_read_back(
        ar_run, tmp_path, monkeypatch):
    import shutil

    from jobs import scoring
    from jobs.run.trained import load_run

    run = str(tmp_path / "run")
    shutil.copytree(ar_run[1], run)
    state, dataset = load_run(run)
    computed = scoring.fallback_forecaster(state, dataset, run=run)
    assert (tmp_path / "run" / scoring.VALID_FORECASTERS).exists()

    def not_again(*args):
        raise AssertionError("computed again")
    monkeypatch.setattr(scoring, "classical_validation", not_again)
    assert scoring.fallback_forecaster(state, dataset, run=run) == computed


def test_kept_validation_errors_of_another_validation_horizon_are_computed_again(
        ar_run, tmp_path, monkeypatch):
    import shutil

    from jobs import scoring
    from jobs.run.trained import load_run

    run = str(tmp_path / "run")
    shutil.copytree(ar_run[1], run)
    state, dataset = load_run(run)
    scoring.fallback_forecaster(state, dataset, run=run)
    other = replace(state, settings=replace(state.settings, valid_horizon=2))
    calls = []
    monkeypatch.setattr(scoring, "classical_validation", lambda *a: calls.append(a) or
                        ({None: "ar"}, {"ar": 1.0}))
    assert scoring.fallback_forecaster(other, dataset, run=run) == ({None: "ar"}, {"ar": 1.0})
    assert len(calls) == 1


def test_trains_verdict_on_a_network_that_beats_its_base_says_the_classical_ones_are_still_to_weigh(
        ar_run):
    from jobs.run.trained import base_line

    state = load_run_state(ar_run[1])
    won = with_losses(state, 0.3, 0.4)
    assert "weigh it against the classical" in base_line(won, base_choice(won), weighed=False)
    assert "weigh it" not in base_line(won, base_choice(won))
    lost = with_losses(state, 0.5, 0.4)
    assert "weigh it" not in base_line(lost, base_choice(lost), weighed=False)


def test_an_unreadable_kept_file_is_computed_again_and_replaced(ar_run, tmp_path):
    import shutil

    from jobs import scoring
    from jobs.run.trained import load_run

    run = str(tmp_path / "run")
    shutil.copytree(ar_run[1], run)
    (tmp_path / "run" / scoring.VALID_FORECASTERS).write_text("{not json")
    state, dataset = load_run(run)
    computed = scoring.fallback_forecaster(state, dataset, run=run)
    assert computed == scoring.fallback_forecaster(state, dataset)
    assert json.loads((tmp_path / "run" / scoring.VALID_FORECASTERS).read_text())["value"]["errors"]


def test_the_base_a_forecast_refits_on_every_step_is_the_same_by_the_job_as_in_this_process(
        ar_run):
    from jobs.hadoop.launch import RunnerOptions
    from jobs.run.trained import load_run
    from jobs.scoring import refitted_baselines

    state, dataset = load_run(ar_run[1])
    here = refitted_baselines(state, dataset)
    job = refitted_baselines(state, dataset, RunnerOptions(runner="inline"))
    assert job["ar"].order == here["ar"].order
    np.testing.assert_allclose(job["ar"].coef, here["ar"].coef, rtol=1e-9)


def test_a_forecast_on_a_runner_refits_and_forecasts_as_in_this_process(ar_run, monkeypatch):
    from jobs.hadoop.launch import RunnerOptions

    forecast_run = losing_and_choosing(monkeypatch, "ar")
    here = forecast_run(ar_run[1], horizon=3, runner=None)
    job = forecast_run(ar_run[1], horizon=3, runner=RunnerOptions(runner="inline"))
    np.testing.assert_allclose(job["forecast"], here["forecast"], rtol=1e-9)


def test_the_refitted_base_is_kept_in_the_run_and_read_back(ar_run, tmp_path, monkeypatch):
    import shutil

    from jobs import scoring
    from jobs.run.trained import load_run

    run = str(tmp_path / "run")
    shutil.copytree(ar_run[1], run)
    state, dataset = load_run(run)
    computed = scoring.refitted_baselines(state, dataset, run=run)
    assert (tmp_path / "run" / scoring.REFITTED_BASE).exists()
    monkeypatch.setattr(scoring, "job_history", None)          # neither computed again
    monkeypatch.setattr(scoring, "sequence_parts", None)
    again = scoring.refitted_baselines(state, dataset, run=run)
    assert again["ar"].order == computed["ar"].order and again["arx"] is computed["arx"] is None
    np.testing.assert_array_equal(again["ar"].coef, computed["ar"].coef)
