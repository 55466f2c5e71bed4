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
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOWN = ("# wrote ", "# missing values", "# chunk ")


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


def run_block(block, tmp):
    script = re.sub(r"^(hadoop-rnn train .*)$", r"\1 --epochs 2",
                    block.replace("/tmp/ex", str(tmp)), flags=re.M)
    bin_dir = os.path.dirname(shutil.which("hadoop-rnn") or sys.executable)
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{bin_dir}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-e", "-c", script], cwd=tmp, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout + done.stderr


@pytest.mark.parametrize("heading", ["Yearly sunspots", "Weekly CO2"])
def test_the_series_walkthrough_runs_and_prints_what_the_readme_shows(heading, tmp_path):
    pytest.importorskip("statsmodels")
    if not shutil.which("hadoop-rnn"):
        pytest.skip("hadoop-rnn is not installed (pip install -e .)")
    block = sh_block(heading)
    out = run_block(block, tmp_path)
    shown = shown_output(block, tmp_path)
    assert shown, "the block shows no output to compare"
    for line in shown:
        assert line in out, f"README shows {line!r}; the commands printed:\n{out[-3000:]}"
