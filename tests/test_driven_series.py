"""Series driven by inputs (prepare --inputs / --calendar): a record's row holds its targets
and the inputs of the next step; the AR base and the baselines see the targets only; ARX is
evaluate's classical counterpart; a forecast takes the inputs of its steps from --future and
never predicts them."""
import json

import numpy as np
import pandas as pd
import pytest

from jobs import scoring
from jobs.data import covariates
from jobs.data.dataset import Dataset
from jobs.generating import dataset_series, forecast_run
from jobs.hadoop.launch import RunnerOptions
from jobs.preparing import api as preparing
from jobs.training import RunSpec, train
from rnn_core import network
from rnn_core.arx import arx_forecasts, arx_statistics, fit_arx
from rnn_core.autoregression import add_statistics
from rnn_core.generate import forecast_batch

DAYS = 160


def driven_table(days=DAYS, sites=("a",), seed=0):
    """A daily table: per site, a temperature and a load it drives (load follows today's
    temperature and yesterday's load)."""
    rng = np.random.default_rng(seed)
    frames = []
    for k, site in enumerate(sites):
        t = np.arange(days)
        temp = 10 + 8 * np.sin(2 * np.pi * (t + 7 * k) / 30) + rng.standard_normal(days)
        load = np.empty(days)
        load[0] = 20
        for i in range(1, days):
            load[i] = 5 + 1.5 * temp[i] + 0.3 * load[i - 1] + 0.2 * rng.standard_normal()
        frames.append(pd.DataFrame({"site": site, "day": pd.date_range("2021-01-01",
                                                                       periods=days),
                                    "temp": temp, "load": load}))
    return pd.concat(frames)


def prepare_driven(tmp_path, frame, name="data", **options):
    path = tmp_path / f"{name}.csv"
    frame.to_csv(path, index=False)
    options = {"columns": ["load"], "input_columns": ["temp"], "time_column": "day",
               "chunk": 10, "context": 5, "valid": 0.2, "test": 0.2, **options}
    preparing.prepare([str(path)], str(tmp_path / name), "series", log=lambda line: None,
                      **options)
    return str(path), str(tmp_path / name)


@pytest.fixture(scope="module")
def driven_run(tmp_path_factory):
    """(csv, data, run) of a small network trained two epochs on one driven series."""
    tmp = tmp_path_factory.mktemp("driven")
    path, data = prepare_driven(tmp, driven_table())
    train(data, str(tmp / "run"), epochs=2, spec=RunSpec(hidden=4), log=lambda line: None)
    return path, data, str(tmp / "run")


def test_a_records_row_holds_its_targets_and_the_inputs_of_the_next_step(tmp_path):
    frame = driven_table()
    _, data = prepare_driven(tmp_path, frame)
    dataset = Dataset(data)
    sequence, norm, _ = dataset_series(dataset)
    raw = frame[["load", "temp"]].to_numpy()
    expected = np.column_stack([raw[:, 0], np.r_[raw[1:, 1], raw[-1, 1]]])
    assert dataset.meta["columns"] == ["load", "temp"] and dataset.meta["targets"] == 1
    assert np.allclose(sequence * norm["std"] + np.asarray(norm["mean"]), expected)
    assert dataset.model_sizes() == {"input_size": 2, "output_size": 1}


def test_the_ar_base_of_a_driven_series_is_fitted_on_its_targets_only(tmp_path):
    _, data = prepare_driven(tmp_path, driven_table())
    assert len(Dataset(data).meta["ar"]["coef"]) == 1


def test_a_missing_input_is_an_error_naming_its_column_and_row(tmp_path):
    frame = driven_table()
    frame.loc[frame.index[4], "temp"] = np.nan
    with pytest.raises(Exception, match=r"input column 'temp' has 1 empty value\(s\), the "
                                        r"first in row 5 \(line 6\)"):
        prepare_driven(tmp_path, frame)


def test_calendar_features_are_the_sine_and_cosine_of_the_hour_weekday_and_month():
    times = pd.to_datetime(["2021-01-04 00:00", "2021-01-04 06:00", "2021-07-10 18:00"])
    features = covariates.calendar_features(times.as_unit("ns").asi8, ["hour", "dow", "month"])
    hour, dow, month = np.array([0, 0.25, 0.75]), np.array([0, 0, 5]) / 7, np.array([0, 0, 6]) / 12
    expected = np.column_stack([f(2 * np.pi * p) for p in (hour, dow, month)
                                for f in (np.sin, np.cos)])
    assert np.allclose(features, expected)
    assert covariates.calendar_columns(["hour"]) == ["hour_sin", "hour_cos"]


