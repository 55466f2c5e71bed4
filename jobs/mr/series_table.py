"""One series of a table file, read as ``prepare`` read the dataset's: the history a forecast
starts from (``forecast --input``) and the inputs of the steps it forecasts (``forecast
--future``, for a series driven by inputs: :mod:`jobs.data.covariates`).

Both go through prepare's own reader (:func:`jobs.mr.series_sort.read_rows`): the same
columns, ``--id`` and ``--time``, the same errors for a bad value, a row without an id or a
time, or two rows of a series at one time.
"""
import json

import numpy as np

from jobs.data import covariates, series_io

NO_ID_COLUMN = "--id: the dataset was prepared without --id: it has one series per input file"


def some(names):
    """A few of ``names``, for an error message: "'a', 'b', 'c'"."""
    return ", ".join(repr(name) for name in names[:3])


def table_spec(meta, with_targets=True):
    """The reader's spec of a series dataset's tables: its target columns (none with
    ``with_targets`` False), inputs, ``--id``, ``--time``, missing-value policy and calendar
    features."""
    options = meta.get("options", {})
    return {"columns": list(options.get("columns", meta["columns"])) if with_targets else [],
            "inputs": list(meta.get("inputs", [])), "id": options.get("id"),
            "time": options.get("time"), "missing": meta["missing"]["policy"],
            "calendar": list(meta.get("calendar_features", []))}


def series_rows(path, spec, series_id=None):
    """(time (rows,), values (rows, F), the series' id or None) of one series of the file
    ``path``, sorted by time (file order without a time column): with an ``id`` column in
    ``spec``, the rows of ``series_id`` (needed when the file holds several series); without
    one, the whole file."""
    from jobs.mr.series_sort import read_rows

    if not spec.get("id") and series_id is not None:
        raise ValueError(NO_ID_COLUMN)
    ids, time, values = read_rows(path, spec, 0, path)
    if not spec.get("id"):
        return time, values, None
    names = sorted({json.loads(key) for key in ids})
    if series_id is None and len(names) > 1:
        raise ValueError(f"{path} holds {len(names)} series; pick one with --id (e.g. "
                         f"{some(names)})")
    series_id = names[0] if series_id is None else str(series_id)
    if series_id not in names:
        raise ValueError(f"--id: no series {series_id!r} in {path} ({len(names)} series, "
                         f"e.g. {some(names)})")
    rows = ids == json.dumps(series_id)   # read_rows sorted them by id, then time
    return time[rows], values[rows], series_id


def future_inputs(path, meta, norm, horizon, series_id=None, after=None):
    """The normalized inputs (horizon, F - O) of the ``horizon`` steps a driven series'
    forecast forecasts: its input columns and calendar features, from the first
    ``horizon`` rows of the series in the file ``path`` (the time column and the input
    columns of the dataset; for a table, the rows of ``series_id``). after: the time of the
    history's last row, which the first future row must follow (None: not checked). norm:
    the normalization of the series' every column."""
    from jobs.mr.series_sort import time_text

    spec = table_spec(meta, with_targets=False)
    try:
        time, values, _ = series_rows(path, spec, series_id)
    except series_io.SeriesError as e:
        raise ValueError(f"--future: {e}") from None
    if len(time) < horizon:
        raise ValueError(f"--future: {path} has {len(time)} row(s) for the series; --horizon "
                         f"{horizon} needs the inputs of {horizon}")
    if after is not None and spec["time"] and not float(time[0]) > after:
        last = np.asarray(after).astype(time.dtype)
        raise ValueError(f"--future: its first time, {time_text(time[0])}, is not after the "
                         f"history's last, {time_text(last)}: it must hold the steps after "
                         "the history")
    if spec["calendar"] and time.dtype.kind != "i":
        raise ValueError(f"--future: the time column {spec['time']!r} of {path} holds numbers; "
                         "the calendar features need dates or timestamps")
    values = np.concatenate([values.reshape(len(time), -1),
                             covariates.calendar_features(time, spec["calendar"])], axis=1)
    targets = covariates.target_count(meta)
    mean, std = np.asarray(norm["mean"])[targets:], np.asarray(norm["std"])[targets:]
    return (values[:horizon] - mean) / std
