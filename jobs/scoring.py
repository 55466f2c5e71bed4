"""Scoring a trained run on a split of its dataset, next to baselines (``hadoop-rnn evaluate``).

* text: loss per character in nats, perplexity and bits per character, next to the training
  unigram distribution evaluated on the same characters.
* series: MSE and MAE (original units, averaged over columns, and normalized) of the model
  and of each forecaster of :mod:`rnn_core.baselines` (persistence, seasonal naive, AR(p)), all
  on the same target steps: the scored steps of the split. ``horizon`` H > 1 scores H-step
  forecasts (each prediction fed back as the next input) of the same targets. The baselines
  are fitted (the AR order and coefficients, the season) on everything before the scored
  part: the training part for the validation part, the training and validation parts for
  the test part, as a user would fit them before forecasting it.

A text model's sums come from this process or from the MapReduce job :mod:`jobs.mr.score`
on a runner (for validation sets too large for one machine); both add the same
:class:`jobs.mr.loss_sums.LossSums` sums. A series model is scored series by series, the
model beside ETS, AR and the rest (:mod:`jobs.mr.series_rows`), in this process or by the
MapReduce job :mod:`jobs.mr.series_score`: the driver holds a row of sums per series, never
the data. :func:`report` and :func:`series_report` turn sums into metrics.
"""
import json
import math
import weakref

import numpy as np

from functools import partial

from jobs.data.covariates import target_count
from jobs.hadoop.launch import RunnerOptions, run_job_with_state
from jobs.mr.counters import COUNTERS
from jobs.run.trained import base_line, beaten_by_classical, forecasting_state, load_run
from jobs.mr.series_rows import (WHOLE, RowTotals, add_history, coverage_shares, fit_history,
                                 fitted_of_plan, fitted_to_plan, history_from_json,
                                 history_statistics, plan_bytes, row_calibration, row_from_json,
                                 score_part, sequence_parts)
from jobs.storage import StoreError, is_hdfs, open_store
from rnn_core.arx import ARX
from rnn_core.autoregression import AR
from rnn_core.intervals import LEVELS, level_name

AUTO = "auto"  # evaluate's default runner: the hadoop runner for data on HDFS, else in process


class ScoringError(ValueError):
    """The run cannot be scored on the split, or its scores are not finite."""


def exp(x):
    """e**x, inf instead of OverflowError (a perplexity of a huge loss)."""
    return math.exp(x) if x < 709 else math.inf


def ratio(error, best):
    """error / best of two errors (>= 0): inf where only ``best`` is 0, NaN (n/a) where both
    are (a constant series that every forecaster gets exactly)."""
    if best > 0:
        return error / best
    return math.inf if error > 0 else math.nan


def score_in_process(state, dataset, split):
    """(sums, bad records) of the state's model on ``split``, computed here."""
    from jobs.mr.loss_sums import LossSums

    bad = {}
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite sums are checked after
        sums = LossSums(state.theta, state.model, dataset.meta).add_chunks(
            dataset.iter_chunks(split, state.model, bad))
    return sums, sum(bad.values())


def score_with_job(state, dataset, split, runner, job_args=(), detailed=True):
    """(sums, bad records) of the state's model on ``split``, by the MapReduce job
    :class:`jobs.mr.score.MRScore` on ``runner`` (a RunnerOptions), given ``job_args``.
    detailed: the baseline and per-column sums too (else only loss_sum, count, records)."""
    from jobs.mr.score import MRScore

    files = {"--meta": json.dumps(dataset.meta).encode()} if detailed else {}
    result = run_job_with_state(MRScore, state, list(job_args), dataset.shard_uris(split),
                                runner, files=files)
    sums = dict(result.output).get("sums")
    if sums is None:
        raise RuntimeError("the evaluation job gave no output: is the split empty?")
    return sums, int(result.counters.get(COUNTERS, {}).get("bad records", 0))


# -- series: series by series ----------------------------------------------------------------

