#!/usr/bin/env python3
"""Where a run's CPU time went, by process: read Linux process accounting and print JSON lines.

Process accounting (the ``acct`` package, as root) writes a record for every process that
ends, with its own CPU time (not its children's), its parent and its command name. This
script sums the records by where the process ran (the subtree of a long-lived process:
pytest's workers, the dev clusters' JVMs) and by what it was (Python, a JVM, other), so that
CI's time can be cut where it is spent (docs/testing.md, "How long CI takes")::

    accton /tmp/pacct                       # on (root); CI=true bash .ci/run ...; then:
    accton off
    dump-acct /tmp/pacct > /tmp/pacct.txt
    python scripts/cpu_by_process.py /tmp/pacct.txt --root-seconds 600

A "root" is a process that ran at least ``--root-seconds`` (pytest's workers, the clusters):
each line is {"where", "what", "processes", "cpu_seconds"}, where "where" is "<root's
command> (itself)", "under <root's command>" or "elsewhere". A JVM's command name is often
one of its threads' (the last to exit); shells and small tools count as "tools".
The records' times are in clock ticks (1/100 s): a process of a few milliseconds reads 0.
"""
import argparse
import collections
import json
import re
import sys

PYTHON = {"python", "python3", "hadoop-rnn", "pytest", "pip", "jemalloc_bg_thd"}  # pyarrow's thread
# a JVM's record bears the name of one of its threads ("Reference Handl", "C1 CompilerThre",
# "GC Thread#0", "org.apache.hado"), or "java"
JVM_THREAD = re.compile(r"[A-Z .#:'-]")


def records(lines):
    """(command, cpu seconds, elapsed seconds, pid, ppid) of each ``dump-acct`` line."""
    for line in lines:
        fields = [field.strip() for field in line.split("|")]
        if len(fields) < 11:
            continue
        yield (fields[0], (float(fields[2]) + float(fields[3])) / 100, float(fields[4]) / 100,
               int(fields[9]), int(fields[10]))


def kind(command):
    """"python", "jvm" or "tools" (shells, chmod, readlink, ...) of a record's command."""
    if command in PYTHON:
        return "python"
    return "jvm" if command == "java" or JVM_THREAD.search(command) else "tools"


def cpu_split(lines, root_seconds):
    """{(where, what): [processes, cpu seconds]} of the records in ``lines``."""
    rows = list(records(lines))
    parent = {pid: ppid for _, _, _, pid, ppid in rows}
    command = {pid: name for name, _, _, pid, _ in rows}
    roots = {pid for _, _, elapsed, pid, _ in rows if elapsed >= root_seconds}

    def label(pid):   # a root by its kind, or a shell by its command ("bash": CI's script)
        return command[pid] if kind(command[pid]) == "tools" else kind(command[pid])

    def where(pid):
        seen, p = set(), pid
        while p in parent and p not in seen:
            if p in roots:
                return f"{label(p)} (itself)" if p == pid else f"under {label(p)}"
            seen.add(p)
            p = parent[p]
        return "elsewhere"

    split = collections.defaultdict(lambda: [0, 0.0])
    for name, cpu, _, pid, _ in rows:
        total = split[(where(pid), kind(name))]
        total[0] += 1
        total[1] += cpu
    return split


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dump", help="the text of `dump-acct FILE`")
    parser.add_argument("--root-seconds", type=float, default=600,
                        help="a process that ran this long is a root (default 600)")
    args = parser.parse_args(argv)
    try:
        with open(args.dump, encoding="utf-8", errors="replace") as f:
            split = cpu_split(f, args.root_seconds)
    except OSError as e:
        sys.exit(f"cpu_by_process: {e}")
    for (where, what), (processes, cpu) in sorted(split.items(), key=lambda kv: -kv[1][1]):
        print(json.dumps({"where": where, "what": what, "processes": processes,
                          "cpu_seconds": round(cpu, 1)}))


if __name__ == "__main__":
    main()
