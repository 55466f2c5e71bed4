"""scripts/bench_minibatch.py: BPTT tokens/s against the chunks per minibatch."""
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(REPO, "scripts", "bench_minibatch.py")


def test_the_bench_prints_a_line_per_hidden_size_with_each_minibatch_against_the_largest():
    done = subprocess.run([sys.executable, BENCH, "--hidden", "8", "16", "--batches", "2", "4",
                           "--steps", "8", "--repeats", "1", "--tokens", "64"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["hidden"] for line in lines] == [8, 16]
    assert all(line["of_largest"]["4"] == 1 and line["tokens_per_s"]["2"] > 0 for line in lines)


def test_the_bench_refuses_a_minibatch_below_one_in_one_line():
    done = subprocess.run([sys.executable, BENCH, "--batches", "0", "32"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "must be >= 1" in done.stderr