def dataset_ar(dataset):
    """The AR(p) that ``prepare`` fitted on the training parts (:mod:`jobs.mr.series_ar`), the
    base of an AR-residual model; None for a dataset prepared before it was stored."""
    ar = dataset.meta.get("ar")
    return AR(ar["order"], np.array(ar["coef"])) if ar else None


def series_rows_in_process(state, dataset, split, horizon, season, network, totals):
    """(fitted, bad records) of :func:`series_scores`, its rows added to ``totals`` (a
    RowTotals), computed in this process."""
    bad = {}
    parts = sequence_parts(dataset, split, state.model, bad)
    stats = {}
    for part in parts:
        stats = add_history(stats, history_statistics(part, dataset.meta))
    fitted = fit_history(stats, season, dataset.meta, prepared_ar(dataset, split))
    calibration = calibration_fitted(dataset, split, fitted)
    valid_parts = ({p.seq: p for p in sequence_parts(dataset, "valid", state.model) if p}
                   if calibration else {})
    for part in parts:
        errors = calibration and row_calibration(state, dataset.meta, valid_parts.get(part.seq),
                                                 horizon, calibration, network)
        row = score_part(state, dataset.meta, part, horizon, fitted, network, errors)
        if row is not None:
            totals.add(row)
    return fitted, sum(bad.values())


# The series a reduce task of the series job takes: each costs its ETS fits (about 0.5 s, a
# minute per reduce task), while each reduce task costs a task's start, a container on YARN.
SERIES_PER_REDUCER = 100


def series_reducers(series, shards):
    """The reduce tasks of the series job for ``series`` series read from ``shards`` input
    shards: one per :data:`SERIES_PER_REDUCER` series, at most one per shard, at least one."""
    return max(1, min(shards, math.ceil(series / SERIES_PER_REDUCER)))


def series_job(state, dataset, runner):
    """(run, splits): ``run(plan, collect=list)`` runs the MapReduce job
    :class:`jobs.mr.series_score.MRSeriesScore` over every shard of ``dataset`` on ``runner``
    with that ``--plan`` (:func:`jobs.mr.series_rows.plan_bytes`); splits: {split: [uri]}."""
    from jobs.mr.series_score import MRSeriesScore

    splits = {name: dataset.shard_uris(name) for name in dataset.splits()}
    inputs = [uri for uris in splits.values() for uri in uris]
    args = ["--reducers", str(series_reducers(len(series_names(dataset.meta)), len(inputs)))]

    def run(plan, collect=list):
        files = {"--meta": json.dumps(dataset.meta).encode(), "--plan": plan}
        return run_job_with_state(MRSeriesScore, state, args, inputs, runner, files=files,
                                  collect=collect)
    return run, splits


# job_history's sums, per dataset object (a command loads its dataset once) and runner
_JOB_HISTORIES = weakref.WeakKeyDictionary()


def job_history(state, dataset, runner, split):
    """The history statistics of every sequence before ``split``'s held-out part
    (:data:`jobs.mr.series_rows.WHOLE`: every step), summed, by the history pass of the
    series job on ``runner`` (:func:`series_job`; a record per reduce task).

    The pass sums every history a command may fit on at once: before the validation part,
    before the test part, and the whole. They are kept for ``dataset``, so that a
    ``forecast`` that weighs its classical forecasters on the validation part and then
    refits its base on every step runs one history pass, not two."""
    from jobs.mr.series_score import HISTORY

    kept = _JOB_HISTORIES.setdefault(dataset, {}).setdefault(repr(runner), {})
    if split not in kept:
        run, splits = series_job(state, dataset, runner)
        histories = dict.fromkeys([split, *(s for s in dataset.splits() if s != "train"), WHOLE])
        sums = dict.fromkeys(histories, {})
        for key, value in run(plan_bytes(split, 1, splits=splits, histories=histories)).output:
            if key == HISTORY:
                for name, stats in value.items():
                    sums[name] = add_history(sums[name], history_from_json(stats))
        kept.update(sums)
    return kept[split]


