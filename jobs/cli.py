"""The ``hadoop-rnn`` command: one subcommand per module, each with add_arguments and main."""
import argparse
import importlib
import os
import sys

# subcommand -> (module, one-line help); modules are imported only when their command runs
COMMANDS = {
    "prepare": ("jobs.prepare", "turn text or series files into a dataset of record shards"),
    "train": ("jobs.driver", "train a model: run epochs of the MapReduce job, checkpointing"),
    "evaluate": ("jobs.evaluate", "loss, perplexity or MSE of a run on its validation data"),
    "sample": ("jobs.sample", "generate text from a trained character model"),
    "forecast": ("jobs.forecast", "forecast the next values of a series"),
    "plot": ("jobs.plot", "plot training and validation loss per epoch"),
    "demo": ("jobs.demo", "prepare the built-in corpus, train on it inline and print a sample"),
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="hadoop-rnn", description="Train RNN, LSTM and GRU models as Hadoop Streaming jobs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        sub_parser.set_defaults(module=module)
        importlib.import_module(module).add_arguments(sub_parser)
    return parser


def main(argv=None):
    # Before numpy loads: one BLAS thread unless the user says otherwise. Minibatch matrices
    # are small, so extra threads cost more than they give, and inline tasks run in here.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    args = build_parser().parse_args(argv)
    module = importlib.import_module(args.module)
    try:
        return module.main(args)
    except KeyboardInterrupt:
        print("hadoop-rnn: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError) as e:
        # our errors carry a one-line message; a traceback would only hide it
        print(f"hadoop-rnn {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
