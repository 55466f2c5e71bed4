"""Named arrays (θ, optimizer state) to and from .npz bytes or files.

Pickling is never used: object arrays are refused on save and on load. Configs
travel as JSON (ModelConfig.to_json / from_json).

The bytes written are a function of the arrays alone (entries in the order given, a fixed
timestamp, no compression), unlike ``np.savez``, which stamps the current time: equal arrays
give byte-identical files, so checkpoints of resumed and uninterrupted runs compare equal
byte for byte, and sorting serialized records is deterministic.
"""

import io
import os
import zipfile

import numpy as np


def _check_arrays(arrays):
    if not isinstance(arrays, dict):
        raise ValueError(f"arrays must be a dict of name -> array, got {type(arrays).__name__}")
    checked = {}
    for name, a in arrays.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"array names must be non-empty strings, got {name!r}")
        a = np.asarray(a)
        if a.dtype.hasobject:
            raise ValueError(f"array {name!r} has object dtype, which cannot be saved "
                             "without pickle")
        checked[name] = a
    return checked


_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold


def save_arrays(path_or_fileobj, arrays):
    """Write arrays (dict name -> ndarray) as .npz to a path (exactly that name, no
    suffix added) or a binary file object."""
    arrays = _check_arrays(arrays)
    if isinstance(path_or_fileobj, (str, os.PathLike)):
        with open(path_or_fileobj, "wb") as f:
            return save_arrays(f, arrays)
    with zipfile.ZipFile(path_or_fileobj, "w", zipfile.ZIP_STORED) as archive:
        for name, a in arrays.items():
            entry = zipfile.ZipInfo(name + ".npy", date_time=_EPOCH)
            with archive.open(entry, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, a, allow_pickle=False)


def load_arrays(path_or_fileobj):
    """Read a dict name -> ndarray written by save_arrays (path or file object)."""
    if isinstance(path_or_fileobj, (str, os.PathLike)):
        with open(path_or_fileobj, "rb") as f:      # a missing file stays an OSError
            return load_arrays(f)
    start = path_or_fileobj.tell()
    magic = path_or_fileobj.read(4)
    path_or_fileobj.seek(start)
    if magic not in (b"PK\x03\x04", b"\x93NUM"):  # np.load would take it for a pickle
        raise ValueError("cannot read arrays: not a valid .npz archive (it is not a zip file)")
    try:
        npz = np.load(path_or_fileobj, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single .npy array")
        with npz:
            return {name: npz[name] for name in npz.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise ValueError(f"cannot read arrays: not a valid .npz archive ({e})") from None


def arrays_to_bytes(arrays):
    """save_arrays into bytes."""
    buf = io.BytesIO()
    save_arrays(buf, arrays)
    return buf.getvalue()


def arrays_from_bytes(data):
    """load_arrays from bytes."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"data must be bytes, got {type(data).__name__}")
    return load_arrays(io.BytesIO(bytes(data)))
