"""HdfsStore's own logic, fast: against an in-memory stand-in for the WebHDFS client.

The stand-in follows the documented behaviour of ``hdfs.InsecureClient`` that the store
relies on (``status(strict=False)`` is None for a missing path; ``read`` of a missing file
raises HdfsError with ``exception == "FileNotFoundException"``; ``rename`` onto an existing
file raises HdfsError; ``delete`` of a missing path returns False). The same store
behaviours run against the real dev cluster in tests/test_storage.py (marked hadoop).
"""
import contextlib
import io
import posixpath

import pytest
from hdfs.util import HdfsError

import jobs.hadoop.namenodes
from jobs.storage import HdfsStore, MissingFile, StoreError, open_store, replace_dir

URI = "hdfs://namenode:8020/runs/x"


class FakeWebHdfs:
    """Files and directories in a dict; every call logged as (method, path, ...)."""

    instances = []
    # one namenode for all clients: {path: bytes}, {directory paths}, the calls, and
    # method -> exception raised by its next call
    files, dirs, calls, fail = {}, set(), [], {}

    def __init__(self, namenodes, session, verify=True):
        self.namenodes, self.user = namenodes, session.params.get("user.name")
        FakeWebHdfs.instances.append(self)

    @classmethod
    def reset(cls):
        cls.instances.clear()
        cls.files, cls.dirs, cls.calls, cls.fail = {}, {"/"}, [], {}

    def _maybe_fail(self, method):
        if method in self.fail:
            raise self.fail.pop(method)

    def status(self, path, strict=True):
        self.calls.append(("status", path))
        self._maybe_fail("status")
        if path in self.files:
            return {"type": "FILE", "length": len(self.files[path])}
        if path in self.dirs:
            return {"type": "DIRECTORY", "length": 0}
        if strict:
            raise HdfsError("File does not exist: %s", path, exception="FileNotFoundException")
        return None

    def list(self, path):
        self.calls.append(("list", path))
        self._maybe_fail("list")
        if path not in self.dirs:
            raise HdfsError("File %s does not exist.", path, exception="FileNotFoundException")
        children = {p for p in self.files | dict.fromkeys(self.dirs)
                    if p != path and posixpath.dirname(p) == path}
        return [posixpath.basename(p) for p in children]

    @contextlib.contextmanager
    def read(self, path):
        self.calls.append(("read", path))
        self._maybe_fail("read")
        if path not in self.files:
            raise HdfsError("File does not exist: %s", path, exception="FileNotFoundException")
        yield io.BytesIO(self.files[path])

    def write(self, path, data=None, overwrite=False):
        self.calls.append(("write", path, data, overwrite))
        self._maybe_fail("write")
        if path in self.files and not overwrite:
            raise HdfsError("%s already exists", path, exception="FileAlreadyExistsException")
        self._makedirs(posixpath.dirname(path))
        self.files[path] = bytes(data)

    def rename(self, src, dst):
        self.calls.append(("rename", src, dst))
        self._maybe_fail("rename")
        if dst in self.files or dst in self.dirs or posixpath.dirname(dst) not in self.dirs:
            raise HdfsError("Unable to rename %r to %r.", src, dst)
        if src in self.files:
            self.files[dst] = self.files.pop(src)
        elif src in self.dirs:  # a directory and everything under it
            moved = lambda p: dst + p[len(src):]  # noqa: E731
            FakeWebHdfs.files = {(moved(p) if _under(p, src) else p): v
                                 for p, v in self.files.items()}
            FakeWebHdfs.dirs = {moved(p) if p == src or _under(p, src) else p for p in self.dirs}
        else:
            raise HdfsError("Unable to rename %r to %r.", src, dst)

    def delete(self, path, recursive=False):
        self.calls.append(("delete", path, recursive))
        self._maybe_fail("delete")
        if path in self.dirs:
            inside = [p for p in list(self.files) + list(self.dirs) if _under(p, path)]
            if inside and not recursive:
                raise HdfsError("%s is non empty", path)
            for p in inside:
                self.files.pop(p, None)
                self.dirs.discard(p)
            self.dirs.discard(path)
            return True
        return self.files.pop(path, None) is not None

    def makedirs(self, path):
        self.calls.append(("makedirs", path))
        self._maybe_fail("makedirs")
        self._makedirs(path)

    def _makedirs(self, path):
        while path not in self.dirs:
            self.dirs.add(path)
            path = posixpath.dirname(path)


def _under(path, directory):
    return path.startswith(directory.rstrip("/") + "/")


