"""The working directory of a bench (scripts/bench_*.py): ``--work DIR`` keeps what the bench
writes in DIR; without it the bench works in a temporary directory, removed when the bench
ends however it ends (done, an error, Ctrl-C, SIGTERM).

    add_work_flag(parser)
    ...
    with work_dir(args.work, "bench-job-") as work:
        ...
"""
import contextlib
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from jobs.interrupts import signals_raise  # noqa: E402  (imports nothing heavy)


def add_work_flag(parser):
    parser.add_argument("--work", help="directory for the bench's data and runs, kept "
                        "(default: a temporary directory, removed at the end)")


@contextlib.contextmanager
def work_dir(given, prefix):
    """``given`` (made if absent), else a temporary directory named ``prefix...`` that is
    removed at the block's end; SIGTERM unwinds the block like Ctrl-C does."""
    if given:
        os.makedirs(given, exist_ok=True)
        yield given
        return
    with signals_raise(), tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield tmp


def run_benches(description, flag, names, prefix, bench):
    """The main of a bench over named cases: ``--FLAG a,b`` (default: all of ``names``) and
    ``--work``; prints each result of ``bench(name, work)`` (an iterable of JSON-able dicts)
    as a JSON line as soon as it is there."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(f"--{flag}", default=",".join(names),
                        help=f"comma-separated, of {', '.join(names)}")
    add_work_flag(parser)
    args = parser.parse_args()
    with work_dir(args.work, prefix) as work:
        for name in getattr(args, flag).split(","):
            for result in bench(name, work):
                print(json.dumps(result), flush=True)
