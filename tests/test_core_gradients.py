"""Gradients of loss_and_grad: finite differences, shard additivity, truncated BPTT."""

import numpy as np
import pytest

from rnn_core import ModelConfig, init_params, init_state, loss_and_grad, loss_only, step
from rnn_core.cells import COLUMN_MAJOR_BATCH

CELLS = ["rnn", "lstm", "gru"]


def make_model(cell, kind, layers=1, vocab_size=7, dtype="float64", seed=0):
    if kind == "tokens":
        cfg = ModelConfig(cell=cell, hidden=5, layers=layers, vocab_size=vocab_size, dtype=dtype)
    else:
        cfg = ModelConfig(cell=cell, hidden=5, layers=layers, input_size=3, output_size=2,
                          dtype=dtype)
    rng = np.random.default_rng(seed)
    # Perturb the biases away from 0 so every term of the gradient is exercised.
    theta = init_params(cfg, seed) + 0.1 * rng.standard_normal(init_params(cfg).size)
    return cfg, theta.astype(dtype)


def make_batch(cfg, B, T, seed=1):
    rng = np.random.default_rng(seed)
    if cfg.kind == "tokens":
        x = rng.integers(0, cfg.vocab_size, (B, T))
        y = rng.integers(0, cfg.vocab_size, (B, T))
    else:
        x = rng.standard_normal((B, T, cfg.input_size))
        y = rng.standard_normal((B, T, cfg.output_size))
    mask = (rng.random((B, T)) < 0.7).astype(float)
    return x, y, mask


def numerical_grad(f, theta, eps=1e-5):
    grad = np.zeros_like(theta)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = eps
        grad[j] = (f(theta + e) - f(theta - e)) / (2 * eps)
    return grad


def rel_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


@pytest.mark.matrix
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", ["tokens", "series"])
@pytest.mark.parametrize("cell", CELLS)
def test_gradient_matches_central_differences_with_mask(cell, kind, layers):
    cfg, theta = make_model(cell, kind, layers)
    x, y, mask = make_batch(cfg, B=3, T=5)
    _, _, grad = loss_and_grad(theta, cfg, x, y, mask)
    num = numerical_grad(lambda th: loss_only(th, cfg, x, y, mask)[0], theta)
    assert rel_error(grad, num) < 1e-6


@pytest.mark.parametrize("cell", CELLS)
def test_gradient_matches_central_differences_when_vocab_exceeds_batch_tokens(cell):
    # vocab 40 > B*T = 6 tokens takes the gather-then-project embedding path.
    cfg, theta = make_model(cell, "tokens", vocab_size=40)
    x, y, mask = make_batch(cfg, B=2, T=3)
    _, _, grad = loss_and_grad(theta, cfg, x, y, mask)
    num = numerical_grad(lambda th: loss_only(th, cfg, x, y, mask)[0], theta)
    assert rel_error(grad, num) < 1e-6


@pytest.mark.parametrize("kind", ["tokens", "series"])
@pytest.mark.parametrize("cell", CELLS)
def test_batch_gradient_is_sum_of_unequal_shard_gradients(cell, kind):
    cfg, theta = make_model(cell, kind, layers=2)
    x, y, mask = make_batch(cfg, B=7, T=6)
    loss, count, grad = loss_and_grad(theta, cfg, x, y, mask, bptt=4)
    parts = [loss_and_grad(theta, cfg, x[s], y[s], mask[s], bptt=4)
             for s in (slice(0, 2), slice(2, 7))]
    assert loss == pytest.approx(sum(p[0] for p in parts), rel=1e-12)
    assert count == sum(p[1] for p in parts)
    np.testing.assert_allclose(grad, sum(p[2] for p in parts), rtol=1e-10, atol=1e-12)


def test_count_is_number_of_unmasked_steps_not_steps_times_dims():
    cfg, theta = make_model("gru", "series")
    x, y, mask = make_batch(cfg, B=3, T=5)
    assert loss_and_grad(theta, cfg, x, y, mask)[1] == mask.sum()
    assert loss_and_grad(theta, cfg, x, y)[1] == 15


def test_masked_steps_add_nothing_to_loss_or_gradient():
    cfg, theta = make_model("lstm", "tokens")
    x, y, mask = make_batch(cfg, B=3, T=5)
    y_changed = np.where(mask == 0, (y + 1) % cfg.vocab_size, y)
    a, b = loss_and_grad(theta, cfg, x, y, mask), loss_and_grad(theta, cfg, x, y_changed, mask)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[2], b[2])


@pytest.mark.parametrize("cell", CELLS)
def test_bptt_equal_to_length_is_full_bptt(cell):
    cfg, theta = make_model(cell, "tokens", layers=2)
    x, y, mask = make_batch(cfg, B=3, T=6)
    full = loss_and_grad(theta, cfg, x, y, mask)
    window = loss_and_grad(theta, cfg, x, y, mask, bptt=6)
    assert full[0] == window[0]
    np.testing.assert_array_equal(full[2], window[2])


