"""Forecast intervals from a forecaster's own errors on held-out steps (split conformal).

Given n errors e = actual − forecast of one column, h steps ahead, on a calibration part
(the validation part), the interval at level 1 − α around a new h-step forecast ŷ is

    [ŷ − w, ŷ + w],   w = the k-th smallest |e|,   k = ⌈(n + 1)(1 − α)⌉

(symmetric split conformal, Vovk et al. 2005; Lei et al. 2018). The (n + 1) is the
finite-sample correction: if the new error is exchangeable with the n calibration errors,
it lies within w with probability at least 1 − α, whatever their distribution. For n of
20 at 95 % that is k = 20, the largest error; for n < (1 − α)/α (19 at 95 %, 4 at 80 %)
k > n and there is no finite w with that guarantee. Then w falls back to the normal
approximation z₁₋α/₂ · RMS(e) · √(1 + 1/n), marked ``gaussian`` (no bound at all for n < 2).

The signed form (``symmetric=False``) takes the ⌊(n + 1)α/2⌋-th and ⌈(n + 1)(1 − α/2)⌉-th
smallest e, which follows a skewed or biased error, but needs n ≥ 2/α − 1 (39 at 95 %).
"""
import math
from statistics import NormalDist

import numpy as np

LEVELS = (0.80, 0.95)   # the levels forecast prints and evaluate scores


def level_name(level):
    """"80" for 0.80: the key of a level in a result."""
    return f"{round(100 * level):d}"


def conformal_rank(n, level):
    """k = ⌈(n + 1) · level⌉: the rank (1-based) of the calibration score that bounds a new
    one with probability ≥ level; > n when n errors are too few for the level."""
    return math.ceil((n + 1) * level - 1e-9)    # 1e-9: (n + 1) · level exact in decimals


def gaussian_width(errors, level):
    """The half-width (F,) z · RMS(e) · √(1 + 1/n) of errors (n, F), n ≥ 2; NaN below."""
    n = len(errors)
    if n < 2:
        return np.full(errors.shape[1:], np.nan)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    return z * np.sqrt(np.mean(errors ** 2, axis=0)) * math.sqrt(1 + 1 / n)


def bounds(errors, level, symmetric=True):
    """(lower (F,), upper (F,), gaussian) offsets to add to a forecast for the interval at
    ``level`` from calibration errors (n, F) = actual − forecast: the conformal quantiles
    (module docstring), or where n is too few for them the normal approximation
    (``gaussian`` True); NaN where n < 2."""
    errors = np.asarray(errors, dtype=np.float64).reshape(len(errors), -1)
    n = len(errors)
    if symmetric:
        k = conformal_rank(n, level)
        if k <= n:
            width = np.sort(np.abs(errors), axis=0)[k - 1]
            return -width, width, False
    else:
        alpha = 1 - level
        low, high = math.floor((n + 1) * alpha / 2 + 1e-9), conformal_rank(n, 1 - alpha / 2)
        if low >= 1 and high <= n:
            ordered = np.sort(errors, axis=0)
            return ordered[low - 1], ordered[high - 1], False
    width = gaussian_width(errors, level)
    return -width, width, True


def coverage_counts(calibration, errors, levels=LEVELS, symmetric=True):
    """{"interval_count": m scored with an interval, "covered_80": (F,), ..., "gaussian": 0/1}: how
    many of the new errors (m, F) lie inside each level's interval (:func:`bounds`) of the
    calibration errors (n, F); interval_count 0 if n < 2 (no interval). ``gaussian`` is 1
    if a level fell back to the normal approximation."""
    errors = np.asarray(errors, dtype=np.float64)
    out, gaussian = {}, False
    for level in levels:
        lower, upper, fallback = bounds(calibration, level, symmetric)
        gaussian |= fallback
        inside = (errors >= lower) & (errors <= upper)
        out[f"covered_{level_name(level)}"] = np.sum(inside, axis=0).astype(np.float64)
    usable = len(calibration) >= 2
    return {**out, "interval_count": float(len(errors) if usable else 0),
            "gaussian": float(gaussian and usable)}