def series_rows_with_job(state, dataset, split, horizon, season, network, totals, runner):
    """(fitted, bad records) of :func:`series_scores`, by the two passes of the MapReduce job
    :class:`jobs.mr.series_score.MRSeriesScore` on ``runner``: the history statistics summed
    over its reducers, the pooled baselines fitted here, then the rows, added to ``totals``
    (a RowTotals) as they are read."""
    stats = job_history(state, dataset, runner, split)
    fitted = fit_history(stats, season, dataset.meta, prepared_ar(dataset, split))
    calibration = calibration_fitted(dataset, split, fitted)
    run, splits = series_job(state, dataset, runner)
    scored = run(plan_bytes(split, horizon, fitted, network, splits, calibration),
                 collect=lambda pairs: [totals.add(row_from_json(row)) for _, row in pairs][:0])
    return fitted, int(scored.counters.get(COUNTERS, {}).get("bad records", 0))


REFITTED_BASE = "refitted_base.json"   # in a run directory: refitted_baselines' fit


def refitted_baselines(state, dataset, runner=None, run=None):
    """:func:`jobs.mr.series_rows.fit_history`'s {"ar", "arx", ...} fitted on every step of
    every sequence of ``dataset``: the pooled base a forecast uses where the run's classical
    forecaster stands in for its network, refitted as the test part's baselines are on
    everything before it. In this process (``runner`` None) or by the history pass of the
    MapReduce job on ``runner``; the driver holds only the sums. Kept in the run directory
    ``run`` (:data:`REFITTED_BASE`, per dataset) for later forecasts."""
    def fit():
        if runner is None:
            stats = {}
            for part in sequence_parts(dataset, WHOLE, state.model):
                stats = add_history(stats, history_statistics(part, dataset.meta))
        else:
            stats = job_history(state, dataset, runner, WHOLE)
        return fit_history(stats, 0, dataset.meta)

    return kept_in_run(run, REFITTED_BASE, {"data": dataset.fingerprint}, fit,
                       encode=fitted_to_plan, decode=fitted_of_plan)


def calibration_fitted(dataset, split, fitted):
    """The fitted baselines (:func:`jobs.mr.series_rows.fit_history`) that the intervals are
    calibrated with on the validation part when the test part is scored, else None: the
    season of ``fitted`` (the test part's) and the AR and ARX of the training parts
    (prepare's), as the run's forecaster was fitted when the validation part chose it."""
    if split != "test" or "valid" not in dataset.splits():
        return None
    arx = dataset.meta.get("arx")
    return {**fitted, "ar": dataset_ar(dataset) or fitted["ar"],
            "arx": ARX(arx["order"], np.array(arx["coef"])) if arx else fitted.get("arx")}


def prepared_ar(dataset, split):
    """The pooled AR(p) baseline that need not be fitted again: prepare's, of the training
    parts, when the baselines are fitted on them (scoring train or valid); else None."""
    return dataset_ar(dataset) if split != "test" else None


def series_scores(state, dataset, split, horizon, season, runner=None, base_alone=None):
    """({name: error sums}, {"season": S, "ar_order": p, ...}, the per-series table, bad
    records) of the model and the baselines, series by series (:mod:`jobs.mr.series_rows`;
    the table: :meth:`jobs.mr.series_rows.RowTotals.result`).

    runner: a RunnerOptions to compute the rows with the MapReduce job on it, None for this
    process (the same numbers). season: S, 0 for no seasonal naive, None to choose it. The
    baselines (and the pooled AR, the season) are fitted on everything before the scored
    part. base_alone: {seq: the forecaster the run uses, None: that of the others}
    (:func:`fallback_forecaster`) when its network was not chosen: the model's sums are
    that forecaster's, refitted on everything before the scored part, as the baseline is.
    """
    totals = RowTotals(base_alone)
    rows_of = series_rows_in_process if runner is None else partial(series_rows_with_job,
                                                                     runner=runner)
    fitted, bad = rows_of(state, dataset, split, horizon, season, not base_alone, totals)
    scores, forms, table = totals.result()
    ar = fitted["ar"]
    summary = {"season": fitted["season"], "season_from": fitted["season_from"],
               "ar_order": ar.order if ar else None,
               **({"arx_order": fitted["arx"].order} if fitted.get("arx") else {}),
               "ets": (forms[0] if len(forms) == 1 else forms) if forms else None}
    return scores, summary, table, bad


