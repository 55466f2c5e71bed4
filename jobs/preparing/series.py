"""``prepare --kind series`` as three MapReduce jobs, so the driver holds O(series), not the
rows.

1. :mod:`jobs.mr.series_sort`: rows of CSV or Parquet tables grouped into series (``--id``;
   without it each file is one series), sorted by ``--time`` (without it, file and row
   order), missing values filled. Its output, one line per series, goes to a temporary
   directory (HDFS on the hadoop runner).
2. :mod:`jobs.mr.series_stats`: each series' length, time step and its training part's
   statistics. The driver combines them (:func:`combine`) into the normalization, so the
   validation parts never leak into it, reads the calendar of the time steps
   (:func:`table_calendar`: the seasons of evaluate's seasonal naive) and numbers the series
   in id order.
3. :mod:`jobs.mr.series_ar`: the sums of the AR(p) fit of the normalized training parts,
   one record per map task; the driver adds them and fits AR(p), p chosen by AIC on the
   training parts (:mod:`rnn_core.autoregression`): the base of an AR-residual model
   and evaluate's AR baseline. One AR(p) for all the series of a table (pooled), as the
   normalization is. For a series driven by inputs (:mod:`jobs.data.covariates`) the same
   job runs again for the sums of the ARX(p) fit (:mod:`rnn_core.arx`), its network's base.
4. :mod:`jobs.mr.series_chunks`: each series normalized, cut into chunk records and sharded
   (:func:`jobs.preparing.sharding.run_sharding_job`).

A series shorter than 2 rows (after dropping missing values) is an error when the file is
the series, and left out (and counted) in a table of many series. The layout shipped to
the last pass has one entry per series (about 100 bytes each).
"""
import json
import os
import tempfile
import uuid

import numpy as np

from jobs.data import covariates, series_io
from jobs.data.chunks import SequenceLayout, split_point, splits_with
from jobs.hadoop.launch import job_files_dir, run_job
from jobs.preparing.sharding import job_inputs, refuse_shell_unsafe, run_sharding_job
from jobs.storage import open_store
from rnn_core import autoregression, baselines
from rnn_core.arx import fit_arx


def combine(stats):
    """The mean and variance (F,) of the union of groups, from each group's (count, mean,
    var) in order (Chan et al.'s pairwise update). One group's numbers come back as they
    are, so a single series is normalized exactly as :func:`series_io.normalization`."""
    (n, mean, var), rest = stats[0], stats[1:]
    if not rest:
        return mean, var
    m2 = var * n
    for count, group_mean, group_var in rest:
        total = n + count
        delta = group_mean - mean
        mean = mean + delta * (count / total)
        m2 = m2 + group_var * count + delta ** 2 * (n * count / total)
        n = total
    return mean, m2 / n


def fit_ar(output):
    """The AR(p) of the AR job's output, {"order": p, "coef": (F, p + 1) lists}, or None if
    no series has a training part of 2 steps."""
    stats = {}
    for _, arrays in output:
        stats = autoregression.add_statistics(stats, arrays)
    if not stats:
        return None
    ar = autoregression.fit_ar_statistics(stats)
    return {"order": ar.order, "coef": ar.coef.tolist()}


def fit_arx_of(output, order):
    """The ARX(p) of the ARX run of the AR job's output, {"order": p, "coef": (O, 1 + p + k)
    lists}, or None if no series has a training part longer than p."""
    stats = {}
    for _, arrays in output:
        stats = autoregression.add_statistics(stats, arrays)
    arx = fit_arx(stats, order)
    return {"order": arx.order, "coef": arx.coef.tolist()} if arx else None


def table_calendar(stats):
    """The calendar (:func:`rnn_core.baselines.calendar`) of the series' time steps: the
    median over the series that have timestamps; None without."""
    steps = np.array([[float(s["step"]), float(s["per_day"])] for s in stats.values()
                      if "step" in s and np.isfinite(float(s["step"]))])
    if not len(steps):
        return None
    return baselines.calendar(*np.median(steps, axis=0))


