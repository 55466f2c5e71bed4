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

The model's one-step sums come from this process or from the MapReduce job
:mod:`jobs.mr.score` on a runner (for validation sets too large for one machine); both add
the same :class:`jobs.mr.loss_sums.LossSums` sums. The series baselines and H-step forecasts need
whole sequences and are computed in this process. :func:`report` turns sums into metrics.
"""
import json
import math

import numpy as np

from rnn_core import baselines
from jobs.data.chunks import scored_positions, sequences_of
from jobs.data.series_io import sequence_normalization
from jobs.hadoop.launch import RunnerOptions, run_job_with_state
from jobs.mr.counters import COUNTERS
from jobs.run.trained import base_line, forecasting_state, load_run
from jobs.storage import is_hdfs
from rnn_core import forecast_batch, smoothing
from rnn_core.autoregression import AR, fit_ar

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


# -- series: whole sequences -----------------------------------------------------------------

def split_sequences(dataset, split, cfg):
    """[(seq, sequence (L, F), fit length, target positions (n,), the first row of each
    target's record (n,), the split's records)], one per sequence.

    The targets are the positions that the split's records score; records that are bad for
    the model ``cfg`` are left out, as the model's scoring leaves them out. The fit length
    is where the part after the one the baselines are fitted on begins: the validation part
    (scoring train or valid), the test part (scoring test).
    """
    records = {name: list(dataset.iter_chunks(name, cfg)) for name in dataset.splits()}
    every = [r for name in dataset.splits() for r in records[name]]
    sequences, positions = sequences_of(every), scored_positions(every)
    held_out = "test" if split == "test" else "valid"
    out = []
    for seq, sequence in sorted(sequences.items()):
        by_key = positions[seq]
        starts = [by_key[r.key][0] for r in records[held_out]
                  if r.key in by_key and len(by_key[r.key])]
        fit_end = min(starts, default=len(sequence))
        mine = [r for r in records[split] if r.key in by_key and len(by_key[r.key])]
        wanted = [by_key[r.key] for r in mine]
        targets = np.concatenate(wanted) if wanted else np.zeros(0, dtype=np.int64)
        # a record's first row: its warm-up and the step before its first target precede it
        starts = (np.concatenate([np.full(len(p), p[0] - r.warmup - 1) for r, p in zip(mine, wanted)])
                  if wanted else np.zeros(0, dtype=np.int64))
        out.append((seq, sequence, fit_end, targets, starts, mine))
    return out


def model_forecasts(state, sequence, targets, starts, horizon):
    """The model's ``horizon``-step forecasts (n, F) of x[targets], each from the steps of
    ``sequence`` from its record's first row (``starts``, (n,)) up to its origin t - H, its
    own forecasts fed back for the H - 1 steps after: for H = 1 exactly the history the
    model's one-step score of the record conditions on (:class:`jobs.mr.loss_sums.LossSums`
    runs the record from a zero state). An origin before its record's first row conditions
    on the steps from the sequence's start."""
    origins = targets - horizon
    starts = np.where(starts <= origins, starts, 0)
    predicted = np.empty((len(targets), sequence.shape[1]))
    lengths = origins + 1 - starts
    for length in np.unique(lengths):                  # one batch per history length
        rows = np.flatnonzero(lengths == length)
        index = origins[rows, None] + np.arange(1 - length, 1)[None, :]
        predicted[rows] = forecast_batch(state.theta, state.model, sequence[index],
                                         horizon)[:, -1]
    return predicted


def dataset_ar(dataset):
    """The AR(p) that ``prepare`` fitted on the training parts (:mod:`jobs.mr.series_ar`), the
    base of an AR-residual model; None for a dataset prepared before it was stored."""
    ar = dataset.meta.get("ar")
    return AR(ar["order"], np.array(ar["coef"])) if ar else None


def series_season(history, season, calendar):
    """(S or None, where it came from) of the seasonal naive baseline: ``season`` if given
    (0: none), else the calendar's season that forecasts ``history`` best, else (no
    timestamps) the autocorrelation's."""
    if season is not None:
        return season or None, "--season"
    if calendar is not None:
        return baselines.choose_season(history, calendar["seasons"]), f"calendar ({calendar['step']})"
    return baselines.detect_season(history), "autocorrelation (no timestamps)"


