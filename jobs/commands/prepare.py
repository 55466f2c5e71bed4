"""``hadoop-rnn prepare``: the flags of :func:`jobs.preparing.prepare`."""
import argparse

from jobs.cli import EXIT_OK, add_runner_flags, fraction, number_type, positive_int, runner_options
from jobs.data.series_io import MISSING_POLICIES

KINDS = ("text", "series")


class ListAction(argparse.Action):
    """A flag whose values add up: comma-separated, and repeatable (``--inputs a,b --inputs
    c`` is a, b, c)."""

    def __call__(self, parser, namespace, values, option_string=None):
        names = [name.strip() for name in values.split(",")]
        if not all(names):
            parser.error(f"{option_string}: an empty column name in {values!r}")
        setattr(namespace, self.dest, (getattr(namespace, self.dest) or []) + names)


def add_arguments(parser):
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="input files, directories or globs, local or hdfs:// (text: one "
                        "sequence per file; series: see --id)")
    parser.add_argument("--kind", choices=KINDS, required=True,
                        help="text: characters of UTF-8 files; series: numeric CSV/Parquet columns")
    parser.add_argument("--out", required=True, help="dataset directory to write (local or hdfs://)")
    parser.add_argument("--force", action="store_true",
                        help="replace the dataset in an existing non-empty --out directory")
    parser.add_argument("--chunk", type=number_type(int, 2),
                        help="scored steps per chunk record (default: text 100; series chosen "
                        "from the length, 8 to 64)")
    parser.add_argument("--context", type=number_type(int, 0),
                        help="warm-up steps before each chunk, run forward but not scored "
                        "(default: text 0; series 2 x chunk, at least 32 and at least the "
                        "order p of the AR fit)")
    parser.add_argument("--valid", type=fraction, default=0.1,
                        help="fraction of each sequence, from its end, kept for validation "
                        "(default 0.1)")
    parser.add_argument("--shards", type=positive_int, default=1, help="shard files per split (default 1)")
    add_runner_flags(parser, help="mrjob runner for the prepare jobs (hdfs:// inputs need "
                     "hadoop)")
    text = parser.add_argument_group("text")
    text.add_argument("--max-vocab", type=number_type(int, 2),
                      help="keep the most frequent characters, map the others to U+FFFD "
                      "(default: keep every character)")
    series = parser.add_argument_group("series")
    series.add_argument("--column", action="append", dest="columns", metavar="NAME",
                        help="a numeric column to model (repeat for several)")
    series.add_argument("--targets", action=ListAction, dest="columns", metavar="NAMES",
                        help="the same as --column: comma-separated target columns (default: "
                        "none; a series dataset needs one at least)")
    series.add_argument("--inputs", action=ListAction, dest="input_columns", metavar="NAMES",
                        help="comma-separated columns that drive the targets and are known "
                        "ahead (a temperature, a price, a working-day flag): the model reads "
                        "each step's inputs when it predicts that step's targets, and "
                        "forecast needs them for the steps it forecasts (--future); no "
                        "missing value allowed (default: none)")
    series.add_argument("--calendar", action=ListAction, metavar="FEATURES",
                        help="comma-separated calendar features of --time (dates or "
                        "timestamps) added as inputs: hour (of day), dow (day of week), "
                        "month (of year), each as the sine and cosine of its phase "
                        "(default: none)")
    series.add_argument("--missing", choices=MISSING_POLICIES, default="interpolate",
                        help="missing values: interpolate (default) or drop their rows")
    series.add_argument("--id", dest="id_column", metavar="COLUMN",
                        help="the column naming the series of a table of many (one row per "
                        "series and time; default: each file is one series)")
    series.add_argument("--time", dest="time_column", metavar="COLUMN",
                        help="the column (numbers or timestamps) that orders each series' rows "
                        "(default: file and row order)")
    series.add_argument("--scale", choices=("series", "table"),
                        help="normalize each series by its own training part's mean and std "
                        "(series), or all of them by one (table) (default: series with --id, "
                        "else table)")
    series.add_argument("--test", type=fraction,
                        help="fraction of each series, from its end, held out for the final "
                        "test after the validation part: no choice of a run sees it, "
                        "evaluate scores it (default 0.1; 0: no test part)")


def prepare_kwargs(args):
    """The keyword arguments of :func:`jobs.preparing.prepare` that the flags ask for."""
    return dict(inputs=args.inputs, out=args.out, kind=args.kind, chunk=args.chunk,
                context=args.context, valid=args.valid, shards=args.shards, force=args.force,
                max_vocab=args.max_vocab, columns=args.columns, missing=args.missing,
                id_column=args.id_column, time_column=args.time_column, test=args.test,
                scale=args.scale, input_columns=args.input_columns, calendar=args.calendar,
                runner=runner_options(args))


def main(args):
    from jobs.preparing import prepare

    prepare(**prepare_kwargs(args))
    return EXIT_OK
