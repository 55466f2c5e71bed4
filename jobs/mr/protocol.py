"""Compact mrjob protocols for named numpy arrays: ``KEY <TAB> base64(npz)``, and for the
training job's slice records ``KEY <TAB> TAG <TAB> base64(npz)``.

Map tasks and reducers exchange dicts of arrays (gradient sums, token counts, parameter
slices), so the shuffle carries O(map tasks x parameters) bytes, never a record per token. npz is read with ``allow_pickle=False``: nothing that crosses the wire is unpickled.
"""
import base64
import math

import numpy as np
from mrjob.compat import jobconf_from_env

from rnn_core.serialization import arrays_from_bytes, arrays_to_bytes


class ArraysProtocol:
    """mrjob protocol: key is a str, value a ``dict[str, numpy.ndarray]``."""

    def read(self, line):
        key, _, payload = line.partition(b"\t")
        return key.decode("utf-8"), arrays_from_bytes(base64.b64decode(payload))

    def write(self, key, value):
        return key.encode("utf-8") + b"\t" + base64.b64encode(arrays_to_bytes(value))


def add_sums(dicts):
    """Element-wise sum of dicts of arrays that share their keys, exactly rounded.

    Each element is summed with ``math.fsum`` in float64, so the result does not depend on
    the order of the dicts (a reducer gets the map tasks' sums in any order) and is the same
    bits wherever the sums are added. Returns {name: float64 array of the inputs' shape}.
    """
    columns = None
    for arrays in dicts:
        if columns is None:
            columns = {name: [] for name in arrays}
        if arrays.keys() != columns.keys():
            raise ValueError(f"cannot add sums with keys {sorted(arrays)} and {sorted(columns)}")
        for name, value in arrays.items():
            columns[name].append(np.asarray(value, np.float64))
    if columns is None:
        return None
    total = {}
    for name, values in columns.items():
        stacked = np.stack(values).reshape(len(values), -1)
        sums = [math.fsum(stacked[:, i]) for i in range(stacked.shape[1])]
        total[name] = np.array(sums, np.float64).reshape(np.shape(values[0]))
    return total


class Record:
    """A slice record: its ``tag`` (which task or step made it), ``arrays``, and ``size``,
    the bytes of its line (for the per-reducer byte counters)."""

    __slots__ = ("tag", "arrays", "size")

    def __init__(self, tag, arrays, size=0):
        self.tag, self.arrays, self.size = tag, arrays, size


class SliceProtocol:
    """mrjob protocol of the training job: ``KEY <TAB> TAG <TAB> base64(npz)``.

    KEY is a slice's shuffle key (:func:`jobs.mr.slices.routing_key`), the value a
    :class:`Record`. TAG is a fixed-width string that orders a slice's records: with
    SORT_VALUES, Hadoop sorts on KEY and TAG (``stream.num.map.output.key.fields=2``) and
    mrjob's runners sort whole lines, so every reducer adds the map tasks' records in task
    order (tags ``t000000``, ``t000001``, ...), whatever the bytes of the records.
    """

    def read(self, line):
        key, tag, payload = line.split(b"\t", 2)
        return key.decode("utf-8"), Record(tag.decode("utf-8"),
                                           arrays_from_bytes(base64.b64decode(payload)),
                                           len(line) + 1)

    def write(self, key, value):
        return b"\t".join([key.encode("utf-8"), value.tag.encode("utf-8"),
                           base64.b64encode(arrays_to_bytes(value.arrays))])


def task_tag(prefix="t"):
    """This task's tag: ``prefix`` and its 6-digit task number (orders records by task)."""
    return f"{prefix}{int(jobconf_from_env('mapreduce.task.partition', '0')):06d}"
