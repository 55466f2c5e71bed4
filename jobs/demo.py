"""The demo (``hadoop-rnn demo``): the whole pipeline on a corpus every machine has, in a minute.

The corpus is the source text of a fixed list of Python standard-library modules (about
220 KB; its exact bytes depend on the Python version). The demo prepares it as a character
dataset in ``RUN/data``, trains a character LSTM on it with the inline runner (the same
MapReduce job a cluster runs, in this process), prints the loss of every epoch and a sample.
Running it again on the same ``--run`` continues the run up to ``--epochs``.
"""
import os
import sysconfig
import tempfile

from jobs.generating import sample
from jobs.preparing import prepare
from jobs.training import Outcome, RunSpec, train

# Fixed and ordered, so every machine with the same Python builds the same corpus.
MODULES = ("textwrap.py", "string.py", "heapq.py", "bisect.py", "shlex.py", "fnmatch.py",
           "glob.py", "colorsys.py", "queue.py", "sched.py", "calendar.py", "fractions.py",
           "random.py", "abc.py", "copy.py", "json/decoder.py")

# Tuned to visibly learn within the time budget on two cores.
SPEC = RunSpec(cell="lstm", hidden=128, mode="average", batch=16, lr=0.01, clip=5.0)
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


def demo(run=None, epochs=8, length=400, seed=0, log=print):
    """Prepare the corpus in ``run``/data, train ``epochs`` epochs, log a sample.

    run: the run directory (default: a new temporary directory). Returns the Outcome of
    training (LOCKED if another driver holds the run).
    """
    run = run or tempfile.mkdtemp(prefix="hadoop-rnn-demo-")
    data = os.path.join(run, "data")
    log(f"demo run directory: {run}")
    prepare(corpus_files(), data, "text", chunk=CHUNK, force=True, log=log)
    outcome = train(data, run, epochs, SPEC, log=log).outcome
    if outcome is Outcome.LOCKED:
        return outcome
    log(f"\nsample (temperature 0.8, seed {seed}):\n")
    log(sample(run, prime="def ", length=length, temperature=0.8, seed=seed))
    log(f"\nnext: hadoop-rnn evaluate --run {run}; hadoop-rnn sample --run {run} --prime 'class '")
    return outcome