def test_calendar_features_become_inputs_of_the_next_step(tmp_path):
    frame = driven_table()
    _, data = prepare_driven(tmp_path, frame, calendar=["dow"])
    dataset = Dataset(data)
    sequence, norm, _ = dataset_series(dataset)
    values = sequence * norm["std"] + np.asarray(norm["mean"])
    assert dataset.meta["columns"] == ["load", "temp", "dow_sin", "dow_cos"]
    tomorrow = covariates.calendar_features(frame["day"].to_numpy().astype("datetime64[ns]")
                                            .astype(np.int64)[1:], ["dow"])
    assert np.allclose(values[:-1, 2:], tomorrow)


def test_calendar_features_need_a_time_column_of_dates(tmp_path):
    with pytest.raises(preparing.PrepareError, match="--calendar needs --time"):
        prepare_driven(tmp_path, driven_table(), time_column=None, calendar=["month"])
    frame = driven_table().assign(day=np.arange(DAYS))
    with pytest.raises(Exception, match="--calendar needs dates or timestamps"):
        prepare_driven(tmp_path, frame, calendar=["month"])


def test_an_unknown_calendar_feature_is_refused_naming_the_known_ones(tmp_path):
    with pytest.raises(preparing.PrepareError, match="unknown feature 'week'.*hour, dow, month"):
        prepare_driven(tmp_path, driven_table(), calendar=["week"])


def test_arx_sums_added_over_series_fit_the_least_squares_of_all_of_them():
    rng = np.random.default_rng(1)
    histories = [rng.standard_normal((n, 3)) for n in (50, 80)]   # 1 target, 2 inputs
    stats = {}
    for h in histories:
        stats = add_statistics(stats, arx_statistics(h, 2, 1))
    arx = fit_arx(stats, 2)
    rows, ys = [], []
    for h in histories:
        for t in range(2, len(h)):
            rows.append([1, h[t - 1, 0], h[t - 2, 0], *h[t - 1, 1:]])
            ys.append(h[t, 0])
    expected = np.linalg.lstsq(np.array(rows), np.array(ys), rcond=None)[0]
    assert np.allclose(arx.coef[0], expected, atol=1e-6)


def test_arx_forecasts_feed_back_their_predictions_and_take_the_known_inputs():
    rng = np.random.default_rng(2)
    sequence = rng.standard_normal((30, 2))
    arx = fit_arx(arx_statistics(sequence, 2, 1), 2)
    c, a1, a2, b = arx.coef[0]
    y = list(sequence[:20, 0])                   # origin 19, three steps ahead: position 22
    for t in range(20, 23):
        y.append(c + a1 * y[t - 1] + a2 * y[t - 2] + b * sequence[t - 1, 1])
    assert arx_forecasts(sequence, np.array([22]), 3, arx, 1)[0, 0] == pytest.approx(y[22])


def test_evaluate_of_a_driven_series_scores_its_targets_beside_arx(driven_run):
    metrics = scoring.evaluate(driven_run[2], network=True)
    assert set(metrics["columns"]) == {"load"} and metrics["arx_order"] >= 1
    baselines = metrics["baselines"]
    assert baselines["arx"]["mse_normalized"] < 0.5 * baselines["ar"]["mse_normalized"]


@pytest.mark.parametrize("horizon", [1, 3])
def test_the_mapreduce_job_scores_a_driven_panel_as_this_process(tmp_path, horizon):
    _, data = prepare_driven(tmp_path, driven_table(sites=("a", "b")), id_column="site")
    train(data, str(tmp_path / "run"), epochs=1, spec=RunSpec(hidden=4), log=lambda line: None)
    here = scoring.evaluate(str(tmp_path / "run"), runner=None, horizon=horizon, network=True)
    job = scoring.evaluate(str(tmp_path / "run"), runner=RunnerOptions(runner="inline"),
                           horizon=horizon, network=True)
    for name in ("model", "arx", "ar"):
        mine = here if name == "model" else here["baselines"][name]
        theirs = job if name == "model" else job["baselines"][name]
        assert theirs["mse"] == pytest.approx(mine["mse"], rel=1e-9)


def test_a_driven_forecast_feeds_back_its_predictions_with_the_future_inputs(driven_run,
                                                                            tmp_path):
    path, data, run = driven_run
    frame = pd.read_csv(path)
    future = tmp_path / "future.csv"
    ahead = pd.DataFrame({"day": pd.date_range("2021-01-01", periods=DAYS + 3)[DAYS:],
                          "temp": [30.0, -5.0, 12.0]})
    ahead.to_csv(future, index=False)
    result = forecast_run(run, 3, future=str(future), network=True)

    from jobs.run.trained import load_run
    state, dataset = load_run(run, None, kind="series")
    sequence, norm, _ = dataset_series(dataset)
    mean, std = np.asarray(norm["mean"]), np.asarray(norm["std"])
    inputs = (ahead["temp"].to_numpy() - mean[1]) / std[1]
    history = sequence[-(dataset.context + dataset.meta["chunk"]):].copy()
    history[-1, 1] = inputs[0]
    expected = forecast_batch(state.theta, state.model, history[None], 3,
                              inputs[None, 1:, None])[0, :, 0] * std[0] + mean[0]
    assert np.allclose(np.ravel(result["forecast"]), expected)
    assert result["columns"] == ["load"] and len(frame) == DAYS