# fallback_forecaster's result, kept in the run directory: it depends on the data, the base
# and the validation horizon, never on the epoch, and costs a pass of every classical
# forecaster (ETS fitted per series) over the validation part
VALID_FORECASTERS = "valid_forecasters.json"


def fallback_forecaster(state, dataset, runner=None, run=None):
    """(forecasters, {name: validation MSE}) of the classical forecasters a run uses where
    its network is not chosen (:func:`classical_choice`).

    Of the base itself ("ar", or "persistence" for the last-value base), for a series driven
    by inputs ARX, ETS, and for an AR base the mean of the AR and ETS forecasts ("ar_ets"),
    each fitted on the training part,
    the one that forecasts the validation part best, as many steps ahead as the run's
    validation loss (``train --valid-horizon``, default one): over all the series
    (``forecasters[None]``, and the MSEs), and for each series its own
    (``forecasters[seq]``), as a user picks a method per series of a panel. runner: as for
    :func:`series_scores`. run: the run directory to keep the result in
    (:data:`VALID_FORECASTERS`) and read it from the next time, None: computed every time.
    """
    base = (("arx" if state.model.ar_inputs else "ar") if state.model.ar is not None
            else "persistence")
    if "valid" not in dataset.splits():
        return {None: base}, {}
    key = {"data": dataset.fingerprint, "base": base, "horizon": state.settings.valid_horizon}
    return kept_in_run(
        run, VALID_FORECASTERS, key, lambda: classical_validation(state, dataset, base, runner),
        encode=lambda value: {"errors": value[1],
                              "forecasters": {"all" if seq is None else str(seq): name
                                              for seq, name in value[0].items()}},
        decode=lambda kept: ({None if seq == "all" else int(seq): name
                              for seq, name in kept["forecasters"].items()}, kept["errors"]))


def kept_in_run(run, name, key, compute, encode, decode):
    """``compute()``, once per ``key``: kept in the run directory ``run`` as the JSON file
    ``name`` ({"key", "value": encode(result)}) and read back (``decode``) while the key
    holds. Computed every time without a run directory; a file that is unreadable or of
    another key is computed again and replaced; a run directory this user cannot write
    keeps nothing."""
    store = open_store(run) if run is not None else None
    try:
        kept = store and json.loads(store.read_bytes(name))
        if kept and kept["key"] == key:
            return decode(kept["value"])
    except (StoreError, ValueError, KeyError, TypeError):
        pass
    value = compute()
    try:
        if store:
            store.write_bytes(name, json.dumps({"key": key, "value": encode(value)}).encode())
    except StoreError:
        pass
    return value


def classical_validation(state, dataset, base, runner):
    """:func:`fallback_forecaster`'s (forecasters, errors), computed."""
    totals, _, table, _ = series_scores(state, dataset, "valid", state.settings.valid_horizon,
                                        None, runner, base_alone={None: base})
    # (the mean of AR and ETS is a candidate beside an AR base, whose forecast it takes)
    candidates = (base, "arx", "ets") + (("ar_ets",) if base == "ar" else ())
    names = [name for name in dict.fromkeys(candidates) if name in totals]
    errors = {name: float(np.sum(totals[name]["sse"])) / float(totals[name]["count"])
              for name in names}
    columns = table["sse"][:, [table["names"].index(name) for name in names]]
    forecasters = {int(seq): names[int(np.argmin(sse))] for seq, sse in zip(table["seq"], columns)}
    return {None: min(errors, key=errors.get), **forecasters}, errors


