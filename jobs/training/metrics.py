"""An epoch's metrics (one line of metrics.jsonl, docs/operations.md) and the progress lines
the driver prints.

A sync round's job leaves a summary (:func:`round_summary`, kept in the state's ``rounds``
so a resumed epoch loses none); the epoch's line adds them up (:func:`epoch_totals`,
:func:`epoch_metrics`). Its validation loss arrives later (:func:`with_validation`).
"""
import math
from dataclasses import replace

import numpy as np

from jobs.mr.counters import (BAD_BY_REASON, BAD_BY_SHARD, COUNTERS, TASK_PEAK_RSS,
                              TASKS_BY_NODE, failed_map_attempts, ran_as_uber_job,
                              reduce_input_bytes, task_peaks)
from jobs.training.spec import TrainingError


def bad_record_report(counters, records, max_fraction):
    """A one-line summary of skipped records, or raise TrainingError above the threshold."""
    bad = counters.get(COUNTERS, {}).get("bad records", 0)
    if not bad:
        return ""
    reasons = ", ".join(f"{n} {r}" for r, n in sorted(counters.get(BAD_BY_REASON, {}).items()))
    shards = sorted(counters.get(BAD_BY_SHARD, {}).items(), key=lambda kv: -kv[1])
    where = ", ".join(f"{s} ({n})" for s, n in shards[:5])
    fraction = bad / max(bad + records, 1)
    message = f"skipped {bad} bad records ({fraction:.2%}: {reasons}) in {where}"
    if fraction > max_fraction:
        raise TrainingError(message + f"; above --max-bad-records {max_fraction:g}: "
                            "fix or re-prepare those shards")
    return message


def check_no_record_lost(dataset_records, trained, round_counters):
    """Raise TrainingError if an epoch read fewer training records (``trained``, and the bad
    ones of a round's ``round_counters``: each round reads the whole split) than the
    dataset's meta.json counts: a shard lost lines after prepare."""
    bad = round_counters.get(COUNTERS, {}).get("bad records", 0)
    lost = dataset_records - trained - bad
    if lost > 0:
        raise TrainingError(f"the epoch read {trained + bad:,} training records, the dataset "
                            f"holds {dataset_records:,}: {lost:,} are missing from its shards "
                            "(cut short or edited since prepare); the epoch was not committed: "
                            "prepare the dataset again")


NON_FINITE_ADVICE = ("Lower --lr or clip the gradients (--clip) in a new run: this run's "
                     "configuration is fixed, so re-running it fails the same way.")


def with_validation(state, sums, failed_epoch):
    """``state`` with its newest epoch's validation loss from the scoring ``sums`` ({loss_sum,
    count, ...}; None or count 0: no loss), and its base's (``valid_base_loss``) and the t
    statistic of the model's step-by-step gain over it (``valid_gain_t``) if the sums hold
    them (a series model with a base). Raises TrainingError if the loss is not finite:
    ``failed_epoch`` is the epoch that is then not committed."""
    count = float(sums["count"]) if sums is not None else 0.0
    loss = float(sums["loss_sum"]) / count if count else None
    if loss is not None and not np.isfinite(loss):
        what = (f"epoch {failed_epoch} was not committed" if failed_epoch > state.epoch
                else "the loss was not committed")
        raise TrainingError(f"θ of epoch {state.epoch} gives a non-finite validation loss; "
                            f"{what} and the checkpoint stays at epoch {state.epoch}. "
                            f"{NON_FINITE_ADVICE}")
    last = {k: v for k, v in state.history[-1].items() if k != "valid_pending"}
    if loss is not None and "base_sum" in sums:
        last["valid_base_loss"] = float(sums["base_sum"]) / count
        last["valid_gain_t"] = gain_t(float(sums["gain_sum"]), float(sums["gain_squares"]), count)
    return replace(state, history=state.history[:-1] + [{**last, "valid_loss": loss}])


def gain_t(total, squares, count):
    """The t statistic of a mean gain from its sum and sum of squares over ``count`` steps:
    mean / (std / sqrt(count)); ±inf for a gain without spread, 0 for none."""
    mean = total / count
    variance = max(squares / count - mean * mean, 0.0)
    if variance == 0.0:
        return 0.0 if mean == 0 else math.copysign(math.inf, mean)
    return mean / math.sqrt(variance / count)


