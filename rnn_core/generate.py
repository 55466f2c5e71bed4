"""Running a trained model on its own outputs: sampling text, forecasting series."""

import numpy as np

from . import network
from .checks import check_ids, check_real
from .params import check_theta, param_views


def _check_count(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return int(value)


def sample_tokens(theta, cfg, prime_ids, length, temperature=1.0, rng=None):
    """Feed prime_ids (P,) then sample `length` new tokens, each from
    softmax(logits / temperature). rng: np.random.Generator (default: a fresh one).
    Returns the new ids, (length,) int64."""
    if cfg.kind != "tokens":
        raise ValueError("sample_tokens needs a token model (vocab_size set)")
    theta = check_theta(theta, cfg)
    prime_ids = check_ids(prime_ids, cfg.vocab_size, "prime_ids")
    if prime_ids.ndim != 1 or prime_ids.size == 0:
        raise ValueError(f"prime_ids must be a non-empty 1-D array, got shape {prime_ids.shape}")
    length = _check_count("length", length)
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    rng = np.random.default_rng() if rng is None else rng
    views = param_views(theta, cfg)
    out, state, _ = network.forward(views, cfg, prime_ids[:, None], network.init_state(cfg, 1))
    ids = np.empty(length, dtype=np.int64)
    for j in range(length):
        z = out[-1, 0].astype(np.float64) / temperature
        p = np.exp(z - z.max())
        ids[j] = rng.choice(cfg.vocab_size, p=p / p.sum())
        out, state, _ = network.forward(views, cfg, ids[j:j + 1, None], state)
    return ids


def check_forecaster(cfg, inputs=None, rows=0, horizon=1):
    """Raise ValueError unless ``cfg`` is a model whose outputs can be fed back as inputs:
    its input columns are its outputs, then (a driven series) inputs known ahead, of which
    ``inputs`` (B, horizon - 1, input_size - output_size) must give the ``horizon`` - 1 rows
    fed back; returns them as cfg.dtype, (B, horizon - 1, 0) for a series of outputs only."""
    if cfg.kind != "series":
        raise ValueError("forecast needs a series model (input_size/output_size set)")
    if cfg.input_size < cfg.output_size:
        raise ValueError("forecast feeds predictions back as inputs, so it needs "
                         f"input_size >= output_size, got {cfg.input_size} and "
                         f"{cfg.output_size}")
    known = cfg.input_size - cfg.output_size
    shape = (rows, max(horizon - 1, 0), known)
    if inputs is None and (known == 0 or horizon <= 1):
        return np.zeros(shape, dtype=cfg.dtype)
    if inputs is None:
        raise ValueError(f"a model with {known} input(s) beside its outputs needs the inputs "
                         f"of the {horizon - 1} step(s) it feeds back")
    inputs = np.asarray(inputs, dtype=cfg.dtype)
    if inputs.shape != shape or not np.all(np.isfinite(inputs)):
        raise ValueError(f"inputs must be finite of shape (B, horizon - 1, input_size - "
                         f"output_size) = {shape}, got {inputs.shape}")
    return inputs


# The longest forecast(): its steps are computed one after the other, each from the ones
# before it (so their errors compound); 10,000 take seconds, 1e8 ran for hours
MAX_HORIZON = 10_000


def forecast(theta, cfg, history, horizon, inputs=None):
    """Feed history (T, input_size), then predict `horizon` further steps (at most
    :data:`MAX_HORIZON`), each prediction becoming the next input's first output_size
    columns. A driven series (input_size > output_size) needs ``inputs`` (horizon - 1,
    input_size - output_size), the rest of the rows fed back. Returns (horizon, output_size)."""
    if _check_count("horizon", horizon) > MAX_HORIZON:
        raise ValueError(f"horizon must be at most {MAX_HORIZON:,}, got {horizon}")
    check_forecaster(cfg)
    history = check_real(history, cfg.input_size, cfg.dtype, "history")
    if history.ndim != 2 or history.shape[0] == 0:
        raise ValueError(f"history must have shape (T >= 1, input_size), got {history.shape}")
    inputs = None if inputs is None else np.asarray(inputs)[None]
    return forecast_batch(theta, cfg, history[None], horizon, inputs)[0]


def forecast_batch(theta, cfg, histories, horizon, inputs=None):
    """forecast() for B histories of the same length at once: (B, T, input_size) and
    inputs (B, horizon - 1, input_size - output_size) or None -> (B, horizon, output_size)."""
    check_forecaster(cfg)
    theta = check_theta(theta, cfg)
    histories = check_real(histories, cfg.input_size, cfg.dtype, "histories")
    if histories.ndim != 3 or 0 in histories.shape[:2]:
        raise ValueError("histories must have shape (B >= 1, T >= 1, input_size), got "
                         f"{histories.shape}")
    horizon = _check_count("horizon", horizon)
    B = histories.shape[0]
    inputs = check_forecaster(cfg, inputs, B, horizon)
    views = param_views(theta, cfg)
    preds = np.empty((horizon, B, cfg.output_size), dtype=cfg.dtype)
    fed = np.empty((1, B, cfg.input_size), dtype=cfg.dtype)
    out, state, _ = network.forward(views, cfg, np.swapaxes(histories, 0, 1),
                                    network.init_state(cfg, B))
    for j in range(horizon):
        preds[j] = out[-1]
        if j + 1 < horizon:
            fed[0, :, :cfg.output_size] = preds[j]
            fed[0, :, cfg.output_size:] = inputs[:, j]
            out, state, _ = network.forward(views, cfg, fed, state)
    return np.swapaxes(preds, 0, 1)
