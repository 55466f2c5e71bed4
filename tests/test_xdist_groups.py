"""The README's test command groups the dev cluster's tests (tests/conftest.py): under
``-n 2 --dist loadgroup`` each group runs on one worker."""
import os
import re
import subprocess
import sys

from helpers import REPO


def test_under_loadgroup_each_group_of_the_clusters_tests_runs_on_one_worker():
    env = {k: v for k, v in os.environ.items()
           if k not in ("CI", "HADOOP_RNN_WEBHDFS_URL")}   # no cluster: the tests skip
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v", "-p",
         "no:cacheprovider", "-m", "hadoop", "tests/test_storage.py", "tests/test_dev_cluster.py"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    ran = re.findall(r"^\[(gw\d)\] .*? (SKIPPED|PASSED) \S+::\S+@(\w+)", done.stdout, re.M)
    workers = {}
    for worker, _, group in ran:
        workers.setdefault(group, set()).add(worker)
    assert sorted(workers) == ["hadoop", "yarn"], done.stdout[-3000:]
    assert all(len(w) == 1 for w in workers.values()), workers
    assert f" {len(ran)} skipped in " in done.stdout, done.stdout[-3000:]   # every test seen
