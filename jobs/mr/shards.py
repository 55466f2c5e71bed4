"""The base of the jobs that write a dataset's record shards (``prepare``'s last pass).

A map task emits each finished (or partial) record keyed by the reduce partition of its
shard: train shard ``k`` is partition ``k``, valid shard ``k`` is ``S + k``, test shard ``k``
(a dataset with a test part) ``2S + k``, and the partition after the last shard is for one
extra line of statistics (the text job's token counts). Records go to
shards round-robin in record order (:func:`jobs.data.dataset.shard_of` of the record's
index in its split, over all sequences), so shards differ by at most one record. The
value's first field starts with the record key, and the shuffle sorts on it (SORT_VALUES):
each reducer gets its records in key order, and its output file *is* the shard, the same
bytes on every runner. The driver side is :mod:`jobs.preparing.sharding`.
"""
import json

from mrjob.protocol import RawProtocol, RawValueProtocol

from jobs.data.chunks import splits_with
from jobs.data.dataset import shard_of
from jobs.mr.counters import COUNTERS
from jobs.mr.slices import routing_key, slice_of_key
from jobs.mr.task import TaskJob

STATS = "#stats"  # the first field of the statistics line (jobs.preparing.sharding.STATS)


def partitions(shards, splits=2):
    """The reduce tasks of a sharding job with ``shards`` shards for each of ``splits``
    parts, and one for the statistics line."""
    return splits * shards + 1


class ShardedRecordsJob(TaskJob):
    """A job whose reducers write record shards. ``--layout``: a JSON file with at least
    ``shards``; subclasses read the rest."""

    SORT_VALUES = True
    INTERNAL_PROTOCOL = RawProtocol
    OUTPUT_PROTOCOL = RawValueProtocol

    def configure_args(self):
        super().configure_args()
        self.add_file_arg("--layout", required=True,
                          help="JSON: the chunking options, the sequences and the shard count")

    def load_layout(self):
        with open(self.options.layout, encoding="utf-8") as f:
            self.layout = json.load(f)
        self.shards = self.layout["shards"]
        self.splits = splits_with(self.layout.get("test"))
        self.partitions = partitions(self.shards, len(self.splits))

    def shard_key(self, split, index):
        """The shuffle key of the record ``index`` of ``split`` (over all sequences)."""
        partition = shard_of(index, self.shards) + self.shards * self.splits.index(split)
        return routing_key(partition, self.partitions)

    def stats_key(self):
        return routing_key(self.partitions - 1, self.partitions)

    def count_written(self, key, records):
        """Count the records a reducer wrote, by split (the driver checks the totals)."""
        partition = slice_of_key(key)
        if records and partition < self.partitions - 1:
            split = self.splits[partition // self.shards]
            self.increment_counter(COUNTERS, f"{split} records written", records)