def classical_choice(state, dataset, choice, network=False, runner=None, run=None):
    """(the state whose θ forecasts, choice, forecasters) of a series run: which classical
    forecaster it uses, if any.

    The network is used where, on the validation part, it beats its base by
    :data:`jobs.run.trained.MIN_GAIN_T` standard errors (``choice``, of
    :func:`jobs.run.trained.forecasting_state`) **and** has no larger an MSE than the best
    classical candidate of :func:`fallback_forecaster`: a base that fails on the validation
    part (its coefficients do not hold there) is easy to beat, and ETS may still forecast it
    far better. Elsewhere ``forecasters`` ({seq or None: name}) are those of
    :func:`fallback_forecaster`, ``choice`` says which and why, and the state forecasts with
    the base alone. forecasters is None where the network is used, asked for (``network``,
    ``--network``) or the run has no choice to make (no base, no validation history).
    run: the run's directory, where the candidates' validation errors are kept.
    """
    if choice is None or network:
        return state, choice, None
    forecasters, errors = fallback_forecaster(state, dataset, runner, run)
    if not choice["uses_base"]:
        best = min(errors, key=errors.get, default=None)
        if best is None or errors[best] >= choice["valid_loss"]:
            return state, choice, None
        state, choice = beaten_by_classical(state, choice, best, errors[best])
    return state, {**choice, "forecaster": forecasters[None], "valid_mse": errors,
                   **per_series_forecasters(forecasters)}, forecasters


def forecaster_of(forecasters, seq):
    """The forecaster of sequence ``seq`` in ``forecasters`` (:func:`fallback_forecaster`):
    its own, else the one of all the series."""
    return forecasters.get(seq, forecasters[None])


def per_series_forecasters(forecasters):
    """{"by_series": {name: series}} of a table's per-series forecasters, or {} for one
    series (or one forecaster for all)."""
    own = [name for seq, name in forecasters.items() if seq is not None]
    if len(own) < 2:
        return {}
    return {"by_series": {name: own.count(name) for name in sorted(set(own))}}


CLASSICAL = ("persistence", "seasonal_naive", "ar", "arx", "ets")   # the single forecasters


def per_series(table, names):
    """The per-series comparison of a table of series (:func:`series_scores`'): MASE of every
    forecaster per series and its mean; the best classical forecaster (:data:`CLASSICAL`) by
    mean MASE; the share of series where the model's MASE is at most that forecaster's (a
    model that is that forecaster ties it) and strictly below it; the five series where the
    model does worst against it. Series without a MASE scale (:func:`jobs.mr.series_rows.mase_scale`) are left
    out and counted (``unscaled``); None if no series has one. names: the series' names by
    sequence number."""
    forecasters, model = table["names"], table["names"].index("model")
    scaled = np.isfinite(table["mase"][:, model])
    mase, seqs = table["mase"][scaled], table["seq"][scaled]
    if not len(mase):
        return None
    ids = [names[seq] if seq < len(names) else str(seq) for seq in seqs]
    means = dict(zip(forecasters, np.mean(mase, axis=0).tolist()))
    best = min((name for name in forecasters if name in CLASSICAL), key=means.get)
    mine, theirs = mase[:, model], mase[:, forecasters.index(best)]
    ratios = sorted(((ratio(a, b), name) for a, b, name in zip(mine, theirs, ids)
                     if a > 0 or b > 0), reverse=True)
    return {"count": len(mase), "unscaled": int(np.sum(~scaled)), "mean_mase": means,
            "best_baseline": best,
            "share_model_at_most_best": float(np.mean(mine <= theirs)),
            "share_model_below_best": float(np.mean(mine < theirs)),
            "worst": [{"id": name, "ratio": value} for value, name in ratios[:5]],
            "table": [{"id": name, **dict(zip(forecasters, row.tolist())), **shares}
                      for name, row, shares in zip(ids, mase, series_coverage(table, scaled))]}


