"""scripts/bench_bptt.py: the roofline beside the tokens/s, and the map task against bare BPTT."""
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_bptt_bench_reports_its_rate_against_the_same_products_and_the_map_task(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "bench_bptt.py"),
                           "--cells", "rnn", "--dtypes", "float64", "--repeats", "1",
                           "--map-task", "--map-batches", "1"],
                          env={**os.environ, "TMPDIR": str(tmp_path)}, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    kernel, task = (json.loads(line) for line in done.stdout.splitlines())
    assert kernel["gflops"] == pytest.approx(kernel["of_gemm"] * kernel["gemm_gflops"], rel=0.01)
    assert kernel["gemm_ms"] > 0 and kernel["large_gemm_gflops"] > 0
    assert kernel["nonlinear_ms"] > 0 and kernel["bound_of_large_gemm"] > 0
    assert task["tokens"] == 32 * 64 and task["map_task_tokens_per_s"] > 0
    assert os.listdir(tmp_path) == []