def read_stats(output, names, has_id, log):
    """{series key: stats} of the series long enough to keep, from the stats job's output;
    raises the first file error the jobs met."""
    errors = sorted(str(arrays["message"]) for key, arrays in output if key == "!error")
    if errors:
        raise series_io.SeriesError(errors[0])
    kept, short = {}, []
    for key, arrays in sorted(output, key=lambda pair: pair[0]):
        if int(arrays["length"]) >= 2:
            kept[key] = arrays
            continue
        if not has_id:
            raise series_io.SeriesError(f"{names[int(json.loads(key))]}: "
                                        f"{int(arrays['length'])} usable row(s): a series "
                                        "needs at least 2")
        short.append(json.loads(key))
    if short:
        log(f"left out {len(short)} series with fewer than 2 usable rows: "
            f"{', '.join(repr(s) for s in short[:5])}{' ...' if len(short) > 5 else ''}")
    if not kept:
        raise series_io.SeriesError("no series has 2 usable rows")
    return kept


def log_skipped_times(stats, names, has_id, log):
    """Say which series have rows further apart than their usual step: the model takes
    consecutive rows as consecutive steps, so a missing row shifts every season after it."""
    skipped = [key for key, s in stats.items() if float(s["skips"]) > 0]
    if skipped:
        first = json.loads(skipped[0])
        first = repr(first) if has_id else names[int(first)]
        log(f"{len(skipped)} series skip times ({first}: "
            f"{int(stats[skipped[0]]['skips'])} gap(s) longer than its usual step): rows are "
            "taken as consecutive steps; add rows with empty values at the missing times to "
            "have them filled (--missing)")


def temporary_dir(options):
    """A temporary directory for the first pass's output: on HDFS for the hadoop runner."""
    if options.runner == "hadoop":
        return open_store(f"hdfs:///tmp/hadoop-rnn-series-{uuid.uuid4().hex[:12]}")
    return open_store(tempfile.mkdtemp(prefix="hadoop-rnn-series-"))


def series_normalizations(stats, columns):
    """{series key: {"mean", "std"}}: each series by its own training part (``--scale
    series``), a constant column's std 1."""
    out = {}
    for key, s in stats.items():
        mean, std = series_io.checked_normalization(s["mean"], np.sqrt(s["var"]), list(columns),
                                                    s["largest"])
        out[key] = {"mean": mean.tolist(), "std": std.tolist()}
    return out


