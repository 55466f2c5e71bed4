"""rnn_core/cells.py's layouts: the LSTM's gates are the same function whichever layout its
per-step arrays have (the float32 column-major steps compute σ from exp, the others from
tanh)."""
import warnings

import numpy as np
import pytest

from rnn_core.cells import lstm_gate_affine, lstm_gates_

H = 3
EXTREMES = [-1e30, -1e4, -100.0, -20.0, -1.0, -1e-8, 0.0, 1e-8, 1.0, 20.0, 100.0, 1e4, 1e30]


def pre_activations(dtype):
    """(B, 4H) pre-activations: every extreme in every gate block, then ordinary values."""
    a = np.tile(np.array(EXTREMES, dtype=dtype)[:, None], (1, 4 * H))
    ordinary = np.random.default_rng(0).standard_normal((50, 4 * H)) * 4
    return np.concatenate([a, ordinary.astype(dtype)])


def gates_in(a, order):
    """lstm_gates_ of a copy of ``a`` kept in memory order ``order``."""
    out = np.array(a, order=order)
    scale, shift = lstm_gate_affine(H, a.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # an overflow warning fails the test
        lstm_gates_(out, scale, shift)
    return out


def exact_gates(a):
    """σ on i, f and o and tanh on g, in float64 from the same pre-activations."""
    a = a.astype(np.float64)
    with np.errstate(over="ignore"):
        sigma = 1 / (1 + np.exp(-a))
    return np.concatenate([sigma[:, :2 * H], np.tanh(a[:, 2 * H:3 * H]), sigma[:, 3 * H:]],
                          axis=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_lstm_gates_are_the_same_function_in_both_layouts(dtype):
    a = pre_activations(dtype)
    row_major, column_major = gates_in(a, "C"), gates_in(a, "F")
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(row_major, exact_gates(a), rtol=0, atol=4 * eps)
    np.testing.assert_allclose(column_major, exact_gates(a), rtol=0, atol=4 * eps)


@pytest.mark.parametrize("order", ["C", "F"])
def test_the_lstm_gates_saturate_at_their_limits(order):
    a = pre_activations(np.float32)[:len(EXTREMES)]
    gates = gates_in(a, order)
    blocks = {"i": gates[:, :H], "f": gates[:, H:2 * H], "g": gates[:, 2 * H:3 * H],
              "o": gates[:, 3 * H:]}
    for name, block in blocks.items():
        low = -1.0 if name == "g" else 0.0
        assert (block[0] == low).all() and (block[-1] == 1.0).all(), name
        assert (np.diff(block[:, 0]) >= 0).all(), f"{name} is not monotone"
