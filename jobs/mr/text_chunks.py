"""The chunking pass of ``prepare --kind text``: token ids cut into chunk records, sharded.

Every input file is one sequence. The survey pass (:mod:`jobs.mr.char_count`) told the driver
each file's length in characters and where each input split begins; the driver ships that
as ``--layout`` (JSON, O(files + splits)), with the vocabulary and the chunking options.

A map task reads its split line by line, encodes the characters as token ids and, for each
chunk record of the file that overlaps its characters ``[lo, hi)``
(:meth:`jobs.data.chunks.SequenceLayout.overlapping`), emits the part it holds: a whole
record when the record lies inside the split, else a fragment. It holds only the rows of
the records still open (a chunk and its warm-up), not its split. It also emits, once, the
counts of the token ids of its split's training part.

The shuffle routes each record to its shard and the counts to the statistics partition
(:mod:`jobs.mr.shards`). The value's first field, ``SEQ/N:OFFSET``, is sorted: a reducer
sees its records in key order and each record's fragments in order, joins them, checks
that nothing is missing and writes the record line (:mod:`jobs.data.records`).

Cost at 1 TB of text: the shuffle carries every token once (plus the warm-up rows), as
base64 of 2-byte ids: about 2.7 bytes per ASCII character, so 2.7 TB; a map task's memory
is O(chunk + context + longest line).
"""
import base64

import numpy as np
from mrjob.protocol import BytesValueProtocol

from jobs.data.chunks import SequenceLayout, record_key
from jobs.data.corpus import encode, line_text
from jobs.data.records import encode_record
from jobs.mr.counters import current_split
from jobs.mr.shards import STATS, ShardedRecordsJob


TEXT_BLOCK = 1 << 16  # characters encoded at once by a map task


def fragment_dtype(vocab_size):
    """The dtype token ids travel in through the shuffle."""
    return "<u2" if vocab_size <= 2 ** 16 else "<u4"


class MRTextChunks(ShardedRecordsJob):
    INPUT_PROTOCOL = BytesValueProtocol  # the survey pass refused lines that are not UTF-8

    # -- map ---------------------------------------------------------------------------

    def mapper_init(self):
        self.load_layout()
        self.vocab = self.layout["vocab"]
        self.dtype = fragment_dtype(len(self.vocab))
        path, start = current_split()
        source = self.layout["files"].get(path)
        splits = {} if source is None else {s: (offset, n) for s, offset, n in source["splits"]}
        if start not in splits:
            raise RuntimeError(f"{path} (split at byte {start}) is not in the survey pass's "
                               "layout: the input changed between the two passes")
        self.seq, self.first_index = source["seq"], source["first_index"]
        self.lo, chars = splits[start]
        self.hi = self.lo + chars
        sequence = SequenceLayout(source["length"], self.layout["chunk"], self.layout["valid"],
                                  self.layout["context"])
        self.cut = sequence.bounds["train"][1]  # where the training part ends
        self.open = sequence.overlapping(self.lo, self.hi)
        self.next = next(self.open, None)
        self.rows = np.zeros(0, np.int64)  # the split's ids from position self.row0 on
        self.row0 = self.pos = self.lo
        self.train_counts = np.zeros(len(self.vocab), np.int64)
        self.lines, self.buffered = [], 0  # text not encoded yet

    def mapper(self, _, line):
        # lines are encoded a block at a time: numpy's per-call cost on one short line
        # would dominate
        text = line_text(line)
        self.lines.append(text)
        self.buffered += len(text)
        if self.buffered >= TEXT_BLOCK:
            yield from self.encode_block()

    def encode_block(self):
        """Encode the buffered lines, count their training part, emit what they complete."""
        ids = encode("".join(self.lines), self.vocab)
        self.lines, self.buffered = [], 0
        train = ids[:max(0, min(len(ids), self.cut - self.pos))]
        self.train_counts += np.bincount(train, minlength=len(self.vocab))
        self.rows = np.concatenate([self.rows, ids])
        self.pos += len(ids)
        yield from self.emit_complete(self.pos)

    def emit_complete(self, upto):
        """Emit the parts of the open records that end by position ``upto``."""
        while self.next is not None and min(self.next.end, self.hi) <= upto:
            yield self.fragment(self.next)
            self.next = next(self.open, None)
        keep_from = self.pos if self.next is None else max(self.next.first, self.lo)
        self.rows, self.row0 = self.rows[keep_from - self.row0:], keep_from

    def fragment(self, record):
        """(key, value) of the part of ``record`` in this split: rows [max(first, lo),
        min(end, hi))."""
        begin, end = max(record.first, self.lo), min(record.end, self.hi)
        ids = self.rows[begin - self.row0:end - self.row0]
        payload = base64.b64encode(ids.astype(self.dtype).tobytes()).decode("ascii")
        name = f"{record_key(self.seq, record.number)}:{begin - record.first:09d}"
        value = "\t".join([name, str(record.warmup), str(record.end - record.first), payload])
        return self.shard_key(record.split, self.first_index[record.split] + record.index), value

    def mapper_final(self):
        yield from self.encode_block()
        if self.pos != self.hi:
            path, start = current_split()
            raise RuntimeError(f"{path} (split at byte {start}): read {self.pos - self.lo} "
                               f"characters, the survey pass counted {self.hi - self.lo}: "
                               "the input changed between the two passes")
        yield from self.emit_complete(self.hi)
        counts = ",".join(str(n) for n in self.train_counts)
        yield self.stats_key(), f"{STATS}\t{counts}"

    # -- reduce ------------------------------------------------------------------------

    def reducer_init(self):
        self.load_layout()
        self.dtype = fragment_dtype(len(self.layout["vocab"]))

    def reducer(self, key, values):
        records = 0
        counts, parts, current = None, [], None
        for value in values:
            name, rest = value.split("\t", 1)
            if name == STATS:
                n = np.array(rest.split(","), dtype=np.int64)
                counts = n if counts is None else counts + n
                continue
            record, offset = name.rsplit(":", 1)
            warmup, length, payload = rest.split("\t")
            if record != current:
                if current is not None:
                    yield None, self.join(current, parts)
                    records += 1
                current, parts = record, []
            parts.append((int(offset), int(warmup), int(length),
                          np.frombuffer(base64.b64decode(payload), self.dtype)))
        if current is not None:
            yield None, self.join(current, parts)
            records += 1
        if counts is not None:
            yield None, f"{STATS}\t{','.join(str(n) for n in counts)}"
        self.count_written(key, records)

    @staticmethod
    def join(key, parts):
        """The record line of ``key`` from its fragments (offset, warmup, length, ids) in
        order; raises RuntimeError if they do not cover the record exactly once."""
        covered = 0
        for offset, _, _, ids in parts:
            if offset != covered:
                break
            covered += len(ids)
        _, warmup, length, _ = parts[0]
        if covered != length or sum(len(p[3]) for p in parts) != length:
            raise RuntimeError(f"record {key}: its fragments cover {covered} of {length} steps")
        values = np.concatenate([p[3] for p in parts]).astype(np.int64)
        return encode_record(key, values, warmup)


if __name__ == "__main__":
    MRTextChunks.run()
