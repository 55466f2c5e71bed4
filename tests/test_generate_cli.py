"""`hadoop-rnn sample`, `forecast` and `plot` on small trained runs."""
import builtins
import json

import numpy as np
import pytest
from helpers import SUNSPOTS_CSV, SUNSPOTS_SERIES, cli_args, make_run

from jobs.commands import plot
from jobs.commands.forecast import forecast_kwargs
from jobs.commands.sample import sample_kwargs
from jobs.generating import forecast_run, sample
from jobs.cli import main as cli_main
from jobs.run.trained import RunError

# -- sample ----------------------------------------------------------------------------------

def run_sample(*argv):
    return sample(**sample_kwargs(cli_args("sample", *argv)))


def test_same_seed_gives_the_same_text_and_another_seed_other_text(text_run):
    a = run_sample("--run", text_run[1], "--seed", 7, "--length", 80)
    assert a == run_sample("--run", text_run[1], "--seed", 7, "--length", 80)
    assert a != run_sample("--run", text_run[1], "--seed", 8, "--length", 80)


def test_sample_starts_with_the_prime_and_has_the_asked_length(text_run):
    text = run_sample("--run", text_run[1], "--prime", "def wrap(", "--length", 50)
    assert text.startswith("def wrap(") and len(text) == len("def wrap(") + 50


def test_prime_outside_the_vocabulary_is_an_error(text_run):
    with pytest.raises(ValueError, match="--prime: character '€' is not in the vocabulary"):
        run_sample("--run", text_run[1], "--prime", "€")


def test_sample_of_a_series_model_is_an_error(series_run):
    with pytest.raises(RunError, match="use hadoop-rnn forecast"):
        run_sample("--run", series_run[1])


def test_sample_cli_prints_the_text(text_run, capsys):
    assert cli_main(["sample", "--run", text_run[1], "--length", "20", "--prime", "x"]) == 0
    assert capsys.readouterr().out.startswith("x")


# -- forecast --------------------------------------------------------------------------------

def run_forecast(*argv):
    return forecast_run(**forecast_kwargs(cli_args("forecast", *argv)))


def test_forecast_gives_horizon_values_after_the_last_observation(series_run):
    result = run_forecast("--run", series_run[1], "--horizon", 4)
    assert np.array(result["forecast"]).shape == (4, 1)
    assert result["last"] == pytest.approx([54.0])  # 1759, the end of the file
    assert result["context"] == 32 + 12  # the default: the dataset's warm-up and chunk


def test_forecast_of_a_dataset_with_a_test_part_starts_after_it(tmp_path):
    data, run = make_run(tmp_path, [*SUNSPOTS_SERIES, "--test", 0.2], epochs=1)
    result = run_forecast("--run", run, "--horizon", 2)
    assert result["last"] == pytest.approx([54.0])  # 1759: the test part is the series' end


def test_forecast_from_an_input_file_uses_its_end(series_run, tmp_path):
    path = tmp_path / "recent.csv"
    path.write_text("SUNACTIVITY\n10\n20\n\n40\n")
    result = run_forecast("--run", series_run[1], "--horizon", 2, "--input", path)
    assert result["last"] == pytest.approx([40.0]) and len(result["forecast"]) == 2


def test_forecast_of_the_data_equals_forecast_of_the_same_file(series_run):
    a = run_forecast("--run", series_run[1], "--horizon", 3)
    b = run_forecast("--run", series_run[1], "--horizon", 3, "--input", SUNSPOTS_CSV)
    assert np.allclose(a["forecast"], b["forecast"])


def test_forecast_json_is_one_object(series_run, capsys):
    assert cli_main(["forecast", "--run", series_run[1], "--horizon", "2", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["forecast"]) == 2


def test_forecast_input_without_the_column_is_an_error(series_run, tmp_path, capsys):
    path = tmp_path / "other.csv"
    path.write_text("x\n1\n2\n")
    assert cli_main(["forecast", "--run", series_run[1], "--horizon", "2",
                     "--input", str(path)]) == 1
    assert "no column 'SUNACTIVITY'" in capsys.readouterr().err


def test_forecast_of_a_text_model_is_an_error(text_run):
    with pytest.raises(RunError, match="use hadoop-rnn sample"):
        run_forecast("--run", text_run[1], "--horizon", 2)


# -- plot ------------------------------------------------------------------------------------

def test_plot_writes_a_png(text_run, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "figs" / "loss.png"
    assert plot.main(cli_args("plot", "--run", text_run[1], "--out", out)) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("epochs, said", [(1, "(1 epoch)"), (2, "(2 epochs)")])
def test_plot_says_how_many_epochs_it_drew_in_the_singular_for_one(epochs, said, monkeypatch,
                                                                   capsys):
    import jobs.plotting
    monkeypatch.setattr(jobs.plotting, "plot_run", lambda run, out, title: (out, [{}] * epochs))
    assert plot.main(cli_args("plot", "--run", "R", "--out", "loss.png")) == 0
    assert capsys.readouterr().out == f"wrote loss.png {said}\n"


def test_plot_without_matplotlib_is_a_clear_error(text_run, tmp_path, monkeypatch, capsys):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert cli_main(["plot", "--run", text_run[1], "--out", str(tmp_path / "x.png")]) == 1
    assert "plotting needs matplotlib" in capsys.readouterr().err
