"""scripts/bench_noise_scale.py: the gradient noise scale B = tr(Σ)/|G|² from minibatch
gradients, and the most N tasks can buy to a target loss, (1 + B/b)/(1 + B/(N·b))."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts"))
import bench_noise_scale as bench  # noqa: E402
from helpers import train_small, write_text_data  # noqa: E402


def minibatch_gradients(mean, sd, batch, count, seed=0):
    """``count`` means of ``batch`` examples whose gradients are ``mean`` plus independent
    normal noise of ``sd`` per coordinate: tr(Σ) = n·sd², |G|² = |mean|²."""
    rng = np.random.default_rng(seed)
    return mean + rng.normal(0, sd / np.sqrt(batch), (count, mean.size))


def test_the_noise_scale_is_the_trace_of_the_examples_covariance_over_the_squared_mean():
    mean = np.full(400, 0.01)  # |G|² = 0.04; tr(Σ) = 400 × 0.05² = 1: B = 25
    scale, trace, norm2 = bench.noise_scale(minibatch_gradients(mean, 0.05, 32, 2000), 32)
    assert trace == pytest.approx(1.0, rel=0.02)
    assert norm2 == pytest.approx(0.04, rel=0.05)
    assert scale == pytest.approx(25, rel=0.06)


def test_the_noise_scale_does_not_depend_on_the_minibatch_size_it_is_measured_at():
    mean = np.full(400, 0.01)
    small = bench.noise_scale(minibatch_gradients(mean, 0.05, 8, 2000, seed=1), 8)[0]
    large = bench.noise_scale(minibatch_gradients(mean, 0.05, 128, 2000, seed=2), 128)[0]
    assert small == pytest.approx(large, rel=0.1)


def test_a_mean_gradient_lost_in_the_noise_gives_an_infinite_scale():
    noise_only = minibatch_gradients(np.zeros(400), 0.05, 32, 3)
    noise_only[:] = [[1, 0] * 200, [-1, 0] * 200, [0, 0] * 200]  # mean 0, c = 0
    assert bench.noise_scale(noise_only, 32)[0] == float("inf")


def test_the_noise_scale_needs_two_minibatch_gradients():
    with pytest.raises(ValueError, match="at least 2 minibatch gradients, got 1"):
        bench.noise_scale(np.ones((1, 5)), 32)


def test_in_the_model_n_tasks_buy_at_most_one_plus_the_noise_scale_over_the_batch():
    assert bench.speedup_bound(96, 32, 1) == 1
    assert bench.speedup_bound(96, 32, 8) == pytest.approx(4 / (1 + 96 / 256))
    assert bench.speedup_bound(96, 32, 10**9) == pytest.approx(4, rel=1e-6)


def test_the_bench_prints_a_line_per_kept_checkpoint_of_a_trained_run(tmp_path):
    data, _ = write_text_data(tmp_path / "data")
    run = str(tmp_path / "run")
    assert train_small(data, run, "--epochs", "2") == 0
    done = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "bench_noise_scale.py"),
                           "--data", data, "--run", run, "--batch", "4", "--batches", "6",
                           "--tasks", "2", "8"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2]
    assert all(line["noise_scale_chunks"] > 0 and set(line["bound"]) == {"2", "8"}
               for line in lines)
    assert lines[0]["valid_loss"] is not None


def test_the_bench_refuses_more_minibatches_than_the_records_in_one_line(tmp_path):
    data, _ = write_text_data(tmp_path / "data")
    run = str(tmp_path / "run")
    assert train_small(data, run, "--epochs", "1") == 0
    done = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "bench_noise_scale.py"),
                           "--data", data, "--run", run, "--batches", "1000"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0 and "fewer than" in done.stderr
