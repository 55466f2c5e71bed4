"""``hadoop-rnn evaluate``: score a trained run on its validation data, next to a baseline.

* text: loss per character in nats, perplexity and bits per character, next to the training
  unigram distribution evaluated on the same characters.
* series: MSE and MAE (original units, averaged over columns, and normalized), next to the
  persistence forecast x[t+1] = x[t] (``baseline_mse``).

By default the split is scored in this process; ``--runner inline|local|hadoop`` scores it
with the MapReduce job :mod:`jobs.mr_evaluate` instead (for validation sets too large for one
machine). ``--json`` prints one JSON object with every metric.
"""
import json
import os
import tempfile

from jobs.launch import RUNNERS, RunnerOptions, run_job
from jobs.scores import Scorer, report
from jobs.trained import load_run
from rnn_core.serialization import save_arrays

IN_PROCESS = "process"


def add_arguments(parser):
    parser.add_argument("--run", required=True, help="run directory (local or hdfs://)")
    parser.add_argument("--data", help="dataset directory (default: the one the run was trained on)")
    parser.add_argument("--split", choices=["valid", "train"], default="valid")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--runner", choices=(IN_PROCESS,) + RUNNERS, default=IN_PROCESS,
                        help="process (default): score here; otherwise run the MapReduce job")
    parser.add_argument("--mrjob-conf", help="mrjob.conf to use (default: conf/mrjob.conf)")
    parser.add_argument("--python-bin", help="Python interpreter for tasks (default: this one)")


def score_in_process(state, dataset, split):
    bad = {}
    sums = Scorer(state.theta, state.model, dataset.meta).add_chunks(
        dataset.iter_chunks(split, state.model, bad))
    return sums, sum(bad.values())


def score_with_job(state, dataset, split, options):
    from jobs.mr_evaluate import MREvaluate
    from jobs.counters import COUNTERS

    with tempfile.TemporaryDirectory(prefix="hadoop-rnn-eval-") as tmp:
        state_file, meta_file = os.path.join(tmp, "state.npz"), os.path.join(tmp, "meta.json")
        save_arrays(state_file, state.to_arrays())
        with open(meta_file, "w", encoding="utf-8") as f:
            json.dump(dataset.meta, f)
        result = run_job(MREvaluate, ["--state", state_file, "--meta", meta_file],
                         dataset.shard_uris(split), options)
    sums = dict(result.output).get("sums")
    if sums is None:
        raise RuntimeError("the evaluation job gave no output: is the split empty?")
    return sums, int(result.counters.get(COUNTERS, {}).get("bad records", 0))


def evaluate(args):
    """The metrics dict of ``args.run`` on ``args.split``."""
    state, dataset = load_run(args.run, args.data)
    if args.runner == IN_PROCESS:
        sums, bad = score_in_process(state, dataset, args.split)
    else:
        options = RunnerOptions(runner=args.runner, conf=args.mrjob_conf,
                                python_bin=args.python_bin)
        sums, bad = score_with_job(state, dataset, args.split, options)
    if float(sums["count"]) == 0:
        raise ValueError(f"the {args.split} split of {dataset.store.uri()} has nothing to score"
                         + (" (prepared with --valid 0?)" if args.split == "valid" else ""))
    metrics = report(sums, dataset.meta)
    metrics.update(split=args.split, epoch=state.epoch, bad_records=bad,
                   data=dataset.store.uri(), run=args.run)
    return metrics


def format_metrics(m):
    """The human-readable table of a metrics dict."""
    head = (f"{m['run']} (epoch {m['epoch']}) on the {m['split']} split of {m['data']}: "
            f"{m['steps']:,} predictions" + (f", {m['bad_records']} bad records skipped"
                                             if m["bad_records"] else ""))
    if m["kind"] == "text":
        rows = [("model", m["loss"], m["bits_per_char"], m["perplexity"]),
                ("unigram", m["baseline_loss"], m["baseline_bits_per_char"],
                 m["baseline_perplexity"])]
        lines = [f"  {'':8} {'nats/char':>10} {'bits/char':>10} {'perplexity':>11}"]
        lines += [f"  {name:8} {a:10.4f} {b:10.4f} {c:11.2f}" for name, a, b, c in rows]
    else:
        lines = [f"  {'':12} {'MSE':>12} {'MAE':>12} {'MSE (norm.)':>12}",
                 f"  {'model':12} {m['mse']:12.5g} {m['mae']:12.5g} {m['mse_normalized']:12.5g}",
                 f"  {'persistence':12} {m['baseline_mse']:12.5g} {m['baseline_mae']:12.5g} "
                 f"{m['baseline_mse_normalized']:12.5g}"]
        if len(m["columns"]) > 1:
            lines += [f"  {name}: MSE {c['mse']:.5g} (persistence {c['baseline_mse']:.5g})"
                      for name, c in m["columns"].items()]
    return "\n".join([head] + lines)


def main(args):
    metrics = evaluate(args)
    print(json.dumps(metrics, sort_keys=True) if args.json else format_metrics(metrics))
    return 0
