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


def autocorrelation_statistics(part, max_season=MAX_SEASON):
    """The sums :func:`season_of_autocorrelation` decides from, of one part (L, F), L > 6
    (else {}): its columns detrended (a least-squares quadratic in time removed), the lagged
    products of the residuals for lags 1 .. max_season + 1 (0 past the part), their energy,
    its steps and length ``shortest``. Summed over parts (:func:`add_season_statistics`)."""
    if len(part) <= 6:
        return {}
    time = np.linspace(-1, 1, len(part))
    trend = np.polynomial.polynomial.polyvander(time, 2)          # (L, 3)
    coef, *_ = np.linalg.lstsq(trend, part, rcond=None)
    r = part - trend @ coef
    products = np.zeros(max_season + 1)
    for lag in range(1, min(max_season + 1, len(part) - 1) + 1):
        products[lag - 1] = float(np.sum(r[lag:] * r[:-lag]))
    return {"products": products, "energy": float(np.sum(r * r)), "steps": float(len(part)),
            "shortest": float(len(part))}


def seasonal_errors(part, seasons):
    """The sums :func:`season_of_errors` decides from, of one part (L, F): for each season S
    that fits twice into it, the squared error of its seasonal naive forecast and the number
    of values it forecasts. Summed over parts (:func:`add_season_statistics`)."""
    out = {}
    for season in seasons:
        if len(part) >= 2 * season:
            d = part[season:] - part[:-season]
            out[f"sse.{season}"], out[f"count.{season}"] = float(np.sum(d * d)), float(d.size)
    return out


def add_season_statistics(a, b):
    """The statistics of the parts of ``a`` and of ``b`` together: sums, and the shorter
    ``shortest``."""
    out = dict(a)
    for name, value in b.items():
        if name not in out:
            out[name] = value
        else:
            out[name] = min(out[name], value) if name == "shortest" else out[name] + value
    return out


def season_of_autocorrelation(stats, max_season=MAX_SEASON):
    """The season of parts whose :func:`autocorrelation_statistics` add up to ``stats``, or
    None: their pooled autocorrelation for lags 2 .. a third of the shortest part; its
    local maxima at a period of :data:`CALENDAR_PERIODS` above ``SEASON_MIN_ACF`` and
    3 / sqrt(steps) are candidates, and the shortest one within ``SEASON_NEAR_BEST`` of the
    highest is the season (a multiple of the season is about as high)."""
    if not stats:
        return None
    top = min(max_season, int(stats["shortest"]) // 3)
    if top < 3:
        return None
    acf = np.asarray(stats["products"])[:top + 1] / (stats["energy"] or 1.0)  # acf[k]: lag k + 1
    floor = max(SEASON_MIN_ACF, 3 / np.sqrt(stats["steps"]))
    peaks = [lag for lag in CALENDAR_PERIODS if lag <= top
             and acf[lag - 1] >= max(acf[lag - 2], acf[lag]) and acf[lag - 1] >= floor]
    if not peaks:
        return None
    best = max(acf[lag - 1] for lag in peaks)
    return min(lag for lag in peaks if acf[lag - 1] >= SEASON_NEAR_BEST * best)


def season_of_errors(stats):
    """The season whose :func:`seasonal_errors`, added up to ``stats``, are the lowest per
    value forecast, or None if no season fitted twice into any part."""
    errors = {int(name.split(".")[1]): value / stats["count." + name.split(".")[1]]
              for name, value in stats.items() if name.startswith("sse.")}
    return min(errors, key=errors.get) if errors else None


def detect_season(parts, max_season=MAX_SEASON):
    """The seasonal period of the training parts [(L_i, F)], or None if there is none
    (:func:`season_of_autocorrelation`). For data without timestamps; other cycles (the
    sunspots' 11 years) are left to the AR fit: they are not a calendar's, and their length
    drifts."""
    stats = {}
    for part in parts:
        stats = add_season_statistics(stats, autocorrelation_statistics(part, max_season))
    return season_of_autocorrelation(stats, max_season)


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
    stats = {}
    for part in parts:
        stats = add_season_statistics(stats, seasonal_errors(part, seasons))
    return season_of_errors(stats)


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