@pytest.mark.parametrize("cell", CELLS)
def test_truncated_bptt_has_full_loss_but_truncated_gradient(cell):
    cfg, theta = make_model(cell, "series")
    x, y, mask = make_batch(cfg, B=2, T=6)
    full = loss_and_grad(theta, cfg, x, y, mask)
    short = loss_and_grad(theta, cfg, x, y, mask, bptt=2)
    assert short[0] == pytest.approx(full[0], rel=1e-12)   # state is carried forward
    assert rel_error(short[2], full[2]) > 1e-3                # but not differentiated


def unrolled_window_losses(theta_window, theta_state, cfg, x, y, K):
    """Cross-entropy summed over windows of K steps, computed with step(): each
    window starts from the state that theta_state reaches, and is scored with
    theta_window. Differentiating in theta_window alone is truncated BPTT."""
    B, T = x.shape
    total, state = 0.0, init_state(cfg, B)
    for s in range(0, T, K):
        window_state = state
        for t in range(s, min(s + K, T)):
            logits, window_state = step(theta_window, cfg, window_state, x[:, t])
            z = logits - logits.max(axis=1, keepdims=True)
            total -= np.sum(z[np.arange(B), y[:, t]] - np.log(np.exp(z).sum(axis=1)))
            _, state = step(theta_state, cfg, state, x[:, t])
    return total


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_truncated_bptt_matches_hand_unrolled_windows_with_carried_state(cell):
    cfg = ModelConfig(cell=cell, hidden=3, layers=2, vocab_size=4)
    theta = init_params(cfg, seed=3)
    x, y, _ = make_batch(cfg, B=2, T=7)
    _, _, grad = loss_and_grad(theta, cfg, x, y, bptt=3)
    num = numerical_grad(lambda th: unrolled_window_losses(th, theta, cfg, x, y, K=3), theta)
    assert rel_error(grad, num) < 1e-6


