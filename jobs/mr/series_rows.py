"""Scoring a series model series by series, next to the classical forecasters: the same
code in this process and in the reducers of the MapReduce job :mod:`jobs.mr.series_score`.

Scoring a split takes two passes over the sequences, each of which needs a whole sequence
(its records of every split joined back, :func:`sequence_part`), never more than one:

1. **history**: each sequence's history, the steps the baselines are fitted on (before the
   validation part when scoring train or valid, before the test part when scoring test),
   gives sums that add across sequences (:func:`history_statistics`); from their total the
   driver fits the forecasters pooled over all series, the AR(p) and the season
   (:func:`fit_history`), O(p² + seasons) whatever the number of series.
2. **score**: each sequence is forecast by persistence, seasonal naive, AR, ETS (fitted on
   its own history in original units, :mod:`rnn_core.smoothing`), the mean of AR and ETS,
   and the model (one step: :class:`jobs.mr.loss_sums.LossSums` over its records; H steps:
   :func:`model_forecasts`), all on the same target steps, giving one row of error sums
   per sequence (:func:`score_part`). The driver adds the rows up as they come
   (:class:`RowTotals`).

So the driver holds O(p²) and, per series, its MASE and squared error per forecaster, never
the data or the rows; in this process the data is read as it is for a small dataset, on a
runner the tasks read it where it lives.
"""
import json
from array import array
from collections import Counter
from typing import NamedTuple

import numpy as np

from jobs.data.chunks import SPLITS, scored_positions, sequence_id, sequences_of
from jobs.data.covariates import target_count, target_normalization
from jobs.data.series_io import sequence_normalization
from rnn_core import baselines, forecast_batch, intervals, smoothing
from rnn_core.arx import ARX, arx_forecasts, arx_statistics, fit_arx
from rnn_core.autoregression import AR, add_statistics, ar_statistics, fit_ar_statistics


class SequencePart(NamedTuple):
    """One sequence as a split scores it: its steps (L, F), where its history (the part
    the baselines are fitted on) ends, the target positions (n,), the first row of each
    target's record (n,), and the split's records of it."""

    seq: int
    sequence: np.ndarray
    fit_end: int
    targets: np.ndarray
    starts: np.ndarray
    records: list


WHOLE = "whole"   # as a split: no targets, every step the history (a forecast's refit)


def sequence_part(seq, records, split):
    """The :class:`SequencePart` of sequence ``seq`` from its validated records
    {split name: [Record]} (any order): the targets are the positions the split's records
    score, its history the steps before the split's held-out part (:data:`WHOLE`: every
    step, no targets); None if it has no record of any split."""
    every = [r for name in SPLITS for r in records.get(name, [])]
    if not every:
        return None
    sequence, = sequences_of(every).values()
    by_key, = scored_positions(every).values()
    held_out = {"test": "test", WHOLE: None}.get(split, "valid")
    starts = [by_key[r.key][0] for r in records.get(held_out, []) if len(by_key[r.key])]
    fit_end = min(starts, default=len(sequence))
    mine = sorted((r for r in records.get(split, []) if len(by_key[r.key])), key=lambda r: r.key)
    wanted = [by_key[r.key] for r in mine]
    targets = np.concatenate(wanted) if wanted else np.zeros(0, dtype=np.int64)
    # a record's first row: its warm-up and the step before its first target precede it
    firsts = (np.concatenate([np.full(len(p), p[0] - r.warmup - 1) for r, p in zip(mine, wanted)])
              if wanted else np.zeros(0, dtype=np.int64))
    return SequencePart(int(seq), sequence, fit_end, targets, firsts, mine)


def sequence_parts(dataset, split, cfg, bad_counts=None):
    """The :class:`SequencePart` of every sequence of ``dataset`` for ``split``, read in this
    process; records that are bad for the model ``cfg`` are left out and counted by reason
    in ``bad_counts``, as the model's scoring leaves them out."""
    by_sequence = {}
    for name in dataset.splits():
        for record in dataset.iter_chunks(name, cfg, bad_counts):
            by_sequence.setdefault(sequence_id(record.key), {}).setdefault(name, []).append(record)
    return [sequence_part(seq, records, split) for seq, records in sorted(by_sequence.items())]


