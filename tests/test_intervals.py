"""Forecast intervals calibrated on the validation part's errors and adapted to the misses
that follow (rnn_core.intervals), as forecast prints them and as evaluate scores their
coverage on the test part, in this process and in the MapReduce job."""
import csv
import math

import numpy as np
import pandas as pd
import pytest
from helpers import SUNSPOTS_CSV, SUNSPOTS_SERIES, cli_args, make_run, network_lost
from test_driven_series import DAYS, driven_run  # noqa: F401 (a fixture)
from test_series_scoring_job import INLINE, panel_run  # noqa: F401 (a fixture)

from jobs import scoring
from jobs.commands.forecast import forecast_kwargs, format_forecast
from jobs.generating import forecast_run
from jobs.mr.series_rows import calibration_errors, sequence_parts
from jobs.run.trained import load_run
from rnn_core import forecast
from rnn_core.intervals import (GAMMA, MAX_LEVEL, bounds, bounds_at, conformal_rank,
                                coverage_counts, nested_bounds, replay)


# -- the math --------------------------------------------------------------------------------

def test_the_bounds_are_the_errors_of_rank_floor_and_ceil_of_n_plus_1_times_the_tails():
    errors = np.arange(-19.0, 20.0)[:, None]                    # 39 errors: -19, ..., 19
    assert bounds(errors, 0.95)[:2] == ([-19.0], [19.0])        # ⌊40 · .025⌋ = 1, ⌈40 · .975⌉ = 39
    assert bounds(errors, 0.80)[:2] == ([-16.0], [16.0])        # ⌊40 · .1⌋ = 4, ⌈40 · .9⌉ = 36
    assert bounds(errors + 10, 0.80)[:2] == ([-6.0], [26.0])    # follows a bias
    assert bounds(errors[1:], 0.95)[:2] == ([-19.0], [19.0])    # 38 < 39: symmetric, 38th |e|


def test_the_symmetric_half_width_is_the_ceil_of_n_plus_1_times_the_level_th_absolute_error():
    errors = np.arange(1.0, 21.0)[:, None] * np.where(np.arange(20) % 2, 1, -1)[:, None]
    assert bounds(errors, 0.80, symmetric=True)[:2] == ([-17.0], [17.0])   # ⌈21 · 0.8⌉ = 17
    assert bounds(errors, 0.95)[:2] == ([-20.0], [20.0])       # ⌈21 · 0.95⌉ = 20
    assert conformal_rank(19, 0.95) == 19 and conformal_rank(20, 0.95) == 20


def test_errors_too_few_for_a_level_fall_back_to_the_normal_approximation():
    errors = np.array([[1.0], [-2.0], [3.0], [-1.0], [2.0]])
    lower, upper, gaussian = bounds(errors, 0.95)              # 5 < 19 errors
    width = 1.959964 * math.sqrt(np.mean(errors ** 2)) * math.sqrt(1 + 1 / 5)
    assert gaussian and upper == pytest.approx([width]) and lower == pytest.approx([-width])
    assert not bounds(errors, 0.80)[2]                          # symmetric: ⌈6 · 0.8⌉ = 5 ≤ 5
    assert np.isnan(bounds(errors[:1], 0.80)[0]).all()         # one error: no interval


def test_two_calibration_errors_are_enough_for_a_normal_interval():
    counts = coverage_counts(np.array([[1.0], [-1.0]]), np.array([[0.5], [9.0]]), gamma=0)
    assert counts["interval_count"] == 2 and counts["gaussian"] == 1   # ± 1.96 · 1 · √1.5
    assert counts["covered_95"] == [1]


def test_signed_bounds_follow_a_biased_error():
    errors = np.linspace(1.0, 2.0, 99)[:, None]                # always under-forecast
    lower, upper, _ = bounds(errors, 0.80)
    assert lower[0] == 0 and upper[0] < 2.0                    # widened to hold the forecast
    assert bounds(errors, 0.80, symmetric=True)[0][0] < -1     # the symmetric one is wider


def test_the_95_percent_interval_holds_the_80_percent_one():
    errors = np.array([[-3.0], [0.1], [0.2], [0.1], [0.0], [0.1], [-0.1], [0.2], [0.1], [0.2]])
    inner, outer = nested_bounds(errors).values()   # signed at 80 %, normal at 95 %
    assert bounds(errors, 0.95)[0][0] > -3.0 and outer[0][0] == inner[0][0] == -3.0
    assert outer[1][0] >= inner[1][0]


