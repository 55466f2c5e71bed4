#!/usr/bin/env python
"""The driver's own peak memory for prepare, train and evaluate on text that lives on HDFS,
for two corpus sizes: it should not grow with the data.

Needs the dev cluster (``eval "$(scripts/hadoop-dev-cluster start)"``). For each size it
writes a corpus of real text (Python sources of this interpreter's standard library and
site-packages, in a fixed order, cut into files of ``--file-mb``) to ``hdfs:///bench-data``,
then runs, each as its own ``hadoop-rnn`` process on the hadoop runner::

    prepare --kind text hdfs:///bench-data/<size>/raw --out .../data --shards 4
    train --data .../data --run .../run --epochs 1 --cell rnn --hidden 32
    evaluate --run .../run

and prints one JSON line per command: ``{"command", "input_bytes", "driver_peak_rss_mb",
"seconds"}``. The peak RSS is the Python driver's own (``ru_maxrss`` of its process), not
the JVMs it starts (``hadoop jar``), and not the task processes.

    python scripts/bench_data.py [--sizes-mb 15,60] [--keep]
"""
import argparse
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from jobs.storage import open_store  # noqa: E402

# Runs one hadoop-rnn command in this process and writes its own peak RSS (kB) to a file.
PEAK_RSS_WRAPPER = """
import resource, sys
from jobs.cli import main
try:
    code = main(sys.argv[2:])
finally:
    with open(sys.argv[1], "w") as f:
        f.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
sys.exit(code)
"""


def text_sources():
    """Python source files of this interpreter, in a fixed order, that are UTF-8."""
    roots = [sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"]]
    for root in roots:
        for folder, dirs, files in sorted(os.walk(root)):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(".py"):
                    yield os.path.join(folder, name)


def write_corpus(directory, size_bytes, file_bytes):
    """Files of about ``file_bytes`` each, ``size_bytes`` in all, from :func:`text_sources`
    (repeated if there is not enough); return their total size."""
    total, part, out = 0, 0, None
    while total < size_bytes:
        for path in text_sources():
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except (UnicodeDecodeError, OSError):
                continue
            if out is None or out.tell() >= file_bytes:
                if out is not None:
                    out.close()
                out = open(os.path.join(directory, f"part-{part:03d}.txt"), "w",
                           encoding="utf-8")
                part += 1
            out.write(text)
            total += len(text.encode("utf-8"))
            if total >= size_bytes:
                break
    out.close()
    return sum(os.path.getsize(os.path.join(directory, n)) for n in os.listdir(directory))


def run_measured(argv):
    """(seconds, the driver's peak RSS in MB) of one ``hadoop-rnn`` command."""
    with tempfile.NamedTemporaryFile(prefix="peak-rss-") as rss:
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-c", PEAK_RSS_WRAPPER, rss.name] + argv,
                              cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
        seconds = time.monotonic() - started
        if done.returncode != 0:
            sys.exit(f"hadoop-rnn {' '.join(argv)} failed ({done.returncode}):\n"
                     f"{done.stdout[-3000:]}")
        return seconds, int(open(rss.name).read()) / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes-mb", default="15,60", help="corpus sizes, comma-separated")
    parser.add_argument("--file-mb", type=float, default=8.0, help="size of each input file")
    parser.add_argument("--keep", action="store_true", help="keep hdfs:///bench-data")
    args = parser.parse_args()
    if not os.environ.get("HADOOP_RNN_WEBHDFS_URL"):
        sys.exit("needs the dev cluster: eval \"$(scripts/hadoop-dev-cluster start)\"")
    for size_mb in [float(s) for s in args.sizes_mb.split(",")]:
        base = f"hdfs:///bench-data/{size_mb:g}mb"
        raw = open_store(f"{base}/raw")
        with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
            input_bytes = write_corpus(tmp, int(size_mb * 2 ** 20), int(args.file_mb * 2 ** 20))
            open_store(base).remove_tree() if open_store(base).exists() else None
            for name in sorted(os.listdir(tmp)):
                raw.upload(name, os.path.join(tmp, name))
        commands = {
            "prepare": ["prepare", "--kind", "text", raw.uri(), "--out", f"{base}/data",
                        "--shards", "4", "--runner", "hadoop"],
            "train": ["train", "--data", f"{base}/data", "--run", f"{base}/run", "--epochs",
                      "1", "--cell", "rnn", "--hidden", "32", "--runner", "hadoop"],
            "evaluate": ["evaluate", "--run", f"{base}/run", "--runner", "hadoop"],
        }
        for command, argv in commands.items():
            seconds, peak = run_measured(argv)
            print(json.dumps({"command": command, "input_bytes": input_bytes,
                              "driver_peak_rss_mb": round(peak, 1),
                              "seconds": round(seconds, 1)}), flush=True)
        if not args.keep:
            open_store(base).remove_tree()


if __name__ == "__main__":
    main()
