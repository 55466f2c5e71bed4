"""The AR base of a residual series model (LSTNet's "highway", Lai et al. 2018).

A model whose config has ``ar`` coefficients (O, p + 1) adds to the network's output, per
output column o, the AR(p) forecast of that column from its last p inputs:

    base[t, o] = ar[o, 0] + Σ_{i=1..p} ar[o, i] x[t - i + 1, o]

and with ``ar_inputs`` (an ARX base, for a series driven by inputs: coefficients
(O, 1 + p + k)) also Σ_j ar[o, p + j] x[t, O + j - 1], the inputs of row t (those of the step
it forecasts, :mod:`jobs.data.covariates`), as :mod:`rnn_core.arx` forecasts.

The base depends on no parameter, so it adds nothing to the backward pass. Each step needs
the p - 1 inputs before it, so the recurrent state carries them: ``lags`` (n, B, O), the last
n <= p - 1 inputs seen (time-major, oldest first). A fresh state has none; before the first
input the first input stands in (as in the AR baseline, :mod:`rnn_core.baselines`).
"""
import numpy as np


def init_lags(cfg, batch):
    """No inputs seen yet: (0, batch, O)."""
    return np.zeros((0, batch, cfg.output_size), dtype=cfg.dtype)


def check_lags(cfg, lags, batch):
    """Validate the lags of a state and return them as a cfg.dtype array."""
    lags = np.asarray(lags)
    if (lags.ndim != 3 or lags.shape[1:] != (batch, cfg.output_size)
            or lags.shape[0] > cfg.ar_order - 1 or lags.dtype.kind != "f"):
        raise ValueError(f"the lags of an AR(p={cfg.ar_order}) state must be float of shape "
                         f"(n <= {cfg.ar_order - 1}, B, O) = (n, {batch}, {cfg.output_size}), "
                         f"got {lags.dtype} {lags.shape}")
    return lags.astype(cfg.dtype, copy=False)


def ar_base(cfg, x, lags):
    """The AR forecasts of a window and the lags after it.

    x: inputs (K, B, I), of which the first O columns are the values; lags: (n, B, O) from
    the state. Returns (base (K, B, O), lags (min(p - 1, ...), B, O)) in cfg.dtype.
    """
    p, K = cfg.ar_order, x.shape[0]
    coef = np.asarray(cfg.ar, dtype=cfg.dtype)                    # (O, p + 1)
    seen = np.concatenate([lags, x[..., :cfg.output_size]], axis=0)
    missing = p - 1 - len(lags)
    if missing > 0:                                                # the first input stands in
        seen = np.concatenate([np.repeat(seen[:1], missing, axis=0), seen], axis=0)
    base = np.empty((K,) + seen.shape[1:], dtype=cfg.dtype)
    base[...] = coef[:, 0]
    for i in range(1, p + 1):          # x[t - i + 1] of output step k is seen[p - i + k]
        base += coef[:, i] * seen[p - i:p - i + K]
    if cfg.ar_inputs:                  # ARX: the inputs a row holds are those of the next step
        base += x[..., cfg.output_size:] @ coef[:, p + 1:].T
    return base, seen[len(seen) - (p - 1):]
