"""The last pass of ``prepare --kind series``: each series normalized and cut into chunk
records, sharded.

Map tasks read the first pass's lines (:mod:`jobs.mr.series_sort`: one series each), skip
the series the layout leaves out (too short), normalize the values with the statistics of
the training parts (``--layout``: ``normalization`` and, per series id, its sequence number,
where its records fall in each split and, with ``--scale series``, its own normalization) and emit every chunk record of the series
(:class:`jobs.data.chunks.SequenceLayout`) as a finished record line to its shard
(:mod:`jobs.mr.shards`). The reducers write the lines in key order.
"""

from jobs.data.chunks import SequenceLayout, record_key
from jobs.data.records import encode_record
from jobs.data.series_io import normalize
from jobs.mr.counters import COUNTERS
from jobs.mr.protocol import ArraysProtocol
from jobs.mr.shards import ShardedRecordsJob


class MRSeriesChunks(ShardedRecordsJob):
    INPUT_PROTOCOL = ArraysProtocol

    def mapper_init(self):
        self.load_layout()

    def mapper(self, key, arrays):
        series = self.layout["series"].get(key)
        if series is None:  # too short to keep (the driver logged it), or an error line
            self.increment_counter(COUNTERS, "series left out")
            return
        values = normalize(arrays["values"],
                           series.get("normalization", self.layout["normalization"]))
        layout = SequenceLayout(len(values), self.layout["chunk"], self.layout["valid"],
                                self.layout["context"], self.layout.get("test", 0.0))
        for r in layout.records():
            line = encode_record(record_key(series["seq"], r.number), values[r.first:r.end],
                                 r.warmup)
            yield self.shard_key(r.split, series["first_index"][r.split] + r.index), line

    def reducer_init(self):
        self.load_layout()

    def reducer(self, key, lines):
        records = 0
        for line in lines:
            yield None, line
            records += 1
        self.count_written(key, records)


if __name__ == "__main__":
    MRSeriesChunks.run()
