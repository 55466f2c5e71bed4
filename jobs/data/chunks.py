"""How a sequence is cut into chunk records, split in time into training and validation.

Each sequence of L steps is split in time: its last ``round(valid * L)`` steps are the
validation part, the rest the training part, so nothing later than a validation step is
trained on. Each part is cut into chunks of ``chunk`` steps, consecutive chunks sharing one
step (the validation part starts with the last training step), so every step after the first
is predicted exactly once::

    sequence  s0 s1 s2 s3 s4 s5 s6 s7 s8 s9      chunk 4, valid 0.2
    train     [s0 s1 s2 s3] [s3 s4 s5 s6] [s6 s7]
    valid                                    [s7 s8 s9]

Record keys are ``SEQ/N`` (5-digit sequence id, 6-digit chunk number in time order), so
sorting keys restores every sequence.
"""
import numpy as np


def cut_chunks(sequence, chunk):
    """Chunks of ``chunk`` steps starting every ``chunk - 1`` steps (last one shorter).

    sequence: (L,) ids or (L, F) values. A trailing single step is dropped: it is the last
    step of the previous chunk, already predicted.
    """
    return [sequence[start:start + chunk]
            for start in range(0, max(len(sequence) - 1, 0), chunk - 1)]


def join_chunks(chunks):
    """The sequence that ``cut_chunks`` cut (chunks in order): drop each repeated first step."""
    return np.concatenate([chunks[0]] + [c[1:] for c in chunks[1:]])


def split_point(length, valid):
    """Index where the validation part of a sequence of ``length`` steps begins."""
    v = int(round(valid * length))
    v = min(v, max(length - 2, 0))  # keep at least one training prediction
    return length - v


def record_key(seq_id, number):
    """The key of chunk ``number`` of sequence ``seq_id``."""
    return f"{seq_id:05d}/{number:06d}"


def sequence_id(key):
    """The sequence part of a record key."""
    return key.split("/")[0]


def sequence_records(seq_id, sequence, chunk, valid):
    """{"train": [(key, chunk)], "valid": [...]} for one sequence; keys in time order."""
    cut = split_point(len(sequence), valid)
    parts = {"train": cut_chunks(sequence[:cut], chunk),
             "valid": cut_chunks(sequence[cut - 1:], chunk) if cut < len(sequence) else []}
    records, number = {}, 0
    for split in ("train", "valid"):
        records[split] = []
        for values in parts[split]:
            records[split].append((record_key(seq_id, number), values))
            number += 1
    return records


def last_sequence(records):
    """The last sequence of (key, chunk) records, joined back: (L,) or (L, F)."""
    chunks = dict(records)
    last = max(sequence_id(key) for key in chunks)
    return join_chunks([chunks[k] for k in sorted(chunks) if sequence_id(k) == last])
