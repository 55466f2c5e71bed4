"""scripts/cpu_per_test.py: a pytest plugin that writes each test's CPU seconds, its own and
its processes', as JSON lines."""
import json
import os
import subprocess
import sys

from helpers import REPO

TESTS = '''
import subprocess, sys

def test_that_computes_here():
    sum(i * i for i in range(3_000_000))

def test_that_computes_in_a_process():
    subprocess.run([sys.executable, "-c", "sum(i * i for i in range(3_000_000))"], check=True)
'''


def run_with_the_plugin(tmp_path, env):
    (tmp_path / "test_work.py").write_text(TESTS)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "cpu_per_test", "-p", "no:cacheprovider",
         "-n", "0", str(tmp_path / "test_work.py")],
        cwd=tmp_path, capture_output=True, text=True,
        env={**{k: v for k, v in os.environ.items() if k != "CPU_PER_TEST_OUT"},
             "PYTHONPATH": f"{REPO}/scripts", **env})
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_each_test_has_a_line_with_its_own_and_its_processes_cpu_seconds(tmp_path):
    out = tmp_path / "cpu.jsonl"
    run_with_the_plugin(tmp_path, {"CPU_PER_TEST_OUT": str(out),
                                   "HADOOP_RNN_DEV_CLUSTER_DIR": str(tmp_path / "no-cluster")})
    here, in_a_process = [json.loads(line) for line in out.read_text().splitlines()]
    assert here["test"].endswith("::test_that_computes_here")
    assert here["self"] > 0.05 and here["children"] == 0
    assert in_a_process["test"].endswith("::test_that_computes_in_a_process")
    assert in_a_process["children"] > 0.05 and in_a_process["self"] < in_a_process["children"]
    assert here["cluster"] == in_a_process["cluster"] == 0   # no dev cluster there
    assert all(line["wall"] > 0 for line in (here, in_a_process))


def test_without_an_output_file_it_writes_nothing(tmp_path):
    run_with_the_plugin(tmp_path, {})
    assert {p.name for p in tmp_path.iterdir()} - {"test_work.py", "__pycache__"} == set()
