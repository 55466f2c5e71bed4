"""Small models trained with loss_and_grad and an optimizer learn real patterns."""

import numpy as np

from rnn_core import ModelConfig, forecast, init_params, loss_and_grad, sample_tokens
from rnn_core.optimizers import OptimizerConfig, apply, init_state


def train(cfg, opt_cfg, batches, steps, bptt):
    """Adam on the mean loss of each batch; returns (first, last) mean losses."""
    theta = init_params(cfg, seed=0)
    state = init_state(opt_cfg, theta)
    losses = []
    for i in range(steps):
        x, y = batches(i)
        loss, count, grad = loss_and_grad(theta, cfg, x, y, bptt=bptt)
        theta, state = apply(opt_cfg, theta, grad / count, state)
        losses.append(loss / count)
    return theta, losses[0], np.mean(losses[-5:])


def test_lstm_learns_a_repeating_text():
    text = "hello world, "
    chars = sorted(set(text))
    ids = np.array([chars.index(c) for c in text * 40])
    cfg = ModelConfig(cell="lstm", hidden=24, vocab_size=len(chars))
    rng = np.random.default_rng(0)

    def batches(_):
        starts = rng.integers(0, len(ids) - 33, size=8)
        windows = np.stack([ids[s:s + 33] for s in starts])
        return windows[:, :-1], windows[:, 1:]

    theta, first, last = train(cfg, OptimizerConfig(name="adam", lr=0.02, clip_norm=5.0),
                               batches, steps=120, bptt=16)
    assert first > 2.0 and last < 0.15 * first
    sample = sample_tokens(theta, cfg, ids[:13], 26, temperature=0.01,
                           rng=np.random.default_rng(0))
    assert "".join(chars[i] for i in sample) == text[:13] * 2


def test_gru_learns_to_continue_a_sine_wave():
    cfg = ModelConfig(cell="gru", hidden=16, input_size=1, output_size=1)
    t = np.arange(400) * 0.3
    wave = np.sin(t)[:, None]
    rng = np.random.default_rng(0)

    def batches(_):
        starts = rng.integers(0, len(wave) - 41, size=8)
        windows = np.stack([wave[s:s + 41] for s in starts])
        return windows[:, :-1], windows[:, 1:]

    theta, first, last = train(cfg, OptimizerConfig(name="adam", lr=0.02), batches,
                               steps=150, bptt=None)
    assert last < 0.05 * first
    predicted = forecast(theta, cfg, wave[:60], 5)
    np.testing.assert_allclose(predicted, wave[60:65], atol=0.2)
