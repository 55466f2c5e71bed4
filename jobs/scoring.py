"""Scoring a trained run on a split of its dataset, next to a baseline (``hadoop-rnn evaluate``).

* text: loss per character in nats, perplexity and bits per character, next to the training
  unigram distribution evaluated on the same characters.
* series: MSE and MAE (original units, averaged over columns, and normalized), next to the
  persistence forecast x[t+1] = x[t] (``baseline_mse``).

The split is scored in this process, or by the MapReduce job :mod:`jobs.mr.score` on a
runner (for validation sets too large for one machine); both add the same
:class:`jobs.mr.scorer.Scorer` sums, and :func:`report` turns them into metrics.
"""
import math

import numpy as np

from jobs.launch import run_job_with_state
from jobs.mr.counters import COUNTERS
from jobs.run.trained import load_run


class ScoringError(ValueError):
    """The run cannot be scored on the split, or its scores are not finite."""


def exp(x):
    """e**x, inf instead of OverflowError (a perplexity of a huge loss)."""
    return math.exp(x) if x < 709 else math.inf


def score_in_process(state, dataset, split):
    """(sums, bad records) of the state's model on ``split``, computed here."""
    from jobs.mr.scorer import Scorer

    bad = {}
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite sums are checked after
        sums = Scorer(state.theta, state.model, dataset.meta).add_chunks(
            dataset.iter_chunks(split, state.model, bad))
    return sums, sum(bad.values())


def score_with_job(state, dataset, split, runner):
    """(sums, bad records) of the state's model on ``split``, by the MapReduce job."""
    from jobs.mr.score import MRScore

    result = run_job_with_state(MRScore, state, [], dataset.shard_uris(split), runner,
                                meta=dataset.meta)
    sums = dict(result.output).get("sums")
    if sums is None:
        raise RuntimeError("the evaluation job gave no output: is the split empty?")
    return sums, int(result.counters.get(COUNTERS, {}).get("bad records", 0))


def evaluate(run, data=None, split="valid", runner=None):
    """The metrics dict of the run in ``run`` on ``split`` ("valid" or "train").

    data: the dataset directory (default: the one the run was trained on). runner: a
    RunnerOptions to score with the MapReduce job, or None to score in this process.
    """
    state, dataset = load_run(run, data)
    if runner is None:
        sums, bad = score_in_process(state, dataset, split)
    else:
        sums, bad = score_with_job(state, dataset, split, runner)
    if float(sums["count"]) == 0:
        raise ScoringError(f"the {split} split of {dataset.store.uri()} has nothing to score"
                         + (" (prepared with --valid 0?)" if split == "valid" else ""))
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below
        metrics = report(sums, dataset.meta)
    if not math.isfinite(metrics["loss"]):
        raise ScoringError(f"the model in {run} has a non-finite loss ({metrics['loss']}) on the "
                           f"{split} split of {dataset.store.uri()}: its θ diverged or the data "
                           "holds values it cannot score; no metrics to report")
    metrics.update(split=split, epoch=state.epoch, bad_records=bad,
                   data=dataset.store.uri(), run=run)
    return metrics


def report(sums, meta):
    """The metrics of summed scores as a JSON-able dict (see hadoop-rnn evaluate --help)."""
    count = float(sums["count"])
    if count == 0:
        raise ValueError("nothing was scored: the split holds no usable records")
    out = {"kind": meta["kind"], "steps": int(count), "records": int(sums["records"])}
    if meta["kind"] == "text":
        loss, base = float(sums["loss_sum"]) / count, float(sums["baseline_sum"]) / count
        out.update(loss=loss, perplexity=exp(loss), bits_per_char=loss / math.log(2),
                   baseline="unigram", baseline_loss=base, baseline_perplexity=exp(base),
                   baseline_bits_per_char=base / math.log(2))
        return out
    std = np.asarray(meta["normalization"]["std"])
    per = {name: np.asarray(sums[name]) / count for name in ("sse", "sae", "base_sse", "base_sae")}
    out.update(
        loss=float(per["sse"].sum()),  # the training loss: squared error summed over columns
        mse=float(np.mean(per["sse"] * std ** 2)), mae=float(np.mean(per["sae"] * std)),
        mse_normalized=float(np.mean(per["sse"])), mae_normalized=float(np.mean(per["sae"])),
        baseline="persistence",
        baseline_mse=float(np.mean(per["base_sse"] * std ** 2)),
        baseline_mae=float(np.mean(per["base_sae"] * std)),
        baseline_mse_normalized=float(np.mean(per["base_sse"])),
        columns={name: {"mse": float(per["sse"][f] * std[f] ** 2),
                        "mae": float(per["sae"][f] * std[f]),
                        "baseline_mse": float(per["base_sse"][f] * std[f] ** 2),
                        "baseline_mae": float(per["base_sae"][f] * std[f])}
                 for f, name in enumerate(meta["columns"])})
    return out
