"""Inputs that drive a series: covariates and calendar features, known ahead of the target.

A driven series (``prepare --inputs``) has target columns y (what the model predicts) and
input columns c (what drives it: a temperature, a price, a working-day flag), and
optionally calendar features of the time column (``--calendar``: hour of day, day of week,
month, each as the sine and cosine of its angle, so that December is next to January).

The model predicts y(t + 1) from the row at t, and a covariate of t + 1 (tomorrow's
temperature forecast, next month's holidays) is known when y(t + 1) is predicted. So a
record's row t holds the targets of t and the inputs of **t + 1** (:func:`lead`): the
record format, the batching and the model stay those of a plain series, and a forecast
needs the inputs of the steps it forecasts (``forecast --future``), never predicted ones.
The last row of a series keeps its own inputs: it is only ever a target.
"""
import numpy as np

CALENDAR = {"hour": "hour of day", "dow": "day of week", "month": "month of year"}
NANOSECONDS_PER_DAY = 86_400 * 10**9


def calendar_columns(features):
    """The column names of calendar features, two per feature: ``[f"{f}_sin", f"{f}_cos"]``."""
    return [f"{feature}_{part}" for feature in features for part in ("sin", "cos")]


def check_calendar(features):
    """The calendar feature names, validated: a list without repeats, each of CALENDAR."""
    features = list(features or [])
    unknown = [f for f in features if f not in CALENDAR]
    if unknown:
        raise ValueError(f"--calendar: unknown feature {unknown[0]!r} (one of "
                         f"{', '.join(CALENDAR)})")
    if len(set(features)) < len(features):
        raise ValueError("--calendar: a feature is named twice")
    return features


def calendar_features(time, features):
    """Calendar features (rows, 2 * len(features)) of timestamps ``time`` (rows,) int64
    nanoseconds since 1970 (UTC, as pyarrow reads them): per feature, the sine and cosine of
    its phase: hour of day (of the day's 24 hours, minutes included), day of week (Monday
    0), month of year (January 0)."""
    time = np.asarray(time, dtype=np.int64)
    days, within = np.divmod(time, NANOSECONDS_PER_DAY)
    phases = {"hour": within / NANOSECONDS_PER_DAY,
              "dow": ((days + 3) % 7) / 7,                  # 1970-01-01 was a Thursday
              "month": (time.astype("datetime64[ns]").astype("datetime64[M]").astype(np.int64)
                        % 12) / 12}
    columns = []
    for feature in features:
        angle = 2 * np.pi * phases[feature]
        columns += [np.sin(angle), np.cos(angle)]
    return np.stack(columns, axis=1) if columns else np.empty((len(time), 0))


def lead(values, targets):
    """values (L, F) with its columns after the first ``targets`` moved one row up: row t
    then holds the targets of t and the inputs of t + 1 (the last row keeps its own)."""
    led = np.array(values, dtype=np.float64)
    led[:-1, targets:] = led[1:, targets:]
    return led


def target_count(meta):
    """The number of target columns of a series dataset: the first ones of its columns
    (all of them for a series without inputs)."""
    return int(meta.get("targets", len(meta["columns"])))


def target_normalization(norm, targets):
    """The normalization {"mean", "std"} of the first ``targets`` columns."""
    return {k: list(norm[k])[:targets] for k in ("mean", "std")}
