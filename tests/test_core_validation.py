"""Bad inputs fail early with a ValueError that says what is wrong."""

import re

import numpy as np
import pytest

from rnn_core import (ModelConfig, forecast, init_params, init_state, loss_and_grad, loss_only,
                      sample_tokens, step)

TOKENS = ModelConfig(cell="lstm", hidden=4, vocab_size=5)
SERIES = ModelConfig(cell="gru", hidden=4, input_size=3, output_size=2)
IDS = np.zeros((2, 3), dtype=np.int64)


def exactly(message):
    """A pytest.raises pattern matching `message` and nothing else."""
    return "^" + re.escape(message) + "$"


@pytest.mark.parametrize("inputs, targets, message", [
    (IDS.astype(float), IDS, "inputs must be an integer array of token ids, got dtype float64"),
    (IDS, IDS.astype(float), "targets must be an integer array of token ids, got dtype float64"),
    (IDS + 5, IDS, "inputs must hold token ids in [0, 5), got values in [5, 5]"),
    (IDS - 1, IDS, "inputs must hold token ids in [0, 5), got values in [-1, -1]"),
    (IDS, IDS + 5, "targets must hold token ids in [0, 5), got values in [5, 5]"),
    (IDS, IDS[:, :2], "targets must have shape (B, T) = (2, 3), got (2, 2)"),
    (IDS[0], IDS[0], "inputs must have shape (B, T), got (3,)"),
    (np.zeros((0, 3), dtype=int), np.zeros((0, 3), dtype=int),
     "need at least one sequence and one step, got B=0, T=3"),
    (np.zeros((2, 0), dtype=int), np.zeros((2, 0), dtype=int),
     "need at least one sequence and one step, got B=2, T=0"),
])
def test_token_batch_errors(inputs, targets, message):
    with pytest.raises(ValueError, match=exactly(message)):
        loss_and_grad(init_params(TOKENS), TOKENS, inputs, targets)


@pytest.mark.parametrize("inputs, targets, message", [
    (np.zeros((2, 3, 4)), np.zeros((2, 3, 2)),
     "inputs must have last axis of length 3, got shape (2, 3, 4)"),
    (np.zeros((2, 3, 3)), np.zeros((2, 3, 3)),
     "targets must have last axis of length 2, got shape (2, 3, 3)"),
    (np.zeros((2, 3, 3)), np.zeros((2, 4, 2)),
     "targets must have shape (B, T, output_size) = (2, 3, 2), got (2, 4, 2)"),
    (np.zeros((3, 3)), np.zeros((3, 2)), "inputs must have shape (B, T, input_size), got (3, 3)"),
    (np.array([["a", "b", "c"]]), np.zeros((1, 2)),
     "inputs must be a real-valued array, got dtype <U1"),
    (np.zeros((2, 3, 3)), np.full((2, 3, 2), "x"),
     "targets must be a real-valued array, got dtype <U1"),
])
def test_series_batch_errors(inputs, targets, message):
    with pytest.raises(ValueError, match=exactly(message)):
        loss_and_grad(init_params(SERIES), SERIES, inputs, targets)


@pytest.mark.parametrize("mask, message", [
    (np.ones((2, 4)), "mask must have shape (B, T) = (2, 3), got (2, 4)"),
    (np.full((2, 3), 0.5), "mask must contain only 0 and 1"),
    (np.full((2, 3), 2), "mask must contain only 0 and 1"),
    (np.full((2, 3), "1"), "mask must contain only 0 and 1"),
])
def test_mask_errors(mask, message):
    with pytest.raises(ValueError, match=exactly(message)):
        loss_only(init_params(TOKENS), TOKENS, IDS, IDS, mask)


@pytest.mark.parametrize("dtype", [bool, np.int64, np.float32, np.float64])
def test_mask_of_zeros_and_ones_of_any_real_dtype_scores_exactly_its_ones(dtype):
    rng = np.random.default_rng(0)
    inputs, targets = rng.integers(0, 5, (2, 3)), rng.integers(0, 5, (2, 3))
    theta = init_params(TOKENS, seed=3)
    mask = np.array([[1, 1, 0], [0, 0, 0]], dtype=dtype)
    loss, count = loss_only(theta, TOKENS, inputs, targets, mask)
    # the masked steps are the last of the first sequence and the whole second one
    expected, expected_count = loss_only(theta, TOKENS, inputs[:1, :2], targets[:1, :2])
    assert count == expected_count == 2
    assert loss == pytest.approx(expected, rel=1e-12)


