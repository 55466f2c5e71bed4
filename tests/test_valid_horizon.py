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


def test_forecasts_ahead_of_a_minibatch_are_each_origins_fed_back_forecast():
    import numpy as np

    from jobs.mr.loss_sums import forecasts_ahead
    from rnn_core import ModelConfig, forecast_batch, init_params
    cfg = ModelConfig(cell="lstm", hidden=5, input_size=3, output_size=1, residual=True,
                      ar=((0.1, 0.5, -0.2, 0.3, 0.4),), ar_inputs=True)
    theta = init_params(cfg, seed=3) + 0.1
    inputs = np.random.default_rng(0).standard_normal((2, 9, 3))
    mask = np.ones((2, 9))
    mask[1, 7:] = 0                                   # a shorter chunk, padded
    out, scored = forecasts_ahead(theta, cfg, inputs, mask, 3)
    assert scored[:, :2].sum() == 0 and scored[1, 7:].sum() == 0
    for t in range(2, 9):
        expected = forecast_batch(theta, cfg, inputs[:, :t - 1], 3, inputs[:, t - 1:t + 1, 1:])
        np.testing.assert_allclose(out[:, t], expected[:, -1], rtol=1e-12)
