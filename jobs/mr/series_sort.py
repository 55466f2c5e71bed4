"""The first pass of ``prepare --kind series``: table rows grouped into series, each sorted by
time, missing values filled.

Input: CSV or Parquet files (a Parquet file is not line-oriented, so each map task reads
whole files: ``mapper_raw``; a big table should be several files, as Hive and Spark write
them). ``--spec`` (JSON) names the value ``columns``, the optional ``id`` and ``time``
columns, the ``missing`` policy and the input files in order.

* A map task reads a file's columns, sorts its rows by series id (without ``id``: the file
  is one series, its id the file's number) and time, and emits one record per series it
  holds: key the id (as JSON), tag the file's number, arrays ``time`` (rows,) and
  ``values`` (rows, F) with NaN where missing. Without ``time`` the row number orders the
  rows.
* The shuffle sorts on key and tag (secondary sort), so a reducer gets one series' runs in
  file order; it concatenates them, sorts the rows by time (without ``time``: file and row
  order), fills missing values (:func:`jobs.data.series_io.fill_missing`) and writes one
  line per series: the id and the arrays ``values`` (L, F) float64, ``missing`` (F,) counts
  and, when the time column holds timestamps, ``step``, the median time between rows in
  seconds, and ``per_day``, the rows per day over the series' span (NaN without
  timestamps: no time column, or plain numbers), from which ``prepare`` reads the calendar
  (:func:`rnn_core.baselines.calendar`), and with a time column ``skips``, the gaps between
  rows longer than 1.5 median steps (but for gaps that recur, like weekends), which
  ``prepare`` reports.

Input that has no one reading is an error, never guessed: a file that cannot be read (no
such column, a value that is not a number or infinite, no rows, ...), a row without an id
or a time, two rows of one series at one time (the map task names their rows when they are
in one file, the reducer the two files otherwise), and a series whose times are numbers in
one file and timestamps in another. Such an error is not a task failure with a traceback:
the task emits its message under the key ``!error`` and the driver raises it
(:mod:`jobs.preparing.series`).

Cost: the shuffle carries every row once; a reducer holds one series at a time.
"""
import json

import numpy as np

from jobs.data import covariates, series_io
from jobs.mr.counters import COUNTERS, input_path
from jobs.mr.protocol import ArraysProtocol, Record, SliceProtocol
from jobs.mr.task import TaskJob

ERROR = "!error"  # the key of a file's error message (ids are JSON strings: '"...')


def refuse_empty(empty, what, path):
    """SeriesError if a cell is empty: ``empty`` (rows,) bool, ``what`` names the column."""
    rows = np.flatnonzero(empty)
    if len(rows):
        raise series_io.SeriesError(f"{path}: {what} has {len(rows)} empty value(s), the "
                                    f"first in {series_io.row_name(int(rows[0]))}")


def series_keys(column, name, path):
    """An id column as the shuffle keys of its rows (rows,): each id as a JSON string. An
    empty id (null or blank) belongs to no series: an error."""
    ids = column.to_pylist()
    refuse_empty(np.array([v is None or not str(v).strip() for v in ids], dtype=bool),
                 f"id column {name!r}", path)
    return np.array([json.dumps(str(v)) for v in ids])