def series_coverage(table, rows):
    """[{"coverage_80": share, ...}] of the model's intervals for the series ``rows`` (a
    mask) of a per-series table, [{}...] without intervals."""
    if "coverage" not in table:
        return [{}] * int(np.sum(rows))
    names = [f"coverage_{level_name(level)}" for level in LEVELS]
    return [dict(zip(names, shares.tolist())) for shares in table["coverage"][rows]]


# -- the command -----------------------------------------------------------------------------

def scoring_runner(runner, data_uri, hadoop=None):
    """The RunnerOptions that score the model's one-step predictions, or None (this process).

    runner: :data:`AUTO`, None or a RunnerOptions. AUTO is ``hadoop`` (default
    ``RunnerOptions(runner="hadoop")``) when the dataset ``data_uri`` is on HDFS, where a job
    reads the data where it lives, and this process for local data.
    """
    if runner != AUTO:
        return runner
    return (hadoop or RunnerOptions(runner="hadoop")) if is_hdfs(data_uri) else None


def default_split(dataset):
    """The split ``evaluate`` scores unless told: the test part if the dataset holds one out
    (nothing of the run was chosen on it), else the validation part."""
    return "test" if "test" in dataset.splits() else "valid"


def selection_note(split, checkpoint, splits):
    """What the score of ``checkpoint`` on ``split`` does not say, or None: the best epoch is
    the one with the lowest validation loss, so its validation score flatters the model.
    splits: the dataset's."""
    if split != "valid" or checkpoint != "best":
        return None
    better = ("the test part (--split test) gives an unbiased one" if "test" in splits
              else "a test part (prepare --test) would give an unbiased one")
    return ("the best epoch was chosen on this split (the lowest validation loss), so this "
            f"score flatters the model; {better}")


def evaluate(run, data=None, split=None, runner=AUTO, checkpoint="best", horizon=1,
             season=None, hadoop=None, network=False, against=None):
    """The metrics dict of the run in ``run`` on ``split`` ("test", "valid" or "train";
    None: :func:`default_split`).

    data: the dataset directory (default: the one the run was trained on). runner: a
    RunnerOptions to score the model's one-step predictions with the MapReduce job on it,
    None to score in this process, or :data:`AUTO` (the default): the job on the hadoop
    runner (``hadoop``, a RunnerOptions; default: mrjob's configuration) for data on HDFS, in
    this process for local data; the numbers are the same. A series model is scored series
    by series with its baselines (:func:`series_scores`: on a runner, by the MapReduce job
    :mod:`jobs.mr.series_score`). checkpoint: "best", "latest" or an epoch number. Series
    only: horizon: steps ahead (> 1: fed-back forecasts); season: the seasonal naive forecast's period (None: chosen, 0: none);
    network: score the network even where it did not beat its base on the validation part
    (:func:`jobs.run.trained.forecasting_state`; ``base_choice`` and the note say which).
    The metrics' ``runner`` says where the model was scored ("process" or a runner).
    against: another series run, of the same series prepared with other inputs (e.g. none):
    scored the same way on the same steps, its MSE and the model's over it are ``against``.
    """
    state, dataset = load_run(run, data, checkpoint=checkpoint)
    state, choice = forecasting_state(state, network)
    split = split or default_split(dataset)
    if split not in dataset.splits():
        raise ScoringError(f"{dataset.store.uri()} has no {split} split (its splits: "
                           f"{', '.join(dataset.splits())}; prepare --test holds out a test part)")
    runner = scoring_runner(runner, dataset.store.uri(), hadoop)
    if horizon < 1:
        raise ValueError(f"--horizon must be at least 1, got {horizon}")
    if dataset.kind == "text" and (horizon != 1 or season is not None):
        raise ValueError("--horizon and --season are for series models")
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below
        if dataset.kind == "text":
            sums, bad = (score_in_process(state, dataset, split) if runner is None
                         else score_with_job(state, dataset, split, runner))
            if float(sums["count"]) == 0:
                raise nothing_to_score(dataset, split, bad)
            metrics = report(sums, dataset.meta)
        else:
            state, choice, base_alone = classical_choice(state, dataset, choice, network,
                                                         runner, run)
            scores, fitted, table, bad = series_scores(state, dataset, split, horizon, season,
                                                       runner, base_alone)
            if "model" not in scores and horizon == 1:
                raise nothing_to_score(dataset, split, bad)
            if "model" not in scores:
                raise ScoringError(f"the {split} split of {dataset.store.uri()} has no step to "
                                   f"forecast {horizon} step(s) ahead")
            metrics = series_report(scores, dataset.meta, horizon)
            metrics.update(fitted)
            add_mase(metrics, table, series_names(dataset.meta))
    if not math.isfinite(metrics["loss"]):
        raise ScoringError(f"the model in {run} has a non-finite loss ({metrics['loss']}) on the "
                           f"{split} split of {dataset.store.uri()}: its θ diverged or the data "
                           "holds values it cannot score; no metrics to report")
    if against is not None:
        metrics["against"] = compared_run(metrics, dataset, evaluate(
            against, split=split, runner=runner, checkpoint=checkpoint, horizon=horizon,
            season=season, hadoop=hadoop, network=network), against)
    metrics.update(split=split, epoch=state.epoch, bad_records=bad,
                   data=dataset.store.uri(), run=run, checkpoint=checkpoint,
                   runner="process" if runner is None else runner.runner,
                   note=selection_note(split, checkpoint, dataset.splits()),
                   base_choice=choice, model_note=base_line(state, choice))
    return metrics


