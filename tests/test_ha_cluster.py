"""Training on an HA nameservice (two NameNodes; clients know only ``hdfs://rnn-ns``) while
the active NameNode is failed over.

Needs ``scripts/hadoop-dev-cluster start --ha`` with its state directory in
HADOOP_RNN_HA_CLUSTER_DIR (skipped otherwise). The jobs run on the inline runner with the run
directory on HDFS: every checkpoint, metrics line and lock heartbeat goes to the NameNodes.
"""
import os
import subprocess
import sys
import time
import uuid

import pytest
from helpers import REPO, SMALL, hadoop_rnn, load_run_state, shape_cluster_env, write_text_data

pytestmark = [pytest.mark.ha, pytest.mark.xdist_group("ha")]

EPOCHS = 6


def failover(env):
    """The active NameNode becomes standby and the other active; returns the answer line."""
    done = subprocess.run([f"{REPO}/scripts/hadoop-dev-cluster", "failover"], env=env,
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_a_run_across_two_failovers_ends_with_the_same_theta_as_one_without(tmp_path,
                                                                           monkeypatch):
    env = shape_cluster_env("ha")
    # load_run_state reads HDFS from this process: its environment is the cluster's, without
    # what the cluster's exports unset (the main dev cluster's HADOOP_RNN_WEBHDFS_URL in CI)
    for name in set(os.environ) - set(env):
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    data, _ = write_text_data(tmp_path / "data", validation=False)
    base = f"hdfs://rnn-ns/tmp/hadoop-rnn-tests/{uuid.uuid4().hex}"
    common = ["train", "--data", data, *SMALL, "--epochs", str(EPOCHS)]
    hadoop_rnn(*common, "--run", f"{base}/straight", env=env)

    run = subprocess.Popen([sys.executable, "-m", "jobs.cli", *common, "--run", f"{base}/failed-over"],
                           env={**env, "PYTHONPATH": REPO}, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    answers, lines = [], []
    for line in run.stdout:
        lines.append((time.monotonic(), line.rstrip()))
        if line.startswith((f"epoch 2/{EPOCHS}", f"epoch 4/{EPOCHS}")):
            answers.append(failover(env))
    assert run.wait(timeout=300) == 0, "\n".join(text for _, text in lines)
    actives = [answer.split()[0] for answer in answers]   # "nn2 active (was nn1; 0.2 s)"
    assert len(actives) == 2 and actives[0] != actives[1], answers
    gaps = [b[0] - a[0] for a, b in zip(lines, lines[1:])]
    print(f"failovers: {answers}; seconds between log lines: {[round(g, 2) for g in gaps]}")
    straight = load_run_state(f"{base}/straight")
    failed_over = load_run_state(f"{base}/failed-over")
    assert failed_over.epoch == EPOCHS
    assert failed_over.theta.tobytes() == straight.theta.tobytes()
