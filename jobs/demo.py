"""The demo (``hadoop-rnn demo``): the whole pipeline on a corpus every machine has, in a minute.

The corpus is the source text of a fixed list of Python standard-library modules (about
220 KB; its exact bytes depend on the Python version). The demo prepares it as a character
dataset in ``RUN/data``, trains a character LSTM on it with the inline runner (the same
MapReduce job a cluster runs, in this process), prints the loss of every epoch and a sample.
Running it again on the same ``--run`` continues the run up to ``--epochs``. The demo only
ever replaces a dataset that it wrote itself (same sources, same options): anything else in
``RUN/data`` is an error.
"""
import os
import sysconfig
import tempfile

from jobs.data.dataset import Dataset, DatasetError
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


class DemoError(ValueError):
    """The demo's run directory holds data the demo did not write."""


def check_demo_data(data, files):
    """Return whether ``data`` holds a dataset to replace; refuse data the demo did not write.

    The demo's own dataset is a text dataset of exactly ``files`` with the demo's chunk.
    """
    try:
        meta = Dataset(data).meta
    except DatasetError:
        if not os.path.exists(data) or not os.listdir(data):
            return False
        raise DemoError(f"{data} is not empty and holds no demo dataset: the demo writes its "
                        "data there; use another --run") from None
    ours = (meta.get("kind") == "text" and meta.get("sources") == files
            and meta.get("chunk") == CHUNK)
    if not ours:
        raise DemoError(f"{data} holds a dataset the demo did not write (its sources are "
                        f"{len(meta.get('sources') or [])} other file(s)): the demo never "
                        "replaces it; use another --run")
    return True


def demo(run=None, epochs=8, length=400, seed=0, log=print):
    """Prepare the corpus in ``run``/data, train ``epochs`` epochs, log a sample.

    run: the run directory (default: a new temporary directory). Returns the Outcome of
    training (LOCKED if another driver holds the run).
    """
    run = run or tempfile.mkdtemp(prefix="hadoop-rnn-demo-")
    data = os.path.join(run, "data")
    log(f"demo run directory: {run}")
    files = corpus_files()
    prepare(files, data, "text", chunk=CHUNK, force=check_demo_data(data, files), log=log)
    outcome = train(data, run, epochs, SPEC, log=log).outcome
    if outcome is Outcome.LOCKED:
        return outcome
    log(f"\nsample (temperature 0.8, seed {seed}):\n")
    log(sample(run, prime="def ", length=length, temperature=0.8, seed=seed))
    log(f"\nnext: hadoop-rnn evaluate --run {run}; hadoop-rnn sample --run {run} --prime 'class '")
    return outcome
