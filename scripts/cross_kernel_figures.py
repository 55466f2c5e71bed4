#!/usr/bin/env python3
"""The README's walk-throughs on other machines' float kernels: which printed figures hold.

The same commit gives the same figures twice on one machine, but another CPU runs other
float kernels: OpenBLAS picks its matrix kernels by CPU (``OPENBLAS_CORETYPE`` forces a set),
and numpy picks the SIMD loops of its own functions (``exp``, ``tanh``, sums) by CPU
(``NPY_DISABLE_CPU_FEATURES`` turns the newer ones off). This script runs a README
walk-through in a fresh process per simulated machine and dtype, and prints one JSON line per
(walk-through, dtype): for each machine, the printed lines that differ from the first
machine's, with timings and paths left out.

    python scripts/cross_kernel_figures.py                        # demo and sunspots, float32 and float64
    python scripts/cross_kernel_figures.py --walkthrough sunspots --dtype float32
    python scripts/cross_kernel_figures.py --walkthrough demo --epochs 2

A machine is ``NAME:VAR=VALUE,VAR=VALUE`` (the variables set for its process); the defaults
are this CPU with OpenBLAS's own thread count and with one thread, an AVX2 CPU (Haswell
kernels, numpy's AVX2 loops) and an AVX one (Sandybridge kernels, numpy's SSE4 loops), one
thread each. A kernel set this CPU lacks cannot be simulated: pick from what
``grep flags /proc/cpuinfo`` lists. The float64 demo is the demo with its model in float64
(``hadoop-rnn demo`` has no ``--dtype``); the series walk-through gets ``--dtype float64``
on its `hadoop-rnn train`. docs/testing.md has the figures.
"""
import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEWER_THAN_AVX2 = "X86_V4 AVX512_ICL AVX512_SPR"
MACHINES = (
    "this:",
    "this-1-thread:OPENBLAS_NUM_THREADS=1",
    f"haswell:OPENBLAS_CORETYPE=Haswell,NPY_DISABLE_CPU_FEATURES={NEWER_THAN_AVX2},OPENBLAS_NUM_THREADS=1",
    "sandybridge:OPENBLAS_CORETYPE=Sandybridge,"
    f"NPY_DISABLE_CPU_FEATURES=X86_V3 {NEWER_THAN_AVX2},OPENBLAS_NUM_THREADS=1",
)
HEADINGS = {"sunspots": "Yearly sunspots", "co2": "Weekly CO2", "electricity": "Electricity demand"}

# the demo with its model in a given dtype, and the README's `hadoop-rnn` as this checkout's
DEMO = ("import dataclasses, sys, jobs.demo as d; "
        "d.SPEC = dataclasses.replace(d.SPEC, dtype=sys.argv[1]); "
        "d.demo(run=sys.argv[2], epochs=int(sys.argv[3]))")
PREAMBLE = f'hadoop-rnn() {{ "{sys.executable}" -m jobs.cli "$@"; }}\n'


def sh_block(heading):
    """The first ```sh block under the README heading that starts with ``heading``."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        section = f.read().split(f"\n### {heading}", 1)[1].split("\n### ", 1)[0]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def machine_env(machine):
    """The name and the environment variables of ``machine`` (NAME:VAR=VALUE,VAR=VALUE)."""
    name, _, variables = machine.partition(":")
    return name, dict(v.split("=", 1) for v in variables.split(",") if v)


def cpu_seconds():
    """The CPU seconds (user and system) of this script's finished child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_walkthrough(walkthrough, dtype, epochs, env, work):
    """What the walk-through prints in ``work`` under ``env``, its wall and CPU seconds."""
    full_env = {**os.environ, **env, "PYTHONPATH": ROOT}
    started = time.monotonic(), cpu_seconds()
    if walkthrough == "demo":
        cmd = [sys.executable, "-c", DEMO, dtype, os.path.join(work, "demo"), str(epochs or 8)]
    else:
        flags = (f" --epochs {epochs}" if epochs else "") + f" --dtype {dtype}"
        script = re.sub(r"^(hadoop-rnn train .*)$", rf"\1{flags}",
                        sh_block(HEADINGS[walkthrough]).replace("/tmp/ex", work)
                        .replace("python scripts/", f"python {ROOT}/scripts/")
                        .replace("\\\n", " "), flags=re.M)
        cmd = ["bash", "-e", "-c", PREAMBLE + script]
    done = subprocess.run(cmd, cwd=work, env=full_env, capture_output=True, text=True)
    seconds = time.monotonic() - started[0], cpu_seconds() - started[1]
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        sys.exit(f"cross_kernel_figures: {walkthrough} failed under {env or 'this CPU'}: {last}")
    return done.stdout, seconds


def figures(out, work):
    """The printed lines without what varies from run to run (speed, seconds, paths)."""
    lines = []
    for line in out.splitlines():
        line = re.sub(r"\s+[\d,]+ tok/s\s+[\d.]+s", "", line.replace(work, "WORK"))
        if line.strip():
            lines.append(line.rstrip())
    return lines


def differing(reference, lines):
    """The (index, reference line, this line) of every line that differs."""
    pairs = zip(reference, lines) if len(reference) == len(lines) else []
    diff = [(i, a, b) for i, (a, b) in enumerate(pairs) if a != b]
    if len(reference) != len(lines):
        diff.append((None, f"{len(reference)} lines", f"{len(lines)} lines"))
    return diff


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--walkthrough", action="append", choices=("demo", *HEADINGS),
                        help="default: demo and sunspots")
    parser.add_argument("--dtype", action="append", choices=("float32", "float64"),
                        help="default: both")
    parser.add_argument("--machine", action="append",
                        help="NAME:VAR=VALUE,... the first one the reference (default: this, "
                             "this-1-thread, haswell, sandybridge)")
    parser.add_argument("--epochs", type=int, help="train this many epochs instead of the README's")
    parser.add_argument("--show", action="store_true", help="also print every machine's lines")
    args = parser.parse_args(argv)
    machines = [machine_env(m) for m in args.machine or MACHINES]
    for walkthrough in args.walkthrough or ["demo", "sunspots"]:
        for dtype in args.dtype or ["float32", "float64"]:
            results = {}
            for name, env in machines:
                with tempfile.TemporaryDirectory(prefix="cross-kernel-") as work:
                    out, seconds = run_walkthrough(walkthrough, dtype, args.epochs, env, work)
                    results[name] = (figures(out, work), seconds, env)
                print(f"{walkthrough} {dtype} {name}: {seconds[0]:.0f} s, {seconds[1]:.0f} s CPU",
                      file=sys.stderr)
            reference = next(iter(results.values()))[0]
            report = {"walkthrough": walkthrough, "dtype": dtype, "epochs": args.epochs,
                      "lines": len(reference), "machines": {}}
            for name, (lines, seconds, env) in results.items():
                diff = differing(reference, lines)
                report["machines"][name] = {
                    "env": env, "seconds": round(seconds[0], 1), "cpu_seconds": round(seconds[1], 1), "lines_differing": len(diff),
                    "first_differing": diff[0] if diff else None,
                    "lines": lines if args.show else None,
                    "differing": [d[2] for d in diff] if args.show else None}
            print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
