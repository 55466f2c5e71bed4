"""The classical forecasts a series model is compared with: persistence, seasonal naive, AR(p).

All of them work on normalized sequences, column by column, and forecast the value at a
target position t from the values up to the origin t - h (h: the horizon, 1 for one-step):

* persistence: x̂[t] = x[t - h];
* seasonal naive: x̂[t] = x[t - kS], the last value a whole number k of seasons S back
  (k = ceil(h / S)); S from the time column's calendar (:func:`calendar`,
  :func:`choose_season`) or, without timestamps, :func:`detect_season`, unless given;
* AR(p): x̂[t] = c + Σ_i a_i x[t - i], fitted by least squares on the training part of the
  sequences, p chosen there too (:func:`rnn_core.autoregression.fit_ar`, by ``prepare``);
  for h > 1 its own forecasts are fed back.

Before a sequence's first value, the first value stands in (a lag that reaches past the
start). Errors are summed per column (``sse``, ``sae``, ``count``), like
:class:`jobs.mr.loss_sums.LossSums`'s, so :func:`jobs.scoring.report` treats every forecaster alike.
"""
import numpy as np

from rnn_core.autoregression import lagged

MAX_SEASON = 400         # the longest season detected
CALENDAR_PERIODS = (4, 5, 7, 12, 24, 48, 52, 96, 168, 336)   # quarters, business days, days,
                         # months, hours, half hours, weeks, quarter hours, hours/week, ...
SEASON_MIN_ACF = 0.2     # a season's autocorrelation (of the differences) must reach this,
                         # and 3 / sqrt(steps), three times the noise level of white noise
SEASON_NEAR_BEST = 0.9   # the shortest peak this close to the highest is the season (52, not 104)


def detect_season(parts, max_season=MAX_SEASON):
    """The seasonal period of the training parts [(L_i, F)], or None if there is none.

    Each part's columns are detrended (a least-squares quadratic in time removed), and their
    autocorrelation (pooled over parts and columns) is computed for lags 2 .. a third of the
    shortest part. Its local maxima at a period of :data:`CALENDAR_PERIODS` above
    ``SEASON_MIN_ACF`` and 3 / sqrt(steps) are candidates, and the shortest one within
    ``SEASON_NEAR_BEST`` of the highest is the season (a multiple of the season is about as
    high). For data without timestamps; other cycles (the sunspots' 11 years) are left to
    the AR fit: they are not a calendar's, and their length drifts.
    """
    parts = [part for part in parts if len(part) > 6]
    if not parts:
        return None
    top = min(max_season, min(len(part) for part in parts) // 3)
    if top < 3:
        return None
    residuals = []
    for part in parts:
        time = np.linspace(-1, 1, len(part))
        trend = np.polynomial.polynomial.polyvander(time, 2)          # (L, 3)
        coef, *_ = np.linalg.lstsq(trend, part, rcond=None)
        residuals.append(part - trend @ coef)
    energy = sum(float(np.sum(r * r)) for r in residuals) or 1.0
    acf = np.array([sum(float(np.sum(r[lag:] * r[:-lag])) for r in residuals) / energy
                    for lag in range(1, top + 2)])            # acf[k] is lag k + 1
    floor = max(SEASON_MIN_ACF, 3 / np.sqrt(sum(len(part) for part in parts)))
    peaks = [lag for lag in CALENDAR_PERIODS if lag <= top
             and acf[lag - 1] >= max(acf[lag - 2], acf[lag]) and acf[lag - 1] >= floor]
    if not peaks:
        return None
    best = max(acf[lag - 1] for lag in peaks)
    return min(lag for lag in peaks if acf[lag - 1] >= SEASON_NEAR_BEST * best)


DAY = 86400.0


def calendar(step, per_day):
    """{"step": a name, "seasons": [S, ...]} of a time column with a median of ``step``
    seconds and ``per_day`` rows per day between rows (NaN: no timestamps, None comes back).

    The seasons are the calendar's periods in rows: a day and a week of sub-daily rows (48
    and 336 half hours), a week of daily rows (7, or 5 of business days), 52 weeks, 12 months,
    4 quarters; none for yearly or irregular steps.
    """
    if not (np.isfinite(step) and np.isfinite(per_day)) or step <= 0:
        return None
    days = step / DAY
    named = [("monthly", 28, 31.5, [12]), ("quarterly", 89, 93, [4]),
             ("yearly", 364, 367, []), ("weekly", 6.5, 7.5, [52])]
    for name, low, high, seasons in named:
        if low <= days <= high:
            return {"step": name, "seasons": seasons}
    if days < 1.5:
        week = int(round(7 * per_day))
        day = [int(round(per_day))] if days < 0.75 else []
        name = "daily" if days >= 0.75 else f"every {step / 60:g} minutes"
        return {"step": name, "seasons": [s for s in day + [week] if s >= 2]}
    return {"step": f"every {days:g} days", "seasons": []}


def choose_season(parts, seasons):
    """The season of ``seasons`` whose seasonal naive forecast has the lowest squared error
    on the parts [(L_i, F)] (the history the baselines are fitted on), or None if no
    season fits twice into the longest part."""
    errors = {}
    for season in seasons:
        pairs = [(part[season:] - part[:-season]) for part in parts if len(part) >= 2 * season]
        if pairs:
            errors[season] = sum(float(np.sum(d * d)) for d in pairs) / sum(d.size for d in pairs)
    return min(errors, key=errors.get) if errors else None


def forecasts(sequence, targets, horizon, season, ar):
    """{name: (n, F) forecasts of x[targets]} of each baseline, from the origins targets - h.

    sequence (L, F); targets (n,) positions; season: S or None (no seasonal naive); ar: an
    :class:`rnn_core.autoregression.AR` or None.
    """
    origins = targets - horizon
    out = {"persistence": lagged(sequence, targets, [horizon])[:, 0]}
    if season:
        out["seasonal_naive"] = lagged(sequence, targets, [season * -(-horizon // season)])[:, 0]
    if ar is not None:
        history = lagged(sequence, origins + 1, np.arange(1, ar.order + 1))  # (n, p, F), x[o], x[o-1]...
        for _ in range(horizon):
            predicted = ar.coef[:, 0] + np.einsum("npf,fp->nf", history, ar.coef[:, 1:])
            history = np.concatenate([predicted[:, None], history[:, :-1]], axis=1)
        out["ar"] = predicted
    return out


def error_sums(predicted, actual):
    """{"sse": (F,), "sae": (F,), "count": n} of forecasts (n, F) against actual values."""
    error = predicted - actual
    return {"sse": np.sum(error ** 2, axis=0), "sae": np.sum(np.abs(error), axis=0),
            "count": float(len(actual))}