def test_coverage_counts_the_new_errors_inside_each_interval():
    calibration = np.arange(-10.0, 11.0)[:, None]               # 21 errors, |e| up to 10
    counts = coverage_counts(calibration, np.array([[0.0], [9.5], [10.5], [-8.0], [9.0], [-9.0]]),
                             gamma=0)
    # 80 %: the 2nd and 20th smallest e, -9 and 9 (a bound holds); 95 %: too few for the
    # signed bounds, the ⌈22 · 0.95⌉ = 21st smallest |e|, 10
    assert counts["covered_80"] == [4] and counts["covered_95"] == [5]
    assert counts["interval_count"] == 6 and counts["gaussian"] == 0


def test_each_column_is_calibrated_on_its_own_errors_given_in_any_order():
    shuffled = np.random.default_rng(0).permutation(np.arange(-19.0, 20.0))
    calibration = np.column_stack([shuffled, 2 * shuffled])    # 39 errors per column
    assert np.array_equal(bounds(calibration, 0.95)[1], [19.0, 38.0])
    (lower, upper), = bounds_at(calibration, {0.95: np.array([0.05, 0.05])}).values()
    assert np.array_equal(lower, [-19.0, -38.0]) and np.array_equal(upper, [19.0, 38.0])
    counts = coverage_counts(calibration, np.array([[18.0, 18.0], [20.0, 20.0]]), gamma=0)
    assert np.array_equal(counts["covered_95"], [1.0, 2.0])


def test_symmetric_intervals_stay_symmetric_when_adapted():
    biased = np.linspace(1.0, 2.0, 99)[:, None]                # signed: [0, e₍ᵤ₎]
    (lower, upper), = bounds_at(biased, {0.80: np.array([0.1])}, symmetric=True).values()
    assert lower == pytest.approx(-upper) and lower[0] < -1
    new = np.array([[-1.5], [1.5]])
    assert coverage_counts(biased, new, symmetric=True)["covered_80"] == [2]
    assert coverage_counts(biased, new)["covered_80"] == [1]


def test_a_miss_raises_the_level_of_the_intervals_after_it_and_a_hit_lowers_it():
    calibration = np.arange(-19.0, 20.0)[:, None]
    _, after_a_miss = replay(calibration, [[50.0]])
    _, after_a_hit = replay(calibration, [[0.0]])
    assert after_a_miss[0.80] == pytest.approx([0.2 + 0.05 * (0.2 - 1)])   # α + γ(α₀ − 1)
    assert after_a_hit[0.80] == pytest.approx([0.2 + 0.05 * 0.2])


def test_a_miss_moves_the_level_only_horizon_steps_after_its_forecast():
    calibration = np.arange(-19.0, 20.0)[:, None]           # 80 %: ± 16
    errors = np.array([[50.0], [50.0], [16.5]])
    one_step, _ = replay(calibration, errors, horizon=1)      # two misses: ± 18 at 88 %
    three_steps, _ = replay(calibration, errors, horizon=3)   # the 3rd made before both
    assert one_step[0.80][2, 0] and not three_steps[0.80][2, 0]


def test_the_levels_after_the_last_error_have_learned_every_miss_including_the_last_h():
    calibration = np.arange(-19.0, 20.0)[:, None]
    _, alpha = replay(calibration, [[50.0], [50.0], [50.0]], horizon=3)
    assert alpha[0.80] == pytest.approx([0.2 + 3 * 0.05 * (0.2 - 1)])   # all three known now


def test_an_adapted_interval_past_the_ranks_is_at_least_the_largest_error_either_side():
    calibration = np.r_[np.linspace(-0.1, 0.1, 38), 10.0][:, None]     # one far error
    (lower, upper), = bounds_at(calibration, {0.95: np.array([-1.0])}).values()
    assert (lower, upper) == ([-10.0], [10.0])   # wider than z · RMS(e) ≈ 5.3


def test_past_the_ranks_an_adapted_interval_is_the_normal_one_and_holds_the_largest_error():
    calibration = np.linspace(-1.0, 1.0, 39)[:, None] ** 3
    (lower, upper), = bounds_at(calibration, {0.95: np.array([-1.0])}).values()
    width = 3.290527 * np.sqrt(np.mean(calibration ** 2)) * np.sqrt(1 + 1 / 39)  # MAX_LEVEL
    assert MAX_LEVEL == 0.999 and upper == pytest.approx([max(width, 1.0)])
    assert lower == pytest.approx(-upper)


