"""The season from the calendar of the time column, and the ETS baseline (statsmodels)."""
import numpy as np
import pytest

from rnn_core import baselines, smoothing

HOUR, DAY = 3600.0, 86400.0


@pytest.mark.parametrize("step, per_day, expected", [
    (30 * DAY, 1 / 30.4, {"step": "monthly", "seasons": [12]}),
    (91 * DAY, 1 / 91.3, {"step": "quarterly", "seasons": [4]}),
    (365 * DAY, 1 / 365.25, {"step": "yearly", "seasons": []}),
    (7 * DAY, 1 / 7, {"step": "weekly", "seasons": [52]}),
    (DAY, 1.0, {"step": "daily", "seasons": [7]}),
    (DAY, 5 / 7, {"step": "daily", "seasons": [5]}),                 # business days
    (HOUR, 24.0, {"step": "every 60 minutes", "seasons": [24, 168]}),
    (HOUR / 2, 48.0, {"step": "every 30 minutes", "seasons": [48, 336]}),
])
def test_the_calendar_of_a_time_step_names_its_seasons_in_rows(step, per_day, expected):
    assert baselines.calendar(step, per_day) == expected


def test_without_timestamps_there_is_no_calendar():
    assert baselines.calendar(np.nan, np.nan) is None


def test_of_a_day_and_a_week_the_season_is_the_one_whose_naive_forecast_fits_better():
    rng = np.random.default_rng(0)
    half_hours = np.arange(48 * 7 * 6)
    weekday = (half_hours // 48) % 7 < 5
    load = np.sin(2 * np.pi * half_hours / 48) * np.where(weekday, 1.0, 0.2)
    series = (load + 0.05 * rng.standard_normal(len(load)))[:, None]
    assert baselines.choose_season([series], [48, 336]) == 336
    assert baselines.choose_season([series[:100]], [48, 336]) == 48   # one week does not fit twice


def test_without_timestamps_a_cycle_that_is_no_calendar_period_is_no_season():
    years = np.arange(300)
    eleven_year_cycle = np.sin(2 * np.pi * years / 11)[:, None]
    assert baselines.detect_season([eleven_year_cycle]) is None


def seasonal_series(n=120, growing=False, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    level = 20 + 0.1 * t
    season = np.sin(2 * np.pi * t / 12) * (0.1 * level if growing else 2.0)
    return level + season + 0.3 * rng.standard_normal(n)


def test_ets_takes_a_seasonal_form_on_a_seasonal_series_and_forecasts_it_better_than_persistence():
    series = seasonal_series()
    ets = smoothing.fit_ets(series[:96], season=12)
    assert ets.form.get("seasonal") is not None
    predicted = smoothing.one_step(ets, series)[96:]
    assert np.mean((predicted - series[96:]) ** 2) < 0.5 * np.mean(np.diff(series[95:]) ** 2)


def test_ets_tries_multiplicative_forms_only_on_positive_series():
    positive = {f["error"] for f in smoothing.candidate_forms(seasonal_series(growing=True), 12)}
    crossing = {f["error"] for f in smoothing.candidate_forms(seasonal_series() - 25, 12)}
    assert positive == {"add", "mul"} and crossing == {"add"}


def test_ets_one_step_forecasts_use_only_the_values_before_each_step():
    series = seasonal_series()
    ets = smoothing.fit_ets(series[:96], season=12)
    changed = series.copy()
    changed[100:] += 50.0
    np.testing.assert_allclose(smoothing.one_step(ets, changed)[:101],
                               smoothing.one_step(ets, series)[:101])


def test_a_history_too_short_for_ets_gives_none():
    assert smoothing.fit_ets(np.arange(smoothing.MIN_HISTORY - 1.0)) is None


def test_ets_forecasts_h_steps_ahead_from_the_values_up_to_each_origin():
    series = seasonal_series()
    ets = smoothing.fit_ets(series[:96], season=12)
    changed = series.copy()
    changed[101:] += 50.0
    origins = np.array([97, 100])
    np.testing.assert_allclose(smoothing.ahead(ets, changed, origins, 3),
                               smoothing.ahead(ets, series, origins, 3))
    np.testing.assert_allclose(smoothing.ahead(ets, series, origins, 1),
                               smoothing.one_step(ets, series)[origins + 1])


@pytest.mark.parametrize("form", [
    {"error": "add"},
    {"error": "add", "trend": "add", "damped_trend": True},
    {"error": "add", "seasonal": "add", "seasonal_periods": 12},
    {"error": "mul", "seasonal": "mul", "seasonal_periods": 12, "trend": "add",
     "damped_trend": True}])
def test_ets_h_step_forecasts_from_the_states_are_statsmodels_forecasts_from_each_origin(form):
    import warnings

    from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    series = seasonal_series()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ets = smoothing.ETS(form, np.asarray(ETSModel(series[:96], **form).fit(disp=False).params))
        origins = np.array([30, 40, 97, 110])
        for horizon in (2, 13, 30):
            expected = [np.asarray(ETSModel(series[:o + 1], **form).smooth(ets.params)
                                   .forecast(horizon))[-1] for o in origins]
            np.testing.assert_allclose(smoothing.ahead(ets, series, origins, horizon), expected,
                                       rtol=1e-10)


def test_ets_tries_no_seasonal_form_for_a_season_longer_than_its_limit():
    history = np.abs(np.random.default_rng(0).standard_normal(1000)) + 1
    assert all("seasonal" not in form for form in
               smoothing.candidate_forms(history, smoothing.MAX_SEASON + 1))
    assert any("seasonal" in form for form in
               smoothing.candidate_forms(history, smoothing.MAX_SEASON))
