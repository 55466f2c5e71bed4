"""Exponential smoothing (ETS), the classical forecaster a series user tries first.

statsmodels fits it (``ETSModel``, maximum likelihood): the model's form is chosen by the
corrected Akaike criterion among

* additive errors: no trend or a damped additive trend, with no season or an additive one;
* multiplicative errors and season (for a positive series whose seasonal swing grows with
  its level), with no trend or a damped one;

the seasonal forms only when the history holds at least two whole seasons, as the
statsforecast and forecast-package AutoETS do (they also try undamped trends, which forecast
worse on average: Hyndman & Athanasopoulos, *Forecasting: principles and practice*, 8.4).

A forecaster here is fitted once on a history (the values before the scored part, original
units, one column) and then run over the whole sequence with those parameters fixed, so that
its forecast of every scored step uses the values up to its origin, as the model's does:
one step ahead from one pass over the sequence (:func:`one_step`), H steps ahead from a pass
per origin (:func:`ahead`, O(n L): for the scored parts of evaluate, not for bulk use).
"""
import warnings
from dataclasses import dataclass

import numpy as np

MIN_HISTORY = 8          # fewer steps than this: no ETS (nothing to fit a level and a trend on)


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
    seasonal = season and season >= 2 and len(history) >= 2 * season + 2
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
    ``sequence`` (L,) in original units: each from the values up to its origin."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    sequence = np.asarray(sequence, dtype=np.float64)
    if horizon == 1:
        return one_step(ets, sequence)[np.asarray(origins) + 1]
    out = np.empty(len(origins))
    for i, origin in enumerate(origins):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            smoothed = ETSModel(sequence[:origin + 1], **ets.form).smooth(ets.params)
            out[i] = np.asarray(smoothed.forecast(horizon))[-1]
    broken = ~np.isfinite(out)
    out[broken] = sequence[np.asarray(origins)[broken]]          # persistence, as one_step
    return out


def paths(ets, sequence, origins, horizon):
    """The forecasts (n, horizon) of ``ets`` from each of ``origins`` (n,) of ``sequence``
    (L,) in original units, 1 to ``horizon`` steps ahead: :func:`ahead` of every horizon at
    once, one pass per origin."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    sequence = np.asarray(sequence, dtype=np.float64)
    out = np.empty((len(origins), horizon))
    for i, origin in enumerate(origins):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            smoothed = ETSModel(sequence[:origin + 1], **ets.form).smooth(ets.params)
            out[i] = np.asarray(smoothed.forecast(horizon))
    broken = ~np.isfinite(out)
    out[broken] = np.broadcast_to(sequence[np.asarray(origins)][:, None], out.shape)[broken]
    return out


def ahead_of_end(ets, sequence, horizon):
    """The forecasts (horizon,) of ``ets`` after the end of ``sequence`` (L,), original units."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        smoothed = ETSModel(np.asarray(sequence, dtype=np.float64), **ets.form).smooth(ets.params)
        return np.asarray(smoothed.forecast(horizon), dtype=np.float64)
