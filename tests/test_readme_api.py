"""The README's Python blocks run as written, and its Python API section is true."""
import inspect
import re
import tempfile
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def python_block(heading):
    """The first ```python block of the README section under ``## heading``."""
    text = README.read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_python_api_example_prepares_trains_evaluates_and_samples(capsys, tmp_path,
                                                                     monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # its work directory goes with it
    exec(compile(python_block("Python API"), "README.md (Python API)", "exec"), {})
    out = capsys.readouterr().out
    assert "training chunks" in out
    assert "Outcome.TRAINED at epoch 2" in out
    assert "bits/char (unigram" in out
    assert "\ndef " in out


def test_the_library_example_runs_as_written():
    namespace = {}
    exec(compile(python_block("The library: rnn_core"), "README.md (rnn_core)", "exec"), namespace)
    assert namespace["logits"].shape == (1, 65)
    assert namespace["grad_sum"].shape == namespace["theta"].shape


def test_the_api_functions_that_print_by_default_are_the_ones_the_readme_names():
    from jobs.demo import demo
    from jobs.generating import forecast_run, sample
    from jobs.plotting import plot_run
    from jobs.preparing import prepare
    from jobs.scoring import evaluate
    from jobs.training import train

    section = README.read_text(encoding="utf-8").split("\n## Python API\n", 1)[1]
    assert "`prepare`, `train` and `demo` also print their progress lines by default" in section
    for function in (prepare, train, demo):
        assert inspect.signature(function).parameters["log"].default is print
    for function in (evaluate, sample, forecast_run, plot_run):
        assert "log" not in inspect.signature(function).parameters
