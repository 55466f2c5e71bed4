"""The driver's file store, on the local disk and (with the dev cluster) on HDFS via WebHDFS."""
import pytest

from jobs.storage import MissingFile, open_store


@pytest.fixture(params=["local", pytest.param("hdfs", marks=pytest.mark.hadoop)])
def store(request, tmp_path):
    if request.param == "local":
        return open_store(str(tmp_path / "store"))
    return open_store(request.getfixturevalue("hdfs_dir") + "/store")


def test_write_then_read_round_trips_bytes(store):
    store.write_bytes("a/b.bin", b"\x00\x01payload")
    assert store.read_bytes("a/b.bin") == b"\x00\x01payload"


def test_write_replaces_an_existing_file_and_leaves_no_temporary_file(store):
    store.write_bytes("f", b"old")
    store.write_bytes("f", b"new")
    assert store.read_bytes("f") == b"new"
    assert store.list() == ["f"]


def test_create_exclusive_creates_once_and_never_overwrites(store):
    assert store.create_exclusive("lock", b"first")
    assert not store.create_exclusive("lock", b"second")
    assert store.read_bytes("lock") == b"first"
    assert store.list() == ["lock"]


def test_reading_a_missing_file_raises_missing_file_naming_it(store):
    with pytest.raises(MissingFile, match="nothing-here"):
        store.read_bytes("nothing-here")


def test_delete_of_a_missing_file_is_not_an_error(store):
    store.delete("never-written")
    assert not store.exists("never-written")
