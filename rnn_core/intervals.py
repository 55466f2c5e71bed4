"""Forecast intervals from a forecaster's own errors on held-out steps (split conformal,
its levels adapted to the misses that follow).

Given n errors e = actual − forecast of one column, h steps ahead, on a calibration part
(the validation part), the interval at level 1 − α around a new h-step forecast ŷ is

    [ŷ + e₍ₗ₎, ŷ + e₍ᵤ₎],   l = ⌊(n + 1) α/2⌋,   u = ⌈(n + 1)(1 − α/2)⌉

where e₍ₖ₎ is the k-th smallest error (signed split conformal; Vovk et al. 2005, Lei et al.
2018), widened where needed to hold ŷ itself (e₍ₗ₎ ≤ 0 ≤ e₍ᵤ₎: a user reads an interval
around its forecast; widening keeps the guarantee). The (n + 1) is the finite-sample
correction: if the new error is exchangeable with the n calibration errors, each tail holds
it with probability at most α/2, so the interval holds it with probability at least 1 − α,
whatever their distribution.

The signed form follows a biased or skewed error, but needs l ≥ 1 and u ≤ n: n ≥ 2/α − 1
(39 at 95 %, 9 at 80 %). With fewer errors the interval is symmetric, ŷ ± w with w the
k-th smallest |e|, k = ⌈(n + 1)(1 − α)⌉, which needs only n ≥ (1 − α)/α (19 at 95 %, 4 at
80 %). Below that no finite interval has the guarantee, and w falls back to the normal
approximation z₁₋α/₂ · RMS(e) · √(1 + 1/n), marked ``gaussian`` (no interval for n < 2).
``symmetric=True`` skips the signed form (docs/forecasting.md compares the two).

**Adaptive** (:func:`replay`, Gibbs & Candès 2021, "adaptive conformal inference"): the
guarantee needs the new errors exchangeable with the calibration ones, and a series whose
level or volatility moves after its validation part breaks it. So the level of each new
interval follows the misses of the intervals before it whose outcome is known: after each,
α ← α + γ(α₀ − miss), so a miss widens the next intervals and a hit narrows them, and over
m new errors the share of misses is within (max(α₀, 1 − α₀) + γ)/(γm) of α₀ whatever the
errors do. γ = 0.05 was chosen on validation parts only (the first half calibrating, the
second replayed; docs/forecasting.md has the table).
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
    return sorted_bounds(np.sort(errors, axis=0), np.sort(np.abs(errors), axis=0), level,
                         symmetric)


def sorted_bounds(ordered, magnitudes, level, symmetric=False):
    """:func:`bounds` of errors given sorted, ``ordered`` (n, F), and their sorted absolute
    values ``magnitudes`` (n, F): sorted once for the many levels of an adaptive replay."""
    n, alpha = len(ordered), 1 - level
    low, high = math.floor((n + 1) * alpha / 2 + 1e-9), conformal_rank(n, 1 - alpha / 2)
    if not symmetric and low >= 1 and high <= n:   # widened to hold the forecast itself
        return np.minimum(ordered[low - 1], 0), np.maximum(ordered[high - 1], 0), False
    k = conformal_rank(n, level)
    if k <= n:
        width = magnitudes[k - 1]
        return -width, width, False
    width = gaussian_width(ordered, level)
    return -width, width, True


def nested_bounds(errors, levels=LEVELS, symmetric=False):
    """{level: (lower (F,), upper (F,), gaussian)} of :func:`bounds` for each of ``levels``
    (ascending), each widened to hold the one below it: with few errors a lower level's
    signed bounds can reach past a higher level's symmetric or normal ones, and a user reads
    the 95 % interval as the wider one."""
    return nested({level: bounds(errors, level, symmetric) for level in levels})


def falls_back(errors, levels=LEVELS, symmetric=False):
    """Whether n calibration errors (n, F) are too few for a conformal bound at one of
    ``levels``, so that the normal approximation stands in (:func:`bounds`)."""
    return any(fallback for *_, fallback in nested_bounds(errors, levels, symmetric).values())


def nested(by_level):
    """{level: (lower, upper, ...)} with each level's bounds widened to hold those of the
    levels below it."""
    out, inner = {}, None
    for level in sorted(by_level):
        lower, upper, *rest = by_level[level]
        if inner is not None:
            lower, upper = np.fmin(lower, inner[0]), np.fmax(upper, inner[1])
        out[level] = inner = (lower, upper, *rest)
    return out


# -- adaptive: the level follows the misses of the newer errors -------------------------------

GAMMA = 0.05   # the step of the adapted miss rate; chosen on validation parts (module docstring)
MAX_LEVEL = 0.999   # the widest an adapted interval gets: ± 3.3 RMS(e) (normal)


def adapted_bounds(ordered, magnitudes, level, alpha, symmetric=False):
    """:func:`sorted_bounds` at the level 1 − ``alpha`` of an adapted miss rate, clipped to
    [0, the wider of ``level`` and :data:`MAX_LEVEL`]. Past the ranks n errors have, the
    normal approximation stands in (as for too few errors), widened to the largest |e| at
    least, so that a wider level never narrows the interval."""
    adapted = min(max(1 - alpha, 0.0), max(level, MAX_LEVEL))
    lower, upper, gaussian = sorted_bounds(ordered, magnitudes, adapted, symmetric)
    if gaussian and adapted > level and len(magnitudes):
        lower, upper = np.fmin(lower, -magnitudes[-1]), np.fmax(upper, magnitudes[-1])
    return lower, upper


def adapted_interval(ordered, magnitudes, f, alpha, symmetric=False):
    """{level: (lower (1,), upper (1,))} of column ``f`` of sorted calibration errors
    (:func:`sorted_errors`) at the adapted miss rates {level: α (F,)}, nested."""
    return nested({level: adapted_bounds(ordered[:, f:f + 1], magnitudes[:, f:f + 1], level,
                                         float(rates[f]), symmetric)
                   for level, rates in alpha.items()})


def sorted_errors(calibration):
    """(the errors (n, F) sorted, their absolute values sorted) of calibration errors (n,)
    or (n, F)."""
    calibration = np.asarray(calibration, dtype=np.float64)
    calibration = calibration[:, None] if calibration.ndim == 1 else calibration
    return np.sort(calibration, axis=0), np.sort(np.abs(calibration), axis=0)


def replay(calibration, errors, horizon=1, levels=LEVELS, gamma=GAMMA, symmetric=False):
    """Adaptive conformal intervals (Gibbs & Candès 2021) over new errors (m, F) in time
    order, one step apart, each of a forecast ``horizon`` steps ahead: the interval of each
    comes from the calibration errors (n, F) at a level adapted to the misses known when it
    was forecast, those of the errors ``horizon`` or more steps before it:
    αₜ₊₁ = αₜ + γ (α − missₜ), per column, from α = 1 − level (:func:`adapted_bounds`).

    Returns ({level: inside (m, F) bool}, {level: the adapted miss rate α (F,) after the
    last error, for a forecast made after them: :func:`bounds_at`}). ``gamma`` 0: the
    levels stay (split conformal)."""
    ordered, magnitudes = sorted_errors(calibration)
    columns = ordered.shape[1]
    errors = np.asarray(errors, dtype=np.float64).reshape(-1, columns)
    alpha = {level: np.full(columns, 1 - level) for level in levels}
    inside = {level: np.zeros(errors.shape, dtype=bool) for level in levels}

    if len(ordered) < 2:      # no interval to miss or hit
        return inside, alpha

    def learn(j):      # the outcome of error j is known: move each level's miss rate
        for level in levels:
            alpha[level] += gamma * ((1 - level) - ~inside[level][j])

    for i, error in enumerate(errors):
        for f in range(columns):
            for level, (lower, upper) in adapted_interval(ordered, magnitudes, f, alpha,
                                                          symmetric).items():
                inside[level][i, f] = lower[0] <= error[f] <= upper[0]
        if gamma and i - horizon + 1 >= 0:
            learn(i - horizon + 1)
    for j in range(max(len(errors) - horizon + 1, 0), len(errors)) if gamma else ():
        learn(j)
    return inside, alpha


def bounds_at(calibration, alpha, symmetric=False):
    """The bounds {level: (lower (F,), upper (F,))} of calibration errors (n, F) at the
    adapted miss rates {level: α (F,)} of :func:`replay`, each level widened to hold those
    below it."""
    ordered, magnitudes = sorted_errors(calibration)
    columns = [adapted_interval(ordered, magnitudes, f, alpha, symmetric)
               for f in range(ordered.shape[1])]
    return {level: tuple(np.concatenate([c[level][side] for c in columns]) for side in (0, 1))
            for level in alpha}


def coverage_counts(calibration, errors, horizon=1, levels=LEVELS, gamma=GAMMA,
                    symmetric=False):
    """{"interval_count": m scored with an interval, "covered_80": (F,), ..., "gaussian": 0/1}: how
    many of the new errors (m, F), in time order, ``horizon`` steps ahead, lie inside each
    level's interval from the calibration errors (n, F), adapted to the misses before them
    (:func:`replay`); interval_count 0 if n < 2 (no interval). ``gaussian`` is 1 if a level
    fell back to the normal approximation at its own level."""
    errors = np.asarray(errors, dtype=np.float64)
    usable = len(calibration) >= 2
    inside, _ = replay(calibration, errors, horizon, levels, gamma, symmetric)
    gaussian = falls_back(calibration, levels, symmetric)
    out = {f"covered_{level_name(level)}": np.sum(inside[level], axis=0).astype(np.float64)
           for level in levels}
    return {**out, "interval_count": float(len(errors) if usable else 0),
            "gaussian": float(gaussian and usable)}
