"""rnn_core/heap.py: a process that keeps the memory numpy frees runs its next minibatches
in the pages its last ones used; every hadoop-rnn task keeps it."""
import io
import os
import platform
import subprocess
import sys

import pytest

import jobs.mr.task
from jobs.mr.char_count import MRCharCount

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GLIBC = platform.libc_ver()[0] == "glibc"

# page faults per minibatch of an LSTM-64 over 32 chunks of 64 characters (its window's
# arrays are megabytes), after two warm-up minibatches
FAULTS_PER_MINIBATCH = """
import resource, sys
import numpy as np
from rnn_core import ModelConfig, init_params, loss_and_grad
from rnn_core.heap import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
cfg = ModelConfig(cell="lstm", hidden=64, vocab_size=20, dtype="float32")
theta = init_params(cfg, seed=0)
inputs, targets = np.random.default_rng(0).integers(0, 20, (2, 32, 64))
for _ in range(2):
    loss_and_grad(theta, cfg, inputs, targets)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    loss_and_grad(theta, cfg, inputs, targets)
print(kept, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
"""


def faults_per_minibatch(mode):
    done = subprocess.run([sys.executable, "-c", FAULTS_PER_MINIBATCH, mode], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    kept, faults = done.stdout.split()
    return kept, float(faults)


@pytest.mark.skipif(not GLIBC, reason="mallopt's thresholds are glibc's")
def test_minibatches_after_keep_freed_memory_fault_in_no_new_pages():
    assert faults_per_minibatch("keep") == ("True", pytest.approx(0, abs=50))


@pytest.mark.skipif(not GLIBC, reason="mallopt's thresholds are glibc's")
def test_without_it_every_minibatch_faults_in_its_arrays_again():
    _, faults = faults_per_minibatch("default")
    assert faults > 200


def test_every_task_keeps_freed_memory(monkeypatch):
    calls = []
    monkeypatch.setattr(jobs.mr.task, "keep_freed_memory", lambda: calls.append(1))
    job = MRCharCount(["--mapper"])
    job.sandbox(stdin=io.BytesIO(b"ab\n"), stdout=io.BytesIO(), stderr=io.BytesIO())
    job.execute()
    assert calls == [1]