def ets_forecasts(sequence, fit_end, targets, horizon, season, norm):
    """The ``horizon``-step ETS forecasts (n, F) of x[targets], normalized, each column
    fitted on its first ``fit_end`` steps in original units (:mod:`rnn_core.smoothing`);
    (None, None) if a column's history is too short. Also the forms, one per column."""
    mean, std = np.asarray(norm["mean"]), np.asarray(norm["std"])
    original = sequence * std + mean
    out, forms = np.empty((len(targets), sequence.shape[1])), []
    for f in range(sequence.shape[1]):
        fitted = smoothing.fit_ets(original[:fit_end, f], season)
        if fitted is None:
            return None, None
        predicted = smoothing.ahead(fitted, original[:, f], targets - horizon, horizon)
        out[:, f] = (predicted - mean[f]) / std[f]
        forms.append(fitted.name())
    return out, forms


def fallback_forecaster(state, dataset):
    """(forecasters, {name: validation MSE}) of the classical forecasters a run uses where
    its network did not clearly beat its base on the validation part.

    Of the base itself ("ar", or "persistence" for the last-value base), ETS, and for an AR
    base the mean of the AR and ETS forecasts ("ar_ets"), each fitted on the training part,
    the one that forecasts the validation part best one step ahead: over all the series
    (``forecasters[None]``, and the MSEs), and for each series its own
    (``forecasters[seq]``), as a user picks a method per series of a panel.
    """
    base = "ar" if state.model.ar is not None else "persistence"
    if "valid" not in dataset.splits():
        return {None: base}, {}
    totals, _, rows = series_scores(state, dataset, "valid", 1, None, base_alone={None: base})
    names = [name for name in (base, "ets", "ar_ets") if name in totals]
    errors = {name: float(np.sum(totals[name]["sse"])) / float(totals[name]["count"])
              for name in names}
    forecasters = {row["seq"]: min(names, key=lambda name: float(np.sum(row["sums"][name]["sse"])))
                   for row in rows}
    return {None: min(errors, key=errors.get), **forecasters}, errors


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


def mase_scale(history, season):
    """The in-sample MAE (F,) of the seasonal naive forecast (lag ``season``, or 1) on a
    sequence's history (L, F), the denominator of MASE (Hyndman & Koehler 2006); NaN where
    the history is too short or constant."""
    lag = season if season and len(history) > season else 1
    if len(history) <= lag:
        return np.full(history.shape[1], np.nan)
    scale = np.mean(np.abs(history[lag:] - history[:-lag]), axis=0)
    return np.where(scale > 0, scale, np.nan)


def series_scores(state, dataset, split, horizon, season, model_sums=None, base_alone=None):
    """({name: error sums}, {"season": S, "ar_order": p, ...}, [per-series rows]) of the
    model and the baselines.

    model_sums: the model's one-step sums from a MapReduce job (None: computed here). The
    model's one-step sums of a sequence are :class:`jobs.mr.loss_sums.LossSums` over its
    records, the numbers the job adds up; H-step forecasts condition on the same history,
    each target's record up to the origin (:func:`model_forecasts`). season: S, 0 for no
    seasonal naive, None to choose it (:func:`series_season`). ETS is fitted per sequence, and scored only when every
    sequence's history is long enough, so that all forecasters score the same steps.
    A row per sequence: its sums and MASE scale. base_alone: {seq: the baseline that the
    model is, None: that of the others} (:func:`fallback_forecaster`) when its network was
    not chosen: refitted on everything before the scored part, as the baseline is.
    """
    from jobs.mr.loss_sums import LossSums

    parts = split_sequences(dataset, split, state.model)
    history = [sequence[:fit_end] for _, sequence, fit_end, _, _, _ in parts if fit_end > 1]
    season, season_from = series_season(history, season, dataset.meta.get("calendar"))
    # the AR(p) of prepare is the training parts'; scoring the test part, the baseline is
    # fitted again on everything before it
    ar = (dataset_ar(dataset) if split != "test" else None) or (
        fit_ar(history) if history else None)
    rows, ets_forms, with_ets = [], [], True
    for seq, sequence, fit_end, targets, starts, records in parts:
        starts = starts[targets >= horizon]
        targets = targets[targets >= horizon]           # every forecaster needs an origin
        if not len(targets):
            continue
        actual = sequence[targets]
        norm = sequence_normalization(dataset.meta, int(seq))
        predicted = baselines.forecasts(sequence, targets, horizon, season, ar)
        if with_ets:
            predicted["ets"], forms = ets_forecasts(sequence, fit_end, targets, horizon,
                                                    season, norm)
            with_ets = predicted["ets"] is not None
            ets_forms += forms or []
            if with_ets and "ar" in predicted:   # the two combined: Comb of the M competitions
                predicted["ar_ets"] = (predicted["ar"] + predicted["ets"]) / 2
        sums = {name: baselines.error_sums(values, actual)
                for name, values in predicted.items() if values is not None}
        if base_alone:
            chosen = forecaster_of(base_alone, int(seq))
            if chosen not in sums:     # ETS could not be fitted on a short history
                chosen = "ar" if "ar" in sums else "persistence"
            sums["model"] = dict(sums[chosen])
        elif horizon > 1:
            sums["model"] = baselines.error_sums(
                model_forecasts(state, sequence, targets, starts, horizon), actual)
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                scored = LossSums(state.theta, state.model, dataset.meta).add_chunks(records)
            sums["model"] = {"sse": scored["sse"], "sae": scored["sae"],
                             "count": float(scored["count"])}
        std = np.asarray(norm["std"])
        for values in sums.values():                  # original units, this series' scale
            values.update(sse_original=np.asarray(values["sse"]) * std ** 2,
                          sae_original=np.asarray(values["sae"]) * std)
        rows.append({"seq": int(seq), "sums": sums,
                     "scale": mase_scale(sequence[:fit_end], season)})
    if not with_ets:
        for row in rows:
            for name in ("ets", "ar_ets"):
                row["sums"].pop(name, None)
    totals = {}
    for row in rows:
        for name, values in row["sums"].items():
            add_to(totals.setdefault(name, {}), values)
    if model_sums is not None and not base_alone:     # (one table scale: see evaluate)
        std = np.asarray(dataset.meta["normalization"]["std"])
        totals["model"] = {"sse": model_sums["sse"], "sae": model_sums["sae"],
                           "count": float(model_sums["count"]),
                           "sse_original": np.asarray(model_sums["sse"]) * std ** 2,
                           "sae_original": np.asarray(model_sums["sae"]) * std}
    forms = sorted(set(ets_forms), key=ets_forms.count, reverse=True)
    fitted = {"season": season, "season_from": season_from,
              "ar_order": ar.order if ar else None,
              "ets": (forms[0] if len(forms) == 1 else forms) if with_ets and forms else None}
    return totals, fitted, rows