# -- pass 1: the history ---------------------------------------------------------------------

def season_statistics(history, calendar):
    """The sums a history (L, F) adds to the choice of the season: the calendar seasons'
    errors (:func:`rnn_core.baselines.seasonal_errors`), or without timestamps (``calendar``
    None) the autocorrelation's."""
    return (baselines.seasonal_errors(history, calendar["seasons"]) if calendar
            else baselines.autocorrelation_statistics(history))


def arx_order(meta):
    """The p of a driven series' ARX baseline: the order of the AR base ``prepare`` fitted
    (the lags the network's base has), 1 without one."""
    return int(meta["ar"]["order"]) if meta.get("ar") else 1


def history_statistics(part, meta):
    """Sums of one sequence's history that add across sequences (:func:`add_history`): the
    AR fit's (``ar.*``) and the season's (``season.*``, :func:`season_statistics`) of its
    target columns, and for a driven series (``prepare --inputs``) the ARX fit's
    (``arx.*``). {} for a history of one step."""
    history = part.sequence[:part.fit_end]
    if len(history) < 2:
        return {}
    targets = target_count(meta)
    values = history[:, :targets]
    stats = {**{f"ar.{k}": v for k, v in ar_statistics(values).items()},
             **{f"season.{k}": v
                for k, v in season_statistics(values, meta.get("calendar")).items()}}
    if targets < history.shape[1]:
        stats.update({f"arx.{k}": v
                      for k, v in arx_statistics(history, arx_order(meta), targets).items()})
    return stats


def group(stats, prefix):
    """The statistics of ``stats`` named ``prefix``*, without the prefix."""
    return {k[len(prefix):]: v for k, v in stats.items() if k.startswith(prefix)}


def add_history(a, b):
    """The history statistics of the sequences of ``a`` and of ``b`` together."""
    ar = add_statistics(group(a, "ar."), group(b, "ar."))
    arx = add_statistics(group(a, "arx."), group(b, "arx."))
    season = baselines.add_season_statistics(group(a, "season."), group(b, "season."))
    return {**{f"ar.{k}": v for k, v in ar.items()},
            **{f"arx.{k}": v for k, v in arx.items()},
            **{f"season.{k}": v for k, v in season.items()}}


def fit_season(stats, season, calendar):
    """(S or None, where it came from) of the seasonal naive forecast: ``season`` if given (0:
    none), else from the summed :func:`season_statistics` ``stats``: the calendar season that
    forecast the histories best, or without timestamps the autocorrelation's."""
    if season is not None:
        return season or None, "--season"
    if calendar is not None:
        return baselines.season_of_errors(stats), f"calendar ({calendar['step']})"
    return baselines.season_of_autocorrelation(stats), "autocorrelation (no timestamps)"


def fit_history(stats, season, meta, ar=None):
    """{"season", "season_from", "ar", "arx"} of the summed history statistics: the season
    (:func:`fit_season`), the pooled AR(p) (``ar`` if given: prepare's of the training
    parts; else fitted here, None without history) and for a driven series the pooled ARX
    (else None)."""
    chosen, where = fit_season(group(stats, "season."), season, meta.get("calendar"))
    ar_stats = group(stats, "ar.")
    if ar is None and ar_stats:
        ar = fit_ar_statistics(ar_stats)
    return {"season": chosen, "season_from": where, "ar": ar,
            "arx": fit_arx(group(stats, "arx."), arx_order(meta))}


# -- pass 2: the scores ----------------------------------------------------------------------

