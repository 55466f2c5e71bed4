"""ARX(p): an autoregression with exogenous inputs, the classical counterpart of a driven
series model (``prepare --inputs``), fitted by least squares from sums that add across
series.

A driven series holds, per row t, its O target values and its k inputs *of the next step*
(:mod:`jobs.data.covariates`). Each target column o is forecast from its own last p values
and the inputs known for the step it forecasts, as statsforecast's AutoARIMA with exogenous
regressors and a linear regression on lags would:

    ŷ[t, o] = coef[o, 0] + Σ_{i=1..p} coef[o, i] y[t - i, o] + Σ_j coef[o, p + j] c_j[t]

where c[t] is row t - 1's input part. The sums (:func:`arx_statistics`) are O(O·(1+p+k)²)
per series, so a panel of any size is fitted from their total, as the AR(p) is
(:mod:`rnn_core.autoregression`). Arrays are float64.
"""
from dataclasses import dataclass

import numpy as np

from .autoregression import lagged, solve


@dataclass(frozen=True)
class ARX:
    """Per target column o: coef[o] = (c, a_1 .. a_p, b_1 .. b_k) of the formula above."""

    order: int
    coef: np.ndarray  # (O, 1 + p + k)


def features(sequence, positions, order, targets):
    """The regressors (n, O, 1 + p + k) of the targets at ``positions`` (n,) of a sequence
    (L, F) whose first ``targets`` columns are the targets: 1, the p values before each
    position (the first value before the start), and the inputs of the row before it."""
    n = len(positions)
    lags = lagged(sequence[:, :targets], positions, np.arange(1, order + 1))   # (n, p, O)
    inputs = sequence[positions - 1, targets:]                                   # (n, k)
    return np.concatenate([np.ones((n, targets, 1)), lags.transpose(0, 2, 1),
                           np.broadcast_to(inputs[:, None, :], (n, targets, inputs.shape[1]))],
                          axis=2)


def arx_statistics(history, order, targets):
    """The sums {"gram" (O, d, d), "moment" (O, d), "count"} of the least-squares fit of one
    history (L, F), d = 1 + p + k, over its positions p .. L - 1 (every lag inside it);
    {} for a history of p steps or fewer."""
    history = np.asarray(history, dtype=np.float64)
    positions = np.arange(max(order, 1), len(history))
    if not len(positions):
        return {}
    z = features(history, positions, order, targets)                   # (n, O, d)
    y = history[positions, :targets]                                   # (n, O)
    return {"gram": np.einsum("noi,noj->oij", z, z), "moment": np.einsum("noi,no->oi", z, y),
            "count": np.array(float(len(positions)))}


def fit_arx(stats, order):
    """The :class:`ARX` of summed :func:`arx_statistics`, or None without any."""
    if not stats:
        return None
    return ARX(order, solve(stats["gram"], stats["moment"]))


def arx_ahead(sequence, origins, horizon, arx, targets):
    """The forecasts (n, horizon, O) of the targets of the ``horizon`` steps after each
    origin (n,): the forecasts of the steps between are fed back as the last values, the
    inputs are the sequence's own (known ahead: the sequence must reach origin + horizon - 1)."""
    p = arx.order
    history = lagged(sequence[:, :targets], origins + 1, np.arange(1, p + 1))     # (n, p, O)
    a, b = arx.coef[:, 1:p + 1], arx.coef[:, p + 1:]
    out = np.empty((len(origins), horizon, targets))
    for step in range(horizon):
        inputs = sequence[origins + step, targets:]                                # (n, k)
        out[:, step] = arx.coef[:, 0] + np.einsum("npo,op->no", history, a) + inputs @ b.T
        history = np.concatenate([out[:, step, None], history[:, :-1]], axis=1)
    return out


def arx_forecasts(sequence, positions, horizon, arx, targets):
    """The ``horizon``-step forecasts (n, O) of the targets at ``positions`` (n,), each from
    its origin position - horizon (:func:`arx_ahead`)."""
    return arx_ahead(sequence, positions - horizon, horizon, arx, targets)[:, -1]