def test_batch_of_one_step_is_accepted_and_scores_that_step():
    rng = np.random.default_rng(1)
    inputs, targets = rng.integers(0, 5, (2, 3)), rng.integers(0, 5, (2, 3))
    theta = init_params(TOKENS, seed=3)
    loss, count = loss_only(theta, TOKENS, inputs[:, :1], targets[:, :1])
    first_steps = np.array([[1, 0, 0], [1, 0, 0]])
    assert count == 2
    assert loss == pytest.approx(loss_only(theta, TOKENS, inputs, targets, first_steps)[0],
                                 rel=1e-12)


def test_series_batch_is_returned_time_major_in_the_model_dtype():
    from rnn_core.checks import check_sequences
    cfg = ModelConfig(cell="gru", hidden=4, input_size=3, output_size=2, dtype="float32")
    inputs = np.arange(18).reshape(2, 3, 3)               # int: converted
    targets = np.linspace(0, 1, 12).reshape(2, 3, 2)      # float64: converted
    mask = np.array([[1, 0, 1], [1, 1, 0]])
    x, y, m = check_sequences(cfg, inputs, targets, mask)
    assert (x.dtype, y.dtype, m.dtype) == (np.float32,) * 3
    np.testing.assert_array_equal(x, np.swapaxes(inputs, 0, 1).astype(np.float32))
    np.testing.assert_array_equal(y, np.swapaxes(targets, 0, 1).astype(np.float32))
    np.testing.assert_array_equal(m, mask.T.astype(np.float32))


@pytest.mark.parametrize("bptt", [0, -2, 2.5, True])
def test_bptt_must_be_a_positive_int(bptt):
    with pytest.raises(ValueError, match="bptt"):
        loss_and_grad(init_params(TOKENS), TOKENS, IDS, IDS, bptt=bptt)


@pytest.mark.parametrize("theta, message", [
    (np.zeros(3), "shape"),
    (np.zeros(1000, dtype=int), "float"),
])
def test_theta_errors(theta, message):
    with pytest.raises(ValueError, match=message):
        loss_and_grad(theta, TOKENS, IDS, IDS)


def test_theta_of_other_float_dtype_is_converted_to_config_dtype():
    cfg32 = ModelConfig(cell="lstm", hidden=4, vocab_size=5, dtype="float32")
    _, _, grad = loss_and_grad(init_params(TOKENS), cfg32, IDS, IDS)
    assert grad.dtype == np.float32


def test_step_errors():
    theta = init_params(TOKENS)
    with pytest.raises(ValueError, match="state"):
        step(theta, TOKENS, init_state(TOKENS, 3), np.zeros(2, dtype=int))
    with pytest.raises(ValueError, match="state"):
        step(theta, TOKENS, init_state(TOKENS, 2)[:1], np.zeros(2, dtype=int))
    with pytest.raises(ValueError, match=r"\(B,\)"):
        step(theta, TOKENS, init_state(TOKENS, 2), IDS)
    with pytest.raises(ValueError, match="input_size"):
        step(init_params(SERIES), SERIES, init_state(SERIES, 2), np.zeros(3))
    with pytest.raises(ValueError, match="batch"):
        init_state(TOKENS, 0)


@pytest.mark.parametrize("cfg, x_t, message", [
    (TOKENS, np.zeros(2), "x_t must be an integer array"),
    (TOKENS, np.array([0, 5]), r"x_t must hold token ids in \[0, 5\)"),
    (TOKENS, np.zeros(0, dtype=int), "x_t must hold at least one sequence$"),
    (SERIES, np.zeros((2, 2)), "x_t must have last axis of length 3"),
    (SERIES, np.zeros((2, 1, 3)), r"x_t must have shape \(B, input_size\)"),
    (SERIES, np.zeros((0, 3)), "x_t must hold at least one sequence$"),
])
def test_step_error_names_x_t_and_what_is_wrong(cfg, x_t, message):
    batch = max(len(x_t), 1)
    with pytest.raises(ValueError, match="^" + message):
        step(init_params(cfg), cfg, init_state(cfg, batch), x_t)


@pytest.mark.parametrize("batch", [0, -1, True, 2.0, "2"])
def test_init_state_batch_must_be_a_positive_int(batch):
    with pytest.raises(ValueError, match="batch must be a positive int"):
        init_state(TOKENS, batch)