def test_without_two_calibration_errors_nothing_is_inside_and_the_levels_stay():
    for calibration in (np.zeros((0, 1)), np.ones((1, 1))):
        inside, alpha = replay(calibration, [[0.5], [9.0]])
        assert not inside[0.80].any() and alpha[0.80] == pytest.approx([0.2])
        (lower, upper), _ = bounds_at(calibration, alpha).values()
        assert np.isnan(lower).all() and np.isnan(upper).all()


def test_over_a_change_of_scale_the_adapted_intervals_keep_their_level_where_fixed_ones_fail():
    rng = np.random.default_rng(0)
    calibration, wider = rng.normal(size=(200, 1)), 2 * rng.normal(size=(400, 1))
    fixed = coverage_counts(calibration, wider, gamma=0)
    adapted = coverage_counts(calibration, wider)
    assert fixed["covered_80"][0] / 400 < 0.55 and fixed["covered_95"][0] / 400 < 0.70
    for level in (0.80, 0.95):      # Gibbs & Candès: |misses − α| ≤ (max(α, 1 − α) + γ)/(γm)
        bound = (max(level, 1 - level) + GAMMA) / (GAMMA * 400)
        assert abs(adapted[f"covered_{round(100 * level)}"][0] / 400 - level) <= bound


# -- forecast --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sun_run(tmp_path_factory):
    """(data, run) of a tiny model on sunspots 1700-1759 with valid and test parts."""
    return make_run(tmp_path_factory.mktemp("sun"), [*SUNSPOTS_SERIES, "--test", 0.2])


def run_forecast(*argv):
    return forecast_run(**forecast_kwargs(cli_args("forecast", *argv)))


def test_forecast_carries_80_and_95_percent_intervals_around_the_forecast(sun_run):
    for network in ((), ("--network",)):
        result = run_forecast("--run", sun_run[1], "--horizon", 5, *network)
        point = np.array(result["forecast"])
        inner, outer = (result["intervals"][level] for level in ("80", "95"))
        assert np.array(inner["lower"]).shape == point.shape == (5, 1)
        assert np.all(np.array(outer["lower"]) <= np.array(inner["lower"]))
        assert np.all(np.array(inner["lower"]) < point) and np.all(point < inner["upper"])
        assert np.all(np.array(inner["upper"]) <= np.array(outer["upper"]))
        assert result["calibration"]["errors"] == [12] * 5     # the validation part's 12 years
    text = format_forecast(result)
    assert "80 % lower" in text.splitlines()[0] and "95 % upper" in text.splitlines()[0]
    assert f"{result['intervals']['95']['upper'][4][0]:.6g}" in text.splitlines()[6]


