"""What differs between Python versions, beyond the tests marked ``matrix`` elsewhere: the
standard-library modules mrjob 0.7.4 imports that newer Pythons no longer ship (``distutils``
since 3.12, ``pipes`` since 3.13), which setup.py adds back as conditional dependencies."""
import subprocess
import sys

import pytest


@pytest.mark.matrix
def test_every_mrjob_module_the_jobs_use_imports_in_a_fresh_interpreter():
    # a fresh process: nothing imported by other tests stands in for a missing module
    modules = ["mrjob.util", "mrjob.job", "mrjob.inline", "mrjob.local", "mrjob.hadoop",
               "mrjob.fs.hadoop", "mrjob.compat", "jobs.cli", "jobs.mr.train_epoch"]
    done = subprocess.run([sys.executable, "-c", "import " + ", ".join(modules)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
