"""θ and the optimizer state cut into contiguous slices: one shuffle key (and record) per slice.

An epoch's map tasks emit one record per slice of θ (see :mod:`jobs.mr.train_epoch`), so

* no record line is larger than :data:`RECORD_BUDGET`, whatever |θ| (the Java side of
  Hadoop Streaming holds a whole line in one ``Text`` of the task JVM's heap), and
* the sum over tasks and the optimizer step are spread over R reducers (a reduce-scatter
  through the shuffle): reducer r gets the slices s with ``s % R == r``.

Slices are made of whole blocks of :data:`NORM_BLOCK` elements. The squared L2 norm of a
vector is always summed block by block in block order (:func:`block_square_sums`), so the
global norm that gradient clipping needs is the same number whatever the slicing, and the
slicing (hence R) never changes a bit of θ. A plan with S slices over n elements::

    blocks  = ceil(n / NORM_BLOCK)
    slice s = elements [bounds[s], bounds[s+1])      bounds: int64 array of shape (S + 1,)
    S       = min(blocks, R x ceil(ceil(n * bytes_per_element / ELEMENT_BYTES_PER_RECORD) / R))

``bytes_per_element`` is what one element costs in the largest record of a slice (for
example θ plus two Adam moments in float32: 12 bytes); base64 makes a line 4/3 of that.
"""
import math
from dataclasses import dataclass

import numpy as np

# The largest line a task of the epoch job writes or reads, in bytes (key, tag and base64 of
# the npz payload). Hadoop task JVMs buffer a few lines at a time, so their heap needs
# a small multiple of this, independent of |θ| (see jobs.hadoop.resources).
RECORD_BUDGET = 8 * 1024 * 1024
# Room for the key, the tag, npz headers and the per-record scalars (loss, count, ...).
RECORD_OVERHEAD = 64 * 1024
# Raw (pre-base64) payload bytes one record may hold.
ELEMENT_BYTES_PER_RECORD = (RECORD_BUDGET - RECORD_OVERHEAD) * 3 // 4
# Elements per norm block; slices are whole blocks (the last block may be short).
NORM_BLOCK = 256
MAX_SLICES = 99999  # slice ids are 5 digits in the shuffle key


@dataclass(frozen=True)
class SlicePlan:
    """Contiguous slices of a flat vector of ``n`` elements.

    ``bounds``: tuple of S + 1 ints, 0 = bounds[0] < ... < bounds[S] = n, each a multiple
    of :data:`NORM_BLOCK` except n. ``reducers``: R, the number of reduce tasks the slices
    are routed to.
    """

    n: int
    bounds: tuple
    reducers: int

    @property
    def count(self):
        return len(self.bounds) - 1

    def range(self, s):
        """(lo, hi) of slice ``s``."""
        return self.bounds[s], self.bounds[s + 1]

    def key(self, s):
        """The shuffle key of slice ``s``: Hadoop's partitioner sends it to reducer s % R."""
        return routing_key(s, self.reducers)


def plan_slices(n, bytes_per_element, reducers=1):
    """The :class:`SlicePlan` for ``n`` elements of ``bytes_per_element`` each, R reducers.

    The fewest slices the record budget allows, rounded up to a multiple of R (so every
    reducer gets as many slices), but no more than there are norm blocks.
    """
    if n < 1 or reducers < 1:
        raise ValueError(f"need n >= 1 and reducers >= 1, got n={n}, reducers={reducers}")
    blocks = math.ceil(n / NORM_BLOCK)
    per_record = max(1, ELEMENT_BYTES_PER_RECORD // (bytes_per_element * NORM_BLOCK))
    count = min(blocks, reducers * math.ceil(math.ceil(blocks / per_record) / reducers))
    if count > MAX_SLICES:
        raise ValueError(f"{count} slices exceed {MAX_SLICES}: the model is too large "
                         "for the record budget")
    bounds = tuple(min(n, (s * blocks // count) * NORM_BLOCK) for s in range(count)) + (n,)
    return SlicePlan(n=n, bounds=bounds, reducers=reducers)


def block_square_sums(values):
    """Σ x² in float64 over each :data:`NORM_BLOCK` of ``values`` (shape (n,) -> (ceil(n/B),)).

    ``values`` must start at a block boundary. Each block is summed by itself, so the sums
    of a slice are the same numbers as those blocks' sums in the whole vector.
    """
    squares = np.square(values, dtype=np.float64)
    return np.array([np.sum(squares[i:i + NORM_BLOCK])
                     for i in range(0, len(squares), NORM_BLOCK)], dtype=np.float64)


def global_norm(block_sums):
    """The L2 norm from all blocks' square sums, concatenated in block order."""
    return float(np.sqrt(np.sum(block_sums)))


# -- routing: slice s -> reducer s % R -------------------------------------------------------
# Hadoop Streaming with mrjob's SORT_VALUES partitions with KeyFieldBasedPartitioner on the
# first key field: (h & 0x7fffffff) % R with h = Java's 31 * h + byte over the field's bytes.
# The key of slice s is its 5-digit id, plus a ".<salt>" found so that this hash lands on
# reducer s % R. mrjob's inline and local runners group by key without a partitioner, which
# is also correct: a slice's records always go to one reducer call.

def key_partition(key, reducers):
    """The reduce task Hadoop's KeyFieldBasedPartitioner (-k1,1) assigns to ``key``."""
    h = 0
    for byte in key.encode("utf-8"):
        h = (31 * h + (byte - 256 if byte > 127 else byte)) & 0xFFFFFFFF
    return (h & 0x7FFFFFFF) % reducers


def routing_key(s, reducers):
    """The shuffle key of slice ``s`` that Hadoop partitions to reducer ``s % reducers``."""
    key, salt = f"{s:05d}", 0
    while key_partition(key, reducers) != s % reducers:
        salt += 1
        key = f"{s:05d}.{salt}"
    return key


def slice_of_key(key):
    """The slice id of a shuffle key made by :func:`routing_key`."""
    return int(key.split(".", 1)[0])


# -- the driver's side ------------------------------------------------------------------------

class Assembler:
    """Fill whole vectors from slices as they arrive, holding one copy of each vector.

    ``n``: the vectors' length; ``names_dtypes``: {name: dtype} of the sliced vectors (θ,
    optimizer slots), each assembled into one array of shape (n,).
    :meth:`add` copies a slice in; :meth:`result` checks every element was set exactly once.
    """

    def __init__(self, n, names_dtypes):
        self.n = n
        self.arrays = {name: np.empty(n, dtype) for name, dtype in names_dtypes.items()}
        self.filled = []

    def add(self, lo, arrays):
        hi = None
        for name, target in self.arrays.items():
            part = arrays[name]
            hi = lo + len(part)
            if not 0 <= lo < hi <= self.n:
                raise ValueError(f"slice [{lo}, {hi}) of {name} is outside [0, {self.n})")
            target[lo:hi] = part
        self.filled.append((lo, hi))

    def result(self):
        self.filled.sort()
        expected = 0
        for lo, hi in self.filled:
            if lo != expected:
                raise ValueError(f"the job's output {'misses' if lo > expected else 'repeats'} "
                                 f"elements from {min(lo, expected)} of {self.n}")
            expected = hi
        if expected != self.n:
            raise ValueError(f"the job's output misses elements from {expected} of {self.n}")
        return self.arrays