# float32 at a batch of COLUMN_MAJOR_BATCH and more: the LSTM's column-major steps (cells.py)
@pytest.mark.parametrize("B", [3, COLUMN_MAJOR_BATCH], ids=["small batch", "column-major batch"])
@pytest.mark.parametrize("cell", CELLS)
def test_float32_gradient_is_float32_and_close_to_float64(cell, B):
    cfg64, theta = make_model(cell, "tokens")
    cfg32 = ModelConfig(**{**cfg64.to_dict(), "dtype": "float32"})
    x, y, mask = make_batch(cfg64, B=B, T=5)
    loss64, _, grad64 = loss_and_grad(theta, cfg64, x, y, mask)
    loss32, _, grad32 = loss_and_grad(theta.astype(np.float32), cfg32, x, y, mask)
    assert grad32.dtype == np.float32
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    np.testing.assert_allclose(grad32, grad64, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("n_ids", [5, 300])   # one-hot product and sort-and-reduce paths
def test_sum_rows_by_id_matches_add_at(n_ids):
    from rnn_core.network import sum_rows_by_id
    rng = np.random.default_rng(0)
    ids = rng.integers(0, n_ids, 50)
    rows = rng.standard_normal((50, 4))
    expected = np.zeros((n_ids, 4))
    np.add.at(expected, ids, rows)
    np.testing.assert_allclose(sum_rows_by_id(ids, rows, n_ids), expected, atol=1e-12)


@pytest.mark.parametrize("kind", ["tokens", "series"])
def test_loss_and_grad_leaves_its_arguments_unchanged(kind):
    cfg, theta = make_model("lstm", kind)
    x, y, mask = make_batch(cfg, B=2, T=4)
    copies = [a.copy() for a in (theta, x, y, mask)]
    loss_and_grad(theta, cfg, x, y, mask, bptt=3)
    for before, after in zip(copies, (theta, x, y, mask)):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("kind", ["tokens", "series"])
def test_loss_only_computes_no_gradient(kind, monkeypatch):
    import rnn_core.bptt as bptt
    cfg, theta = make_model("gru", kind)
    x, y, mask = make_batch(cfg, B=2, T=4)
    expected = loss_only(theta, cfg, x, y, mask)
    need_grads = []

    def loss_spy(*args, **kwargs):
        need_grads.append(kwargs.get("need_grad", args[3] if len(args) > 3 else "default"))
        return loss_fn(*args, **kwargs)

    def no_backward(*args):
        raise AssertionError("loss_only ran the backward pass")

    loss_fn = bptt.LOSSES[kind]
    monkeypatch.setitem(bptt.LOSSES, kind, loss_spy)
    monkeypatch.setattr(bptt.network, "backward", no_backward)
    assert loss_only(theta, cfg, x, y, mask) == expected
    assert len(need_grads) == 1 and not need_grads[0]      # one window, no gradient asked


@pytest.mark.parametrize("n_ids", [5, 300])   # one-hot product and sort-and-reduce paths
def test_sum_rows_by_id_keeps_the_dtype_of_the_rows(n_ids):
    from rnn_core.network import sum_rows_by_id
    rows = np.ones((6, 2), dtype=np.float32)
    assert sum_rows_by_id(np.array([0, 1, 1, 4, 4, 4]), rows, n_ids).dtype == np.float32


# -- residual series output --------------------------------------------------------------------

def residual_model(cell, layers=1, seed=0, ar=None):
    """A residual series model (I=3, O=2), with the AR base ``ar`` (O, p+1) if given."""
    cfg = ModelConfig(cell=cell, hidden=5, layers=layers, input_size=3, output_size=2,
                      dtype="float64", residual=True, ar=ar)
    rng = np.random.default_rng(seed)
    # init_params zeroes the output layer of a residual model: perturb it like the rest
    theta = init_params(cfg, seed) + 0.1 * rng.standard_normal(init_params(cfg).size)
    return cfg, theta


AR3 = ((0.1, 0.5, 0.3, -0.2), (-0.05, 0.9, 0.0, 0.1))      # (O=2, p+1): c, a_1, a_2, a_3


@pytest.mark.parametrize("ar", [None, AR3], ids=["last-value base", "AR base"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_residual_gradient_matches_central_differences(cell, layers, ar):
    cfg, theta = residual_model(cell, layers, ar=ar)
    x, y, mask = make_batch(cfg, B=3, T=6)
    _, _, grad = loss_and_grad(theta, cfg, x, y, mask)
    num = numerical_grad(lambda th: loss_only(th, cfg, x, y, mask)[0], theta)
    assert rel_error(grad, num) < 1e-6


def test_residual_output_is_the_plain_output_plus_the_input():
    from dataclasses import replace

    from rnn_core import predict

    cfg, theta = residual_model("gru")
    x, _, _ = make_batch(cfg, B=2, T=4)
    plain = predict(theta, replace(cfg, residual=False), x)
    assert np.allclose(predict(theta, cfg, x), plain + x[..., :2], atol=1e-12)


# -- AR residual base (LSTNet's highway) ---------------------------------------------------------

def ar_model(cell, layers=1, seed=0):
    return residual_model(cell, layers, seed, ar=AR3)


def test_truncated_bptt_carries_the_ar_bases_lags_across_windows():
    cfg, theta = ar_model("gru")
    x, y, mask = make_batch(cfg, B=2, T=7)
    full = loss_and_grad(theta, cfg, x, y, mask)
    assert loss_and_grad(theta, cfg, x, y, mask, bptt=2)[0] == pytest.approx(full[0], rel=1e-12)


def replace_ar(cfg, ar):
    from dataclasses import replace
    return replace(cfg, ar=ar)


def test_ar_residual_output_is_the_plain_output_plus_each_columns_ar_forecast():
    from rnn_core import predict

    cfg, theta = ar_model("lstm")
    x, _, _ = make_batch(cfg, B=2, T=6)
    plain = predict(theta, replace_ar(cfg, None), x) - x[..., :2]     # the network's output
    lag = lambda k: x[:, np.maximum(np.arange(6) - k, 0), :2]         # x[t - k], x[0] before
    coef = np.array(AR3)
    base = coef[:, 0] + coef[:, 1] * lag(0) + coef[:, 2] * lag(1) + coef[:, 3] * lag(2)
    np.testing.assert_allclose(predict(theta, cfg, x), plain + base, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_gradient_of_a_system_driven_by_its_inputs_alone_matches_central_differences(cell):
    cfg = ModelConfig(cell=cell, hidden=5, input_size=3, output_size=1, target_inputs=False)
    theta = init_params(cfg, 0) + 0.1 * np.random.default_rng(0).standard_normal(
        init_params(cfg).size)
    x, y, mask = make_batch(cfg, B=3, T=5)
    _, _, grad = loss_and_grad(theta, cfg, x, y, mask)
    num = numerical_grad(lambda th: loss_only(th, cfg, x, y, mask)[0], theta)
    assert rel_error(grad, num) < 1e-6


def test_a_system_driven_by_its_inputs_alone_does_not_read_its_targets_past_values():
    from rnn_core import predict
    cfg = ModelConfig(cell="gru", hidden=5, input_size=3, output_size=1, target_inputs=False)
    theta = init_params(cfg, 0)
    x, _, _ = make_batch(cfg, B=2, T=6)
    changed = x.copy()
    changed[..., 0] += 10.0
    np.testing.assert_array_equal(predict(theta, cfg, x), predict(theta, cfg, changed))
    assert init_params(cfg).size == init_params(ModelConfig(
        cell="gru", hidden=5, input_size=2, output_size=1)).size
