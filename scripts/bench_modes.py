#!/usr/bin/env python
"""Compare the two training modes on the same real data: loss after each job (epoch).

``gradient`` takes one exact synchronous optimizer step per job; ``average`` (iterative
parameter mixing) lets every map task take a step per minibatch of its split and averages
the parameter changes. Both train the same model from the same θ on a character corpus of
Python's own standard library source, with the local runner (2 map tasks at a time).

Prints one JSON line per (mode, epoch) with ``train_loss``, ``valid_loss`` (nats per char)
and ``seconds``, then one summary line per mode.

    python scripts/bench_modes.py [--epochs 5] [--chars 300000] [--runner local]
"""
import argparse
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


sys.path.insert(0, os.path.join(REPO, "scripts"))
from bench_job import cli_main, stdlib_dataset  # noqa: E402
from workdir import add_work_flag, work_dir  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--chars", type=int, default=300_000)
    parser.add_argument("--runner", default="local")
    parser.add_argument("--hidden", type=int, default=64)
    add_work_flag(parser)
    args = parser.parse_args()

    with work_dir(args.work, "bench-modes-") as work:
        data_dir = stdlib_dataset(os.path.join(work, "data"), args.chars, chunk=65, valid=0.05,
                                  shards=4)
        for mode in ("gradient", "average"):
            run_dir = os.path.join(work, f"run-{mode}")
            cli_main(["train", "--data", data_dir, "--run", run_dir, "--runner", args.runner,
                      "--mode", mode, "--epochs", str(args.epochs), "--cell", "lstm",
                      "--hidden", str(args.hidden), "--batch", "32", "--bptt", "64",
                      "--optimizer", "adam", "--lr", "0.003", "--seed", "1"])
            with open(os.path.join(run_dir, "metrics.jsonl")) as f:
                history = [json.loads(line) for line in f]
            for m in history:
                print(json.dumps({"mode": mode, "epoch": m["epoch"],
                                  "train_loss": round(m["train_loss"], 4),
                                  "valid_loss": round(m["valid_loss"], 4),
                                  "seconds": round(m["seconds"], 2)}))
            print(json.dumps({"mode": mode, "summary": True, "epochs": len(history),
                              "first_valid_loss": round(history[0]["valid_loss"], 4),
                              "last_valid_loss": round(history[-1]["valid_loss"], 4),
                              "total_seconds": round(sum(m["seconds"] for m in history), 1)}))


if __name__ == "__main__":
    main()
