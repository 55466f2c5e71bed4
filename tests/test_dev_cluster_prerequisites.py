"""`scripts/hadoop-dev-cluster start` says what it needs before it starts anything: a JDK 17
(Debian's, or the one of `java` on PATH, or HADOOP_RNN_JAVA_HOME) and Maven. These run
without a cluster: the script stops at the check."""
import os
import subprocess

from helpers import REPO

SCRIPT = os.path.join(REPO, "scripts", "hadoop-dev-cluster")


def fake_jdk(tmp_path, version):
    """A directory whose bin/java prints ``version`` as `java -version` does."""
    java = tmp_path / "jdk" / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2026-01-01' >&2\n")
    java.chmod(0o755)
    return str(java.parent.parent)


def start(tmp_path, path=None, **env):
    """(exit code, stderr) of `start` with a fresh state directory and ``env`` set."""
    env = {**os.environ, "HADOOP_RNN_DEV_CLUSTER_DIR": str(tmp_path / "state"), **env}
    if path is not None:
        env["PATH"] = path
    done = subprocess.run(["bash", SCRIPT, "start"], env=env, capture_output=True, text=True,
                          timeout=60)
    return done.returncode, done.stderr


def test_start_without_a_jdk_says_how_to_install_one(tmp_path):
    code, err = start(tmp_path, HADOOP_RNN_JAVA_HOME=str(tmp_path / "no-jdk"))
    assert code == 1
    assert "no JDK found" in err and "apt-get install openjdk-17-jdk-headless" in err


def test_start_with_a_java_other_than_17_names_what_it_found(tmp_path):
    code, err = start(tmp_path, HADOOP_RNN_JAVA_HOME=fake_jdk(tmp_path, "21.0.1"))
    assert code == 1 and "needs Java 17" in err and '"21.0.1"' in err


def test_start_without_maven_says_how_to_install_it(tmp_path):
    bin_dir = tmp_path / "bin"  # every command of the system's PATH but mvn
    bin_dir.mkdir()
    for directory in ("/usr/local/bin", "/usr/bin", "/bin"):
        for name in os.listdir(directory) if os.path.isdir(directory) else ():
            if name != "mvn" and not (bin_dir / name).exists():
                (bin_dir / name).symlink_to(os.path.join(directory, name))
    code, err = start(tmp_path, path=str(bin_dir),
                      HADOOP_RNN_JAVA_HOME=fake_jdk(tmp_path, "17.0.9"))
    assert code == 1 and "Maven (mvn) not found" in err and "apt-get install maven" in err
