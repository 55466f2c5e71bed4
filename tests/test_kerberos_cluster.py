"""The commands on a Kerberos cluster: secure HDFS (block access tokens, SASL data transfer),
WebHDFS over SPNEGO and HTTPS only, a real KDC (Hadoop's MiniKdc).

Needs ``scripts/hadoop-dev-cluster start --kerberos`` with its state directory in
HADOOP_RNN_KERBEROS_CLUSTER_DIR (skipped otherwise). Every command runs as a subprocess with
that cluster's exports and a ticket cache of the test's own. The jobs run on the inline
runner with the run directory on HDFS: the hadoop runner's jobs cannot run on a secure
cluster here (its shuffle needs Hadoop's native libraries; see README "Running on a real
cluster").
"""
import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest
from helpers import REPO, TINY, hdfs_tree, kinit, run_hadoop_rnn, shape_cluster_env

from jobs.hadoop.kerberos import EXIT_NO_TICKET

pytestmark = [pytest.mark.kerberos, pytest.mark.xdist_group("kerberos")]


@pytest.fixture
def cluster(tmp_path):
    """(env with a ticket, env without one, a fresh hdfs:// directory)."""
    env = shape_cluster_env("kerberos")
    with_ticket = kinit(env, tmp_path / "krb5cc")
    without = {**env, "KRB5CCNAME": f"FILE:{tmp_path / 'no-such-cache'}"}
    return with_ticket, without, f"hdfs:///tmp/hadoop-rnn-tests/{uuid.uuid4().hex}"


def ok(*args, env):
    done = run_hadoop_rnn(*args, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_after_kinit_prepare_train_and_evaluate_work_on_hdfs(cluster, tmp_path):
    env, _, hdfs = cluster
    (tmp_path / "in.txt").write_text(open(f"{REPO}/README.md").read()[:6000])
    ok("prepare", "--kind", "text", tmp_path / "in.txt", "--chunk", 33, "--valid", 0.2,
       "--out", f"{hdfs}/data", env=env)
    ok("prepare", "--kind", "text", tmp_path / "in.txt", "--chunk", 33, "--valid", 0.2,
       "--out", tmp_path / "data", env=env)
    ok("train", "--data", tmp_path / "data", "--run", f"{hdfs}/run", "--epochs", 2, *TINY,
       env=env)
    done = ok("evaluate", "--run", f"{hdfs}/run", env=env)
    assert "perplexity" in done.stdout
    assert any(line.split()[1] == "ckpt-000002.npz" for line in hdfs_tree(f"{hdfs}/run", env))
    assert any(line.split()[1] == "meta.json" for line in hdfs_tree(f"{hdfs}/data", env))


def test_without_a_ticket_every_command_fails_with_the_kinit_message_and_changes_nothing(
        cluster, tmp_path):
    env, no_ticket, hdfs = cluster
    (tmp_path / "in.txt").write_text(open(f"{REPO}/README.md").read()[:3000])
    data = tmp_path / "data"
    ok("prepare", "--kind", "text", tmp_path / "in.txt", "--chunk", 33, "--valid", 0.2,
       "--out", data, env=env)
    ok("train", "--data", data, "--run", f"{hdfs}/run", "--epochs", 1, *TINY, env=env)
    before = hdfs_tree(hdfs, env)
    for command in (["prepare", "--kind", "text", tmp_path / "in.txt", "--chunk", 33,
                     "--out", f"{hdfs}/data"],
                    ["train", "--data", data, "--run", f"{hdfs}/run", "--epochs", 2, *TINY],
                    ["evaluate", "--run", f"{hdfs}/run"]):
        done = run_hadoop_rnn(*command, env=no_ticket)
        assert done.returncode == EXIT_NO_TICKET, done.stderr
        assert done.stderr.count("\n") == 1 and "run kinit" in done.stderr, done.stderr
    assert hdfs_tree(hdfs, env) == before


def test_an_expired_ticket_is_the_kinit_message(cluster, tmp_path):
    env, _, hdfs = cluster
    short = {**env, "KRB5CCNAME": f"FILE:{tmp_path / 'short'}"}
    keytab = f"{env['HADOOP_RNN_DEV_CLUSTER_DIR']}/rnn.keytab"
    subprocess.run(["kinit", "-l", "10s", "-kt", keytab, "rnn"], env=short, check=True)
    time.sleep(11)
    done = run_hadoop_rnn("evaluate", "--run", f"{hdfs}/run", env=short)
    assert done.returncode == EXIT_NO_TICKET
    assert "has expired); run kinit" in done.stderr


def test_cron_with_a_keytab_logs_in_and_again_during_a_run_that_outlives_its_ticket(
        cluster, tmp_path):
    env, _, hdfs = cluster
    (tmp_path / "in.txt").write_text(open(f"{REPO}/README.md").read()[:6000])
    ok("prepare", "--kind", "text", tmp_path / "in.txt", "--chunk", 33, "--valid", 0.2,
       "--out", tmp_path / "data", env=env)
    keytab = f"{env['HADOOP_RNN_DEV_CLUSTER_DIR']}/rnn.keytab"
    cron_env = {k: v for k, v in env.items() if k != "KRB5CCNAME"}
    cron_env.update(PYTHONPATH=REPO, TMPDIR=str(tmp_path), HADOOP_RNN_CRON_KINIT_LIFETIME="10s",
                    HADOOP_RNN_BIN=shutil.which("hadoop-rnn", path=os.path.dirname(sys.executable)))
    log = tmp_path / "cron.log"
    started = time.monotonic()
    done = subprocess.run([f"{REPO}/scripts/hadoop-rnn-cron", "--log", log, "--keytab", keytab,
                           "--principal", "rnn", "--data", tmp_path / "data", "--run",
                           f"{hdfs}/run", "--epochs", "12", *TINY],
                          env=cron_env, capture_output=True, timeout=300)
    lines = log.read_text().splitlines()
    assert done.returncode == 0, lines[-5:]
    assert time.monotonic() - started > 12   # longer than the first ticket
    assert any("kinit again as rnn" in line for line in lines)
    assert any("epoch 12/12" in line for line in lines)
    secret = open(keytab, "rb").read()
    assert secret not in log.read_bytes() + done.stdout + done.stderr
    assert not list(tmp_path.glob("hadoop-rnn-cron-krb.*"))  # the private cache is gone