@pytest.fixture
def fake_client(monkeypatch, tmp_path):
    monkeypatch.setattr(jobs.hadoop.namenodes, "FailoverClient", FakeWebHdfs)
    monkeypatch.setenv("HADOOP_RNN_WEBHDFS_URL", "http://webhdfs:9870")
    monkeypatch.setenv("HADOOP_CONF_DIR", str(tmp_path / "no-hadoop-conf"))
    FakeWebHdfs.reset()
    return FakeWebHdfs.instances


@pytest.fixture
def store(fake_client):
    return open_store(URI)


def client_of(store):
    return store.client


# -- where it points -------------------------------------------------------------------------

def test_open_store_of_an_hdfs_uri_is_an_hdfs_store_rooted_at_its_normalized_path(fake_client):
    store = open_store("hdfs://namenode:8020/runs//x/")
    assert isinstance(store, HdfsStore)
    assert store.root == "/runs/x"
    assert store.uri() == URI and store.uri("a/b.npz") == URI + "/a/b.npz"


def test_uri_without_a_path_is_rooted_at_slash(fake_client):
    assert open_store("hdfs://namenode:8020").uri("f") == "hdfs://namenode:8020/f"


def test_webhdfs_url_comes_from_the_environment_when_set(fake_client):
    open_store("hdfs://namenode/runs/x")
    assert fake_client[-1].namenodes == ["http://webhdfs:9870"]


def test_webhdfs_url_defaults_to_the_uri_host_on_port_9870(fake_client, monkeypatch):
    monkeypatch.delenv("HADOOP_RNN_WEBHDFS_URL")
    open_store("hdfs://namenode:8020/runs/x")
    assert fake_client[-1].namenodes == ["http://namenode:9870"]


def test_without_webhdfs_url_host_or_configuration_the_store_says_what_to_set(fake_client,
                                                                              monkeypatch):
    monkeypatch.delenv("HADOOP_RNN_WEBHDFS_URL")
    monkeypatch.delenv("HADOOP_CONF_DIR")
    monkeypatch.delenv("HADOOP_HOME", raising=False)
    with pytest.raises(StoreError, match=r"^hdfs:///runs/x: the URI names no NameNode "
                                         r"\(hdfs://host/path\) and there is no Hadoop "
                                         r"configuration \(HADOOP_CONF_DIR, HADOOP_HOME\) to take "
                                         r"fs\.defaultFS from; or set HADOOP_RNN_WEBHDFS_URL "
                                         r"\(e\.g\. http://namenode:9870\)$"):
        open_store("hdfs:///runs/x")


def test_user_is_hadoop_user_name_when_set(fake_client, monkeypatch):
    monkeypatch.setenv("HADOOP_USER_NAME", "alice")
    open_store(URI)
    assert fake_client[-1].user == "alice"


def test_user_defaults_to_the_login_name(fake_client, monkeypatch):
    monkeypatch.delenv("HADOOP_USER_NAME", raising=False)
    monkeypatch.setattr("getpass.getuser", lambda: "bob")
    open_store(URI)
    assert fake_client[-1].user == "bob"


# -- files -----------------------------------------------------------------------------------

def test_write_then_read_round_trips_bytes(store):
    store.write_bytes("a/b.bin", b"\x00\x01payload")
    assert store.read_bytes("a/b.bin") == b"\x00\x01payload"
    assert client_of(store).files == {"/runs/x/a/b.bin": b"\x00\x01payload"}


def test_write_goes_to_a_temporary_name_in_the_same_directory_then_renames_over(store):
    client = client_of(store)
    store.write_bytes("a/f", b"old")
    client.calls.clear()
    store.write_bytes("a/f", b"new")
    (write, tmp, data, overwrite), delete, rename = client.calls
    assert (write, data, overwrite) == ("write", b"new", True)
    assert posixpath.dirname(tmp) == "/runs/x/a" and posixpath.basename(tmp).startswith(".tmp-")
    assert delete == ("delete", "/runs/x/a/f", False) and rename == ("rename", tmp, "/runs/x/a/f")
    assert client.files == {"/runs/x/a/f": b"new"}


def test_temporary_names_differ_from_write_to_write(store):
    store.write_bytes("f", b"1")
    store.write_bytes("f", b"2")
    tmps = [call[1] for call in client_of(store).calls if call[0] == "write"]
    assert len(set(tmps)) == 2


def test_create_exclusive_creates_once_and_never_overwrites(store):
    assert store.create_exclusive("lock", b"first") is True
    assert store.create_exclusive("lock", b"second") is False
    assert client_of(store).files == {"/runs/x/lock": b"first"}


