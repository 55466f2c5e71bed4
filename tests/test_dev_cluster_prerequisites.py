"""`scripts/hadoop-dev-cluster` without a cluster: which JDK 17 it finds (`check`), what `start`
says when a prerequisite is missing (it stops there, before anything is started), and the
interpreter it writes into its mrjob.conf (`mrjob-conf`, the step of `start` that writes it)."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from helpers import REPO

SCRIPT = os.path.join(REPO, "scripts", "hadoop-dev-cluster")
DEBIAN_JAVA_HOME = "/usr/lib/jvm/java-17-openjdk-amd64"


def fake_jdk(tmp_path, name, version):
    """A JDK directory whose bin/java prints ``version`` as `java -version` does."""
    java = tmp_path / name / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2026-01-01' >&2\n")
    java.chmod(0o755)
    return str(java.parent.parent)


def path_without(tmp_path, *commands):
    """A PATH holding every command of the system's PATH but ``commands``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in ("/usr/local/bin", "/usr/bin", "/bin"):
        for name in os.listdir(directory) if os.path.isdir(directory) else ():
            if name not in commands and not (bin_dir / name).exists():
                (bin_dir / name).symlink_to(os.path.join(directory, name))
    return str(bin_dir)


def script(tmp_path, command, **env):
    """(exit code, stdout, stderr) of the script's ``command`` with a fresh state directory,
    ``env`` set and none of this machine's JDK or interpreter choices unless given."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("JAVA_HOME", "HADOOP_RNN_JAVA_HOME", "HADOOP_RNN_DEV_PYTHON")}
    env = {**base, "HADOOP_RNN_DEV_CLUSTER_DIR": str(tmp_path / "state"), **env}
    done = subprocess.run(["bash", SCRIPT, command], env=env, capture_output=True, text=True,
                          timeout=60)
    return done.returncode, done.stdout, done.stderr


def found_jdk(tmp_path, **env):
    code, out, err = script(tmp_path, "check", **env)
    assert code == 0, err
    return re.search(r"^JDK 17: (\S+) ", out, re.M).group(1)


def test_check_takes_java_home_when_it_is_a_17(tmp_path):
    java_home = fake_jdk(tmp_path, "jdk17", "17.0.9")
    assert found_jdk(tmp_path, JAVA_HOME=java_home) == java_home


def test_check_passes_over_a_java_home_of_another_version_for_the_17_of_java_on_path(tmp_path):
    on_path = fake_jdk(tmp_path, "jdk17", "17.0.9")
    found = found_jdk(tmp_path, JAVA_HOME=fake_jdk(tmp_path, "jdk25", "25.0.3"),
                      PATH=f"{on_path}/bin:{os.environ['PATH']}")
    assert found == on_path


def test_check_passes_over_a_java_on_path_of_another_version(tmp_path):
    if not os.path.isfile(os.path.join(DEBIAN_JAVA_HOME, "bin", "java")):
        pytest.skip(f"no {DEBIAN_JAVA_HOME}, the last place looked at")
    other = fake_jdk(tmp_path, "jdk25", "25.0.3")
    assert found_jdk(tmp_path, PATH=f"{other}/bin:{os.environ['PATH']}") == DEBIAN_JAVA_HOME


def test_check_takes_hadoop_rnn_java_home_before_java_home(tmp_path):
    chosen = fake_jdk(tmp_path, "chosen", "17.0.1")
    assert found_jdk(tmp_path, HADOOP_RNN_JAVA_HOME=chosen,
                     JAVA_HOME=fake_jdk(tmp_path, "jdk17", "17.0.9")) == chosen


def test_start_with_a_hadoop_rnn_java_home_that_is_no_jdk_says_how_to_install_one(tmp_path):
    code, _, err = script(tmp_path, "start", HADOOP_RNN_JAVA_HOME=str(tmp_path / "no-jdk"))
    assert code == 1
    assert "is not a JDK 17" in err and "apt-get install openjdk-17-jdk-headless" in err
    assert not (tmp_path / "state").exists()  # nothing started, nothing written


def test_start_with_a_java_other_than_17_names_what_it_found(tmp_path):
    code, _, err = script(tmp_path, "start",
                          HADOOP_RNN_JAVA_HOME=fake_jdk(tmp_path, "jdk21", "21.0.1"))
    assert code == 1 and "needs Java 17" in err and '"21.0.1"' in err


def test_start_without_maven_says_how_to_install_it(tmp_path):
    code, _, err = script(tmp_path, "start", PATH=path_without(tmp_path, "mvn"),
                          HADOOP_RNN_JAVA_HOME=fake_jdk(tmp_path, "jdk17", "17.0.9"))
    assert code == 1 and "Maven (mvn) not found" in err and "apt-get install maven" in err
    assert not (tmp_path / "state").exists()


def test_start_without_a_jdk_and_maven_names_both(tmp_path):
    code, _, err = script(tmp_path, "start", PATH=path_without(tmp_path, "mvn"),
                          HADOOP_RNN_JAVA_HOME=str(tmp_path / "no-jdk"))
    lines = err.splitlines()
    assert code == 1 and len(lines) == 2 and all("ERROR" in line for line in lines)
    assert "JDK 17" in lines[0] and "Maven" in lines[1]


def test_mrjob_conf_of_a_virtualenv_names_the_venvs_own_python_which_runs_numpy(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    # the new venv sees this interpreter's packages (numpy), also when this is itself a venv
    # (whose --system-site-packages would be its base interpreter's)
    site = subprocess.run([str(venv / "bin" / "python3"), "-c", "import site; "
                           "print(site.getsitepackages()[0])"], check=True, timeout=60,
                          capture_output=True, text=True).stdout.strip()
    with open(os.path.join(site, "outer.pth"), "w") as f:
        f.write(os.path.dirname(os.path.dirname(np.__file__)) + "\n")
    code, out, err = script(tmp_path, "mrjob-conf",
                            PATH=f"{venv}/bin:{os.environ['PATH']}")
    assert code == 0, err
    conf = open(out.strip()).read()
    python = re.search(r"^\s+python_bin: (\S+)$", conf, re.M).group(1)
    assert python == str(venv / "bin" / "python3")  # not the base interpreter it links to
    subprocess.run([python, "-c", "import numpy"], check=True, timeout=60)