def epoch_metrics(epoch, out, all_counters, dataset, job_seconds, seconds, due):
    """The metrics line of an epoch (see docs/operations.md, metrics.jsonl).

    out: {"loss_sum", "count", "records"} of the epoch; all_counters: its jobs' counters;
    ``due``: its θ's validation loss is to come (``valid_pending``).
    """
    counters = all_counters.get(COUNTERS, {})
    count = float(out["count"])
    shuffle_bytes, reducer_bytes_max = reduce_input_bytes(all_counters)
    return {"epoch": epoch, "train_loss": float(out["loss_sum"]) / count,
            "valid_loss": None, **({"valid_pending": True} if due else {}),
            "tokens": int(count), "records": int(out["records"]),
            "tokens_per_s": count / job_seconds, "job_seconds": job_seconds,
            # summed over map tasks: BPTT work, without Hadoop's scheduling and I/O
            "task_compute_seconds": counters.get("compute milliseconds", 0) / 1000,
            "seconds": seconds, "data_version": dataset.fingerprint,
            "bad_records": int(counters.get("bad records", 0)),
            "bad_records_by_reason": dict(all_counters.get(BAD_BY_REASON, {})),
            "failed_map_attempts": failed_map_attempts(all_counters),
            "uber": ran_as_uber_job(all_counters),  # tasks ran inside the Hadoop AM
            # which nodes ran the map tasks: {NodeManager (or host): tasks}
            "nodes": len(all_counters.get(TASKS_BY_NODE, {})),
            "tasks_by_node": dict(sorted(all_counters.get(TASKS_BY_NODE, {}).items())),
            # record bytes into the reducers (all reduce tasks / the largest one)
            "map_tasks": int(counters.get("map tasks", 0)),
            "shuffle_bytes": int(shuffle_bytes), "reducer_bytes_max": int(reducer_bytes_max),
            **task_peaks(all_counters)}


def round_summary(out, counters, job_seconds, seconds):
    """What a sync round adds to its epoch's metrics, as JSON (kept in the state's rounds)."""
    return {"loss_sum": float(out["loss_sum"]), "count": float(out["count"]),
            "records": int(out["records"]), "counters": counters,
            "job_seconds": job_seconds, "seconds": seconds}


def epoch_totals(rounds):
    """The epoch's sums over its rounds' summaries: (out, counters, job_seconds, seconds).

    Counters add up, except the per-task peaks (TASK_PEAK_RSS) and the map tasks of a job,
    which take the maximum over the rounds.
    """
    out = {name: sum(r[name] for r in rounds) for name in ("loss_sum", "count", "records")}
    counters = {}
    for r in rounds:
        for group, values in r["counters"].items():
            merged = counters.setdefault(group, {})
            for name, value in values.items():
                per_job = group == TASK_PEAK_RSS or (group, name) == (COUNTERS, "map tasks")
                merged[name] = (max(merged.get(name, value), value) if per_job
                                else merged.get(name, 0) + value)
    return (out, counters, sum(r["job_seconds"] for r in rounds),
            sum(r["seconds"] for r in rounds))


def loss_text(loss):
    """A loss as the progress lines show it: 4 decimals, or 4 significant digits below 0.1,
    where 4 decimals would show 0.0009 for every small loss of a series."""
    return f"{loss:.4f}" if abs(loss) >= 0.1 else f"{loss:#.4g}"


def valid_text(m):
    """An epoch's validation loss as the progress lines show it."""
    if m.get("valid_pending"):
        return "(next job)"
    return "n/a" if m["valid_loss"] is None else loss_text(m["valid_loss"])


def progress_line(m, total, previous=None):
    """The log line of a committed epoch's metrics ``m``; ``previous``: the metrics of the
    epoch before, whose validation loss this epoch's job scored (shown at the end)."""
    before = (f"  (epoch {previous['epoch']} valid {valid_text(previous)})"
              if previous is not None and previous["valid_loss"] is not None else "")
    return (f"epoch {m['epoch']}/{total}  train {loss_text(m['train_loss'])}  valid {valid_text(m)}  "
            f"{m['tokens_per_s']:,.0f} tok/s  {m['seconds']:.1f}s" + before)

