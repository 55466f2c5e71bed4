"""Turn decoded chunks into padded minibatches for rnn_core.

A chunk of N steps gives N - 1 (input, target) pairs, of which the first W (its warm-up, see
:mod:`jobs.data.records`) are masked out: they advance the recurrent state but add nothing to
the loss or its gradient. Chunks in one minibatch may differ in length (the last chunk of a
sequence is usually shorter); they are right-padded and masked.
"""
import numpy as np

from jobs.data.records import BadRecord, decode_record


def validate_chunk(values, cfg):
    """Check a decoded chunk against the model; raise :class:`BadRecord` if it can't be used.

    values: int ids (N,) for token models, floats (N, F) for series models.
    """
    if cfg.kind == "tokens":
        if values.ndim != 1:
            raise BadRecord("wrong kind", "series record given to a token model")
        # (ids decode from unsigned integers, so only the largest can be out of range)
        if values.size and values.max() >= cfg.vocab_size:
            raise BadRecord("token id out of vocabulary", f"ids must be < {cfg.vocab_size}")
    else:
        if values.ndim != 2:
            raise BadRecord("wrong kind", "token record given to a series model")
        if values.shape[1] != cfg.input_size:
            raise BadRecord("wrong length", f"{values.shape[1]} features, model takes {cfg.input_size}")
        if not np.all(np.isfinite(values)):
            raise BadRecord("non-finite value", "NaN or infinity in a series record")
    if values.shape[0] < 2:
        raise BadRecord("too short", "a chunk needs at least 2 steps to score one prediction")


def read_chunk(line, cfg):
    """Decode a record line and validate it for the model; raise :class:`BadRecord` if bad.

    Returns the :class:`jobs.data.records.Record` (key, values, warmup).
    """
    record = decode_record(line)
    validate_chunk(record.values, cfg)
    return record


def make_batch(chunks, cfg):
    """Stack chunks into one padded minibatch.

    chunks: list of B validated records (anything with ``values`` (N_b,) or (N_b, F) and
    ``warmup`` W_b). Returns inputs, targets, mask: for tokens int arrays (B, T) twice; for
    series (B, T, input_size) and (B, T, output_size); mask (B, T) in cfg.dtype, 1 on the
    scored steps W_b .. N_b - 2 of each row; T = max N_b - 1.
    """
    steps = max(len(c.values) for c in chunks) - 1
    count = len(chunks)
    mask = np.zeros((count, steps), dtype=cfg.dtype)
    if cfg.kind == "tokens":
        inputs = np.zeros((count, steps), dtype=np.int64)
        targets = np.zeros((count, steps), dtype=np.int64)
    else:
        inputs = np.zeros((count, steps, cfg.input_size), dtype=cfg.dtype)
        targets = np.zeros((count, steps, cfg.output_size), dtype=cfg.dtype)
    for b, (values, warmup) in enumerate((c.values, c.warmup) for c in chunks):
        n = len(values) - 1
        inputs[b, :n] = values[:-1]
        targets[b, :n] = values[1:, : cfg.output_size] if cfg.kind == "series" else values[1:]
        mask[b, warmup:n] = 1
    return inputs, targets, mask


def iter_batches(chunks, cfg, batch_size):
    """Yield ``make_batch`` minibatches of up to ``batch_size`` chunks from an iterable of records."""
    pending = []
    for chunk in chunks:
        pending.append(chunk)
        if len(pending) == batch_size:
            yield make_batch(pending, cfg)
            pending = []
    if pending:
        yield make_batch(pending, cfg)
