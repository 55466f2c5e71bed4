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
from typing import NamedTuple

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


class ChunkRange(NamedTuple):
    """Where one chunk record of a sequence lies: its rows are ``sequence[first:end]``, the
    first ``start - first`` of them warm-up. ``number`` is the chunk number within the
    sequence (train chunks first), ``index`` its number within its split."""

    split: str
    number: int
    index: int
    first: int
    start: int
    end: int

    @property
    def warmup(self):
        return self.start - self.first


class SequenceLayout:
    """The chunk records of one sequence of ``length`` steps, by arithmetic.

    The same chunks as :func:`cut_chunks` over the training part and the validation part,
    computed from positions alone, so a map task that holds only rows ``[lo, hi)`` of a long
    sequence finds the records it contributes to (:meth:`overlapping`) without the rest.
    """

    def __init__(self, length, chunk, valid, context=0):
        self.length, self.chunk, self.context = length, chunk, context
        self.cut = split_point(length, valid)
        step = chunk - 1
        self.counts = {"train": -(-max(self.cut - 1, 0) // step),
                       "valid": -(-(length - self.cut) // step) if self.cut < length else 0}

    def record(self, split, index):
        """The :class:`ChunkRange` of chunk ``index`` of ``split``."""
        if split == "train":
            start, stop, number = index * (self.chunk - 1), self.cut, index
        else:
            start = self.cut - 1 + index * (self.chunk - 1)
            stop, number = self.length, self.counts["train"] + index
        return ChunkRange(split, number, index, max(start - self.context, 0), start,
                          min(start + self.chunk, stop))

    def steps(self, split):
        """The scored steps of ``split``'s chunks (rows after their warm-up): every chunk
        but the last has ``chunk``."""
        n = self.counts[split]
        if n == 0:
            return 0
        last = self.record(split, n - 1)
        return (n - 1) * self.chunk + last.end - last.start

    def records(self):
        """Every chunk, in record-key order (train, then valid)."""
        for split in ("train", "valid"):
            for index in range(self.counts[split]):
                yield self.record(split, index)

    def overlapping(self, lo, hi):
        """The chunks (in record-key order) with a row in ``[lo, hi)``."""
        step = self.chunk - 1
        for split in ("train", "valid"):
            base = 0 if split == "train" else self.cut - 1
            # chunk i ends at base + i*step + chunk (or earlier): the first that ends after lo
            index = max(0, (lo - base - self.chunk) // step)
            while index < self.counts[split]:
                r = self.record(split, index)
                if r.first >= hi:
                    break
                if r.end > lo:
                    yield r
                index += 1


def sequence_records(seq_id, sequence, chunk, valid, context=0):
    """{"train": [(key, values, warmup)], "valid": [...]} for one sequence; keys in time order."""
    records = {"train": [], "valid": []}
    for r in SequenceLayout(len(sequence), chunk, valid, context).records():
        records[r.split].append((record_key(seq_id, r.number), sequence[r.first:r.end],
                                 r.warmup))
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
