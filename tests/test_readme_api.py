"""The README's Python API block runs as written."""
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def python_api_block():
    """The ```python block of the README's "Python API" section."""
    section = README.read_text(encoding="utf-8").split("## Python API", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_python_api_example_prepares_trains_evaluates_and_samples(capsys):
    exec(compile(python_api_block(), "README.md (Python API)", "exec"), {})
    out = capsys.readouterr().out
    assert "training chunks" in out
    assert "Outcome.TRAINED at epoch 2" in out
    assert "bits/char (unigram" in out
    assert "\ndef " in out
