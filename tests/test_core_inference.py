"""Step-by-step inference, sampling and forecasting."""

import numpy as np
import pytest

from rnn_core import (ModelConfig, forecast, init_params, init_state, loss_and_grad,
                      loss_and_outputs, loss_only, predict, sample_tokens, step)
from rnn_core.network import forward
from rnn_core.params import param_views


def make_model(cell, kind, layers=2):
    if kind == "tokens":
        cfg = ModelConfig(cell=cell, hidden=6, layers=layers, vocab_size=7)
    else:
        cfg = ModelConfig(cell=cell, hidden=6, layers=layers, input_size=2, output_size=2)
    return cfg, init_params(cfg, seed=0)


def make_inputs(cfg, B, T, seed=0):
    rng = np.random.default_rng(seed)
    if cfg.kind == "tokens":
        return rng.integers(0, cfg.vocab_size, (B, T)), rng.integers(0, cfg.vocab_size, (B, T))
    return rng.standard_normal((B, T, 2)), rng.standard_normal((B, T, 2))


def run_steps(theta, cfg, x):
    """Outputs of step() over x (B, T, ...) -> (B, T, out_size)."""
    state = init_state(cfg, x.shape[0])
    outs = []
    for t in range(x.shape[1]):
        out, state = step(theta, cfg, state, x[:, t])
        outs.append(out)
    return np.stack(outs, axis=1)