def test_create_exclusive_writes_a_temporary_file_and_renames_it_into_place(store):
    client = client_of(store)
    store.create_exclusive("d/lock", b"x")
    (write, tmp, data, overwrite), rename = client.calls
    assert (write, data, overwrite) == ("write", b"x", True)
    assert posixpath.dirname(tmp) == "/runs/x/d" and posixpath.basename(tmp).startswith(".tmp-")
    assert rename == ("rename", tmp, "/runs/x/d/lock")


def test_create_exclusive_whose_rename_fails_with_the_name_free_raises_and_cleans_up(store):
    client = client_of(store)
    client.fail["rename"] = HdfsError("connection reset")
    with pytest.raises(StoreError, match=r"^cannot create hdfs://namenode:8020/runs/x/lock$"):
        store.create_exclusive("lock", b"x")
    assert client.files == {}


def test_create_exclusive_whose_clean_up_fails_says_so(store):
    client = client_of(store)
    client.fail["rename"] = HdfsError("connection reset")
    client.fail["delete"] = HdfsError("boom")
    with pytest.raises(StoreError, match=r"^cannot clean up after "
                                         r"hdfs://namenode:8020/runs/x/lock: boom$"):
        store.create_exclusive("lock", b"x")


def test_remove_if_empty_that_fails_says_what_and_where(store):
    store.makedirs()
    client_of(store).fail["delete"] = HdfsError("boom")
    with pytest.raises(StoreError, match=r"^cannot delete hdfs://namenode:8020/runs/x: boom$"):
        store.remove_if_empty()


def test_reading_a_missing_file_raises_missing_file_naming_it(store):
    with pytest.raises(MissingFile, match=r"^cannot read hdfs://namenode:8020/runs/x/nothing: "
                                          r"no such file$"):
        store.read_bytes("nothing")


def test_a_read_error_that_hdfs_does_not_name_is_missing_when_the_file_is_gone(store):
    store.makedirs()
    client_of(store).fail["read"] = HdfsError("stream closed")
    with pytest.raises(MissingFile, match=r"^cannot read hdfs://namenode:8020/runs/x/f: "
                                          r"no such file$"):
        store.read_bytes("f")


def test_a_file_not_found_error_is_a_missing_file_without_another_call(store):
    store.write_bytes("f", b"x")  # deleted between the caller's check and the read
    client_of(store).fail["read"] = HdfsError("gone", exception="FileNotFoundException")
    client_of(store).calls.clear()
    with pytest.raises(MissingFile, match=r"^cannot read hdfs://namenode:8020/runs/x/f: "
                                          r"no such file$"):
        store.read_bytes("f")
    assert client_of(store).calls == [("read", "/runs/x/f")]


def test_a_read_error_of_an_existing_file_is_a_store_error_with_the_reason(store):
    store.write_bytes("f", b"x")
    client_of(store).fail["read"] = HdfsError("stream closed")
    with pytest.raises(StoreError, match=r"^cannot read hdfs://namenode:8020/runs/x/f: "
                                         r"stream closed$") as error:
        store.read_bytes("f")
    assert not isinstance(error.value, MissingFile)


def test_a_connection_error_on_read_is_a_store_error_with_the_reason(store):
    client_of(store).fail["read"] = ConnectionError("refused")
    with pytest.raises(StoreError, match=r"^cannot read hdfs://namenode:8020/runs/x/f: "
                                         r"refused$") as error:
        store.read_bytes("f")
    assert not isinstance(error.value, MissingFile)


@pytest.mark.parametrize("method, call, message", [
    ("write", lambda s: s.write_bytes("f", b"x"), "cannot write hdfs://namenode:8020/runs/x/f: "),
    ("delete", lambda s: s.write_bytes("f", b"x"), "cannot replace hdfs://namenode:8020/runs/x/f: "),
    ("rename", lambda s: s.write_bytes("f", b"x"),
     "cannot rename into hdfs://namenode:8020/runs/x/f: "),
    ("write", lambda s: s.create_exclusive("f", b"x"),
     "cannot write hdfs://namenode:8020/runs/x/f: "),
    ("status", lambda s: s.exists("f"), "cannot stat hdfs://namenode:8020/runs/x/f: "),
    ("status", lambda s: s.is_dir("f"), "cannot stat hdfs://namenode:8020/runs/x/f: "),
    ("list", lambda s: s.list(), "cannot list hdfs://namenode:8020/runs/x: "),
    ("list", lambda s: s.list("c"), "cannot list hdfs://namenode:8020/runs/x/c: "),
    ("delete", lambda s: s.remove_tree(), "cannot delete hdfs://namenode:8020/runs/x: "),
    ("delete", lambda s: s.delete("f"), "cannot delete hdfs://namenode:8020/runs/x/f: "),
    ("makedirs", lambda s: s.makedirs("d"), "cannot create directory "
                                            "hdfs://namenode:8020/runs/x/d: "),
])
def test_a_failed_call_raises_store_error_saying_what_and_where(store, method, call, message):
    store.makedirs("c")
    client_of(store).fail[method] = HdfsError("boom")
    with pytest.raises(StoreError, match="^" + message.replace(".", r"\.") + "boom$"):
        call(store)