def test_a_driven_forecast_differs_with_other_future_inputs(driven_run, tmp_path):
    _, _, run = driven_run
    days = pd.date_range("2021-01-01", periods=DAYS + 2)[DAYS:]
    forecasts = []
    for temp in (0.0, 25.0):
        pd.DataFrame({"day": days, "temp": [temp, temp]}).to_csv(tmp_path / "f.csv",
                                                                 index=False)
        forecasts.append(forecast_run(run, 2, future=str(tmp_path / "f.csv"),
                                      network=True)["forecast"])
    assert forecasts[0] != forecasts[1]


def test_a_driven_forecast_without_future_inputs_says_which_are_needed(driven_run):
    with pytest.raises(ValueError, match=r"driven by inputs \(temp\): --future FILE must give "
                                         "them for the 4 step"):
        forecast_run(driven_run[2], 4)


def test_future_inputs_shorter_than_the_horizon_are_refused(driven_run, tmp_path):
    pd.DataFrame({"day": pd.date_range("2021-06-10", periods=2), "temp": [1.0, 2.0]}).to_csv(
        tmp_path / "f.csv", index=False)
    with pytest.raises(ValueError, match=r"has 2 row\(s\) for the series; --horizon 5 needs"):
        forecast_run(driven_run[2], 5, future=str(tmp_path / "f.csv"))


def test_future_inputs_that_do_not_follow_the_history_are_refused(driven_run, tmp_path):
    pd.DataFrame({"day": pd.date_range("2021-03-01", periods=2), "temp": [1.0, 2.0]}).to_csv(
        tmp_path / "f.csv", index=False)
    with pytest.raises(ValueError, match="its first time, 2021-03-01.* is not after the "
                                         "history's last, 2021-06-09"):
        forecast_run(driven_run[2], 2, future=str(tmp_path / "f.csv"))


def test_future_inputs_with_a_missing_value_are_refused_naming_the_row(driven_run, tmp_path):
    pd.DataFrame({"day": pd.date_range("2021-06-10", periods=2), "temp": [1.0, None]}).to_csv(
        tmp_path / "f.csv", index=False)
    with pytest.raises(ValueError, match=r"--future: .*input column 'temp' has 1 empty"):
        forecast_run(driven_run[2], 2, future=str(tmp_path / "f.csv"))


def test_future_inputs_for_a_series_without_inputs_are_refused(tmp_path):
    frame = driven_table()
    _, data = prepare_driven(tmp_path, frame, input_columns=[])
    train(data, str(tmp_path / "run"), epochs=1, spec=RunSpec(hidden=4), log=lambda line: None)
    frame.to_csv(tmp_path / "f.csv", index=False)
    with pytest.raises(ValueError, match="this dataset has none"):
        forecast_run(str(tmp_path / "run"), 2, future=str(tmp_path / "f.csv"))


def test_a_forecast_of_a_driven_model_without_the_inputs_it_feeds_back_is_refused(driven_run):
    from jobs.run.trained import load_run
    state, _ = load_run(driven_run[2], None, kind="series")
    with pytest.raises(ValueError, match="needs the inputs of the 2 step"):
        forecast_batch(state.theta, state.model, np.zeros((1, 5, 2)), 3)


def test_the_prepare_flags_take_comma_separated_inputs_and_targets(tmp_path):
    from helpers import prepare_cli
    path = tmp_path / "t.csv"
    driven_table().to_csv(path, index=False)
    prepare_cli(str(path), "--kind", "series", "--targets", "load", "--inputs", "temp",
                "--time", "day", "--calendar", "dow,month", "--out", str(tmp_path / "d"))
    meta = json.loads((tmp_path / "d" / "meta.json").read_text())
    assert meta["columns"] == ["load", "temp", "dow_sin", "dow_cos", "month_sin", "month_cos"]


def test_a_driven_run_whose_network_lost_forecasts_with_arx_when_it_forecast_valid_best(
        driven_run, tmp_path, monkeypatch):
    from helpers import network_lost

    from jobs import generating
    path, data, run = driven_run
    monkeypatch.setattr(generating, "load_run", network_lost(generating.load_run))
    days = pd.date_range("2021-01-01", periods=DAYS + 2)[DAYS:]
    pd.DataFrame({"day": days, "temp": [30.0, -5.0]}).to_csv(tmp_path / "f.csv", index=False)
    result = forecast_run(run, 2, future=str(tmp_path / "f.csv"))
    assert "ARX" in result["note"]
    frame = pd.read_csv(path)                       # the system itself: 5 + 1.5 temp + 0.3 load
    first = 5 + 1.5 * 30.0 + 0.3 * frame["load"].iloc[-1]
    second = 5 + 1.5 * -5.0 + 0.3 * first
    assert np.ravel(result["forecast"]) == pytest.approx([first, second], rel=0.02)


