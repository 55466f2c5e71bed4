"""Numeric series from CSV or Parquet files (read with pyarrow), and their normalization.

Rows are time steps in file order; the chosen columns are the features. A file ending in
``.parquet`` or ``.pq`` is read as Parquet, anything else as CSV with a header line.

Missing values (empty cells, ``NA``, ``NaN``, ``null``, ... and Parquet nulls) follow one of
two policies, chosen at prepare time:

* ``interpolate`` (default): linear interpolation between the nearest present values of the
  same column; missing values before the first or after the last present one take that value.
* ``drop``: rows with a missing value in any chosen column are removed.

Any other non-numeric value, and an infinite one (``inf``, or a number too large for float64
such as ``1e400``), is an error naming the file, column and row; so are a chosen column that
the file has twice, and a file without data rows.
"""
import os

import numpy as np

MISSING_POLICIES = ("interpolate", "drop")
NULL_STRINGS = frozenset(["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
                          "1.#IND", "1.#QNAN", "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null"])


class SeriesError(ValueError):
    """A series file can't be read, lacks a column, or holds a value that is not a number."""


def row_name(row):
    """How a message names data row ``row`` (0-based): its number, and its line in a CSV
    file (after the header)."""
    return f"row {row + 1} (line {row + 2})"


def read_table(path, columns=None):
    """The file as a pyarrow Table (only ``columns`` if given), with at least one row."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    if not os.path.isfile(path):
        raise SeriesError(f"{path}: no such file")
    if os.path.getsize(path) == 0:
        raise SeriesError(f"{path}: empty file")
    parquet = path.lower().endswith((".parquet", ".pq"))
    try:
        if parquet:
            table = pq.read_table(path)
        else:
            table = pa_csv.read_csv(path)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SeriesError(f"{path}: cannot read as {'Parquet' if parquet else 'CSV'}: "
                          f"{first_line}") from None
    if columns:
        absent = [c for c in columns if c not in table.column_names]
        if absent:
            raise SeriesError(f"{path}: no column {absent[0]!r} (columns: "
                              f"{', '.join(table.column_names)})")
        twice = [c for c in columns if table.column_names.count(c) > 1]
        if twice:
            raise SeriesError(f"{path}: {table.column_names.count(twice[0])} columns are named "
                              f"{twice[0]!r}: which one is meant is ambiguous; rename them")
        table = table.select(columns)
    if table.num_rows == 0:
        raise SeriesError(f"{path}: no data rows")
    return table


def column_values(column, name, path):
    """One pyarrow column as float64 (rows,), NaN where missing; SeriesError at a value that
    is not a number or is infinite."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        values = np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False),
                            dtype=np.float64)
    elif pa.types.is_null(kind):
        values = np.full(len(column), np.nan)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        values = np.empty(len(column))
        for row, text in enumerate(column.to_pylist()):
            if text is None or text.strip() in NULL_STRINGS:
                values[row] = np.nan
                continue
            try:
                values[row] = float(text)
            except ValueError:
                raise SeriesError(f"{path}: column {name!r}, {row_name(row)}: {text!r} is not "
                                  "a number") from None
    else:
        raise SeriesError(f"{path}: column {name!r} holds {kind} values, not numbers")
    infinite = np.flatnonzero(np.isinf(values))
    if len(infinite):  # not missing: a value was given, and no interpolation recovers it
        row = int(infinite[0])
        raise SeriesError(f"{path}: column {name!r}, {row_name(row)}: {column[row].as_py()} "
                          "is not a finite number (infinite, or too large for float64)")
    return values


def read_series(path, columns):
    """The chosen columns of a file: float64 (rows, len(columns)), NaN where missing."""
    table = read_table(path, columns)
    return np.stack([column_values(table.column(name), name, path) for name in columns], axis=1)


def fill_missing(values, policy, columns, path):
    """Apply the missing-value policy; return (values without NaN, {column: n missing}).

    values: (rows, F) with NaN for missing (:func:`column_values` refuses infinities).
    """
    if policy not in MISSING_POLICIES:
        raise SeriesError(f"unknown missing-value policy {policy!r}")
    missing = np.isnan(values)
    counts = {name: int(n) for name, n in zip(columns, missing.sum(axis=0))}
    for name, n in counts.items():
        if n == len(values):
            raise SeriesError(f"{path}: column {name!r} has no values")
    if policy == "drop":
        return values[~missing.any(axis=1)], counts
    filled = values.copy()
    rows = np.arange(len(values))
    for f in range(values.shape[1]):
        gap = missing[:, f]
        if gap.any():
            filled[gap, f] = np.interp(rows[gap], rows[~gap], values[~gap, f])
    return filled, counts


def normalization(values, columns):
    """Per-column mean and std (a constant column gets std 1) of values (rows, F).

    Raises SeriesError naming the column if a statistic is not finite (values so large,
    e.g. near 1e300, that their sum or square overflows).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        mean = values.mean(axis=0)
        std = values.std(axis=0)
    return checked_normalization(mean, std, columns, np.max(np.abs(values), axis=0))


def checked_normalization(mean, std, columns, largest):
    """(mean, std) (F,) with a constant column's std set to 1; SeriesError if a statistic
    is not finite. largest: the largest |value| of each column, for the message."""
    for name, m, s, big in zip(columns, mean, std, largest):
        if not (np.isfinite(m) and np.isfinite(s)):
            raise SeriesError(f"column {name!r}: its values are too large to normalize (mean "
                              f"{m:g}, std {s:g}, largest |value| {big:g}): rescale "
                              "the column, e.g. to other units")
    std = np.array(std, dtype=np.float64)
    std[~(std > 0)] = 1.0
    return np.asarray(mean, dtype=np.float64), std


SCALES = ("table", "series")   # one mean and std for a table of series, or each its own


def sequence_normalization(meta, seq):
    """The normalization of sequence ``seq`` of a series dataset: its own with
    ``--scale series`` (meta's ``series_normalization``), else the dataset's."""
    own = meta.get("series_normalization")
    return own[seq] if own else meta["normalization"]


def normalize(values, norm):
    """values (rows, F) in original units -> normalized, with norm = meta['normalization']."""
    return (values - np.asarray(norm["mean"])) / np.asarray(norm["std"])


def denormalize(values, norm):
    """Normalized values (rows, F) -> original units."""
    return values * np.asarray(norm["std"]) + np.asarray(norm["mean"])