@pytest.mark.parametrize("kind", ["tokens", "series"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_loss_and_outputs_are_loss_only_and_predict_bit_for_bit(cell, kind):
    cfg, theta = make_model(cell, kind)
    x, y = make_inputs(cfg, 3, 9)
    mask = np.arange(27).reshape(3, 9) % 4 != 0
    loss_sum, count, outputs = loss_and_outputs(theta, cfg, x, y, mask)
    assert (loss_sum, count) == loss_only(theta, cfg, x, y, mask)
    assert outputs.tobytes() == predict(theta, cfg, x).tobytes()


@pytest.mark.parametrize("kind", ["tokens", "series"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_outputs_match_window_forward(cell, kind):
    cfg, theta = make_model(cell, kind)
    x, _ = make_inputs(cfg, B=3, T=5)
    out, _, _ = forward(param_views(theta, cfg), cfg, np.swapaxes(x, 0, 1), init_state(cfg, 3))
    np.testing.assert_allclose(run_steps(theta, cfg, x), np.swapaxes(out, 0, 1),
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ["tokens", "series"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_loss_of_step_outputs_equals_loss_and_grad_loss(cell, kind):
    cfg, theta = make_model(cell, kind)
    x, y = make_inputs(cfg, B=3, T=5)
    out = run_steps(theta, cfg, x)
    if kind == "tokens":
        z = out - out.max(axis=-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        expected = -np.take_along_axis(logp, y[..., None], axis=-1).sum()
    else:
        expected = ((out - y) ** 2).sum()
    assert loss_and_grad(theta, cfg, x, y, bptt=2)[0] == pytest.approx(expected, rel=1e-12)
    assert loss_only(theta, cfg, x, y)[0] == pytest.approx(expected, rel=1e-12)


def test_step_returns_lstm_state_of_hidden_and_cell_per_layer():
    cfg, theta = make_model("lstm", "tokens", layers=3)
    out, (h, c) = step(theta, cfg, init_state(cfg, 4), np.array([0, 1, 2, 3]))
    assert out.shape == (4, 7) and h.shape == c.shape == (3, 4, 6)


def test_sample_tokens_is_reproducible_with_a_seeded_generator():
    cfg, theta = make_model("gru", "tokens")
    a = sample_tokens(theta, cfg, [1, 2, 3], 20, rng=np.random.default_rng(5))
    b = sample_tokens(theta, cfg, [1, 2, 3], 20, rng=np.random.default_rng(5))
    assert a.shape == (20,) and np.array_equal(a, b)
    assert a.min() >= 0 and a.max() < cfg.vocab_size


def test_sample_tokens_without_rng_samples_with_a_fresh_default_generator(monkeypatch):
    cfg, theta = make_model("gru", "tokens")
    calls = []
    real_default_rng = np.random.default_rng

    def fresh_generator(*args):
        calls.append(args)
        return real_default_rng(11)

    monkeypatch.setattr(np.random, "default_rng", fresh_generator)
    unseeded = sample_tokens(theta, cfg, [1, 2, 3], 20)
    assert calls == [()]
    seeded = sample_tokens(theta, cfg, [1, 2, 3], 20, rng=real_default_rng(11))
    np.testing.assert_array_equal(unseeded, seeded)


def test_sample_tokens_at_low_temperature_is_greedy_decoding():
    cfg, theta = make_model("lstm", "tokens")
    state = init_state(cfg, 1)
    for i in [4, 0]:
        logits, state = step(theta, cfg, state, np.array([i]))
    greedy = []
    for _ in range(10):
        greedy.append(int(np.argmax(logits[0])))
        logits, state = step(theta, cfg, state, np.array(greedy[-1:]))
    sampled = sample_tokens(theta, cfg, [4, 0], 10, temperature=1e-6,
                            rng=np.random.default_rng(0))
    assert sampled.tolist() == greedy


def test_forecast_feeds_predictions_back_as_inputs():
    cfg, theta = make_model("rnn", "series")
    history = np.random.default_rng(1).standard_normal((6, 2))
    state = init_state(cfg, 1)
    for x_t in history:
        y, state = step(theta, cfg, state, x_t[None])
    expected = []
    for _ in range(4):
        expected.append(y[0])
        y, state = step(theta, cfg, state, y)
    np.testing.assert_allclose(forecast(theta, cfg, history, 4), np.array(expected), rtol=1e-12)


def test_forecast_of_a_model_with_inputs_beside_its_outputs_needs_them_for_the_fed_back_steps():
    cfg = ModelConfig(cell="gru", hidden=4, input_size=2, output_size=1)
    with pytest.raises(ValueError, match="needs the inputs of the 4 step"):
        forecast(init_params(cfg), cfg, np.zeros((3, 2)), 5)
    with pytest.raises(ValueError, match=r"inputs must be finite of shape .* \(1, 4, 1\)"):
        forecast(init_params(cfg), cfg, np.zeros((3, 2)), 5, np.zeros((3, 1)))


def test_forecast_with_inputs_is_step_fed_its_predictions_and_the_inputs():
    cfg = ModelConfig(cell="gru", hidden=4, input_size=2, output_size=1)
    theta = init_params(cfg, seed=4)
    history, inputs = np.random.default_rng(5).standard_normal((6, 2)), np.array([[0.5], [-1.0]])
    state = init_state(cfg, 1)
    for row in history:
        y, state = step(theta, cfg, state, row[None])
    expected = [y[0, 0]]
    for known in inputs:
        y, state = step(theta, cfg, state, np.array([[y[0, 0], known[0]]]))
        expected.append(y[0, 0])
    np.testing.assert_allclose(forecast(theta, cfg, history, 3, inputs)[:, 0], expected,
                               rtol=1e-12)


def test_generators_reject_the_wrong_kind_of_model():
    tokens, theta_t = make_model("rnn", "tokens")
    series, theta_s = make_model("rnn", "series")
    with pytest.raises(ValueError, match="series model"):
        forecast(theta_t, tokens, np.zeros((3, 2)), 2)
    with pytest.raises(ValueError, match="token model"):
        sample_tokens(theta_s, series, [0], 2)


@pytest.mark.parametrize("kind", ["tokens", "series"])
def test_predict_outputs_equal_stepping_through_each_sequence(kind):
    cfg = (ModelConfig(cell="gru", hidden=5, layers=2, vocab_size=7) if kind == "tokens"
           else ModelConfig(cell="lstm", hidden=5, layers=2, input_size=3, output_size=2))
    theta = init_params(cfg, seed=1)
    rng = np.random.default_rng(0)
    inputs = (rng.integers(0, 7, size=(2, 4)) if kind == "tokens"
              else rng.normal(size=(2, 4, 3)))
    outputs = predict(theta, cfg, inputs)
    state = init_state(cfg, 2)
    for t in range(4):
        out, state = step(theta, cfg, state, inputs[:, t])
        np.testing.assert_allclose(outputs[:, t], out, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_float32_model_keeps_its_outputs_and_states_in_float32(cell):
    cfg = ModelConfig(cell=cell, hidden=4, layers=2, input_size=2, output_size=2,
                      dtype="float32")
    theta = init_params(cfg, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 3, 2))
    state = init_state(cfg, 2)
    assert [s.dtype for s in state] == [np.float32] * len(state)
    out, state = step(theta, cfg, state, x[:, 0])
    out, state = step(theta, cfg, state, x[:, 1])
    assert out.dtype == np.float32
    assert [s.dtype for s in state] == [np.float32] * len(state)
    assert predict(theta, cfg, x).dtype == np.float32
    assert forecast(theta, cfg, x[0], 2).dtype == np.float32


def test_sample_tokens_default_temperature_is_one():
    cfg, theta = make_model("gru", "tokens")
    default = sample_tokens(theta, cfg, [1, 2], 30, rng=np.random.default_rng(5))
    one = sample_tokens(theta, cfg, [1, 2], 30, temperature=1.0, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(default, one)


def test_forecast_from_a_one_step_history_feeds_back_its_predictions():
    cfg, theta = make_model("rnn", "series")
    history = np.array([[0.5, -1.0]])
    y, state = step(theta, cfg, init_state(cfg, 1), history)
    y2, _ = step(theta, cfg, state, y)
    np.testing.assert_allclose(forecast(theta, cfg, history, 2), np.r_[y, y2], rtol=1e-12)


def test_generating_zero_steps_returns_empty_arrays():
    tokens, theta_t = make_model("gru", "tokens")
    series, theta_s = make_model("gru", "series")
    assert sample_tokens(theta_t, tokens, [1], 0).shape == (0,)
    assert forecast(theta_s, series, np.zeros((3, 2)), 0).shape == (0, 2)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_a_fresh_residual_model_forecasts_persistence(cell):
    """With its output layer initialized to zero, y[t] = x[t] exactly: one-step and fed back."""
    cfg = ModelConfig(cell=cell, hidden=6, layers=2, input_size=2, output_size=2,
                      residual=True)
    theta = init_params(cfg, seed=3)
    x = np.random.default_rng(0).standard_normal((3, 9, 2))
    np.testing.assert_allclose(predict(theta, cfg, x), x, atol=1e-12)
    np.testing.assert_allclose(forecast(theta, cfg, x[0], 4), np.repeat(x[0, -1:], 4, axis=0),
                               atol=1e-12)


def test_forecast_batch_forecasts_each_history_like_forecast():
    from rnn_core import forecast_batch

    cfg, theta = make_model("lstm", "series")
    histories = np.random.default_rng(1).standard_normal((3, 7, 2))
    batch = forecast_batch(theta, cfg, histories, 5)
    for b in range(3):
        np.testing.assert_allclose(batch[b], forecast(theta, cfg, histories[b], 5), atol=1e-12)


def ar_residual_model(cell="gru", ar=((0.1, 0.5, 0.3, -0.2),)):
    cfg = ModelConfig(cell=cell, hidden=6, input_size=1, output_size=1, residual=True, ar=ar)
    return cfg, init_params(cfg, seed=3)


def test_step_carries_the_last_inputs_an_ar_base_needs_in_its_state():
    cfg, theta = ar_residual_model()
    x = np.random.default_rng(0).standard_normal((2, 7, 1))
    np.testing.assert_allclose(run_steps(theta, cfg, x), predict(theta, cfg, x), atol=1e-12)
    state = init_state(cfg, 2)
    assert state[-1].shape == (0, 2, 1)                     # no inputs seen yet
    for t in range(4):
        _, state = step(theta, cfg, state, x[:, t])
    np.testing.assert_array_equal(state[-1][:, :, 0], x[:, 2:4, 0].T)   # the last p - 1 = 2


def test_a_fresh_ar_residual_model_forecasts_its_ar_recursion():
    cfg, theta = ar_residual_model()
    history = np.array([[0.5], [-1.0], [2.0]])
    lags = [2.0, -1.0, 0.5]
    for j, got in enumerate(forecast(theta, cfg, history, 4)[:, 0]):
        expected = 0.1 + 0.5 * lags[0] + 0.3 * lags[1] - 0.2 * lags[2]
        assert got == pytest.approx(expected, abs=1e-12), j
        lags = [expected] + lags[:2]


def test_an_ar_state_with_more_lags_than_the_base_needs_is_refused():
    cfg, theta = ar_residual_model()
    h, lags = init_state(cfg, 1)
    with pytest.raises(ValueError, match=r"the lags of an AR\(p=3\) state must be float of shape"):
        step(theta, cfg, (h, np.zeros((3, 1, 1))), np.zeros((1, 1)))
