"""``hadoop-rnn demo``: the whole pipeline on a corpus every machine has, in about a minute.

The corpus is the source text of a fixed list of Python standard-library modules (about
220 KB; its exact bytes depend on the Python version). The demo prepares it as a character
dataset in ``RUN/data``, trains a character LSTM on it with the inline runner (the same
MapReduce job a cluster runs, in this process), prints the loss of every epoch and a sample.
Running it again on the same ``--run`` continues the run up to ``--epochs``.
"""
import argparse
import os
import sysconfig
import tempfile

from jobs import driver, prepare, sample

# Fixed and ordered, so every machine with the same Python builds the same corpus.
MODULES = ("textwrap.py", "string.py", "heapq.py", "bisect.py", "shlex.py", "fnmatch.py",
           "glob.py", "colorsys.py", "queue.py", "sched.py", "calendar.py", "fractions.py",
           "random.py", "abc.py", "copy.py", "json/decoder.py")

# Tuned to visibly learn within the time budget on two cores.
TRAIN_FLAGS = ["--cell", "lstm", "--hidden", "128", "--mode", "average", "--batch", "16",
               "--lr", "0.01", "--clip", "5"]
CHUNK = 65


def corpus_files():
    """Paths of the demo corpus in this Python's standard library."""
    stdlib = sysconfig.get_paths()["stdlib"]
    paths = [os.path.join(stdlib, name) for name in MODULES]
    absent = [p for p in paths if not os.path.isfile(p)]
    if absent:
        raise OSError(f"the demo corpus needs the standard library's source files; "
                      f"{absent[0]} is missing (a Python without .py sources?)")
    return paths


def command_args(module, argv):
    """The Namespace that ``hadoop-rnn COMMAND argv...`` would give ``module.main``."""
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(argv)


def add_arguments(parser):
    parser.add_argument("--run", help="run directory (default: a new temporary directory)")
    parser.add_argument("--epochs", type=int, default=8, help="epochs to train (default 8)")
    parser.add_argument("--length", type=int, default=400, help="characters to sample")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")


def demo(args, log=print):
    run = args.run or tempfile.mkdtemp(prefix="hadoop-rnn-demo-")
    data = os.path.join(run, "data")
    log(f"demo run directory: {run}")
    prepare.prepare(command_args(prepare, corpus_files() + [
        "--kind", "text", "--out", data, "--force", "--chunk", str(CHUNK)]), log)
    code = driver.train(command_args(driver, [
        "--data", data, "--run", run, "--epochs", str(args.epochs)] + TRAIN_FLAGS), log)
    if code not in (driver.EXIT_OK, driver.EXIT_NOTHING_TO_DO):
        return code
    log(f"\nsample (temperature 0.8, seed {args.seed}):\n")
    log(sample.sample(command_args(sample, [
        "--run", run, "--prime", "def ", "--length", str(args.length), "--temperature", "0.8",
        "--seed", str(args.seed)])))
    log(f"\nnext: hadoop-rnn evaluate --run {run}; hadoop-rnn sample --run {run} --prime 'class '")
    return 0


def main(args):
    return demo(args)
