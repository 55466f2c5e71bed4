"""Named arrays to .npz bytes and files, and back, bit for bit."""

import io
import struct

import numpy as np
import pytest

from rnn_core import ModelConfig, init_params
from rnn_core.optimizers import OptimizerConfig, init_state
from rnn_core.serialization import arrays_from_bytes, arrays_to_bytes, load_arrays, save_arrays


def example_arrays():
    cfg = ModelConfig(cell="lstm", hidden=4, vocab_size=5, dtype="float32")
    theta = init_params(cfg, seed=0)
    return {"theta": theta, **init_state(OptimizerConfig(name="adam", lr=0.1), theta)}


def assert_bit_identical(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape
        assert a[k].tobytes() == b[k].tobytes()


@pytest.mark.matrix
def test_bytes_round_trip_is_bit_identical():
    arrays = example_arrays()
    assert_bit_identical(arrays, arrays_from_bytes(arrays_to_bytes(arrays)))


def test_file_round_trip_keeps_exact_path_and_bits(tmp_path):
    arrays = {"x": np.array([np.pi, -0.0, np.inf]), "t": np.array(3, dtype=np.int64)}
    path = tmp_path / "model.bin"
    save_arrays(path, arrays)
    assert path.exists()
    assert_bit_identical(arrays, load_arrays(str(path)))


def test_file_object_round_trip():
    arrays = example_arrays()
    buf = io.BytesIO()
    save_arrays(buf, arrays)
    buf.seek(0)
    assert_bit_identical(arrays, load_arrays(buf))


def test_saving_object_arrays_is_refused():
    with pytest.raises(ValueError, match="'bad' has object dtype, which cannot be saved "
                                         "without pickle"):
        arrays_to_bytes({"bad": np.array([{}, 1], dtype=object)})


def test_saving_anything_but_a_dict_is_refused():
    with pytest.raises(ValueError, match="arrays must be a dict of name -> array, got list"):
        arrays_to_bytes([("x", np.zeros(2))])


@pytest.mark.parametrize("name", [1, ""])
def test_saving_arrays_under_a_name_that_is_no_non_empty_string_is_refused(name):
    with pytest.raises(ValueError, match="array names must be non-empty strings"):
        arrays_to_bytes({name: np.zeros(2)})


@pytest.mark.parametrize("data", [b"", b"not an npz file at all", b"PK\x03\x04garbage"])
def test_loading_garbage_raises_value_error(data):
    with pytest.raises(ValueError, match="npz"):
        arrays_from_bytes(data)


def test_loading_truncated_archive_raises_value_error():
    data = arrays_to_bytes(example_arrays())
    with pytest.raises(ValueError, match="npz"):
        arrays_from_bytes(data[: len(data) // 2])


def test_loading_single_npy_raises_value_error():
    buf = io.BytesIO()
    np.save(buf, np.arange(3))
    with pytest.raises(ValueError, match=r"not a valid .npz archive \(it holds a single .npy array\)"):
        arrays_from_bytes(buf.getvalue())


@pytest.mark.matrix
def test_loading_pickled_object_array_raises_value_error():
    buf = io.BytesIO()
    np.savez(buf, bad=np.array([{}, 1], dtype=object))
    with pytest.raises(ValueError, match="npz"):
        arrays_from_bytes(buf.getvalue())


def test_loading_archive_with_flipped_byte_raises_value_error():
    data = bytearray(arrays_to_bytes({"x": np.arange(1000.0)}))
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(ValueError, match="npz"):
        arrays_from_bytes(bytes(data))


def test_loading_from_anything_but_bytes_is_refused():
    with pytest.raises(ValueError, match="data must be bytes, got str"):
        arrays_from_bytes("PK")


def test_entries_are_written_with_zip64_headers_so_arrays_past_2_gib_fit():
    # An entry streamed with ZipFile.open("w") has no known size up front: without a zip64
    # header, writing more than 2 GiB to it fails. Checked on the header itself, since a
    # 2 GiB array is too big for a unit test.
    data = arrays_to_bytes({"x": np.zeros(3)})
    assert data[:4] == b"PK\x03\x04"                       # the local file header
    name_length, extra_length = struct.unpack("<HH", data[26:30])
    extra = data[30 + name_length:30 + name_length + extra_length]
    assert extra[:2] == struct.pack("<H", 0x0001)           # the zip64 extra field's id
