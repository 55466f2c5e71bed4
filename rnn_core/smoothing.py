"""Exponential smoothing (ETS), the classical forecaster a series user tries first.

statsmodels fits it (``ETSModel``, maximum likelihood): the model's form is chosen by the
corrected Akaike criterion among

* additive errors: no trend or a damped additive trend, with no season or an additive one;
* multiplicative errors and season (for a positive series whose seasonal swing grows with
  its level), with no trend or a damped one;

the seasonal forms only when the history holds at least two whole seasons, as the
statsforecast and forecast-package AutoETS do (they also try undamped trends, which forecast
worse on average: Hyndman & Athanasopoulos, *Forecasting: principles and practice*, 8.4),
and a season of at most :data:`MAX_SEASON` steps: the likelihood has one initial state per
step of the season, so a weekly season of half-hourly data (336) is a 340-parameter fit
(R's ``ets`` stops at 24 and ignores longer seasons, as this does past 52).

A forecaster here is fitted once on a history (the values before the scored part, original
units, one column) and then run over the whole sequence with those parameters fixed, so that
its forecast of every scored step uses the values up to its origin, as the model's does:
one step ahead from one pass over the sequence (:func:`one_step`), H steps ahead from the
states of that pass (:func:`ahead`).
"""
import warnings
from dataclasses import dataclass

import numpy as np

MIN_HISTORY = 8          # fewer steps than this: no ETS (nothing to fit a level and a trend on)
MAX_SEASON = 52          # the longest season of a seasonal form (weekly of a year, daily of
                         # half-hourly data)


@dataclass(frozen=True)
class ETS:
    """A fitted ETS form: statsmodels' ETSModel keyword arguments and its parameters."""

    form: dict
    params: np.ndarray

    def name(self):
        """The form in the usual letters, e.g. ``ETS(M,Ad,M)``."""
        f = self.form
        letter = {None: "N", "add": "A", "mul": "M"}
        trend = letter[f.get("trend")] + ("d" if f.get("damped_trend") else "")
        return f"ETS({letter[f['error']]},{trend},{letter[f.get('seasonal')]})"


def candidate_forms(history, season):
    """The ETSModel keyword arguments tried on ``history`` (L,)."""
    seasonal = (season and 2 <= season <= MAX_SEASON and len(history) >= 2 * season + 2)
    trends = [{}, {"trend": "add", "damped_trend": True}]
    forms = [{"error": "add", **trend} for trend in trends]
    if seasonal:
        forms += [{"error": "add", "seasonal": "add", "seasonal_periods": season, **trend}
                  for trend in trends]
        if np.min(history) > 0:
            forms += [{"error": "mul", "seasonal": "mul", "seasonal_periods": season, **trend}
                      for trend in trends]
    return forms


def fit_ets(history, season=None):
    """The ETS form with the lowest AICc on ``history`` (L,) in original units, or None if
    the history is shorter than :data:`MIN_HISTORY` or no form can be fitted."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    history = np.asarray(history, dtype=np.float64)
    if len(history) < MIN_HISTORY:
        return None
    best, best_aicc = None, np.inf
    for form in candidate_forms(history, season):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")      # convergence chatter: the criterion decides
            try:
                fitted = ETSModel(history, **form).fit(disp=False)
            except (ValueError, np.linalg.LinAlgError):
                continue
        if np.isfinite(fitted.aicc) and fitted.aicc < best_aicc:
            best, best_aicc = ETS(form, np.asarray(fitted.params)), fitted.aicc
    return best


def one_step(ets, sequence):
    """The one-step forecasts (L,) of ``ets`` at every step of ``sequence`` (L,) in original
    units: forecast t uses the values before t (the parameters stay as fitted). Where a
    multiplicative form meets a value <= 0 after its history, its forecasts stop being
    numbers; the last value stands in from there (persistence)."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        smoothed = ETSModel(np.asarray(sequence, dtype=np.float64), **ets.form).smooth(ets.params)
    predicted = np.asarray(smoothed.fittedvalues, dtype=np.float64)
    broken = ~np.isfinite(predicted)
    predicted[broken] = np.asarray(sequence, dtype=np.float64)[np.maximum(np.flatnonzero(broken) - 1, 0)]
    return predicted


def ahead(ets, sequence, origins, horizon):
    """The ``horizon``-step forecasts (n,) of ``ets`` from each of ``origins`` (n,) of
    ``sequence`` (L,) in original units: each from the values up to its origin.

    One pass over the sequence gives the states (level l, trend b, season s) after each step;
    the forecast from origin o is ETS's point forecast from the state there,
    (l_o + (φ + .. + φ^h) b_o) + or × s_{o + h - m(k + 1)}, k = (h - 1) // m (Hyndman &
    Athanasopoulos, "Forecasting: principles and practice", 8.7): the states up to o depend
    on the values up to o only, so this is a pass per origin's forecast, for O(L) not O(n·L).
    A forecast that is not a number (a multiplicative form after a value <= 0) is the last
    value (persistence), as in :func:`one_step`."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    sequence = np.asarray(sequence, dtype=np.float64)
    origins = np.asarray(origins)
    if horizon == 1:
        return one_step(ets, sequence)[origins + 1]
    form = ets.form
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        model = ETSModel(sequence, **form)
        states = np.asarray(model.smooth(ets.params).states, dtype=np.float64)
        out = states[origins, 0]
        if form.get("trend"):
            phi = (ets.params[list(model.param_names).index("damping_trend")]
                   if form.get("damped_trend") else 1.0)
            out = out + np.sum(phi ** np.arange(1, horizon + 1)) * states[origins, 1]
        if form.get("seasonal"):
            m = form["seasonal_periods"]
            # (>= 0: a seasonal form is fitted on two seasons at least, so an origin is past m)
            season = states[origins + horizon - m * ((horizon - 1) // m + 1), -1]
            out = out + season if form["seasonal"] == "add" else out * season
    broken = ~np.isfinite(out)
    out[broken] = sequence[origins[broken]]
    return out


def ahead_of_end(ets, sequence, horizon):
    """The forecasts (horizon,) of ``ets`` after the end of ``sequence`` (L,), original units."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        smoothed = ETSModel(np.asarray(sequence, dtype=np.float64), **ets.form).smooth(ets.params)
        return np.asarray(smoothed.forecast(horizon), dtype=np.float64)
