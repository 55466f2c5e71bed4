"""``hadoop-rnn plot``: the flags of :func:`jobs.plotting.plot_run`."""
from jobs.cli import EXIT_OK, add_run_flag


def add_arguments(parser):
    add_run_flag(parser)
    parser.add_argument("--out", required=True, help="PNG file to write")
    parser.add_argument("--title", help="figure title (default: names the model and the run)")


def main(args):
    from jobs.plotting import plot_run

    path, history = plot_run(args.run, args.out, args.title)
    print(f"wrote {path} ({len(history)} epoch{'' if len(history) == 1 else 's'})")
    return EXIT_OK
