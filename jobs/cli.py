"""The ``hadoop-rnn`` command: argparse root, the flags several commands share, exit codes.

Each subcommand is a module in :mod:`jobs.commands` with ``add_arguments(parser)`` and
``main(args) -> exit code``; it converts the parsed flags once and calls the Python API
(:mod:`jobs.preparing.api`, :mod:`jobs.training`, :mod:`jobs.scoring`, ...). Only the module
of the command being run is imported, so ``hadoop-rnn plot --help`` loads no mrjob.

A number out of range (``--batch 0``, ``--lr -1``, ``--lr nan``) is a usage error: the
``type=`` functions below (:func:`positive_int`, ...) make argparse exit 2 with its usage
message before anything runs. SIGTERM unwinds every command like Ctrl-C does, so its
cleanup (locks, temporary files) runs; it exits 143, Ctrl-C 130, each with one line. Both are
turned into exceptions (:mod:`jobs.interrupts`) before the command's heavy modules (numpy,
mrjob, pyarrow) are imported, so a signal during those imports is no traceback either.
"""
import argparse
import importlib
import json
import math
import sys

from jobs.hadoop.kerberos import EXIT_NO_TICKET, NoTicket
from jobs.hadoop.launch import RUNNERS, RunnerOptions, default_blas_threads
from jobs.interrupts import (EXIT_INTERRUPTED, EXIT_TERMINATED, Terminated, raise_if_received,
                             signals_raise)

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

# Exit codes (documented in docs/operations.md for cron users); argparse usage errors exit 2;
# no valid Kerberos ticket: EXIT_NO_TICKET (5, jobs.hadoop.kerberos)
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOTHING_TO_DO, EXIT_LOCKED = 0, 1, 2, 3, 4
# Ctrl-C exits EXIT_INTERRUPTED (130), SIGTERM EXIT_TERMINATED (143): see jobs.interrupts


# -- argparse types: a number out of range is a usage error (exit 2) -------------------------

def number_type(convert, low, high=None, low_open=False, high_open=False, why=None):
    """An argparse ``type=`` function: ``convert(text)``, finite and within the bounds
    (``why``: the reason for them, added to the error)."""
    if high is None:
        interval = f"{'>' if low_open else '>='} {low:g}"
    else:
        interval = (f"in {'(' if low_open else '['}{low:g}, {high:g}"
                    f"{')' if high_open else ']'}")
    what = "an integer" if convert is int else "a number"

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} was expected, got {text!r}") from None
        ok = math.isfinite(value) and (value > low if low_open else value >= low)
        ok = ok and (high is None or (value < high if high_open else value <= high))
        if not ok:
            raise argparse.ArgumentTypeError(f"must be {what} {interval}, got {text!r}"
                                             + (f": {why}" if why else ""))
        return value
    return parse


positive_int = number_type(int, 1)
non_negative_int = number_type(int, 0)
positive_float = number_type(float, 0, low_open=True)
non_negative_float = number_type(float, 0)
fraction = number_type(float, 0, 1, high_open=True)        # [0, 1): --valid, --momentum
proportion = number_type(float, 0, 1)                      # [0, 1]: --max-bad-records


def to_json(obj, **kwargs):
    """JSON text of ``obj`` with null for NaN and infinities, which JSON cannot express."""
    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x
    return json.dumps(clean(obj), allow_nan=False, **kwargs)


# -- flags shared by several commands ---------------------------------------------------------

def add_run_flag(parser, help="run directory (local or hdfs://)"):
    parser.add_argument("--run", required=True, help=help)


def add_data_flag(parser, required=False,
                  help="dataset directory (default: the one the run was trained on)"):
    parser.add_argument("--data", required=required, help=help)


def checkpoint_choice(text):
    """The value of --checkpoint: "best", "latest" or an epoch number (int)."""
    if text in ("best", "latest"):
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected best, latest or an epoch number, got "
                                         f"{text!r}") from None


def add_checkpoint_flag(parser):
    parser.add_argument("--checkpoint", type=checkpoint_choice, default="best",
                        metavar="best|latest|N",
                        help="the epoch to use: best (lowest validation loss, the default), "
                        "latest, or epoch N (while its checkpoint is kept)")


def add_runner_flags(parser, runners=RUNNERS, default="inline", help=None):
    """--runner, --mrjob-conf and --python-bin."""
    parser.add_argument("--runner", choices=runners, default=default,
                        help=help or f"mrjob runner (default {default})")
    parser.add_argument("--mrjob-conf", help="mrjob.conf to use, over $MRJOB_CONF (default: "
                        "$MRJOB_CONF if set, which wins over conf/mrjob.conf of a source "
                        "checkout; without either, mrjob's own ~/.mrjob.conf)")
    parser.add_argument("--python-bin", help="Python interpreter for tasks (default: the "
                        "mrjob.conf's python_bin, else this one)")


def runner_options(args, **more):
    """The RunnerOptions that the --runner flags of ``add_runner_flags`` ask for (and ``more``
    of its fields, e.g. task_threads, or a runner other than --runner's)."""
    return RunnerOptions(**{"runner": args.runner, "conf": args.mrjob_conf,
                            "python_bin": args.python_bin, **more})


# -- the root ---------------------------------------------------------------------------------

class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every flag's default in ``--help``, unless its help already speaks of one."""

    NOT_SHOWN = (None, False, argparse.SUPPRESS)

    def _get_help_string(self, action):
        help_text = action.help or ""
        # `is`, not `in`: a default of 0 equals False, and is shown
        if "default" in help_text or any(action.default is value for value in self.NOT_SHOWN):
            return help_text
        return super()._get_help_string(action)


def build_parser(argv=None):
    """The parser; only the subcommand named in ``argv`` (if any) gets its flags.

    ``parser.commands`` maps each subcommand to its own parser.
    """
    chosen = next((a for a in (argv or []) if not a.startswith("-")), None)
    parser = argparse.ArgumentParser(
        prog="hadoop-rnn", description="Train RNN, LSTM and GRU models as Hadoop Streaming jobs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parser.commands = {}
    for name, (module, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text,
                                    formatter_class=DefaultsHelpFormatter)
        sub_parser.set_defaults(module=module)
        parser.commands[name] = sub_parser
        if name == chosen:
            importlib.import_module(module).add_arguments(sub_parser)
    return parser


def parse_args(argv):
    """The Namespace of ``hadoop-rnn argv...`` (argparse exits 2 on a usage error).

    An unknown flag is reported with the subcommand's own usage line, not the root's.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        parser.commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def main(argv=None):
    with signals_raise():
        try:
            return run(argv)
        except KeyboardInterrupt:
            print("hadoop-rnn: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except Terminated:
            print("hadoop-rnn: terminated by SIGTERM", file=sys.stderr)
            return EXIT_TERMINATED


def run(argv):
    """Parse ``argv``, import the command's module, run it; return its exit code."""
    try:
        default_blas_threads()  # before numpy loads; inline tasks run in this process
        args = parse_args(argv)
        module = importlib.import_module(args.module)
        return run_command(module, args)
    finally:
        # a signal that a library swallowed, or turned into another error, is still reported
        raise_if_received()


def run_command(module, args):
    """The command's exit code; our errors, which carry a one-line message, are that line
    (a traceback would only hide it) and exit 1."""
    try:
        return module.main(args)
    except NoTicket as e:
        print(f"hadoop-rnn {args.command}: error: {e}", file=sys.stderr)
        return EXIT_NO_TICKET
    except (ValueError, OSError, RuntimeError) as e:
        print(f"hadoop-rnn {args.command}: error: {e}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