def model_forecasts(state, sequence, targets, starts, horizon):
    """The model's ``horizon``-step forecasts (n, O) of x[targets], each from the steps of
    ``sequence`` from its record's first row (``starts``, (n,)) up to its origin t - H, its
    own forecasts fed back for the H - 1 steps after (with the sequence's own inputs, known
    ahead, for a driven series): for H = 1 exactly the history the
    model's one-step score of the record conditions on (:class:`jobs.mr.loss_sums.LossSums`
    runs the record from a zero state). An origin before its record's first row conditions
    on the steps from the sequence's start."""
    origins = targets - horizon
    starts = np.where(starts <= origins, starts, 0)
    outputs = state.model.output_size
    predicted = np.empty((len(targets), outputs))
    lengths = origins + 1 - starts
    for length in np.unique(lengths):                  # one batch per history length
        rows = np.flatnonzero(lengths == length)
        index = origins[rows, None] + np.arange(1 - length, 1)[None, :]
        ahead = origins[rows, None] + np.arange(1, horizon)[None, :]   # the rows fed back
        predicted[rows] = forecast_batch(state.theta, state.model, sequence[index], horizon,
                                         sequence[ahead, outputs:])[:, -1]
    return predicted


def ets_fits(sequence, fit_end, season, norm):
    """ETS fitted on each column's first ``fit_end`` steps of ``sequence`` (L, F) in original
    units (:mod:`rnn_core.smoothing`), one per column; None if a column's history is too short."""
    original = sequence * np.asarray(norm["std"]) + np.asarray(norm["mean"])
    fits = [smoothing.fit_ets(original[:fit_end, f], season) for f in range(sequence.shape[1])]
    return None if any(fit is None for fit in fits) else fits


def ets_forecasts(sequence, fit_end, targets, horizon, season, norm, fits=None):
    """The ``horizon``-step ETS forecasts (n, F) of x[targets], normalized, each column
    fitted on its first ``fit_end`` steps in original units (:func:`ets_fits`, or ``fits``
    if given); (None, None) if a column's history is too short. Also the forms, one per
    column."""
    mean, std = np.asarray(norm["mean"]), np.asarray(norm["std"])
    original = sequence * std + mean
    fits = fits or ets_fits(sequence, fit_end, season, norm)
    if fits is None:
        return None, None
    out = np.empty((len(targets), sequence.shape[1]))
    for f, fitted in enumerate(fits):
        predicted = smoothing.ahead(fitted, original[:, f], targets - horizon, horizon)
        out[:, f] = (predicted - mean[f]) / std[f]
    return out, [fitted.name() for fitted in fits]


def classical_forecasts(sequence, outputs, fit_end, targets, horizon, fitted, norm, fits=None,
                        with_ets=True):
    """({name: (n, O) ``horizon``-step forecasts of the targets x[targets, :outputs], or
    None}, the ETS forms) of persistence, seasonal naive, AR, for a series driven by inputs
    ARX (from the whole rows of ``sequence`` (L, F)), ETS (fitted on the first ``fit_end``
    steps; ``fits``: :func:`ets_fits`' if at hand; none without ``with_ets``) and the mean
    of AR and ETS. fitted: :func:`fit_history`'s; norm: the targets' normalization."""
    season, values = fitted["season"], sequence[:, :outputs]
    predicted = baselines.forecasts(values, targets, horizon, season, fitted["ar"])
    if fitted.get("arx") is not None:
        predicted["arx"] = arx_forecasts(sequence, targets, horizon, fitted["arx"], outputs)
    predicted["ets"], forms = (ets_forecasts(values, fit_end, targets, horizon, season, norm,
                                             fits) if with_ets else (None, None))
    if predicted["ets"] is not None and "ar" in predicted:  # Comb of the M competitions
        predicted["ar_ets"] = (predicted["ar"] + predicted["ets"]) / 2
    return predicted, forms


def mase_scale(history, season):
    """The in-sample MAE (F,) of the seasonal naive forecast (lag ``season``, or 1) on a
    sequence's history (L, F), the denominator of MASE (Hyndman & Koehler 2006); NaN where
    the history is too short or constant."""
    lag = season if season and len(history) > season else 1
    if len(history) <= lag:
        return np.full(history.shape[1], np.nan)
    scale = np.mean(np.abs(history[lag:] - history[:-lag]), axis=0)
    return np.where(scale > 0, scale, np.nan)


