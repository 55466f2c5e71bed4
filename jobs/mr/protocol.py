"""A compact mrjob protocol for named numpy arrays: ``KEY <TAB> base64(npz)``.

Map tasks and the reducer exchange one dict of arrays each (gradient sums, token counts,
parameters), so the shuffle carries O(map tasks x parameters) bytes, never a record
per token. npz is read with ``allow_pickle=False``: nothing that crosses the wire is unpickled.
"""
import base64

from rnn_core.serialization import arrays_from_bytes, arrays_to_bytes


class ArraysProtocol:
    """mrjob protocol: key is a str, value a ``dict[str, numpy.ndarray]``."""

    def read(self, line):
        key, _, payload = line.partition(b"\t")
        return key.decode("utf-8"), arrays_from_bytes(base64.b64decode(payload))

    def write(self, key, value):
        return key.encode("utf-8") + b"\t" + base64.b64encode(arrays_to_bytes(value))


def add_sums(dicts):
    """Element-wise sum of dicts of arrays that share their keys."""
    total = None
    for arrays in dicts:
        if total is None:
            total = {name: value.copy() for name, value in arrays.items()}
            continue
        if arrays.keys() != total.keys():
            raise ValueError(f"cannot add sums with keys {sorted(arrays)} and {sorted(total)}")
        for name, value in arrays.items():
            total[name] += value
    return total
