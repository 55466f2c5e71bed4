"""Signals are honoured at every point (lazy imports included), and nothing temporary
outlives the command, test or bench that made it. docs/operations.md names these tests."""
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest
from helpers import REPO, SUNSPOTS_SERIES, prepare_sunspots, signal_once_loaded, start_cli

from jobs.hadoop.launch import RunnerOptions, run_job
from jobs.interrupts import signals_raise

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/maps"),
                                reason="needs /proc to see what a process has loaded")


def tree(path):
    return {os.path.relpath(os.path.join(d, n), path): open(os.path.join(d, n), "rb").read()
            for d, _, names in os.walk(path) for n in names}


def test_sigint_while_pyarrow_imports_pandas_keeps_the_old_dataset(tmp_path):
    # pyarrow's to_numpy imports pandas and discards what that import raises, Ctrl-C included
    data = prepare_sunspots(tmp_path / "ds")
    before = tree(data)
    proc = start_cli("prepare", *SUNSPOTS_SERIES, "--valid", 0.3, "--out", data, "--force")
    signal_once_loaded(proc, "/pandas/_libs/", signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, err) == (130, "hadoop-rnn: interrupted\n"), out + err
    assert tree(data) == before and os.listdir(tmp_path) == ["ds"]


def test_sigint_while_numpy_is_imported_at_start_up_is_one_line(tmp_path):
    proc = start_cli("prepare", *SUNSPOTS_SERIES, "--out", tmp_path / "ds")
    signal_once_loaded(proc, "_multiarray_umath", signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, err) == (130, "hadoop-rnn: interrupted\n"), out + err


class CleanupInterruptedJob:
    """A job whose run is interrupted by Ctrl-C and whose runner's cleanup gets a second one
    before it has removed its temporary directory (``tmp``)."""
    tmp = None

    def __init__(self, args):
        pass

    def make_runner(self):
        return self

    def run(self):
        raise KeyboardInterrupt

    def get_job_key(self):
        return "cleanup-interrupted"

    def cleanup(self):
        os.kill(os.getpid(), signal.SIGINT)
        shutil.rmtree(self.tmp)


def test_a_second_sigint_waits_for_the_jobs_cleanup(tmp_path):
    CleanupInterruptedJob.tmp = tmp_path / "mrjob-tmp"
    CleanupInterruptedJob.tmp.mkdir()
    with signals_raise(), pytest.raises(KeyboardInterrupt):
        run_job(CleanupInterruptedJob, [], [], RunnerOptions(runner="inline"))
    assert not CleanupInterruptedJob.tmp.exists()


def files_under(path):
    return [os.path.join(d, n) for d, _, names in os.walk(path) for n in names]


def test_a_passing_test_run_leaves_no_temporary_directories(tmp_path):
    (tmp_path / "test_one.py").write_text(textwrap.dedent("""
        def test_writes(tmp_path):
            (tmp_path / "big").write_bytes(b"x" * 1000)
    """))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-c", os.path.join(REPO, "pytest.ini"), "--rootdir", str(tmp_path),
                           str(tmp_path / "test_one.py")],
                          env={**os.environ, "TMPDIR": str(tmp)}, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert files_under(tmp) == []


def test_a_bench_leaves_nothing_in_the_temp_dir(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "bench_job.py"),
                           "--tokens", "20000", "--repeats", "1", "--hidden", "8"],
                          env={**os.environ, "TMPDIR": str(tmp_path)}, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert os.listdir(tmp_path) == []


def test_a_bench_keeps_its_work_dir_only_when_given_one(tmp_path):
    sys.path.insert(0, os.path.join(REPO, "scripts"))
    try:
        from workdir import work_dir
    finally:
        sys.path.remove(os.path.join(REPO, "scripts"))
    with work_dir(str(tmp_path / "kept"), "bench-test-") as work:
        open(os.path.join(work, "out"), "w").close()
    with pytest.raises(KeyboardInterrupt), work_dir(None, "bench-test-") as temporary:
        open(os.path.join(temporary, "out"), "w").close()
        raise KeyboardInterrupt
    assert os.listdir(tmp_path / "kept") == ["out"] and not os.path.exists(temporary)