def compared_run(metrics, dataset, other, run):
    """The ``against`` entry of a series report: ``other``'s (the report of ``run``) MSE on
    the same steps, the model's over it, and its columns; ScoringError unless both scored the
    same steps of the same series (original units, so other normalizations compare)."""
    if dataset.kind != "series" or other["kind"] != "series":
        raise ScoringError("--against compares two series runs")
    mine, theirs = metrics["columns"], other["columns"]
    if (list(mine) != list(theirs) or other["steps"] != metrics["steps"]
            or len(other.get("series", {}).get("table", [])) != len(
                metrics.get("series", {}).get("table", []))):
        raise ScoringError(f"--against {run}: it scored {other['steps']:,} steps of "
                           f"{', '.join(theirs)}, the model {metrics['steps']:,} of "
                           f"{', '.join(mine)}: prepare both from the same series with the "
                           "same --valid and --test")
    from jobs.data.dataset import Dataset
    return {"run": run, "columns": Dataset(other["data"]).meta["columns"], "mse": other["mse"],
            "mse_normalized": other["mse_normalized"], "epoch": other["epoch"],
            "ratio": ratio(metrics["mse"], other["mse"])}


def nothing_to_score(dataset, split, bad):
    """The ScoringError of a split with no step to score, saying why."""
    records = dataset.meta["counts"][split]["records"]
    why = (f"it holds no chunks (prepared with --{split} 0, or a part shorter than one chunk)"
           if records == 0 else
           f"{bad:,} of its {records:,} records are bad" if bad else
           f"its {records:,} records have no step past their warm-up")
    return ScoringError(f"the {split} split of {dataset.store.uri()} has nothing to score: {why}")


def series_names(meta):
    """The names of a dataset's series by sequence number: their ids, or their files."""
    return [str(name) for name in meta.get("series_ids") or meta.get("sources") or []]


def add_mase(metrics, table, names):
    """Add MASE to a series report: the model's and each baseline's mean over the series
    (``mase``), and for a table of series the per-series comparison (``series``,
    :func:`per_series`) of ``table`` (:func:`series_scores`')."""
    compared = per_series(table, names)
    if compared is None:
        return
    metrics["mase"] = compared["mean_mase"]["model"]
    for name, values in metrics["baselines"].items():
        values["mase"] = compared["mean_mase"].get(name)
    if len(table["seq"]) > 1:
        metrics["series"] = compared


