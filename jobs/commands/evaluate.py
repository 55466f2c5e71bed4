"""``hadoop-rnn evaluate``: the flags of :func:`jobs.scoring.evaluate` and its table.

By default (``--runner auto``) the model's one-step predictions are scored by the MapReduce
job on the hadoop runner when the data is on HDFS, and in this process for local data;
``--runner process|inline|local|hadoop`` chooses. ``--json`` prints one JSON object with
every metric.
"""
import math

from jobs.cli import (EXIT_OK, add_checkpoint_flag, add_data_flag, add_run_flag,
                      add_runner_flags, non_negative_int, positive_int, runner_options,
                      to_json)
from jobs.hadoop.launch import RUNNERS

IN_PROCESS = "process"
AUTO = "auto"  # as jobs.scoring.AUTO (not imported here: --help loads no mrjob)
SPLITS = ("test", "valid", "train")


def add_arguments(parser):
    add_run_flag(parser)
    add_data_flag(parser)
    parser.add_argument("--split", choices=SPLITS,
                        help="the split to score (default: test if the dataset holds a test "
                        "part out, else valid)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_checkpoint_flag(parser)
    series = parser.add_argument_group("series")
    series.add_argument("--horizon", type=positive_int, default=1, metavar="H",
                        help="score H-step forecasts, each prediction fed back (default 1)")
    series.add_argument("--season", type=non_negative_int, metavar="S",
                        help="period of the seasonal naive baseline (default: the time column's "
                        "calendar season that fits the history best, or without timestamps the "
                        "autocorrelation's; 0: none)")
    series.add_argument("--network", action="store_true",
                        help="score the network even where it did not clearly beat its base "
                        "(AR, ARX or last value) and every classical forecaster on the "
                        "validation part (default: the classical forecaster that forecast it "
                        "best then)")
    series.add_argument("--against", metavar="RUN",
                        help="also score RUN, a model of the same series prepared with other "
                        "inputs (e.g. without prepare --inputs), on the same steps, and report "
                        "the model's MSE over its: the value of the inputs (default: none)")
    add_scoring_runner_flags(parser, "score")


def add_scoring_runner_flags(parser, what):
    """--runner auto|process|inline|local|hadoop and the runner's flags, for a command that
    does ``what`` series by series (:func:`scoring_runners` reads them)."""
    add_runner_flags(parser, runners=(AUTO, IN_PROCESS) + RUNNERS, default=AUTO,
                     help="auto (default): the MapReduce job on the hadoop runner for data on "
                     f"HDFS, this process for local data; process: {what} here; otherwise the "
                     "MapReduce job on that runner")


def scoring_runners(args):
    """(runner, hadoop) of :func:`jobs.scoring.scoring_runner` that the flags of
    :func:`add_scoring_runner_flags` ask for."""
    if args.runner == AUTO:
        return AUTO, runner_options(args, runner="hadoop")
    return (None if args.runner == IN_PROCESS else runner_options(args)), None


def evaluate_kwargs(args):
    """The keyword arguments of :func:`jobs.scoring.evaluate` that the flags ask for."""
    runner, hadoop = scoring_runners(args)
    return dict(run=args.run, data=args.data, split=args.split, runner=runner,
                checkpoint=args.checkpoint, horizon=args.horizon, season=args.season,
                hadoop=hadoop, network=args.network, against=args.against)


def baseline_label(name, m):
    """The row name of a baseline: with its season or order."""
    if name == "seasonal_naive":
        return f"seasonal S={m['season']}"
    if name == "ar":
        return f"AR(p={m['ar_order']})"
    if name == "ets":
        return m["ets"] if isinstance(m.get("ets"), str) else "ETS (per series)"
    if name == "arx":
        return f"ARX(p={m['arx_order']})"
    if name == "ar_ets":
        return "mean AR, ETS"
    return name


def ratio_text(value, digits, unit=""):
    """A ratio of errors, or n/a where its denominator, a baseline's error, is 0."""
    if math.isfinite(value):
        return f"{value:.{digits}f}{unit}"
    return "n/a (the baseline's error is 0)"


def series_summary(compared, m):
    """One line on a table of series: where the model stands series by series."""
    best = compared["best_baseline"]
    worst = ", ".join(f"{w['id']} {ratio_text(w['ratio'], 2, 'x')}" for w in compared["worst"])
    return (f"  {compared['count']} series: the model's MASE is at most "
            f"{baseline_label(best, m)}'s (the best single forecaster by mean MASE) on "
            f"{100 * compared['share_model_at_most_best']:.0f} % of them, below it on "
            f"{100 * compared['share_model_below_best']:.0f} %; worst against it: "
            f"{worst} (--json: every series)"
            + (f"; {compared['unscaled']} series with a constant or too short history left "
               "out (no MASE)" if compared.get("unscaled") else ""))


def coverage_line(m):
    """One line on the model's 80 % and 95 % intervals (calibrated on the validation part):
    the share of the scored steps inside them, and for a table of series its spread."""
    shares = ", ".join(f"{level} %: {100 * share:.1f} %" for level, share in m["coverage"].items())
    line = (f"  intervals (the validation part's errors, adapted to the misses before each "
            f"step): inside {shares} of "
            f"{m['coverage_steps']:,} steps")
    table = (m.get("series") or {}).get("table", [])
    if table and "coverage_95" in table[0]:
        low = min(row["coverage_95"] for row in table)
        line += f"; per series, 95 %: {100 * low:.0f} % at worst (--json: every series)"
    if m.get("coverage_gaussian"):
        line += (f"; {m['coverage_gaussian']} series with too few validation errors for the "
                 "95 % quantile: normal approximation")
    return line


def format_metrics(m):
    """The human-readable table of a metrics dict."""
    ahead = f", {m['horizon']} steps ahead" if m.get("horizon", 1) > 1 else ""
    head = (f"{m['run']} (epoch {m['epoch']}, {m['checkpoint']}) on the {m['split']} split of "
            f"{m['data']}: {m['steps']:,} predictions{ahead}"
            + (f", {m['bad_records']} bad records skipped" if m["bad_records"] else ""))
    if m["kind"] == "text":
        rows = [("model", m["loss"], m["bits_per_char"], m["perplexity"]),
                ("unigram", m["baseline_loss"], m["baseline_bits_per_char"],
                 m["baseline_perplexity"])]
        lines = [f"  {'':8} {'nats/char':>10} {'bits/char':>10} {'perplexity':>11}"]
        lines += [f"  {name:8} {a:10.4f} {b:10.4f} {c:11.2f}" for name, a, b, c in rows]
    else:
        rows = [("model", m)] + [(baseline_label(name, m), b) for name, b in m["baselines"].items()]
        lines = [f"  {'':14} {'MSE':>12} {'MAE':>12} {'MSE (norm.)':>12} {'MASE':>8}"]
        lines += [f"  {name:14} {r['mse']:12.5g} {r['mae']:12.5g} {r['mse_normalized']:12.5g} "
                  + (f"{r['mase']:8.4g}" if r.get("mase") is not None else f"{'':8}")
                  for name, r in rows]
        lines.append(f"  model / best baseline ({baseline_label(m['best_baseline'], m)}): "
                     f"{ratio_text(m['ratio_to_best_baseline'], 3)}")
        if "mase" not in m:
            lines.append("  MASE: n/a, the history of every series is constant or too short (MASE "
                         "divides by the mean error of its naive forecast)")
        if len(m["columns"]) > 1:
            lines += [f"  {name}: MSE {c['mse']:.5g} (persistence {c['baseline_mse']:.5g})"
                      for name, c in m["columns"].items()]
        if m.get("coverage"):
            lines.append(coverage_line(m))
        if m.get("series"):
            lines.append(series_summary(m["series"], m))
        if m.get("against"):
            a = m["against"]
            lines.append(f"  {a['run']} ({', '.join(a['columns'])}): MSE {a['mse']:.5g}; "
                         f"model / it: {ratio_text(a['ratio'], 3)}")
    if m.get("season_from") and m.get("season"):
        lines.append(f"  season S={m['season']}: {m['season_from']}")
    for note in (m.get("model_note"), m.get("note")):
        if note:
            lines.append(f"  note: {note}")
    return "\n".join([head] + lines)


def main(args):
    from jobs.scoring import evaluate

    metrics = evaluate(**evaluate_kwargs(args))
    print(to_json(metrics, sort_keys=True) if args.json else format_metrics(metrics))
    return EXIT_OK