def mase(sums, scale):
    """MASE of one sequence's error sums: its MAE over the scale, averaged over columns
    (normalized units on both sides, so the normalization cancels); NaN if unscaled."""
    return float(np.mean(np.asarray(sums["sae"]) / float(sums["count"]) / scale))


CLASSICAL = ("persistence", "seasonal_naive", "ar", "ets")   # the single forecasters


def per_series(rows, names):
    """The per-series comparison of a table of series: MASE of every forecaster per series
    and its mean; the best classical forecaster (:data:`CLASSICAL`) by mean MASE; the share
    of series where the model's MASE is at most that forecaster's (a model that is that
    forecaster ties it) and strictly below it; the five series where the model does worst
    against it. Series without a MASE scale (:func:`mase_scale`) are left out and counted
    (``unscaled``); None if no series has one. names: the series' names by sequence
    number."""
    table = [{"id": names[row["seq"]] if row["seq"] < len(names) else str(row["seq"]),
              **{name: mase(sums, row["scale"]) for name, sums in row["sums"].items()}}
             for row in rows]
    scaled = [row for row in table if np.isfinite(row["model"])]
    unscaled, table = len(table) - len(scaled), scaled
    if not table:
        return None
    forecasters = [name for name in table[0] if name != "id"]
    means = {name: float(np.mean([row[name] for row in table])) for name in forecasters}
    best = min((name for name in forecasters if name in CLASSICAL), key=means.get)
    ratios = sorted(((ratio(row["model"], row[best]), row["id"]) for row in table
                     if row["model"] > 0 or row[best] > 0), reverse=True)
    return {"count": len(table), "unscaled": unscaled, "mean_mase": means, "best_baseline": best,
            "share_model_at_most_best": float(np.mean([row["model"] <= row[best]
                                                       for row in table])),
            "share_model_below_best": float(np.mean([row["model"] < row[best]
                                                     for row in table])),
            "worst": [{"id": name, "ratio": value} for value, name in ratios[:5]],
            "table": table}


