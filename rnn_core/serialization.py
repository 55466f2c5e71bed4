"""Named arrays (θ, optimizer state) to and from .npz bytes or files.

Pickling is never used: object arrays are refused on save and on load. Configs
travel as JSON (ModelConfig.to_json / from_json).
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


def save_arrays(path_or_fileobj, arrays):
    """Write arrays (dict name -> ndarray) as .npz to a path (exactly that name, no
    suffix added) or a binary file object."""
    arrays = _check_arrays(arrays)
    if isinstance(path_or_fileobj, (str, os.PathLike)):
        with open(path_or_fileobj, "wb") as f:
            np.savez(f, **arrays)
    else:
        np.savez(path_or_fileobj, **arrays)


def load_arrays(path_or_fileobj):
    """Read a dict name -> ndarray written by save_arrays (path or file object)."""
    if isinstance(path_or_fileobj, (str, os.PathLike)):
        with open(path_or_fileobj, "rb") as f:      # a missing file stays an OSError
            return load_arrays(f)
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
