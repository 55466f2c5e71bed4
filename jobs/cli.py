"""The ``hadoop-rnn`` command: argparse root, the flags several commands share, exit codes.

Each subcommand is a module in :mod:`jobs.commands` with ``add_arguments(parser)`` and
``main(args) -> exit code``; it converts the parsed flags once and calls the Python API
(:mod:`jobs.preparing`, :mod:`jobs.training`, :mod:`jobs.scoring`, ...). Only the module
of the command being run is imported, so ``hadoop-rnn plot --help`` loads no mrjob.
"""
import argparse
import importlib
import sys

from jobs.launch import RUNNERS, RunnerOptions, default_blas_threads

# subcommand -> (module, one-line help)
COMMANDS = {
    "prepare": ("jobs.commands.prepare", "turn text or series files into a dataset of record shards"),
    "train": ("jobs.commands.train", "train a model: run epochs of the MapReduce job, checkpointing"),
    "evaluate": ("jobs.commands.evaluate", "loss, perplexity or MSE of a run on its validation data"),
    "sample": ("jobs.commands.sample", "generate text from a trained character model"),
    "forecast": ("jobs.commands.forecast", "forecast the next values of a series"),
    "plot": ("jobs.commands.plot", "plot training and validation loss per epoch"),
    "demo": ("jobs.commands.demo", "prepare the built-in corpus, train on it inline and print a sample"),
}

# Exit codes (documented in docs/operations.md for cron users); argparse usage errors exit 2.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOTHING_TO_DO, EXIT_LOCKED = 0, 1, 2, 3, 4
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


# -- flags shared by several commands ---------------------------------------------------------

def add_run_flag(parser, help="run directory (local or hdfs://)"):
    parser.add_argument("--run", required=True, help=help)


def add_data_flag(parser, required=False,
                  help="dataset directory (default: the one the run was trained on)"):
    parser.add_argument("--data", required=required, help=help)


def add_runner_flags(parser, runners=RUNNERS, default="inline", help=None):
    """--runner, --mrjob-conf and --python-bin."""
    parser.add_argument("--runner", choices=runners, default=default,
                        help=help or f"mrjob runner (default {default})")
    parser.add_argument("--mrjob-conf", help="mrjob.conf to use (default: conf/mrjob.conf)")
    parser.add_argument("--python-bin", help="Python interpreter for tasks (default: this one)")


def runner_options(args, task_threads=1):
    """The RunnerOptions that the --runner flags of ``add_runner_flags`` ask for."""
    return RunnerOptions(runner=args.runner, conf=args.mrjob_conf, python_bin=args.python_bin,
                         task_threads=task_threads)


# -- the root ---------------------------------------------------------------------------------

def build_parser(argv=None):
    """The parser; only the subcommand named in ``argv`` (if any) gets its flags."""
    chosen = next((a for a in (argv or []) if not a.startswith("-")), None)
    parser = argparse.ArgumentParser(
        prog="hadoop-rnn", description="Train RNN, LSTM and GRU models as Hadoop Streaming jobs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        sub_parser.set_defaults(module=module)
        if name == chosen:
            importlib.import_module(module).add_arguments(sub_parser)
    return parser


def parse_args(argv):
    """The Namespace of ``hadoop-rnn argv...`` (argparse exits 2 on a usage error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return build_parser(argv).parse_args(argv)


def main(argv=None):
    default_blas_threads()  # before numpy loads; inline tasks run in this process
    args = parse_args(argv)
    module = importlib.import_module(args.module)
    try:
        return module.main(args)
    except KeyboardInterrupt:
        print("hadoop-rnn: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, OSError, RuntimeError) as e:
        # our errors carry a one-line message; a traceback would only hide it
        print(f"hadoop-rnn {args.command}: error: {e}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
