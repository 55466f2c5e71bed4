"""Every flag is documented with its default: in --help, in docs/flags.md and in the README."""
import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parent.parent


def command_parser(name):
    return build_parser([name]).commands[name]


def test_docs_flags_md_is_what_the_parsers_say():
    done = subprocess.run([sys.executable, "scripts/flags-reference", "--check"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_flag_has_help_that_names_its_default(name):
    undocumented = []
    for action in command_parser(name)._actions:
        if not action.option_strings or action.option_strings == ["-h", "--help"]:
            continue
        text = action.help or ""
        flag_like = action.nargs == 0  # --force, --json: off unless given
        if not text or not (flag_like or action.required or "default" in text
                            or action.default is not None or "repeat" in text):
            undocumented.append(action.option_strings[0])
    assert undocumented == []


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_default_shows_in_help_zero_included(name):
    parser = command_parser(name)
    formatter = parser._get_formatter()
    hidden = [action.option_strings[0] for action in parser._actions
              if action.option_strings and action.default not in (None, argparse.SUPPRESS)
              and action.default is not False and action.nargs != 0
              and "default" not in formatter._get_help_string(action)]
    assert hidden == []


def readme_training_table():
    """{flag: default cell} of the README's Training flag table."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## Training", 1)[1]
    rows = {}
    for line in section.split("\n\n")[2].splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        for flag in re.findall(r"`(--[a-z-]+)`", cells[0]):
            rows[flag] = cells[1]
    return rows


def test_the_readme_training_table_names_only_real_flags():
    parser = command_parser("train")
    known = {s for a in parser._actions for s in a.option_strings} | {"--no-residual"}
    assert set(readme_training_table()) - known == set()


def test_the_readme_training_table_gives_the_parsers_defaults():
    parser = command_parser("train")
    defaults = {a.option_strings[0]: a.default for a in parser._actions if a.option_strings}
    table = readme_training_table()
    for flag, default in defaults.items():
        if flag in table and isinstance(default, (int, float, str)) and not isinstance(default, bool):
            assert str(default).removesuffix(".0") in table[flag].replace("`", ""), flag
