"""The driver's file store, on the local disk and (with the dev cluster) on HDFS via WebHDFS."""
import os
import re

import pytest

from jobs.storage import MissingFile, StoreError, open_store, replace_dir


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


def parent_of(store):
    return open_store(store.uri().rsplit("/", 1)[0])


def test_is_dir_is_true_for_directories_only(store):
    store.write_bytes("d/f", b"x")
    assert store.is_dir() and store.is_dir("d")
    assert not store.is_dir("d/f") and not store.is_dir("missing")


def test_sibling_is_the_store_beside_this_one_with_the_suffix(store):
    assert store.sibling(".old-1").uri() == store.uri() + ".old-1"


def test_move_to_renames_the_directory_with_everything_in_it(store):
    store.write_bytes("d/f", b"x")
    moved = store.sibling(".moved")
    store.move_to(moved)
    assert moved.read_bytes("d/f") == b"x" and not store.exists()


def test_move_to_an_existing_directory_raises_store_error_naming_both(store):
    store.write_bytes("f", b"x")
    other = store.sibling(".other")
    other.write_bytes("g", b"y")
    with pytest.raises(StoreError, match="cannot rename"):
        store.move_to(other)
    assert store.read_bytes("f") == b"x"


def test_remove_tree_deletes_the_directory_and_everything_in_it(store):
    store.write_bytes("d/f", b"x")
    store.remove_tree()
    assert not store.exists()


def test_remove_if_empty_removes_only_an_empty_directory(store):
    store.write_bytes("f", b"x")
    store.remove_if_empty()
    assert store.read_bytes("f") == b"x"
    store.delete("f")
    store.remove_if_empty()
    assert not store.exists()


def test_replace_dir_swaps_the_staging_directory_into_the_target_and_drops_the_old(store):
    store.write_bytes("old", b"1")
    staging = store.sibling(".staging")
    staging.write_bytes("new", b"2")
    replace_dir(staging, store)
    assert store.list() == ["new"] and store.read_bytes("new") == b"2"
    assert parent_of(store).list() == [store.uri().rsplit("/", 1)[1]]


def test_replace_dir_into_a_missing_target_moves_the_staging_directory(store):
    staging = store.sibling(".staging")
    staging.write_bytes("new", b"2")
    replace_dir(staging, store)
    assert store.list() == ["new"] and not staging.exists()


def test_makedirs_creates_nested_directories_and_may_be_repeated(store):
    store.makedirs("d/e")
    store.makedirs("d/e")
    assert store.is_dir("d/e") and store.list() == ["d"]


def test_exists_names_the_file_asked_about(store):
    store.write_bytes("a", b"x")
    assert store.exists("a") and not store.exists("b")


def test_list_of_a_subdirectory_gives_its_names(store):
    store.write_bytes("c/d", b"x")
    store.write_bytes("e", b"x")
    assert store.list("c") == ["d"]
    assert store.list("missing") == []


def test_remove_tree_of_a_missing_directory_is_not_an_error(store):
    store.remove_tree()
    assert not store.exists()


# -- the local store only --------------------------------------------------------------------

@pytest.fixture
def local(tmp_path):
    return open_store(str(tmp_path / "store"))


@pytest.mark.parametrize("method, rename", [("write_bytes", "replace"),
                                            ("create_exclusive", "link")])
def test_local_writes_go_to_a_tmp_file_beside_the_target_then_are_renamed(local, monkeypatch,
                                                                          method, rename):
    real, renames = getattr(os, rename), []

    def recording(src, dst):
        renames.append((src, dst))
        return real(src, dst)

    monkeypatch.setattr(os, rename, recording)
    getattr(local, method)("d/f", b"data")
    (src, dst), = renames
    assert dst == local.uri("d/f") and os.path.dirname(src) == local.uri("d")
    assert os.path.basename(src).startswith(".tmp-")
    assert local.read_bytes("d/f") == b"data" and local.list("d") == ["f"]


def test_local_write_that_fails_leaves_no_temporary_file(local):
    local.makedirs()
    with pytest.raises(TypeError):
        local.write_bytes("f", "text, not bytes")
    assert local.list() == []


def test_local_read_of_a_directory_is_a_store_error_with_the_reason(local):
    local.makedirs("d")
    with pytest.raises(StoreError, match=f"^cannot read {re.escape(local.uri('d'))}: "
                                         "Is a directory$") as error:
        local.read_bytes("d")
    assert not isinstance(error.value, MissingFile)


def test_size_is_the_file_length_in_bytes(store):
    store.write_bytes("d/f", b"12345")
    assert store.size("d/f") == 5


def test_local_size_of_a_missing_file_is_a_store_error_naming_it(local):
    with pytest.raises(StoreError, match=f"^cannot stat {re.escape(local.uri('nothing'))}: "
                                         "No such file or directory$"):
        local.size("nothing")
