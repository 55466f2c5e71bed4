"""How a sequence is cut into chunk records, split in time into training, validation and test.

Each sequence of L steps is split in time: its last ``round(test * L)`` steps are the test
part, the ``round(valid * L)`` steps before them the validation part, the rest the training
part, so nothing later than a validation step is trained on and nothing is chosen on the
test part. (``test`` 0, the default, gives no test part: the records are those of a dataset
prepared before the test part existed.) Each part is cut into chunks of ``chunk`` steps, consecutive chunks sharing one
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

The test part starts with the last validation step, as the validation part starts with the
last training step. Record keys are ``SEQ/N`` (5-digit sequence id, 6-digit chunk number in
time order), so sorting keys restores every sequence.
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


SPLITS = ("train", "valid", "test")  # a sequence's parts, in time order


def splits_with(test):
    """The parts a dataset has: train and valid, and test if it holds one out (``test``: the
    test fraction, or anything true when there is a test part)."""
    return SPLITS if test else SPLITS[:2]


def split_points(length, valid, test=0.0):
    """(where the validation part of a sequence of ``length`` steps begins, where its test
    part begins). Each part keeps its share of the steps, rounded, as long as one training
    prediction is left (the test part is kept first)."""
    t = min(int(round(test * length)), max(length - 2, 0))
    v = min(int(round(valid * length)), max(length - 2 - t, 0))
    return length - t - v, length - t


def split_point(length, valid, test=0.0):
    """Index where the validation part of a sequence of ``length`` steps begins: the end of
    its training part."""
    return split_points(length, valid, test)[0]


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

    The same chunks as :func:`cut_chunks` over each part (training, validation, test),
    computed from positions alone, so a map task that holds only rows ``[lo, hi)`` of a long
    sequence finds the records it contributes to (:meth:`overlapping`) without the rest.
    """

    def __init__(self, length, chunk, valid, context=0, test=0.0):
        self.length, self.chunk, self.context = length, chunk, context
        valid_start, test_start = split_points(length, valid, test)
        # each part's rows: the first chunk of a later part starts at the part's row - 1
        self.bounds = {"train": (0, valid_start), "valid": (valid_start, test_start),
                       "test": (test_start, length)}
        step = chunk - 1
        self.counts = {"train": -(-max(valid_start - 1, 0) // step)}
        for split in SPLITS[1:]:
            lo, hi = self.bounds[split]
            self.counts[split] = -(-(hi - lo) // step)
        self.first = {}  # the chunk number of each part's first chunk
        for split in SPLITS:
            self.first[split] = sum(self.counts[s] for s in SPLITS[:SPLITS.index(split)])

    def base(self, split):
        """The row where ``split``'s first chunk starts (before its warm-up)."""
        lo = self.bounds[split][0]
        return lo if split == "train" else lo - 1

    def record(self, split, index):
        """The :class:`ChunkRange` of chunk ``index`` of ``split``."""
        start = self.base(split) + index * (self.chunk - 1)
        stop = self.bounds[split][1]
        return ChunkRange(split, self.first[split] + index, index,
                          max(start - self.context, 0), start, min(start + self.chunk, stop))

    def steps(self, split):
        """The scored steps of ``split``'s chunks (rows after their warm-up): every chunk
        but the last has ``chunk``."""
        n = self.counts[split]
        if n == 0:
            return 0
        last = self.record(split, n - 1)
        return (n - 1) * self.chunk + last.end - last.start

    def records(self):
        """Every chunk, in record-key order (train, valid, then test)."""
        for split in SPLITS:
            for index in range(self.counts[split]):
                yield self.record(split, index)

    def overlapping(self, lo, hi):
        """The chunks (in record-key order) with a row in ``[lo, hi)``."""
        step = self.chunk - 1
        for split in SPLITS:
            base = self.base(split)
            # chunk i ends at base + i*step + chunk (or earlier): the first that ends after lo
            index = max(0, (lo - base - self.chunk) // step)
            while index < self.counts[split]:
                r = self.record(split, index)
                if r.first >= hi:
                    break
                if r.end > lo:
                    yield r
                index += 1


def sequence_records(seq_id, sequence, chunk, valid, context=0, test=0.0):
    """{"train": [(key, values, warmup)], "valid": [...]} (and "test" with ``test`` > 0) for
    one sequence; keys in time order."""
    records = {split: [] for split in splits_with(test)}
    for r in SequenceLayout(len(sequence), chunk, valid, context, test).records():
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
