"""Input validation: bad shapes, dtypes or ids fail here with a clear ValueError
instead of deep inside numpy."""

import numpy as np


def check_ids(x, vocab_size, name):
    """Token ids: any-shape integer array with values in [0, vocab_size)."""
    x = np.asarray(x)
    if x.dtype.kind not in "iu":
        raise ValueError(f"{name} must be an integer array of token ids, got dtype {x.dtype}")
    if x.size and (x.min() < 0 or x.max() >= vocab_size):
        raise ValueError(f"{name} must hold token ids in [0, {vocab_size}), "
                         f"got values in [{x.min()}, {x.max()}]")
    return x


def check_real(x, width, dtype, name):
    """Real-valued array whose last axis has length `width`, converted to dtype."""
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a real-valued array, got dtype {x.dtype}")
    if x.ndim == 0 or x.shape[-1] != width:
        raise ValueError(f"{name} must have last axis of length {width}, got shape {x.shape}")
    return x.astype(dtype, copy=False)


def check_shape(x, shape, name, what):
    if x.shape != shape:
        raise ValueError(f"{name} must have shape {what} = {shape}, got {x.shape}")


def check_inputs(cfg, inputs):
    """Validate a batch's inputs: tokens int (B, T); series (B, T, I), converted to cfg.dtype."""
    if cfg.kind == "tokens":
        inputs = check_ids(inputs, cfg.vocab_size, "inputs")
        if inputs.ndim != 2:
            raise ValueError(f"inputs must have shape (B, T), got {inputs.shape}")
    else:
        inputs = check_real(inputs, cfg.input_size, cfg.dtype, "inputs")
        if inputs.ndim != 3:
            raise ValueError(f"inputs must have shape (B, T, input_size), got {inputs.shape}")
    B, T = inputs.shape[:2]
    if B == 0 or T == 0:
        raise ValueError(f"need at least one sequence and one step, got B={B}, T={T}")
    return inputs


def check_sequences(cfg, inputs, targets, mask):
    """Validate a batch and return it time-major, ready for the network.

    tokens: inputs, targets int (B, T)         -> (T, B) each
    series: inputs (B, T, I), targets (B, T, O) -> (T, B, I), (T, B, O) in cfg.dtype
    mask:   (B, T) of 0/1 or None              -> (T, B) in cfg.dtype or None
    """
    inputs = check_inputs(cfg, inputs)
    B, T = inputs.shape[:2]
    if cfg.kind == "tokens":
        targets = check_ids(targets, cfg.vocab_size, "targets")
        check_shape(targets, (B, T), "targets", "(B, T)")
    else:
        targets = check_real(targets, cfg.output_size, cfg.dtype, "targets")
        check_shape(targets, (B, T, cfg.output_size), "targets", "(B, T, output_size)")
    if mask is not None:
        mask = np.asarray(mask)
        check_shape(mask, (B, T), "mask", "(B, T)")
        if mask.dtype.kind not in "biuf" or not np.all((mask == 0) | (mask == 1)):
            raise ValueError("mask must contain only 0 and 1")
        mask = mask.T.astype(cfg.dtype)
    return np.swapaxes(inputs, 0, 1), np.swapaxes(targets, 0, 1), mask


def check_window(bptt):
    """bptt must be None (full sequence) or a positive int."""
    if bptt is not None and (isinstance(bptt, bool) or not isinstance(bptt, (int, np.integer))
                             or bptt < 1):
        raise ValueError(f"bptt must be None or a positive int, got {bptt!r}")
    return bptt
