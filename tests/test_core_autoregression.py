"""AR(p) per column by least squares, from sums that add across parts (prepare's map tasks)."""
import numpy as np
import pytest

from rnn_core import autoregression


def ar2_process(n, seed=0):
    """x[t] = 0.6 x[t-1] - 0.3 x[t-2] + 0.1 + noise: (n, 1)."""
    rng = np.random.default_rng(seed)
    x = np.zeros(n)
    for t in range(2, n):
        x[t] = 0.1 + 0.6 * x[t - 1] - 0.3 * x[t - 2] + 0.1 * rng.standard_normal()
    return x[:, None]


def one_step_ar(part, positions, coef):
    """c + Σ_i a_i x[t - i] at each position, x[0] standing in before the start: (n,)."""
    return np.array([coef[0] + sum(a * part[max(t - i, 0), 0] for i, a in enumerate(coef[1:], 1))
                     for t in positions])


def test_ar_fit_recovers_the_order_and_coefficients_of_an_ar2_process():
    ar = autoregression.fit_ar([ar2_process(3000)], max_order=10)
    assert ar.order == 2
    np.testing.assert_allclose(ar.coef[0], [0.1, 0.6, -0.3], atol=0.05)


def least_squares_ar(parts, order):
    """AR(order) by np.linalg.lstsq over the positions t >= order of each part."""
    rows, targets = [], []
    for part in parts:
        for t in range(order, len(part)):
            rows.append(np.r_[1.0, part[t - order:t, 0][::-1]])
            targets.append(part[t, 0])
    return np.linalg.lstsq(np.array(rows), np.array(targets), rcond=None)[0]


def aic_in_memory(parts, order, start):
    """AIC of AR(order) by np.linalg.lstsq over the positions t >= start of each part."""
    kept = [part for part in parts if len(part) > start]
    rows = [np.r_[1.0, part[t - order:t, 0][::-1]] for part in kept for t in range(start, len(part))]
    targets = [part[t, 0] for part in kept for t in range(start, len(part))]
    coef, *_ = np.linalg.lstsq(np.array(rows), np.array(targets), rcond=None)
    n, k = len(targets), order + 2
    variance = np.sum((np.array(rows) @ coef - targets) ** 2) / n
    return n * np.log(variance) + 2 * k


def test_ar_fit_from_summed_statistics_equals_least_squares_over_the_parts_in_memory():
    rng = np.random.default_rng(3)
    walk = np.cumsum(rng.standard_normal(400))[:, None] * 0.1
    parts = [walk[:300], ar2_process(150, seed=1), walk[300:340], walk[350:353]]  # 40, 3: short
    ar = autoregression.fit_ar(parts, max_order=12)
    # the order: the lowest AIC, every order fitted on the positions t >= the largest
    top = min(12, sum(len(part) for part in parts) // len(parts) // 4)
    criteria = [aic_in_memory(parts, order, top) for order in range(1, top + 1)]
    assert ar.order == int(np.argmin(criteria)) + 1
    np.testing.assert_allclose(ar.coef[0], least_squares_ar(        # (up to fit_ar's tiny ridge)
        [part for part in parts if len(part) > ar.order], ar.order), rtol=1e-6)


def test_the_ar_order_covers_a_monthly_season_that_a_short_ar_misses():
    rng = np.random.default_rng(5)
    months = np.arange(144)
    seasonal = np.sin(2 * np.pi * months / 12) + 0.5 * np.cos(4 * np.pi * months / 12)
    series = (seasonal + 0.2 * rng.standard_normal(len(months)))[:, None]
    assert autoregression.fit_ar([series]).order >= 11


def test_ar_statistics_add_up_in_any_grouping_to_the_fit_of_all_the_parts():
    parts = [ar2_process(120, seed=s) for s in range(3)]
    add, stats = autoregression.add_statistics, autoregression.ar_statistics
    one_by_one = {}
    for part in parts:
        one_by_one = add(one_by_one, stats(part, 8))
    together = add(stats(parts[0], 8), add(stats(parts[1], 8), stats(parts[2], 8)))
    assert one_by_one.keys() == together.keys()
    for name in together:
        np.testing.assert_allclose(one_by_one[name], together[name], rtol=1e-12)
    fitted = autoregression.fit_ar_statistics(one_by_one, 8)
    np.testing.assert_allclose(fitted.coef, autoregression.fit_ar(parts, 8).coef, rtol=1e-9)


def test_the_statistics_of_a_part_do_not_depend_on_the_block_it_is_summed_in(monkeypatch):
    part = np.concatenate([ar2_process(500), ar2_process(500, seed=1)], axis=1)   # (500, 2)
    whole = autoregression.ar_statistics(part, max_order=12)
    monkeypatch.setattr(autoregression, "BLOCK", 7)      # many blocks, the last one short
    blocked = autoregression.ar_statistics(part, max_order=12)
    assert whole.keys() == blocked.keys()
    for name in whole:
        np.testing.assert_allclose(blocked[name], whole[name], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_ar_order_is_the_one_statsmodels_picks_by_aic_on_the_same_lags(seed):
    from statsmodels.tsa.ar_model import ar_select_order

    rng = np.random.default_rng(seed)
    months = np.arange(160)
    series = np.sin(2 * np.pi * months / 12) + np.cumsum(0.3 * rng.standard_normal(160)) * 0.3
    top = len(series) // autoregression.ORDER_PER_STEPS
    chosen = ar_select_order(series, maxlag=top, ic="aic").ar_lags
    assert autoregression.fit_ar([series[:, None]]).order == max(chosen)