def test_a_driven_series_network_corrects_the_arx_prepare_fitted_on_the_training_part(
        driven_run):
    from jobs.run.trained import load_run
    from rnn_core.arx import ARX, arx_ahead
    state, dataset = load_run(driven_run[2], None, kind="series")
    meta = dataset.meta
    assert meta["arx"]["order"] == meta["ar"]["order"] and state.model.ar_inputs
    assert np.array_equal(np.asarray(state.model.ar), np.asarray(meta["arx"]["coef"]))
    sequence, _, _ = dataset_series(dataset)
    base = network.predict_base(state.model, sequence[None])[0, :, 0]
    arx = ARX(meta["arx"]["order"], np.asarray(meta["arx"]["coef"]))
    origins = np.arange(arx.order, len(sequence) - 1)
    assert np.allclose(base[origins], arx_ahead(sequence, origins, 1, arx, 1)[:, 0, 0])


def test_evaluate_against_the_same_series_without_inputs_reports_the_value_of_the_inputs(
        driven_run, tmp_path):
    _, data = prepare_driven(tmp_path, pd.read_csv(driven_run[0]), input_columns=[])
    train(data, str(tmp_path / "alone"), epochs=1, spec=RunSpec(hidden=4), log=lambda line: None)
    metrics = scoring.evaluate(driven_run[2], against=str(tmp_path / "alone"))
    alone = scoring.evaluate(str(tmp_path / "alone"))
    assert metrics["against"]["mse"] == alone["mse"]
    assert metrics["against"]["ratio"] == pytest.approx(metrics["mse"] / alone["mse"])
    assert metrics["against"]["columns"] == ["load"]


def test_evaluate_against_a_run_of_other_steps_is_refused(driven_run, tmp_path):
    _, data = prepare_driven(tmp_path, pd.read_csv(driven_run[0]), input_columns=[], test=0.3)
    train(data, str(tmp_path / "other"), epochs=1, spec=RunSpec(hidden=4), log=lambda line: None)
    with pytest.raises(scoring.ScoringError, match="prepare both from the same series with the "
                                                   "same --valid and --test"):
        scoring.evaluate(driven_run[2], against=str(tmp_path / "other"))


def test_a_system_driven_by_its_inputs_alone_trains_without_a_base_and_forecasts(tmp_path):
    from jobs.run.trained import load_run
    path, data = prepare_driven(tmp_path, driven_table())
    train(data, str(tmp_path / "run"), epochs=1, spec=RunSpec(hidden=4, target_inputs=False),
          log=lambda line: None)
    state, _ = load_run(str(tmp_path / "run"), None, kind="series")
    assert not state.model.target_inputs and not state.model.residual
    days = pd.date_range("2021-01-01", periods=DAYS + 2)[DAYS:]
    pd.DataFrame({"day": days, "temp": [1.0, 2.0]}).to_csv(tmp_path / "f.csv", index=False)
    assert len(forecast_run(str(tmp_path / "run"), 2, future=str(tmp_path / "f.csv"))
               ["forecast"]) == 2


def test_a_system_driven_by_its_inputs_alone_refuses_a_base_of_its_targets(tmp_path):
    _, data = prepare_driven(tmp_path, driven_table())
    with pytest.raises(ValueError, match="--no-target-inputs does not read: use --residual none"):
        train(data, str(tmp_path / "run"), epochs=1,
              spec=RunSpec(hidden=4, target_inputs=False, residual="ar"), log=lambda line: None)
    _, alone = prepare_driven(tmp_path, driven_table(), name="alone", input_columns=[])
    with pytest.raises(ValueError, match="needs a series driven by inputs"):
        train(alone, str(tmp_path / "run2"), epochs=1, spec=RunSpec(target_inputs=False),
              log=lambda line: None)


def test_the_arx_a_forecast_refits_on_every_step_is_the_same_by_the_job_as_in_this_process(
        driven_run):
    from jobs.run.trained import load_run

    state, dataset = load_run(driven_run[2])
    here = scoring.refitted_baselines(state, dataset)["arx"]
    job = scoring.refitted_baselines(state, dataset, RunnerOptions(runner="inline"))["arx"]
    assert here is not None and job.order == here.order
    np.testing.assert_allclose(job.coef, here.coef, rtol=1e-9)
