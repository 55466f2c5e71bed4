"""Files the driver reads and writes: on the local disk or on HDFS through WebHDFS.

The driver does not spawn ``hadoop fs`` (each call would start a JVM): HDFS paths go through the
``hdfs`` package's WebHDFS client, and through ``hadoop fs`` only where WebHDFS cannot be
reached (:mod:`jobs.hadoop.fs_shell`). ``open_store("hdfs:///runs/x")`` or
``open_store("/tmp/runs/x")`` gives a :class:`Store` rooted at that directory; every name
passed to it is relative to the root.

WebHDFS is found from the cluster's configuration, as ``hadoop fs`` finds HDFS
(``HADOOP_CONF_DIR``: ``hdfs:///path`` is on ``fs.defaultFS``, ``hdfs://ns/path`` on the
NameNodes of nameservice ``ns``; :mod:`jobs.hadoop.cluster_conf`), or from
``HADOOP_RNN_WEBHDFS_URL`` when set (e.g. ``http://namenode:9870``, or a comma-separated
list); without either, from the host of the ``hdfs://`` URI on port 9870. Every request
fails over between the NameNodes (:mod:`jobs.hadoop.namenodes`). The user is
``HADOOP_USER_NAME`` or the login name; on a Kerberos cluster, the ticket cache's principal
(:mod:`jobs.hadoop.kerberos`).

Besides files, a store can move or remove its whole directory: :func:`replace_dir` swaps a
directory written beside the target (e.g. a new dataset) into the target's place.
"""
import contextlib
import getpass
import os
import posixpath
import shutil
import sys
import tempfile
import uuid
from urllib.parse import urlparse

from jobs.hadoop.cluster_conf import ClusterConfError, conf_dir, read_conf


class StoreError(OSError):
    """A read or write of the driver's files failed; the message names the path."""


class MissingFile(StoreError, FileNotFoundError):
    """The file to read does not exist."""


def is_hdfs(uri):
    return str(uri).startswith("hdfs://")


def open_store(uri):
    """A :class:`LocalStore` or :class:`HdfsStore` rooted at ``uri``."""
    return HdfsStore(uri) if is_hdfs(uri) else LocalStore(uri)


def replace_dir(staging, target):
    """Move the directory of the store ``staging`` into the place of the store ``target``.

    An existing ``target`` directory is first renamed aside (``<target>.old-<id>``), then
    ``staging`` is renamed to ``target``, then the old directory is removed. Each step is one
    rename, so the old directory is whole until the new one is in place: a process killed
    between the two renames leaves it whole under the ``.old-`` name. Both stores must be of
    the same kind and share the parent directory.
    """
    aside = None
    if target.exists():
        aside = target.sibling(f".old-{uuid.uuid4().hex[:12]}")
        target.move_to(aside)
    staging.move_to(target)
    if aside is not None:
        aside.remove_tree()


def webhdfs_urls(uri, environ):
    """The WebHDFS base URLs of the NameNodes of the ``hdfs://`` URI ``uri``: from
    ``HADOOP_RNN_WEBHDFS_URL`` in ``environ`` (one URL or a comma-separated list), else from
    the cluster's configuration (:mod:`jobs.hadoop.cluster_conf`)."""
    try:
        conf = read_conf(conf_dir(environ))
    except ClusterConfError as e:
        raise StoreError(f"{uri}: {e}") from None
    if conf.security not in ("simple", "kerberos"):
        raise StoreError(f"{uri}: the cluster uses hadoop.security.authentication="
                         f"{conf.security} ({conf.directory}); hadoop-rnn knows simple and "
                         "kerberos")
    override = [url.strip() for url in environ.get("HADOOP_RNN_WEBHDFS_URL", "").split(",")]
    if any(override):
        return [url for url in override if url]
    try:
        return conf.webhdfs_urls(urlparse(uri).netloc)
    except ClusterConfError as e:
        raise StoreError(f"{uri}: {e}; or set HADOOP_RNN_WEBHDFS_URL "
                         "(e.g. http://namenode:9870)") from None


