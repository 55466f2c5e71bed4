"""train --valid-horizon H: the validation loss of a series run forecasts H steps ahead, each
prediction fed back, as evaluate --horizon H scores them; the best epoch and the network's
choice over its base are made on it."""
import pytest
from test_driven_series import driven_table, prepare_driven

from jobs import scoring
from jobs.run.trained import load_run
from jobs.training import RunSpec, train
from jobs.training.spec import TrainingError

@pytest.fixture(scope="module")
def horizon_run(tmp_path_factory):
    """(data, run) of a driven series trained two epochs with a validation loss 3 steps ahead."""
    tmp = tmp_path_factory.mktemp("horizon")
    _, data = prepare_driven(tmp, driven_table())
    train(data, str(tmp / "run"), epochs=2, spec=RunSpec(hidden=4, dtype="float64",
                                                         valid_horizon=3),
          log=lambda line: None)
    return data, str(tmp / "run")


def test_the_validation_loss_is_evaluates_loss_h_steps_ahead_on_the_validation_part(
        horizon_run):
    state, _ = load_run(horizon_run[1], None, kind="series", checkpoint="latest")
    assert state.settings.valid_horizon == 3
    scored = scoring.evaluate(horizon_run[1], split="valid", horizon=3, network=True,
                              checkpoint="latest")
    assert state.history[-1]["valid_loss"] == pytest.approx(scored["loss"], rel=1e-9)


def test_the_base_loss_of_the_validation_is_the_bases_h_steps_ahead(horizon_run, monkeypatch):
    from dataclasses import replace

    from rnn_core.network import base_only

    def base_alone(*args, **kwargs):
        state, dataset = load_run(*args, **kwargs)
        return replace(state, theta=base_only(state.theta, state.model)), dataset

    state, _ = load_run(horizon_run[1], None, kind="series", checkpoint="latest")
    monkeypatch.setattr(scoring, "load_run", base_alone)
    base = scoring.evaluate(horizon_run[1], split="valid", horizon=3, network=True,
                            checkpoint="latest")
    assert state.history[-1]["valid_base_loss"] == pytest.approx(base["loss"], rel=1e-9)


def test_a_run_resumes_only_with_its_own_validation_horizon(horizon_run):
    with pytest.raises(TrainingError, match="valid_horizon: checkpoint has 3, asked for 5"):
        train(horizon_run[0], horizon_run[1], epochs=3,
              spec=RunSpec(valid_horizon=5), log=lambda line: None)


def test_a_text_run_refuses_a_validation_horizon(tmp_path):
    from helpers import write_text_data
    data, _ = write_text_data(tmp_path / "text")
    with pytest.raises(ValueError, match="--valid-horizon is for series"):
        train(data, str(tmp_path / "run"), epochs=1, spec=RunSpec(valid_horizon=2),
              log=lambda line: None)