def prepare_series(files, target, chunking, valid, shards, columns, missing_policy, id_column,
                   time_column, runner, log, test=0.0, scale="table", input_columns=(), calendar=()):
    """Write the series dataset of ``files`` into the store ``target``; return (meta fields,
    shard names, totals {split: {records, steps}}, chunk, context).

    chunking: ``(train_steps, ar_order) -> (chunk, context)``, called with the training
    steps and the order of the AR fit known: it fills in the defaults. test: the fraction
    of each series held out for the test after its validation part (0: none); the
    normalization and the AR fit see the training parts only. scale: "table", one
    normalization for all the series, or "series", each series by its own training part
    (level and scale, as DeepAR and ES-RNN do; the AR fit is then pooled over standardized
    series). input_columns, calendar: the columns and the calendar features that drive the
    ``columns`` (:mod:`jobs.data.covariates`): a record's columns are ``columns``, then
    ``input_columns``, then the calendar's, all normalized; the AR fit is of ``columns`` only.
    """
    from jobs.mr.series_ar import MRSeriesAR
    from jobs.mr.series_chunks import MRSeriesChunks
    from jobs.mr.series_sort import MRSeriesSort
    from jobs.mr.series_stats import MRSeriesStats

    scratch = temporary_dir(runner)
    try:
        with job_inputs(files, runner) as job_paths, \
                job_files_dir("hadoop-rnn-spec-") as tmp:
            refuse_shell_unsafe(job_paths, runner)
            spec = {"columns": list(columns), "id": id_column, "time": time_column,
                    "missing": missing_policy, "files": job_paths, "names": list(files),
                    "inputs": list(input_columns), "calendar": list(calendar)}
            all_columns = (list(columns) + list(input_columns)
                           + covariates.calendar_columns(calendar))
            spec_file = os.path.join(tmp, "spec.json")
            with open(spec_file, "w", encoding="utf-8") as f:
                json.dump(spec, f)
            sorted_uri = scratch.uri("sorted")
            run_job(MRSeriesSort, ["--spec", spec_file, "--output-dir", sorted_uri], job_paths,
                    runner, collect=lambda pairs: None)
            parts = ["--valid", repr(valid), "--test", repr(test),
                     "--targets", str(len(columns))]
            output = run_job(MRSeriesStats, parts, [sorted_uri], runner).output
            stats = read_stats(output, files, id_column is not None, log)
            log_skipped_times(stats, files, id_column is not None, log)
            keys = list(stats)
            mean, var = combine([(int(s["count"]), s["mean"], s["var"]) for s in stats.values()])
            largest = np.max([s["largest"] for s in stats.values()], axis=0)
            mean, std = series_io.checked_normalization(mean, np.sqrt(var), all_columns,
                                                        largest)
            norm = {"mean": mean.tolist(), "std": std.tolist()}
            own = series_normalizations(stats, all_columns) if scale == "series" else {}
            norm_file = os.path.join(tmp, "normalization.json")
            with open(norm_file, "w", encoding="utf-8") as f:
                json.dump({**norm, **({"series": own} if own else {})}, f)
            ar = fit_ar(run_job(MRSeriesAR, parts + ["--normalization", norm_file],
                                [sorted_uri], runner).output)
            arx = None
            if ar is not None and len(all_columns) > len(columns):  # the base of a driven one
                arx = fit_arx_of(run_job(MRSeriesAR, parts + [
                    "--normalization", norm_file, "--arx-order", str(ar["order"])],
                    [sorted_uri], runner).output, ar["order"])
            train_steps = sum(split_point(int(s["length"]), valid, test) for s in stats.values())
            chunk, context = chunking(train_steps, ar["order"] if ar else 0)
            splits = splits_with(test)
            sequences, first = {}, {split: 0 for split in splits}
            totals = {split: {"records": 0, "steps": 0} for split in splits}
            for seq, key in enumerate(keys):
                layout = SequenceLayout(int(stats[key]["length"]), chunk, valid, context, test)
                sequences[seq] = {"seq": seq, "first_index": dict(first),
                                  "records": dict(layout.counts),
                                  **({"normalization": own[key]} if own else {})}
                for split in first:
                    first[split] += layout.counts[split]
                    totals[split]["records"] += layout.counts[split]
                    totals[split]["steps"] += layout.steps(split)
            layout = {"normalization": norm, "chunk": chunk, "valid": valid, "context": context,
                      "shards": shards, **({"test": test} if test else {}),
                      "series": {key: sequences[seq] for seq, key in enumerate(keys)}}
            names, _ = run_sharding_job(MRSeriesChunks, [sorted_uri], layout, sequences, target,
                                        runner, totals)
    finally:
        scratch.remove_tree()
    counts = {key: {c: int(n) for c, n in zip(columns, stats[key]["missing"])} for key in keys}
    by_column = {c: sum(n[c] for n in counts.values()) for c in columns}
    if any(by_column.values()):
        action = "interpolated" if missing_policy == "interpolate" else "their rows dropped"
        log(f"missing values ({action}): "
            + ", ".join(f"{name} {n}" for name, n in by_column.items()))
    meta = {"columns": all_columns, "normalization": norm,
            "missing": {"policy": missing_policy, "totals": by_column},
            "last_times": [float(stats[key]["last_time"]) for key in keys]}
    if len(all_columns) > len(columns):
        meta.update(targets=len(columns), inputs=list(input_columns),
                    calendar_features=list(calendar))
    if ar is not None:
        meta["ar"] = ar
    if arx is not None:
        meta["arx"] = arx
    if own:
        meta["scale"] = "series"
        meta["series_normalization"] = [own[key] for key in keys]
    calendar = table_calendar(stats)
    if calendar is not None:
        meta["calendar"] = calendar
    if id_column is None:  # per file, as each file is a series
        meta["missing"]["counts"] = {files[int(json.loads(key))]: counts[key] for key in keys}
        meta["sources"] = [files[int(json.loads(key))] for key in keys]
    else:
        meta["series_ids"] = [json.loads(key) for key in keys]
        meta["sources"] = list(files)
    return meta, names, totals, chunk, context