class LocalStore:
    """A directory on the local file system."""

    def __init__(self, root):
        self.root = os.path.abspath(os.fspath(root))

    def uri(self, name=""):
        return os.path.join(self.root, name) if name else self.root

    def exists(self, name=""):
        return os.path.exists(self.uri(name))

    def list(self, name=""):
        path = self.uri(name)
        return sorted(os.listdir(path)) if os.path.isdir(path) else []

    def size(self, name):
        """The file's length in bytes."""
        try:
            return os.path.getsize(self.uri(name))
        except OSError as e:
            raise StoreError(f"cannot stat {self.uri(name)}: {e.strerror}") from None

    def read_bytes(self, name):
        try:
            with open(self.uri(name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise MissingFile(f"cannot read {self.uri(name)}: no such file") from None
        except OSError as e:
            raise StoreError(f"cannot read {self.uri(name)}: {e.strerror}") from None

    def write_bytes(self, name, data):
        """Write a whole file atomically: readers see the old file or the new one, never half."""
        path = self.uri(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def writer(self, name):
        """A binary file to write ``name`` through, in pieces; it appears whole on success."""
        path = self.uri(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                yield f
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def create_exclusive(self, name, data):
        """Create a file only if it does not exist; return False if it already did.

        The content is written to a temporary file first and hard-linked into place (link
        fails if the name exists), so nobody ever reads the new file half-written.
        """
        path = self.uri(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
        return True

    def delete(self, name):
        try:
            os.unlink(self.uri(name))
        except FileNotFoundError:
            pass

    def makedirs(self, name=""):
        os.makedirs(self.uri(name), exist_ok=True)

    def is_dir(self, name=""):
        return os.path.isdir(self.uri(name))

    def sibling(self, suffix):
        """The store of the directory named like this one plus ``suffix``, beside it."""
        return LocalStore(self.root + suffix)

    def move_to(self, other):
        """Rename this store's directory to ``other``'s root, which must not exist."""
        try:
            os.rename(self.root, other.root)
        except OSError as e:
            raise StoreError(f"cannot rename {self.root} to {other.root}: {e.strerror}") from None

    def remove_tree(self):
        """Delete this store's directory and everything in it."""
        shutil.rmtree(self.root, ignore_errors=True)

    def remove_if_empty(self):
        """Delete this store's directory if it exists and is empty."""
        try:
            os.rmdir(self.root)
        except OSError:
            pass


def hdfs_client(uri, environ):
    """The client of the ``hdfs://`` URI ``uri``'s file system that :class:`HdfsStore` uses: a
    WebHDFS client (:class:`jobs.hadoop.namenodes.FailoverClient`) of its NameNodes,
    authenticating as the cluster's configuration says (:mod:`jobs.hadoop.kerberos`; without
    Kerberos as ``HADOOP_USER_NAME`` or the login name), which falls back to ``hadoop fs``
    where the configuration's WebHDFS cannot be reached
    (:class:`jobs.hadoop.fs_shell.WebHdfsOrShell`). Raises
    :class:`~jobs.hadoop.kerberos.NoTicket` without a valid ticket."""
    from jobs.hadoop.fs_shell import WebHdfsOrShell  # imported here: local runs need no hdfs
    from jobs.hadoop.kerberos import ca_bundle, session
    from jobs.hadoop.namenodes import FailoverClient

    namenodes = webhdfs_urls(uri, environ)  # first: it says what is wrong with the configuration
    conf = read_conf(conf_dir(environ))
    user = environ.get("HADOOP_USER_NAME") or getpass.getuser()
    client = FailoverClient(namenodes, session(conf.security == "kerberos", user, environ),
                            verify=ca_bundle(environ))
    # WebHDFS named by the user (HADOOP_RNN_WEBHDFS_URL) is used, never passed over
    fallback = None if environ.get("HADOOP_RNN_WEBHDFS_URL") else hadoop_command(environ)
    return WebHdfsOrShell(client, urlparse(uri).netloc, fallback)


def hadoop_command(environ):
    """The ``hadoop`` command: ``HADOOP_HOME/bin/hadoop``, else ``hadoop`` on PATH, else None."""
    home = environ.get("HADOOP_HOME")
    if home and os.access(os.path.join(home, "bin", "hadoop"), os.X_OK):
        return os.path.join(home, "bin", "hadoop")
    return shutil.which("hadoop", path=environ.get("PATH"))


class HdfsStore:
    """A directory on HDFS, reached through WebHDFS."""

    def __init__(self, uri):
        parsed = urlparse(uri)
        self.netloc = parsed.netloc
        self.root = posixpath.normpath(parsed.path or "/")
        self.client = hdfs_client(uri, os.environ)

    def _path(self, name):
        return posixpath.join(self.root, name) if name else self.root

    def uri(self, name=""):
        return f"hdfs://{self.netloc}{self._path(name)}"

    def _call(self, what, name, fn, *args, **kwargs):
        from hdfs.util import HdfsError

        from jobs.hadoop.kerberos import NoTicket

        try:
            return fn(*args, **kwargs)
        except NoTicket:
            raise
        except (HdfsError, OSError) as e:
            raise StoreError(f"cannot {what} {self.uri(name)}: {e}") from None

    def exists(self, name=""):
        return self._call("stat", name, self.client.status, self._path(name), strict=False) is not None

    def list(self, name=""):
        if not self.exists(name):
            return []
        return sorted(self._call("list", name, self.client.list, self._path(name)))

    def _listing(self, name):
        """[(entry, WebHDFS FileStatus)] of directory ``name``."""
        return self._call("list", name, self.client.list, self._path(name), status=True)

    def files(self, name=""):
        """{file name: length in bytes} of the regular files directly in directory ``name``."""
        return {entry: status["length"] for entry, status in self._listing(name)
                if status["type"] == "FILE"}

    def directories(self, name=""):
        """The names of the directories directly in directory ``name``."""
        return [entry for entry, status in self._listing(name) if status["type"] == "DIRECTORY"]

    def size(self, name):
        """The file's length in bytes."""
        return self._call("stat", name, self.client.status, self._path(name))["length"]

    def read_bytes(self, name):
        from hdfs.util import HdfsError

        from jobs.hadoop.kerberos import NoTicket

        try:
            with self.client.read(self._path(name)) as reader:
                return reader.read()
        except NoTicket:
            raise
        except HdfsError as e:
            if getattr(e, "exception", None) == "FileNotFoundException" or not self.exists(name):
                raise MissingFile(f"cannot read {self.uri(name)}: no such file") from None
            raise StoreError(f"cannot read {self.uri(name)}: {e}") from None
        except OSError as e:
            raise StoreError(f"cannot read {self.uri(name)}: {e}") from None

    def write_bytes(self, name, data):
        """Write to a temporary name, then rename over the target.

        WebHDFS cannot rename over an existing file, so the old file is deleted first: for a
        moment neither exists. Readers that need an always-present file (latest.npz) fall back
        to the numbered checkpoints, which are overwritten only when the last one gets its
        validation loss (a kill in that moment makes the next run redo that epoch from the one
        before: the same bits).
        """
        path = self._path(name)
        tmp = posixpath.join(posixpath.dirname(path), f".tmp-{uuid.uuid4().hex}")
        self._call("write", name, self.client.write, tmp, data=data, overwrite=True)
        self._call("replace", name, self.client.delete, path)
        self._call("rename into", name, self.client.rename, tmp, path)

    @contextlib.contextmanager
    def writer(self, name):
        """A binary file to write ``name`` through, in pieces (streamed to the DataNodes);
        written under a temporary name and renamed into place on success."""
        path = self._path(name)
        tmp = posixpath.join(posixpath.dirname(path), f".tmp-{uuid.uuid4().hex}")
        from hdfs.util import HdfsError

        try:
            with self._call("write", name, self.client.write, tmp, overwrite=True) as f:
                yield f
            self._call("replace", name, self.client.delete, path)
            self._call("rename into", name, self.client.rename, tmp, path)
        except HdfsError as e:  # raised on closing the file
            self.client.delete(tmp)
            raise StoreError(f"cannot write {self.uri(name)}: {e}") from None
        except BaseException:
            self.client.delete(tmp)
            raise

    def upload(self, name, local_path):
        """Copy the local file ``local_path`` to ``name``, streamed."""
        self._call("upload to", name, self.client.upload, self._path(name), local_path,
                   overwrite=True)

    def checksum(self, name):
        """HDFS's checksum of a file (computed by the DataNodes from their block checksums,
        no data read here): {"algorithm", "bytes", "length"}."""
        return self._call("checksum", name, self.client.checksum, self._path(name))

    def status(self, name=""):
        """WebHDFS's FileStatus of ``name`` (None if absent): its ``type`` and ``length``."""
        return self._call("stat", name, self.client.status, self._path(name), strict=False)

    def rename(self, name, new_name):
        """Rename ``name`` to ``new_name`` (both in this store; the parent must exist)."""
        self._call(f"rename to {self.uri(new_name)}", name, self.client.rename,
                   self._path(name), self._path(new_name))

    def create_exclusive(self, name, data):
        """Create a file only if it does not exist; return False if it already did.

        Written under a temporary name and renamed into place (a WebHDFS rename onto an
        existing file fails), so nobody ever reads the new file half-written.
        """
        path = self._path(name)
        tmp = posixpath.join(posixpath.dirname(path), f".tmp-{uuid.uuid4().hex}")
        self._call("write", name, self.client.write, tmp, data=data, overwrite=True)
        try:
            self.client.rename(tmp, path)
        except Exception:  # noqa: BLE001 -- HdfsError or a refused rename: the name is taken
            self._call("clean up after", name, self.client.delete, tmp)
            if self.exists(name):
                return False
            raise StoreError(f"cannot create {self.uri(name)}") from None
        return True

    def delete(self, name):
        self._call("delete", name, self.client.delete, self._path(name))

    def makedirs(self, name=""):
        self._call("create directory", name, self.client.makedirs, self._path(name))

    def is_dir(self, name=""):
        status = self._call("stat", name, self.client.status, self._path(name), strict=False)
        return status is not None and status["type"] == "DIRECTORY"

    def sibling(self, suffix):
        """The store of the directory named like this one plus ``suffix``, beside it."""
        return HdfsStore(self.uri() + suffix)

    def move_to(self, other):
        """Rename this store's directory to ``other``'s root, which must not exist.

        WebHDFS would move the directory *into* an existing one: refuse that instead.
        """
        if other.exists():
            raise StoreError(f"cannot rename {self.uri()} to {other.uri()}: it exists")
        self._call(f"rename to {other.uri()}", "", self.client.rename, self.root, other.root)

    def remove_tree(self):
        """Delete this store's directory and everything in it."""
        self._call("delete", "", self.client.delete, self.root, recursive=True)

    def remove_if_empty(self):
        """Delete this store's directory if it exists and is empty."""
        if self.exists() and not self.list():
            self._call("delete", "", self.client.delete, self.root)