def add_to(total, sums):
    for name, value in sums.items():
        total[name] = total.get(name, 0) + value


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
             season=None, hadoop=None, network=False):
    """The metrics dict of the run in ``run`` on ``split`` ("test", "valid" or "train";
    None: :func:`default_split`).

    data: the dataset directory (default: the one the run was trained on). runner: a
    RunnerOptions to score the model's one-step predictions with the MapReduce job on it,
    None to score in this process, or :data:`AUTO` (the default): the job on the hadoop
    runner (``hadoop``, a RunnerOptions; default: mrjob's configuration) for data on HDFS, in
    this process for local data; the numbers are the same. checkpoint: "best", "latest" or
    an epoch number. Series only: horizon: steps ahead (> 1: fed-back forecasts, always in
    this process); season: the seasonal naive forecast's period (None: chosen, 0: none);
    network: score the network even where it did not beat its base on the validation part
    (:func:`jobs.run.trained.forecasting_state`; ``base_choice`` and the note say which).
    The metrics' ``runner`` says where the model was scored ("process" or a runner).
    """
    state, dataset = load_run(run, data, checkpoint=checkpoint)
    state, choice = forecasting_state(state, network)
    split = split or default_split(dataset)
    if split not in dataset.splits():
        raise ScoringError(f"{dataset.store.uri()} has no {split} split (its splits: "
                           f"{', '.join(dataset.splits())}; prepare --test holds out a test part)")
    own_scale = bool(dataset.meta.get("series_normalization"))
    runner = (None if (horizon > 1 or own_scale) and runner == AUTO
              else scoring_runner(runner, dataset.store.uri(), hadoop))
    if horizon < 1:
        raise ValueError(f"--horizon must be at least 1, got {horizon}")
    if dataset.kind == "text" and (horizon != 1 or season is not None):
        raise ValueError("--horizon and --season are for series models")
    if horizon > 1 and runner is not None:
        raise ValueError("--horizon > 1 forecasts in this process: drop --runner")
    if own_scale and runner is not None:
        raise ValueError("a dataset prepared with --scale series is scored in this process "
                         "(each series in its own units): drop --runner")
    if horizon == 1:
        sums, bad = (score_in_process(state, dataset, split) if runner is None
                     else score_with_job(state, dataset, split, runner))
        if float(sums["count"]) == 0:
            records = dataset.meta["counts"][split]["records"]
            why = (f"it holds no chunks (prepared with --{split} 0, or a part shorter than "
                   "one chunk)" if records == 0 else
                   f"{bad:,} of its {records:,} records are bad" if bad else
                   f"its {records:,} records have no step past their warm-up")
            raise ScoringError(f"the {split} split of {dataset.store.uri()} has nothing to "
                               f"score: {why}")
    else:
        sums, bad = None, 0
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below
        if dataset.kind == "text":
            metrics = report(sums, dataset.meta)
        else:
            base_alone = None
            if choice and choice["uses_base"] and not choice.get("network_asked"):
                base_alone, errors = fallback_forecaster(state, dataset)
                choice.update(forecaster=base_alone[None], valid_mse=errors,
                              **per_series_forecasters(base_alone))
            scores, fitted, rows = series_scores(state, dataset, split, horizon, season, sums,
                                                 base_alone)
            if "model" not in scores:
                raise ScoringError(f"the {split} split of {dataset.store.uri()} has no step to "
                                   f"forecast {horizon} step(s) ahead")
            metrics = series_report(scores, dataset.meta, horizon)
            metrics.update(fitted)
            add_mase(metrics, rows, series_names(dataset.meta))
    if not math.isfinite(metrics["loss"]):
        raise ScoringError(f"the model in {run} has a non-finite loss ({metrics['loss']}) on the "
                           f"{split} split of {dataset.store.uri()}: its θ diverged or the data "
                           "holds values it cannot score; no metrics to report")
    metrics.update(split=split, epoch=state.epoch, bad_records=bad,
                   data=dataset.store.uri(), run=run, checkpoint=checkpoint,
                   runner="process" if runner is None else runner.runner,
                   note=selection_note(split, checkpoint, dataset.splits()),
                   base_choice=choice, model_note=base_line(state, choice))
    return metrics


def series_names(meta):
    """The names of a dataset's series by sequence number: their ids, or their files."""
    return [str(name) for name in meta.get("series_ids") or meta.get("sources") or []]


def add_mase(metrics, rows, names):
    """Add MASE to a series report: the model's and each baseline's mean over the series
    (``mase``), and for a table of series the per-series comparison (``series``,
    :func:`per_series`)."""
    compared = per_series(rows, names)
    if compared is None:
        return
    metrics["mase"] = compared["mean_mase"]["model"]
    for name, values in metrics["baselines"].items():
        values["mase"] = compared["mean_mase"].get(name)
    if len(rows) > 1:
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
            "columns_mse": original.tolist()}


def series_report(scores, meta, horizon=1):
    """The metrics of a series model next to its baselines, as a JSON-able dict.

    scores: {"model": sums, "persistence": sums, ...} (sums of :func:`baselines.error_sums`).
    The model's metrics are top-level (``mse``, ``mae``, ``mse_normalized``, ...; ``loss`` is
    the training loss, the squared error summed over columns); ``baselines`` holds each
    baseline's, ``best_baseline`` names the one with the lowest normalized MSE and
    ``ratio_to_best_baseline`` is the model's normalized MSE over it. ``baseline_mse`` etc.
    are persistence's.
    """
    std = np.asarray(meta["normalization"]["std"])
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
                      for f, name in enumerate(meta["columns"])}
    return out