@pytest.mark.parametrize("layout", ["column", "strided"])
def test_param_views_requires_a_contiguous_flat_theta(layout):
    from rnn_core import num_params, param_views
    n = num_params(TOKENS)
    theta = np.zeros((n, 1)) if layout == "column" else np.zeros(2 * n)[::2]
    with pytest.raises(ValueError, match="^theta must be a contiguous 1-D array to take views of it$"):
        param_views(theta, TOKENS)


@pytest.mark.parametrize("dtype, extra", [(np.int64, 0), (np.float64, 1)])
def test_param_views_requires_a_float_theta_of_the_model_length(dtype, extra):
    from rnn_core import num_params, param_views
    n = num_params(TOKENS)
    with pytest.raises(ValueError, match=f"^theta must be a float array of length {n}, "):
        param_views(np.zeros(n + extra, dtype=dtype), TOKENS)


def test_bptt_of_one_step_is_allowed():
    theta = init_params(TOKENS)
    loss, _, _ = loss_and_grad(theta, TOKENS, IDS, IDS, bptt=1)
    assert loss == pytest.approx(loss_only(theta, TOKENS, IDS, IDS)[0], rel=1e-12)


@pytest.mark.parametrize("cfg, kwargs, message", [
    (SERIES, {}, r"sample_tokens needs a token model \(vocab_size set\)$"),
    (TOKENS, dict(prime_ids=[0.5]), "prime_ids must be an integer array"),
    (TOKENS, dict(prime_ids=[[1, 2]]), r"prime_ids must be a non-empty 1-D array"),
    (TOKENS, dict(prime_ids=np.zeros(0, dtype=int)), r"prime_ids must be a non-empty 1-D array"),
    (TOKENS, dict(length=-1), "length must be a non-negative int"),
    (TOKENS, dict(length=2.5), "length must be a non-negative int"),
    (TOKENS, dict(length=True), "length must be a non-negative int"),
    (TOKENS, dict(temperature=0.0), "temperature must be > 0"),
])
def test_sample_tokens_error_says_what_is_wrong(cfg, kwargs, message):
    args = {"prime_ids": [1], "length": 2, **kwargs}
    with pytest.raises(ValueError, match="^" + message):
        sample_tokens(init_params(cfg), cfg, args["prime_ids"], args["length"],
                      temperature=args.get("temperature", 1.0))


SQUARE = ModelConfig(cell="gru", hidden=4, input_size=2, output_size=2)


@pytest.mark.parametrize("cfg, history, horizon, message", [
    (TOKENS, np.zeros((3, 2)), 1,
     r"forecast needs a series model \(input_size/output_size set\)$"),
    (SERIES, np.zeros((3, 3)), 2, r"a model with 1 input\(s\) beside its outputs needs the "
                                  r"inputs of the 1 step\(s\) it feeds back"),
    (ModelConfig(cell="gru", hidden=4, input_size=2, output_size=3), np.zeros((3, 2)), 1,
     "forecast feeds predictions back as inputs, so it needs input_size >= output_size, got "
     "2 and 3"),
    (SQUARE, np.zeros((3, 3)), 1, "history must have last axis of length 2"),
    (SQUARE, np.zeros(2), 1, r"history must have shape \(T >= 1, input_size\)"),
    (SQUARE, np.zeros((0, 2)), 1, r"history must have shape \(T >= 1, input_size\)"),
    (SQUARE, np.zeros((3, 2)), -1, "horizon must be a non-negative int"),
])
def test_forecast_error_says_what_is_wrong(cfg, history, horizon, message):
    with pytest.raises(ValueError, match="^" + message):
        forecast(init_params(cfg), cfg, history, horizon)


@pytest.mark.parametrize("histories, message", [
    (np.zeros((1, 3, 3)), "histories must have last axis of length 2, got shape (1, 3, 3)"),
    (np.zeros((3, 2)), "histories must have shape (B >= 1, T >= 1, input_size), got (3, 2)"),
    (np.zeros((0, 3, 2)), "histories must have shape (B >= 1, T >= 1, input_size), got (0, 3, 2)"),
    (np.zeros((2, 0, 2)), "histories must have shape (B >= 1, T >= 1, input_size), got (2, 0, 2)"),
])
def test_forecast_batch_error_says_what_is_wrong(histories, message):
    from rnn_core import forecast_batch
    with pytest.raises(ValueError, match=exactly(message)):
        forecast_batch(init_params(SQUARE), SQUARE, histories, 1)
