"""How a sequence is cut into chunk records, split in time into training and validation.

Each sequence of L steps is split in time: its last ``round(valid * L)`` steps are the
validation part, the rest the training part, so nothing later than a validation step is
trained on. Each part is cut into chunks of ``chunk`` steps, consecutive chunks sharing one
step (the validation part starts with the last training step), so every step after the first
is predicted exactly once::

    sequence  s0 s1 s2 s3 s4 s5 s6 s7 s8 s9      chunk 4, valid 0.2
    train     [s0 s1 s2 s3] [s3 s4 s5 s6] [s6 s7]
    valid                                    [s7 s8 s9]

With ``context`` C > 0 every chunk is prefixed by up to C earlier steps of its sequence, its
warm-up (fewer where the sequence starts): they are run forward but not scored, so the
recurrent state of every scored prediction has seen the past. The warm-up of a validation
chunk may reach into the training part: it is input, never a target::

    context 2 train  [s0 s1 s2 s3] [s1 s2|s3 s4 s5 s6] [s4 s5|s6 s7]
              valid                               [s5 s6|s7 s8 s9]

Record keys are ``SEQ/N`` (5-digit sequence id, 6-digit chunk number in time order), so
sorting keys restores every sequence.
"""
import numpy as np


def cut_chunks(sequence, chunk, context=0, start=0):
    """(values, warmup) chunks of ``sequence[start:]``, starting every ``chunk - 1`` steps.

    sequence: (L,) ids or (L, F) values. Each chunk is ``chunk`` steps (the last one
    shorter) prefixed by up to ``context`` steps before it (from ``sequence[:s]``, so also
    before ``start``); warmup is the length of that prefix. A trailing single step is
    dropped: it is the last step of the previous chunk, already predicted.
    """
    chunks = []
    for s in range(start, max(len(sequence) - 1, start), chunk - 1):
        first = max(s - context, 0)
        chunks.append((sequence[first:s + chunk], s - first))
    return chunks


def join_chunks(chunks):
    """The sequence that ``cut_chunks`` cut, from its (values, warmup) chunks in order.

    The first chunk is kept whole (with its warm-up); of each later one the warm-up and the
    repeated first step are dropped.
    """
    (first, _), rest = chunks[0], chunks[1:]
    return np.concatenate([first] + [values[warmup + 1:] for values, warmup in rest])


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


def sequence_records(seq_id, sequence, chunk, valid, context=0):
    """{"train": [(key, values, warmup)], "valid": [...]} for one sequence; keys in time order."""
    cut = split_point(len(sequence), valid)
    parts = {"train": cut_chunks(sequence[:cut], chunk, context),
             "valid": cut_chunks(sequence, chunk, context, start=cut - 1)
             if cut < len(sequence) else []}
    records, number = {}, 0
    for split in ("train", "valid"):
        records[split] = []
        for values, warmup in parts[split]:
            records[split].append((record_key(seq_id, number), values, warmup))
            number += 1
    return records


def sequences_of(records):
    """{sequence id: (L,) or (L, F)} joined back from (key, values, warmup) records."""
    by_sequence = {}
    for key, values, warmup in sorted(records, key=lambda r: r[0]):
        by_sequence.setdefault(sequence_id(key), []).append((values, warmup))
    return {seq: join_chunks(chunks) for seq, chunks in by_sequence.items()}


def last_sequence(records):
    """The last sequence of (key, values, warmup) records, joined back: (L,) or (L, F)."""
    sequences = sequences_of(records)
    return sequences[max(sequences)]


def scored_positions(records):
    """{sequence id: {key: positions (n,)}}: where in its joined sequence (:func:`sequences_of`)
    each record's scored targets lie: a record of N steps with warm-up W scores the targets
    at its rows W + 1 .. N - 1, the steps it adds to the sequence."""
    positions, lengths = {}, {}
    for key, values, warmup in sorted(records, key=lambda r: r[0]):
        seq = sequence_id(key)
        start = lengths.get(seq, warmup + 1)      # a sequence's first record adds all its rows
        added = len(values) - (warmup + 1)
        positions.setdefault(seq, {})[key] = np.arange(start, start + added)
        lengths[seq] = start + added
    return positions