def report(sums, meta):
    """The metrics of a text model's summed scores as a JSON-able dict."""
    count = float(sums["count"])
    if count == 0:
        raise ValueError("nothing was scored: the split holds no usable records")
    loss, base = float(sums["loss_sum"]) / count, float(sums["baseline_sum"]) / count
    return {"kind": meta["kind"], "steps": int(count), "records": int(sums["records"]),
            "loss": loss, "perplexity": exp(loss), "bits_per_char": loss / math.log(2),
            "baseline": "unigram", "baseline_loss": base, "baseline_perplexity": exp(base),
            "baseline_bits_per_char": base / math.log(2)}


def errors(sums, std):
    """MSE and MAE (original units, mean over columns; normalized) of error sums; the
    original units from ``sse_original`` and ``sae_original`` if the sums hold them (each
    series scaled by its own std), else by the dataset's ``std``."""
    count = float(sums["count"])
    sse, sae = np.asarray(sums["sse"]) / count, np.asarray(sums["sae"]) / count
    original = (np.asarray(sums["sse_original"]) / count if "sse_original" in sums
                else sse * std ** 2)
    original_mae = (np.asarray(sums["sae_original"]) / count if "sae_original" in sums
                    else sae * std)
    return {"mse": float(np.mean(original)), "mae": float(np.mean(original_mae)),
            "mse_normalized": float(np.mean(sse)), "mae_normalized": float(np.mean(sae)),
            "columns_mse": original.tolist(), **interval_coverage(sums)}


def interval_coverage(sums):
    """{"coverage": {"80": share, "95": share}, "coverage_steps", "coverage_gaussian"} of
    error sums that counted the targets inside the intervals calibrated on the validation
    part (:func:`jobs.mr.series_rows.add_coverage`), else {}. coverage_gaussian: the series
    whose validation errors were too few for a level's quantile (the normal approximation
    stood in, :mod:`rnn_core.intervals`)."""
    shares = coverage_shares(sums)
    if not np.all(np.isfinite(shares)):
        return {}
    return {"coverage": dict(zip((level_name(level) for level in LEVELS), shares)),
            "coverage_steps": int(float(sums["interval_count"])),
            "coverage_gaussian": int(float(sums.get("gaussian", 0)))}


def series_report(scores, meta, horizon=1):
    """The metrics of a series model next to its baselines, as a JSON-able dict.

    scores: {"model": sums, "persistence": sums, ...} (sums of :func:`baselines.error_sums`).
    The model's metrics are top-level (``mse``, ``mae``, ``mse_normalized``, ...; ``loss`` is
    the training loss, the squared error summed over columns); ``baselines`` holds each
    baseline's, ``best_baseline`` names the one with the lowest normalized MSE and
    ``ratio_to_best_baseline`` is the model's normalized MSE over it. ``baseline_mse`` etc.
    are persistence's.
    """
    targets = target_count(meta)
    std = np.asarray(meta["normalization"]["std"])[:targets]
    model = errors(scores["model"], std)
    others = {name: errors(sums, std) for name, sums in scores.items() if name != "model"}
    best = min(others, key=lambda name: others[name]["mse_normalized"])
    persistence = others["persistence"]
    model_columns = model.pop("columns_mse")
    for values in others.values():
        values.pop("columns_mse")
    out = {"kind": meta["kind"], "horizon": horizon, "steps": int(scores["model"]["count"]),
           "loss": float(np.sum(np.asarray(scores["model"]["sse"]))
                         / float(scores["model"]["count"])),
           **model, "baselines": others, "best_baseline": best,
           "ratio_to_best_baseline": ratio(model["mse_normalized"],
                                           others[best]["mse_normalized"]),
           "baseline": "persistence", "baseline_mse": persistence["mse"],
           "baseline_mae": persistence["mae"],
           "baseline_mse_normalized": persistence["mse_normalized"]}
    persistence_columns = errors(scores["persistence"], std)["columns_mse"]
    out["columns"] = {name: {"mse": model_columns[f], "baseline_mse": persistence_columns[f]}
                      for f, name in enumerate(meta["columns"][:targets])}
    return out