def test_delete_of_a_missing_file_is_not_an_error(store):
    store.delete("never-written")
    assert not store.exists("never-written")


def test_delete_removes_the_file(store):
    store.write_bytes("f", b"x")
    store.delete("f")
    assert client_of(store).files == {}


def test_exists_is_true_for_files_and_directories_only(store):
    store.write_bytes("d/f", b"x")
    assert store.exists() and store.exists("d") and store.exists("d/f")
    assert not store.exists("g")


def test_list_gives_sorted_names_and_nothing_for_a_missing_directory(store):
    for name in ["b", "a", "c/d"]:
        store.write_bytes(name, b"x")
    assert store.list() == ["a", "b", "c"]
    assert store.list("c") == ["d"]
    assert store.list("missing") == []


def test_makedirs_creates_the_root_or_a_directory_under_it(store):
    store.makedirs()
    store.makedirs("d/e")
    assert ("makedirs", "/runs/x") in client_of(store).calls
    assert store.exists("d/e")


# -- whole directories -----------------------------------------------------------------------

def test_is_dir_is_true_for_directories_only(store):
    store.write_bytes("d/f", b"x")
    assert store.is_dir() and store.is_dir("d")
    assert not store.is_dir("d/f") and not store.is_dir("missing")


def test_sibling_is_the_store_beside_this_one_with_the_suffix(store):
    sibling = store.sibling(".old-1")
    assert isinstance(sibling, HdfsStore) and sibling.uri() == URI + ".old-1"
    assert sibling.root == "/runs/x.old-1"


def test_move_to_renames_the_directory_with_everything_in_it(store):
    store.write_bytes("d/f", b"x")
    store.move_to(store.sibling(".new"))
    assert client_of(store).files == {"/runs/x.new/d/f": b"x"}
    assert not store.exists()


def test_move_to_a_failed_rename_says_from_where_to_where(store):
    store.makedirs()
    client_of(store).fail["rename"] = HdfsError("boom")
    with pytest.raises(StoreError, match=r"^cannot rename to hdfs://namenode:8020/runs/x\.new "
                                         r"hdfs://namenode:8020/runs/x: boom$"):
        store.move_to(store.sibling(".new"))


def test_remove_tree_deletes_the_directory_and_everything_in_it(store):
    store.write_bytes("d/f", b"x")
    store.write_bytes("g", b"y")
    store.remove_tree()
    assert client_of(store).files == {} and not store.exists()
    assert ("delete", "/runs/x", True) in client_of(store).calls


def test_remove_if_empty_removes_an_empty_directory(store):
    store.makedirs()
    store.remove_if_empty()
    assert not store.exists()


def test_remove_if_empty_keeps_a_directory_with_files(store):
    store.write_bytes("f", b"x")
    client_of(store).calls.clear()
    store.remove_if_empty()
    assert store.read_bytes("f") == b"x"
    assert not any(call[0] == "delete" for call in client_of(store).calls)


def test_remove_if_empty_of_a_missing_directory_does_nothing(store):
    store.remove_if_empty()
    assert not any(call[0] == "delete" for call in client_of(store).calls)


def test_replace_dir_swaps_the_staging_directory_into_the_target(fake_client):
    target = open_store(URI)
    target.write_bytes("old", b"1")
    staging = target.sibling(".staging")
    staging.write_bytes("new", b"2")
    replace_dir(staging, target)
    assert FakeWebHdfs.files == {"/runs/x/new": b"2"}
    assert sorted(FakeWebHdfs.dirs) == ["/", "/runs", "/runs/x"]


def test_replace_dir_into_a_missing_target_moves_the_staging_directory(fake_client):
    target = open_store(URI)
    staging = target.sibling(".staging")
    staging.write_bytes("new", b"2")
    replace_dir(staging, target)
    assert FakeWebHdfs.files == {"/runs/x/new": b"2"}
    assert not any(call[0] == "delete" and call[2] for call in FakeWebHdfs.calls)


def test_size_is_the_length_webhdfs_reports(store):
    store.write_bytes("d/f", b"12345")
    assert store.size("d/f") == 5


def test_size_that_fails_says_what_and_where(store):
    store.makedirs()
    client_of(store).fail["status"] = HdfsError("boom")
    with pytest.raises(StoreError, match=r"^cannot stat hdfs://namenode:8020/runs/x/f: boom$"):
        store.size("f")