def score_part(state, meta, part, horizon, fitted, network=True, calibration=None):
    """The row of one sequence, or None if no target has an origin: {"seq", "sums": {name:
    error sums (normalized and, ``*_original``, in the series' own units)}, "scale": its
    MASE scale (F,), "ets_forms": one per column, or None where ETS could not be fitted}.

    fitted: :func:`fit_history`'s. network: score the model too (else only the classical
    forecasters: the run uses one of them, :func:`jobs.scoring.fallback_forecaster`).
    calibration: :func:`calibration_errors`' of the sequence's validation part, to count
    how many of these targets fall inside each forecaster's intervals (:func:`add_coverage`).
    """
    from jobs.mr.loss_sums import LossSums

    keep = part.targets >= horizon                    # every forecaster needs an origin
    targets, starts = part.targets[keep], part.starts[keep]
    if not len(targets):
        return None
    outputs, season = target_count(meta), fitted["season"]
    values = part.sequence[:, :outputs]                # the targets; the inputs drive them
    norm = target_normalization(sequence_normalization(meta, part.seq), outputs)
    actual = values[targets]
    predicted, forms = classical_forecasts(part.sequence, outputs, part.fit_end, targets, horizon,
                                           fitted, norm)
    if network and horizon > 1:
        predicted["model"] = model_forecasts(state, part.sequence, targets, starts, horizon)
    sums = {name: baselines.error_sums(forecasts, actual)
            for name, forecasts in predicted.items() if forecasts is not None}
    if network and horizon == 1:
        with np.errstate(over="ignore", invalid="ignore"):
            scored = LossSums(state.theta, state.model, meta).add_chunks(part.records)
        sums["model"] = {"sse": scored["sse"], "sae": scored["sae"],
                         "count": float(scored["count"])}
    if calibration:
        add_coverage(sums, calibration, predicted, actual,
                     lambda: model_forecasts(state, part.sequence, targets, starts, horizon),
                     horizon)
    std = np.asarray(norm["std"])
    for error in sums.values():
        error.update(sse_original=np.asarray(error["sse"]) * std ** 2,
                     sae_original=np.asarray(error["sae"]) * std)
    return {"seq": part.seq, "sums": sums, "ets_forms": forms,
            "scale": mase_scale(values[:part.fit_end], season)}


# -- intervals: calibrated on the validation part, covered on the scored part -----------------

def calibration_errors(state, meta, part, horizons, fitted, names):
    """{name: [errors (n_h, O) per h of ``horizons``]}: actual − forecast of the targets,
    normalized, of the forecasters ``names`` at the targets of ``part`` (a sequence's
    validation part: the classical forecasters fitted on the steps before it, ``fitted`` as
    for it), each h steps ahead with the conditioning of :func:`score_part` (the model:
    :func:`model_forecasts`). A forecaster the sequence cannot have (ETS on a short
    history) is left out."""
    outputs = target_count(meta)
    values = part.sequence[:, :outputs]
    norm = target_normalization(sequence_normalization(meta, part.seq), outputs)
    classical = [name for name in names if name != "model"]
    fits = (ets_fits(values, part.fit_end, fitted["season"], norm)
            if {"ets", "ar_ets"} & set(classical) else None)
    out = {name: [] for name in names}
    for h in horizons:
        keep = part.targets >= h
        targets, starts = part.targets[keep], part.starts[keep]
        actual, predicted = values[targets], {}
        if classical:
            predicted, _ = classical_forecasts(part.sequence, outputs, part.fit_end, targets, h,
                                               fitted, norm, fits, with_ets=fits is not None)
        if "model" in names:
            predicted["model"] = model_forecasts(state, part.sequence, targets, starts, h)
        for name in list(out):
            if predicted.get(name) is None:
                del out[name]
            else:
                out[name].append(actual - predicted[name])
    return out


CANDIDATES = ("persistence", "seasonal_naive", "ar", "arx", "ets", "ar_ets")  # classical


def row_calibration(state, meta, part, horizon, fitted, network=True):
    """:func:`calibration_errors` at ``horizon`` of a sequence's validation part ``part``
    (None: no calibration) for the forecasters :func:`score_part` scores as the model: the
    model if ``network``, else the classical ones (the run uses one of them)."""
    if part is None:
        return None
    names = ("model",) if network else CANDIDATES
    return calibration_errors(state, meta, part, [horizon], fitted, names)


