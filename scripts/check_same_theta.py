#!/usr/bin/env python3
"""θ of the same `hadoop-rnn train` runs by this checkout and by another commit, compared.

For a change meant to keep behaviour (a refactor): trains a few small runs that cover the
epoch job's paths (average mode, gradient mode with the norm step, sync rounds, the inner
state reset and outer lr, patience, a series model with its data-chosen defaults) with the
code of ``--base`` (a git worktree of it) and with this checkout, on the same data, and
prints one JSON line per run: θ's SHA-256 and the validation losses, by both, and whether
they are the same bits. Exits 1 if any run differs.

    python scripts/check_same_theta.py --base before-24 --runner inline
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# run in a child Python whose sys.path starts with one checkout: (data kind, train flags)
RUNS = {
    "text average (the default mode)": ("text", ["--epochs", "2"]),
    "text gradient, global-norm clip": ("text", ["--mode", "gradient", "--clip", "0.05",
                                                 "--epochs", "2"]),
    "text average, 3 sync rounds per epoch": ("text", ["--syncs-per-epoch", "3", "--epochs", "2"]),
    "text average, inner state reset, outer lr 0.8": ("text", ["--inner-state", "reset",
                                                              "--outer-lr", "0.8", "--epochs", "2"]),
    "text gru, sgd, patience 1": ("text", ["--cell", "gru", "--optimizer", "sgd", "--patience", "1",
                                          "--epochs", "4"]),
    "series, the defaults chosen from the data": ("series", ["--epochs", "3"]),
}
TEXT_FLAGS = ["--hidden", "8", "--batch", "4", "--dtype", "float64"]

CHILD = r"""
import hashlib, json, os, sys
root, runner, work, runs = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
sys.path[:0] = [root, os.path.join(root, "tests")]
os.chdir(root)
try:
    from helpers import SUNSPOTS_CSV, prepare_cli, train_cli, write_text_data
except ImportError:  # before tests/helpers.py
    from conftest import SUNSPOTS_CSV, prepare_cli, train_cli, write_text_data
from jobs.run.state import read_state_file
import pathlib
data = {"text": os.path.join(work, "text"), "series": os.path.join(work, "series")}
if not os.path.exists(data["text"]):
    write_text_data(pathlib.Path(data["text"]))
    prepare_cli("--kind", "series", SUNSPOTS_CSV, "--column", "SUNACTIVITY", "--chunk", 12,
                "--valid", 0.2, "--out", data["series"])
out = {}
for n, (name, (kind, flags)) in enumerate(runs.items()):
    run = os.path.join(work, f"run-{os.getpid()}-{n}")
    assert train_cli("--data", data[kind], "--run", run, "--runner", runner, *flags) == 0, name
    state = read_state_file(os.path.join(run, "latest.npz"))
    out[name] = {"epoch": state.epoch, "theta_sha256": hashlib.sha256(state.theta.tobytes()).hexdigest(),
                 "valid_losses": [m["valid_loss"] for m in state.history]}
print(json.dumps(out))
"""


def thetas(root, runner, work, runs):
    """{run name: {epoch, theta_sha256, valid_losses}} of the code in ``root``."""
    done = subprocess.run([sys.executable, "-c", CHILD, root, runner, work, json.dumps(runs)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the commit to compare with")
    parser.add_argument("--runner", default="inline", choices=["inline", "local"])
    args = parser.parse_args()
    runs = {name: (kind, (TEXT_FLAGS if kind == "text" else []) + flags)
            for name, (kind, flags) in RUNS.items()}
    with tempfile.TemporaryDirectory(prefix="same-theta-") as tmp:
        base = os.path.join(tmp, "base")
        subprocess.run(["git", "-C", REPO, "worktree", "add", "--detach", "-q", base, args.base],
                       check=True)
        try:
            work = os.path.join(tmp, "work")
            os.makedirs(work)
            before = thetas(base, args.runner, work, runs)
            after = thetas(REPO, args.runner, work, runs)
        finally:
            subprocess.run(["git", "-C", REPO, "worktree", "remove", "--force", base], check=True)
    differ = 0
    for name in runs:
        same = before[name] == after[name]
        differ += not same
        print(json.dumps({"run": name, "runner": args.runner, "same": same,
                          "base": before[name], "this": after[name]}))
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