def time_values(column, name, path):
    """A time column as sortable numbers (rows,): numbers as float64, timestamps and dates
    (or strings that parse as ISO timestamps) as int64 nanoseconds."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    kind = column.type
    refuse_empty(column.is_null().to_numpy(zero_copy_only=False), f"time column {name!r}", path)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
    try:
        stamps = pc.cast(column, pa.timestamp("ns"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise series_io.SeriesError(f"{path}: time column {name!r} holds {kind} values that "
                                    "are neither numbers nor timestamps") from None
    return np.asarray(pc.cast(stamps, pa.int64()).to_numpy(zero_copy_only=False), np.int64)


def time_text(time):
    """One value of a time column (see :func:`time_values`) as its reader would write it."""
    if np.asarray(time).dtype.kind == "i":
        return np.datetime_as_string(np.datetime64(int(time), "ns"), unit="auto")
    return np.format_float_positional(time, trim="-")


def no_calendar():
    """The time steps of a series without timestamps."""
    return {"step": np.array(np.nan), "per_day": np.array(np.nan)}


def time_steps(time):
    """{"step": the median seconds between rows, "per_day": rows per day, "skips": the gaps
    between rows longer than 1.5 median steps, but for gaps a tenth of all gaps have (a
    business-day series' weekends)} of a sorted time column: timestamps (int64 ns); step
    and per_day NaN for numbers (no calendar), all NaN for one distinct time."""
    gaps = np.diff(time)
    gaps = gaps[gaps > 0]
    if not len(gaps):
        return no_calendar()
    values, counts = np.unique(gaps, return_counts=True)
    regular = values[counts >= 0.1 * len(gaps)]   # e.g. weekends: no row is missing there
    skipped = (gaps > 1.5 * np.median(gaps)) & ~np.isin(gaps, regular)
    skips = {"skips": np.array(int(np.sum(skipped)), np.int64)}
    if time.dtype.kind != "i":
        return {**no_calendar(), **skips}
    return {"step": np.array(float(np.median(gaps)) / 1e9),
            "per_day": np.array(len(gaps) * 86400e9 / float(np.sum(gaps))), **skips}


def read_rows(path, spec, file_number, name):
    """(ids (rows,) of str, time (rows,), values (rows, F)) of one table file, sorted by id
    and time; ``name`` is what error messages call it."""
    columns, id_column, time_column = spec["columns"], spec.get("id"), spec.get("time")
    inputs = spec.get("inputs", [])
    wanted = list(columns) + inputs + [c for c in (id_column, time_column) if c]
    try:
        table = series_io.read_table(path, wanted)
        values = (np.stack([series_io.column_values(table.column(c), c, path)
                            for c in columns + inputs], axis=1)
                  if columns or inputs else np.empty((table.num_rows, 0)))  # --future's time
        for f, name in enumerate(inputs, len(columns)):  # what drives it is never guessed
            refuse_empty(np.isnan(values[:, f]), f"input column {name!r}", path)
        time = (time_values(table.column(time_column), time_column, path) if time_column
                else np.arange(table.num_rows, dtype=np.int64))
        ids = (series_keys(table.column(id_column), id_column, path) if id_column
               else np.full(table.num_rows, json.dumps(f"{file_number:05d}")))
    except series_io.SeriesError as e:
        raise series_io.SeriesError(str(e).replace(path, name)) from None
    order = np.lexsort((time, ids))
    ids, time = ids[order], time[order]
    twice = np.flatnonzero((ids[1:] == ids[:-1]) & (time[1:] == time[:-1]))
    if len(twice):
        i = twice[0]
        rows = " and ".join(series_io.row_name(int(row)) for row in sorted(order[i:i + 2]))
        where = f"series {json.loads(ids[i])!r} in {name}" if id_column else name
        raise series_io.SeriesError(f"{where}: two rows at time {time_text(time[i])}: {rows}")
    return ids, time, values[order]


def fill_targets(values, time, spec, name):
    """(values with the target columns' missing values filled by the ``missing`` policy,
    {column: n missing}, the times of the rows kept): rows (L, F) sorted by time, the target
    columns first; the inputs have no missing value (:func:`read_rows` refuses them)."""
    targets = len(spec["columns"])
    filled, missing = series_io.fill_missing(values[:, :targets], spec["missing"],
                                             spec["columns"], name)
    if len(filled) == len(values):
        return np.concatenate([filled, values[:, targets:]], axis=1), missing, time
    kept = ~np.isnan(values[:, :targets]).any(axis=1)          # the "drop" policy
    return np.concatenate([filled, values[kept, targets:]], axis=1), missing, time[kept]


def with_inputs(values, time, spec, name):
    """The rows of a series as its records hold them (:mod:`jobs.data.covariates`): the
    targets, then the inputs and the calendar features (``spec["calendar"]``) of each row's
    next time. values (L, F) sorted by ``time`` (L,)."""
    features = spec.get("calendar") or []
    if features and time.dtype.kind != "i":
        raise series_io.SeriesError(f"{name}: --calendar needs dates or timestamps in the time "
                                    f"column {spec.get('time')!r}; it holds numbers")
    values = np.concatenate([values, covariates.calendar_features(time, features)], axis=1)
    return covariates.lead(values, len(spec["columns"]))


class MRSeriesSort(TaskJob):
    SORT_VALUES = True  # a series' runs arrive in file order: see SliceProtocol
    INTERNAL_PROTOCOL = SliceProtocol
    OUTPUT_PROTOCOL = ArraysProtocol

    def configure_args(self):
        super().configure_args()
        self.add_file_arg("--spec", required=True,
                          help="JSON: columns, id, time, missing and the input files in order")

    def load_spec(self):
        with open(self.options.spec, encoding="utf-8") as f:
            self.spec = json.load(f)

    def mapper_init(self):
        self.load_spec()

    def mapper_raw(self, path, uri):
        inputs = [input_path(p) for p in self.spec["files"]]
        number = inputs.index(input_path(uri))
        try:
            ids, time, values = read_rows(path, self.spec, number, self.spec["names"][number])
        except series_io.SeriesError as e:
            yield ERROR, Record(f"f{number:06d}", {"message": np.array(str(e))})
            return
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        for lo, hi in zip(starts, np.r_[starts[1:], len(ids)]):
            yield ids[lo], Record(f"f{number:06d}", {"time": time[lo:hi],
                                                       "values": values[lo:hi]})
        self.increment_counter(COUNTERS, "table rows", len(ids))

    def reducer_init(self):
        self.load_spec()

    def joined_rows(self, runs, name):
        """(time, values) of a series from its runs (one per file, in file order), sorted by
        time when there is a time column. Each run is sorted and has no time twice
        (:func:`read_rows`), so two rows at one time come from two files."""
        time = np.concatenate([run.arrays["time"] for run in runs])
        values = np.concatenate([run.arrays["values"] for run in runs])
        if not self.spec.get("time"):  # the times are row numbers in each file: keep file order
            return time, values
        files = [self.spec["names"][int(run.tag[1:])] for run in runs]
        kinds = [run.arrays["time"].dtype.kind for run in runs]  # f: numbers, i: timestamps
        if len(set(kinds)) > 1:
            numbers, stamps = files[kinds.index("f")], files[kinds.index("i")]
            raise series_io.SeriesError(f"{name}: time column {self.spec['time']!r} holds "
                                        f"numbers in {numbers} and timestamps in {stamps}")
        order = np.argsort(time, kind="stable")
        time, values = time[order], values[order]
        twice = np.flatnonzero(time[1:] == time[:-1])
        if len(twice):
            i = twice[0]
            origin = np.repeat(np.arange(len(runs)), [len(run.arrays["time"]) for run in runs])
            first, second = (files[origin[j]] for j in order[i:i + 2])
            raise series_io.SeriesError(f"{name}: two rows at time {time_text(time[i])}: in "
                                        f"{first} and in {second}")
        return time, values

    def reducer(self, key, runs):
        if key == ERROR:
            for run in runs:
                yield ERROR, {"message": run.arrays["message"]}
            return
        columns, series = self.spec["columns"], json.loads(key)
        name = f"series {series!r}" if self.spec.get("id") else self.spec["names"][int(series)]
        try:
            time, values = self.joined_rows(list(runs), name)
            values, missing, time = fill_targets(values, time, self.spec, name)
            values = with_inputs(values, time, self.spec, name)
        except series_io.SeriesError as e:
            yield ERROR, {"message": np.array(str(e))}
            return
        yield key, {"values": values, "last_time": np.array(time[-1]),
                    "missing": np.array([missing[c] for c in columns], np.int64),
                    **(time_steps(time) if self.spec.get("time") else no_calendar())}


if __name__ == "__main__":
    MRSeriesSort.run()