def add_coverage(sums, calibration, predicted, actual, model_forecast, horizon):
    """Add to each forecaster's error sums in ``sums`` the counts of
    :func:`rnn_core.intervals.coverage_counts` ("interval_count", "covered_80", ...): how
    many targets ``actual`` (n, F), consecutive steps in time order, lie in its intervals
    calibrated on ``calibration`` (:func:`calibration_errors`' for one horizon) and adapted
    to the misses known ``horizon`` steps before each. predicted: the forecasts (n, F) by
    name; model_forecast(): the model's, where ``predicted`` does not hold them."""
    for name, (errors,) in calibration.items():
        if name not in sums:
            continue
        values = predicted.get(name)
        values = model_forecast() if values is None and name == "model" else values
        sums[name].update(intervals.coverage_counts(errors, actual - values, horizon))


def coverage_shares(sums):
    """[share per level of :data:`rnn_core.intervals.LEVELS`] of error sums with
    :func:`add_coverage`'s counts: the targets inside each interval over those that had one
    (mean over columns); NaN without."""
    count = float(sums.get("interval_count", 0))
    return [float(np.mean(sums[f"covered_{intervals.level_name(level)}"]) / count) if count
            else np.nan for level in intervals.LEVELS]


FORECASTERS = ("model", "persistence", "seasonal_naive", "ar", "arx", "ets", "ar_ets")  # a row's
WITH_ETS = ("ets", "ar_ets")   # left out of every row unless ETS could be fitted on every one


def mase(sums, scale):
    """MASE of one sequence's error sums: its MAE over the scale, averaged over columns
    (normalized units on both sides, so the normalization cancels); NaN if unscaled."""
    return float(np.mean(np.asarray(sums["sae"]) / float(sums["count"]) / scale))


class RowTotals:
    """The rows of :func:`score_part` added up as they come, so that the driver keeps a few
    numbers per series (its MASE and squared error per forecaster), never the rows.

    ETS (and the mean of AR and ETS) is left out of the result unless every sequence's
    history was long enough for it, so that all forecasters score the same steps.
    base_alone: {seq: the forecaster the run uses, None: that of the others}
    (:func:`jobs.scoring.fallback_forecaster`), whose sums become the model's in each row:
    where it is ETS or the mean and ETS is left out, its base (AR, else persistence).
    """

    def __init__(self, base_alone=None):
        self.base_alone = base_alone
        self.totals, self.model_without_ets = {}, {}
        # per series, flat (8 bytes a number): its number, and its MASE and squared error of
        # every forecaster of FORECASTERS (NaN where it has none)
        self.seqs, self.mase, self.sse = array("q"), array("d"), array("d")
        # and the share of its targets inside the model's intervals, then its base's, per level
        self.coverage = array("d")
        self.chosen, self.forms, self.with_ets = [], Counter(), True

    def add(self, row):
        sums, seq = row["sums"], row["seq"]
        if row["ets_forms"] is None:
            self.with_ets = False
        self.forms.update(row["ets_forms"] or [])
        if self.base_alone:
            chosen = self.base_alone.get(seq, self.base_alone[None])
            base = "ar" if "ar" in sums else "persistence"
            chosen = chosen if chosen in sums else base   # ETS not fitted on a short history
            self.chosen.append(chosen)
            add_sums_to(self.model_without_ets, sums[base if chosen in WITH_ETS else chosen])
            sums = {**sums, "model": sums[chosen]}
        for name, values in sums.items():
            add_sums_to(self.totals.setdefault(name, {}), values)
        self.seqs.append(seq)
        self.mase.extend(mase(sums[n], row["scale"]) if n in sums else np.nan
                         for n in FORECASTERS)
        self.sse.extend(float(np.sum(sums[n]["sse"])) if n in sums else np.nan
                        for n in FORECASTERS)
        base = "ar" if "ar" in sums else "persistence"
        self.coverage.extend(share for name in ("model", base)
                             for share in coverage_shares(sums.get(name, {})))

    def result(self):
        """({name: error sums over the rows}, the ETS forms by frequency, the per-series table:
        {"seq": (n,), "names": forecasters, "mase": (n, k), "sse": (n, k), and if intervals
        were scored "coverage": (n, levels) of the model, NaN for a series without})."""
        totals = dict(self.totals)
        mase_table = np.frombuffer(self.mase).reshape(-1, len(FORECASTERS)).copy()
        coverages = np.frombuffer(self.coverage).reshape(-1, 2, len(intervals.LEVELS))
        coverage_table = coverages[:, 0].copy()
        names, forms = [n for n in FORECASTERS if n in totals], self.forms
        if not self.with_ets:
            names, forms = [n for n in names if n not in WITH_ETS], Counter()
            for name in WITH_ETS:
                totals.pop(name, None)
            if self.base_alone:
                totals["model"] = self.model_without_ets
                base = FORECASTERS.index("ar" if "ar" in totals else "persistence")
                refit = [i for i, name in enumerate(self.chosen) if name in WITH_ETS]
                mase_table[refit, 0] = mase_table[refit, base]
                coverage_table[refit] = coverages[refit, 1]
        keep, order = [FORECASTERS.index(n) for n in names], np.argsort(self.seqs)
        table = {"seq": np.frombuffer(self.seqs, dtype=np.int64)[order], "names": names,
                 "mase": mase_table[order][:, keep],
                 "sse": np.frombuffer(self.sse).reshape(-1, len(FORECASTERS))[order][:, keep]}
        if np.any(np.isfinite(coverage_table)):
            table["coverage"] = coverage_table[order]
        return totals, [form for form, _ in forms.most_common()], table


