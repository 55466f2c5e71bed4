"""`hadoop-rnn demo`: the built-in corpus and the whole pipeline on it."""
import os

import pytest

from jobs import demo
from jobs.cli import main as cli_main
from jobs.training import RunSpec


def test_demo_corpus_is_a_fixed_slice_of_the_standard_library():
    files = demo.corpus_files()
    assert len(files) == len(demo.MODULES)
    assert 150_000 < sum(os.path.getsize(f) for f in files) < 400_000


@pytest.mark.matrix
def test_demo_prepares_trains_and_samples(tmp_path, monkeypatch, capsys):
    # the real corpus and flags take about a minute: shrink both for the test
    monkeypatch.setattr(demo, "MODULES", ("bisect.py", "colorsys.py"))
    monkeypatch.setattr(demo, "SPEC", RunSpec(hidden=8, batch=8))
    run = tmp_path / "run"
    assert cli_main(["demo", "--run", str(run), "--epochs", "2", "--length", "40"]) == 0
    out = capsys.readouterr().out
    assert "epoch 2/2" in out and "sample (temperature" in out
    assert (run / "latest.npz").exists() and (run / "data" / "meta.json").exists()


def test_demo_rerun_continues_the_same_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(demo, "MODULES", ("bisect.py",))
    monkeypatch.setattr(demo, "SPEC", RunSpec(hidden=8, batch=8))
    run = str(tmp_path / "run")
    assert cli_main(["demo", "--run", run, "--epochs", "1", "--length", "10"]) == 0
    assert cli_main(["demo", "--run", run, "--epochs", "2", "--length", "10"]) == 0
    out = capsys.readouterr().out
    assert "epoch 2/2" in out and out.count("new run") == 1
