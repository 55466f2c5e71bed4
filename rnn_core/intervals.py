"""Forecast intervals from a forecaster's own errors on held-out steps (split conformal).

Given n errors e = actual − forecast of one column, h steps ahead, on a calibration part
(the validation part), the interval at level 1 − α around a new h-step forecast ŷ is

    [ŷ + e₍ₗ₎, ŷ + e₍ᵤ₎],   l = ⌊(n + 1) α/2⌋,   u = ⌈(n + 1)(1 − α/2)⌉

where e₍ₖ₎ is the k-th smallest error (signed split conformal; Vovk et al. 2005, Lei et al.
2018), widened where needed to hold ŷ itself (e₍ₗ₎ ≤ 0 ≤ e₍ᵤ₎: a user reads an interval
around its forecast; widening keeps the guarantee). The (n + 1) is the finite-sample correction: if the new error is exchangeable with
the n calibration errors, each tail holds it with probability at most α/2, so the
interval holds it with probability at least 1 − α, whatever their distribution.

The signed form follows a biased or skewed error, but needs l ≥ 1 and u ≤ n: n ≥ 2/α − 1
(39 at 95 %, 9 at 80 %). With fewer errors the interval is symmetric, ŷ ± w with w the
k-th smallest |e|, k = ⌈(n + 1)(1 − α)⌉, which needs only n ≥ (1 − α)/α (19 at 95 %, 4 at
80 %). Below that no finite interval has the guarantee, and w falls back to the normal
approximation z₁₋α/₂ · RMS(e) · √(1 + 1/n), marked ``gaussian`` (no interval for n < 2).
``symmetric=True`` skips the signed form (docs/forecasting.md compares the two).
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


def bounds(errors, level, symmetric=False):
    """(lower (F,), upper (F,), gaussian) offsets to add to a forecast for the interval at
    ``level`` from calibration errors (n, F) = actual − forecast: the signed conformal
    quantiles, else the symmetric ones, else the normal approximation (``gaussian`` True),
    whichever the first that n errors allow (module docstring); NaN where n < 2."""
    errors = np.asarray(errors, dtype=np.float64)
    errors = errors[:, None] if errors.ndim == 1 else errors
    n, alpha = len(errors), 1 - level
    low, high = math.floor((n + 1) * alpha / 2 + 1e-9), conformal_rank(n, 1 - alpha / 2)
    if not symmetric and low >= 1 and high <= n:
        ordered = np.sort(errors, axis=0)    # widened to hold the forecast itself
        return np.minimum(ordered[low - 1], 0), np.maximum(ordered[high - 1], 0), False
    k = conformal_rank(n, level)
    if k <= n:
        width = np.sort(np.abs(errors), axis=0)[k - 1]
        return -width, width, False
    width = gaussian_width(errors, level)
    return -width, width, True


def nested_bounds(errors, levels=LEVELS, symmetric=False):
    """{level: (lower (F,), upper (F,), gaussian)} of :func:`bounds` for each of ``levels``
    (ascending), each widened to hold the one below it: with few errors a lower level's
    signed bounds can reach past a higher level's symmetric or normal ones, and a user reads
    the 95 % interval as the wider one."""
    out, inner = {}, None
    for level in sorted(levels):
        lower, upper, gaussian = bounds(errors, level, symmetric)
        if inner is not None:
            lower, upper = np.fmin(lower, inner[0]), np.fmax(upper, inner[1])
        out[level] = inner = (lower, upper, gaussian)
    return out


def coverage_counts(calibration, errors, levels=LEVELS, symmetric=False):
    """{"interval_count": m scored with an interval, "covered_80": (F,), ..., "gaussian": 0/1}: how
    many of the new errors (m, F) lie inside each level's interval (:func:`nested_bounds`) of the
    calibration errors (n, F); interval_count 0 if n < 2 (no interval). ``gaussian`` is 1
    if a level fell back to the normal approximation."""
    errors = np.asarray(errors, dtype=np.float64)
    out, gaussian = {}, False
    for level, (lower, upper, fallback) in nested_bounds(calibration, levels, symmetric).items():
        gaussian |= fallback
        inside = (errors >= lower) & (errors <= upper)
        out[f"covered_{level_name(level)}"] = np.sum(inside, axis=0).astype(np.float64)
    usable = len(calibration) >= 2
    return {**out, "interval_count": float(len(errors) if usable else 0),
            "gaussian": float(gaussian and usable)}
