"""The sequence record format: one text line per chunk of a sequence.

A dataset is a directory of plain-text shard files; every line is one chunk::

    KEY <TAB> DTYPE <TAB> SHAPE <TAB> CRC32 <TAB> PAYLOAD [<TAB> WARMUP]

* ``KEY``     names the chunk, ``<sequence id>/<chunk number>`` (no tabs).
* ``DTYPE``   ``u2``/``u4`` for token ids, ``f4``/``f8`` for real values (little endian).
* ``SHAPE``   ``N`` for tokens (a 1-D array of N ids) or ``NxF`` for series (N steps, F values).
* ``CRC32``   8 hex digits, the CRC-32 of the raw payload bytes.
* ``PAYLOAD`` the array's raw bytes in base64.
* ``WARMUP``  optional: W, the number of leading steps that are context only (absent: 0).

A chunk of N steps with W warm-up steps runs N - 1 steps forward (inputs are rows ``[:-1]``,
targets rows ``[1:]``) and scores the last N - 1 - W predictions: the first W steps only
build up the recurrent state, so no scored prediction starts from a zero state. Records
written before the warm-up field existed have 5 fields and W = 0.
Lines are independent, so Hadoop may split a shard anywhere and every map task still sees
whole records. Decoding never unpickles and validates everything it reads: a bad line raises
:class:`BadRecord` whose ``reason`` is short enough to be a Hadoop counter name.
"""
import base64
import binascii
import math
import zlib
from typing import NamedTuple

import numpy as np

DTYPES = {"u2": "<u2", "u4": "<u4", "f4": "<f4", "f8": "<f8"}
_CODES = {np.dtype(v): k for k, v in DTYPES.items()}
_ITEMSIZE = {code: np.dtype(dtype).itemsize for code, dtype in DTYPES.items()}


class BadRecord(ValueError):
    """A line that is not a valid record; ``reason`` names the problem (a counter name)."""

    def __init__(self, reason, detail=""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class Record(NamedTuple):
    """One decoded chunk: its key, values (N,) ids or (N, F) floats, and warm-up steps."""

    key: str
    values: np.ndarray
    warmup: int = 0


def encode_record(key, values, warmup=0):
    """Encode one chunk as a record line (without the newline).

    values: int array (N,) of token ids, or float array (N, F) of series values.
    warmup: leading steps that are context only (0 <= warmup <= N - 2); 0 writes no field,
    so such a line is also a valid record of the 5-field format.
    """
    key = str(key)
    if "\t" in key or "\n" in key:
        raise ValueError(f"record key must not contain tabs or newlines: {key!r}")
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        if values.ndim != 1:
            raise ValueError(f"token chunks are 1-D, got shape {values.shape}")
        if values.size and (values.min() < 0 or values.max() >= 2**32):
            raise ValueError("token ids must be in [0, 2**32)")
        dtype = "<u2" if (values.size == 0 or values.max() < 2**16) else "<u4"
        shape = str(values.shape[0])
    elif values.dtype.kind == "f":
        if values.ndim != 2:
            raise ValueError(f"series chunks are 2-D (steps, features), got shape {values.shape}")
        dtype = "<f8" if values.dtype == np.float64 else "<f4"
        shape = f"{values.shape[0]}x{values.shape[1]}"
    else:
        raise ValueError(f"cannot encode values of dtype {values.dtype}")
    raw = np.ascontiguousarray(values, dtype=dtype).tobytes()
    code = _CODES[np.dtype(dtype)]
    payload = base64.b64encode(raw).decode("ascii")
    line = f"{key}\t{code}\t{shape}\t{zlib.crc32(raw):08x}\t{payload}"
    if warmup == 0:
        return line
    if not isinstance(warmup, (int, np.integer)) or not 0 < warmup <= len(values) - 2:
        raise ValueError(f"warmup must be an int in [0, N - 2] for a chunk of N = "
                         f"{len(values)} steps, got {warmup!r}")
    return f"{line}\t{int(warmup)}"


def decode_record(line):
    """Decode a record line into a :class:`Record`; raise :class:`BadRecord` if it is not one.

    Its values are int64 ids of shape (N,) or float64 values of shape (N, F).
    """
    if isinstance(line, bytes):
        try:
            line = line.decode("ascii")
        except UnicodeDecodeError:
            raise BadRecord("bad encoding", "record line is not ASCII") from None
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) not in (5, 6):
        raise BadRecord("bad encoding", f"expected 5 or 6 tab-separated fields, got {len(fields)}")
    key, code, shape_text, crc_text, payload = fields[:5]
    if code not in DTYPES:
        raise BadRecord("bad encoding", f"unknown dtype code {code!r}")
    try:
        shape = tuple(map(int, shape_text.split("x")))
        crc = int(crc_text, 16)
        raw = base64.b64decode(payload, validate=True)
    except (ValueError, binascii.Error):
        raise BadRecord("bad encoding", "shape, checksum or base64 payload unreadable") from None
    kind_ok = len(shape) == 1 if code[0] == "u" else len(shape) == 2
    # (math.prod: exact for any shape, and far cheaper per record than np.prod)
    if not kind_ok or min(shape) < 0 or len(raw) != math.prod(shape) * _ITEMSIZE[code]:
        raise BadRecord("wrong length", f"{len(raw)} payload bytes do not hold shape {shape_text}")
    if zlib.crc32(raw) != crc:
        raise BadRecord("bad checksum", f"crc32 of payload is not {crc_text}")
    warmup = fields[5] if len(fields) == 6 else "0"
    if not warmup.isdigit() or not (warmup == "0" or int(warmup) <= shape[0] - 2):
        raise BadRecord("bad warm-up", f"{warmup!r} warm-up steps in a chunk of {shape[0]}")
    values = np.frombuffer(raw, dtype=DTYPES[code]).reshape(shape)
    return Record(key, values.astype(np.int64 if code[0] == "u" else np.float64), int(warmup))