def test_the_intervals_widen_where_the_test_part_misses_them(sun_run, tmp_path):
    with open(SUNSPOTS_CSV, newline="") as f:
        rows = list(csv.reader(f))
    column = rows[0].index("SUNACTIVITY")
    for row in rows[-12:]:                                    # the test part: the last 12 years
        row[column] = str(3 * float(row[column]) + 50)
    changed = tmp_path / "sunspots.csv"
    with open(changed, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    argv = [changed if a == SUNSPOTS_CSV else a for a in SUNSPOTS_SERIES]
    other = make_run(tmp_path, [*argv, "--test", 0.2])
    widths, calibrations = [], []
    for run in (sun_run[1], other[1]):
        result = run_forecast("--run", run, "--horizon", 3, "--network")
        widths.append(np.array([np.array(result["intervals"][level]["upper"])
                                - np.array(result["intervals"][level]["lower"])
                                for level in ("80", "95")]))
        calibrations.append(result["calibration"])
    usual, missed = calibrations
    assert usual["errors"] == missed["errors"] == [12] * 3   # the same validation years
    assert missed["replayed"] == [12] * 3
    assert all(level > 0.95 for level in missed["levels"]["95"])
    assert np.all(widths[1] >= widths[0] * (1 - 1e-9)) and np.any(widths[1] > widths[0] * 1.5)


# -- evaluate --------------------------------------------------------------------------------

def test_evaluate_coverage_is_the_share_of_test_steps_inside_the_intervals_adapted_over_them(
        sun_run):
    state, dataset = load_run(sun_run[1])

    def errors(split):   # the network's one-step errors, each from its record's first row
        part, = sequence_parts(dataset, split, state.model)
        return np.array([part.sequence[t, 0] - forecast(state.theta, state.model,
                                                         part.sequence[s:t], 1)[0, 0]
                         for t, s in zip(part.targets, part.starts)])

    valid, test = errors("valid"), errors("test")
    n = len(valid)                  # 12: the 80 % bounds are the 1st and 12th smallest errors
    outer = 1.959964 * np.sqrt(np.mean(valid ** 2)) * math.sqrt(1 + 1 / n)   # n < 19
    low, high = min(valid.min(), 0), max(valid.max(), 0)
    first_80 = (test[0] >= low) & (test[0] <= high)    # the first test year: nominal levels
    first_95 = (test[0] >= min(low, -outer)) & (test[0] <= max(high, outer))
    inside, _ = replay(valid, test)                     # the later ones: adapted
    assert (inside[0.80][0, 0], inside[0.95][0, 0]) == (first_80, first_95)
    metrics = scoring.evaluate(sun_run[1], runner=None, network=True)
    assert metrics["coverage"] == pytest.approx({"80": inside[0.80].mean(),
                                                 "95": inside[0.95].mean()})
    assert metrics["coverage_steps"] == len(test) and metrics["coverage_gaussian"] == 1


def test_evaluate_has_no_coverage_where_the_validation_part_is_scored(sun_run):
    assert "coverage" not in scoring.evaluate(sun_run[1], split="valid", runner=None)


def test_the_job_counts_the_coverage_of_this_process_per_series(panel_run):  # noqa: F811
    for horizon in (1, 3):
        here = scoring.evaluate(panel_run[1], runner=None, network=True, horizon=horizon)
        job = scoring.evaluate(panel_run[1], runner=INLINE, network=True, horizon=horizon)
        assert job["coverage"] == pytest.approx(here["coverage"], rel=1e-12)
        assert job["coverage_steps"] == here["coverage_steps"] > 0
        for mine, theirs in zip(here["series"]["table"], job["series"]["table"]):
            assert (mine["coverage_80"], mine["coverage_95"]) == pytest.approx(
                (theirs["coverage_80"], theirs["coverage_95"]))


def test_a_panel_reports_each_series_coverage_and_their_pooled_share(panel_run,  # noqa: F811
                                                                     monkeypatch):
    monkeypatch.setattr(scoring, "load_run", network_lost(scoring.load_run))
    here = scoring.evaluate(panel_run[1], runner=None)
    job = scoring.evaluate(panel_run[1], runner=INLINE)
    table = here["series"]["table"]
    assert len(table) == 3 and here["coverage_gaussian"] == 0    # 24 validation days each
    for level in ("80", "95"):   # the series have as many test days each: the mean is pooled
        shares = [row[f"coverage_{level}"] for row in table]
        assert here["coverage"][level] == pytest.approx(np.mean(shares))
        assert job["coverage"][level] == pytest.approx(here["coverage"][level])
    assert all(row["coverage_80"] <= row["coverage_95"] for row in table)


def test_calibrating_many_steps_ahead_at_once_gives_the_errors_of_each_step_alone(sun_run):
    state, dataset = load_run(sun_run[1])
    part, = sequence_parts(dataset, "valid", state.model)
    fitted = {"season": None, "season_from": None, "ar": scoring.dataset_ar(dataset)}
    names = ["ar", "ets", "ar_ets", "model"]
    together = calibration_errors(state, dataset.meta, part, [1, 2, 3], fitted, names)
    for h in (1, 2, 3):
        alone = calibration_errors(state, dataset.meta, part, [h], fitted, names)
        for name in names:
            assert np.allclose(together[name][h - 1], alone[name][0], rtol=1e-9, atol=1e-12)


def test_a_driven_series_has_intervals_for_its_targets(driven_run, tmp_path):  # noqa: F811
    *_, run = driven_run
    future = tmp_path / "future.csv"
    pd.DataFrame({"day": pd.date_range("2021-01-01", periods=DAYS + 3)[DAYS:],
                  "temp": [30.0, -5.0, 12.0]}).to_csv(future, index=False)
    for network in (True, False):
        result = forecast_run(run, 3, future=str(future), network=network)
        lower, upper = (np.array(result["intervals"]["95"][side]) for side in ("lower", "upper"))
        assert lower.shape == upper.shape == (3, 1)             # the target, not the input
        point = np.array(result["forecast"])
        assert np.all(lower <= point) and np.all(point <= upper)
    metrics = scoring.evaluate(run, runner=None)
    assert set(metrics["coverage"]) == {"80", "95"}