def add_sums_to(total, sums):
    """Add error sums {"sse", "sae", "count", ...} to ``total`` in place."""
    for key, value in sums.items():
        total[key] = total.get(key, 0) + value


# -- rows as JSON, for the job's output ------------------------------------------------------

def to_json(value):
    """``value`` with its numpy arrays and numbers as lists and floats (NaN kept)."""
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def row_from_json(row):
    """A row of :func:`score_part` read back from :func:`to_json`."""
    def arrays(sums):
        return {k: (float(v) if k == "count" else np.asarray(v, dtype=np.float64))
                for k, v in sums.items()}

    return {**row, "seq": int(row["seq"]), "scale": np.asarray(row["scale"], dtype=np.float64),
            "sums": {name: arrays(sums) for name, sums in row["sums"].items()}}


def history_from_json(stats):
    """History statistics read back from :func:`to_json`."""
    return {k: np.asarray(v, dtype=np.float64) if isinstance(v, list) else v
            for k, v in stats.items()}


def plan_bytes(split, horizon, fitted=None, network=True, splits=None, calibration=None,
               histories=None):
    """The ``--plan`` file of :mod:`jobs.mr.series_score`: which pass (history without
    ``fitted``, else score), the split, horizon, the fitted season, AR and ARX, whether the
    model is scored, which shard URIs hold which split ({split: [uri]}),
    ``calibration``: the fitted baselines of the validation part, to calibrate intervals on
    (None: none), and for the history pass the splits whose histories it sums (default
    ``[split]``)."""
    plan = {"pass": "score" if fitted else "history", "split": split, "horizon": horizon,
            "network": network, "splits": splits or {},
            "histories": list(histories or [split])}
    if fitted:
        plan.update(fitted_to_plan(fitted))
    if calibration:
        plan["calibration"] = fitted_to_plan(calibration)
    return json.dumps(plan).encode()


def fitted_to_plan(fitted):
    """A :func:`fit_history` dict as JSON (:func:`fitted_of_plan` reads it back)."""
    ar, arx = fitted["ar"], fitted.get("arx")
    return {"season": fitted["season"], "season_from": fitted["season_from"],
            "ar": {"order": ar.order, "coef": ar.coef.tolist()} if ar else None,
            "arx": {"order": arx.order, "coef": arx.coef.tolist()} if arx else None}


def fitted_of_plan(plan):
    """The :func:`fit_history` dict a ``--plan`` carries."""
    ar, arx = plan.get("ar"), plan.get("arx")
    return {"season": plan.get("season"), "season_from": plan.get("season_from"),
            "ar": AR(ar["order"], np.asarray(ar["coef"], dtype=np.float64)) if ar else None,
            "arx": ARX(arx["order"], np.asarray(arx["coef"], dtype=np.float64)) if arx else None}
