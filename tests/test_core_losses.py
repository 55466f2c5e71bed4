"""The losses called directly: exact values, their gradients, numerical range."""

import numpy as np
import pytest

from rnn_core.losses import cross_entropy, squared_error


def test_cross_entropy_returns_softmax_minus_one_hot_by_default():
    logits = np.log(np.array([[1.0, 3.0], [2.0, 2.0]]))
    loss, dlogits = cross_entropy(logits, np.array([1, 0]))
    assert loss == pytest.approx(-np.log(0.75) - np.log(0.5), rel=1e-15)
    np.testing.assert_allclose(dlogits, [[0.25, -0.25], [-0.5, 0.5]], rtol=1e-15)


def test_cross_entropy_is_exact_for_rows_of_far_apart_logits():
    # Each row is shifted by its own maximum: neither exp(1000) overflows nor the
    # second row's exp(-1000 - 1000) underflows to a log(0).
    logits = np.array([[1000.0, 999.0], [-1000.0, -1001.0]])
    loss, dlogits = cross_entropy(logits, np.array([0, 0]))
    p = 1.0 / (1.0 + np.exp(-1.0))                      # softmax of (1, 0), first entry
    assert loss == pytest.approx(2 * np.log1p(np.exp(-1.0)), rel=1e-15)
    np.testing.assert_allclose(dlogits, [[p - 1, 1 - p], [p - 1, 1 - p]], rtol=1e-15)


def test_cross_entropy_sums_float32_row_losses_in_float64():
    # Row losses 2**24 and 1 + log1p(e^-1): their float32 sum would round to 2**24 + 2.
    logits = np.array([[0.0, -2.0 ** 24], [0.0, -1.0]], dtype=np.float32)
    loss, _ = cross_entropy(logits, np.array([1, 1]), need_grad=False)
    expected = 2.0 ** 24 + 1.0 + np.log1p(np.exp(-1.0))
    assert abs(loss - expected) < 1e-6


def test_squared_error_gradient_is_twice_the_residual_by_default():
    y, targets = np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([[0.0, 1.0], [0.5, 1.0]])
    loss, dy = squared_error(y, targets)
    assert loss == 1.0 + 9.0 + 0.0 + 4.0
    np.testing.assert_array_equal(dy, [[2.0, -6.0], [0.0, 4.0]])


def test_squared_error_sums_float32_squares_in_float64():
    # 4096**2 + 1 = 2**24 + 1, which float32 cannot hold.
    y = np.array([[4096.0], [1.0]], dtype=np.float32)
    loss, _ = squared_error(y, np.zeros_like(y), need_grad=False)
    assert loss == 2.0 ** 24 + 1.0
