"""``hadoop-rnn forecast``: the flags of :func:`jobs.generating.forecast_run` and its table."""
from jobs.cli import (EXIT_OK, add_checkpoint_flag, add_data_flag, add_run_flag, number_type,
                      positive_int, to_json)
from jobs.commands.evaluate import add_scoring_runner_flags, scoring_runners
from rnn_core.generate import MAX_HORIZON

HORIZON_WHY = ("each step is computed in this process from the ones before it, so its errors "
               "compound; more steps would run for minutes to hours")


def add_arguments(parser):
    add_run_flag(parser)
    add_data_flag(parser)
    add_checkpoint_flag(parser)
    parser.add_argument("--horizon", required=True, metavar="N",
                        type=number_type(int, 1, MAX_HORIZON, why=HORIZON_WHY),
                        help=f"steps to forecast, 1 to {MAX_HORIZON:,} ({HORIZON_WHY})")
    parser.add_argument("--input", help="CSV or Parquet file whose end to forecast from, with "
                        "the dataset's columns; for data prepared with --id, a table: the rows "
                        "of --id, ordered by the --time column (default: the end of the "
                        "dataset's last sequence)")
    parser.add_argument("--future", metavar="FILE",
                        help="for a series driven by inputs (prepare --inputs or --calendar): "
                        "a CSV or Parquet file with the time column and the input columns of "
                        "the --horizon steps after the history (for data prepared with --id, "
                        "the rows of --id); the forecast feeds back its predicted targets, "
                        "never predicted inputs (default: none; needed for such a series)")
    parser.add_argument("--id", dest="series_id", metavar="VALUE",
                        help="forecast the series of this --id value (for data prepared with "
                        "prepare --id; default: the dataset's last series, or the only one of "
                        "--input)")
    parser.add_argument("--context", type=positive_int,
                        help="steps of history to condition on (default: the dataset's context "
                        "plus chunk, what the model was trained on)")
    parser.add_argument("--network", action="store_true",
                        help="forecast with the network even where it did not clearly beat "
                        "its base (AR, ARX or last value) and every classical forecaster on "
                        "the validation part (default: the classical forecaster that forecast "
                        "it best then)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_scoring_runner_flags(parser, "score the classical candidates on the validation part "
                             "(once per run) and refit the base on every series")


def forecast_kwargs(args):
    """The keyword arguments of :func:`jobs.generating.forecast_run` that the flags ask for."""
    runner, hadoop = scoring_runners(args)
    return dict(run=args.run, data=args.data, horizon=args.horizon, input=args.input,
                context=args.context, checkpoint=args.checkpoint, series_id=args.series_id,
                network=args.network, future=args.future, runner=runner, hadoop=hadoop)


def format_forecast(result):
    """The forecast as a table per series column: one row per step ahead, the forecast and,
    where the run has a validation part, the bounds of its 80 % and 95 % intervals."""
    levels = list(result.get("intervals", {}))
    header = "".join(f" {f'{level} % {side}':>12}" for level in levels
                     for side in ("lower", "upper"))
    lines = []
    for f, name in enumerate(result["columns"]):
        lines += [""] if f else []
        lines += [f"step {name:>14}" + header,
                  f"{0:>4} {result['last'][f]:14.6g}   (last observed)"]
        for h, row in enumerate(result["forecast"]):
            bounds = [result["intervals"][level][side][h][f] for level in levels
                      for side in ("lower", "upper")]
            lines.append(f"{h + 1:>4} {row[f]:14.6g}" + "".join(
                f" {bound:12.6g}" if bound is not None and bound == bound else f" {'n/a':>12}"
                for bound in bounds))
    calibration = result.get("calibration")
    if calibration:
        lines.append(calibration_note(calibration))
    if result.get("intervals_note"):
        lines.append(f"intervals: none, {result['intervals_note']}")
    if result.get("note"):
        lines.append(f"note: {result['note']}")
    return "\n".join(lines)


def calibration_note(calibration):
    """One line on where the intervals come from."""
    errors = calibration["errors"]
    counts = (f"{errors[0]:,}" if min(errors, default=0) == max(errors, default=0)
              else f"{min(errors):,} to {max(errors):,}")
    line = (f"intervals: from the forecaster's own errors on the validation part, "
            f"{counts} per step ahead")
    if max(calibration.get("replayed") or [0]):
        first = ", ".join(f"{level} % at {100 * levels[0]:.1f} %"
                          for level, levels in calibration["levels"].items())
        line += (" and its misses on the test part that follows (adaptive conformal; "
                 f"step 1: {first})")
    else:
        line += " (split conformal)"
    if calibration["gaussian"]:
        line += ("; too few of them for a level's quantile, the normal approximation at "
                 f"{len(calibration['gaussian'])} step(s)")
    return line


def main(args):
    from jobs.generating import forecast_run

    result = forecast_run(**forecast_kwargs(args))
    print(to_json(result) if args.json else format_forecast(result))
    return EXIT_OK
