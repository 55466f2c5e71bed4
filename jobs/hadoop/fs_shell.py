"""The driver's HDFS operations through ``hadoop fs``, where WebHDFS cannot be used.

:class:`WebHdfsOrShell` is the client :class:`jobs.storage.HdfsStore` gets: the WebHDFS client,
until a request finds none of the NameNodes' HTTP addresses reachable while none of them has
answered this process before (WebHDFS is off or firewalled, not a NameNode outage); from then
on, for that cluster and this process, :class:`HadoopFsClient`, said once on stderr.

:class:`HadoopFsClient` answers the part of the ``hdfs`` package's client API that
:class:`jobs.storage.HdfsStore` uses (status, list, read, write, delete, rename, makedirs,
upload, checksum) with ``hadoop fs`` commands: one JVM each, a second or two, so a run is
slower, but it works wherever ``hadoop fs`` does (WebHDFS off, or not reachable from the
driver's machine; Kerberos through the same ticket cache). A command that fails raises
``HdfsError`` with its last line of errors, as a WebHDFS answer would.
"""
import contextlib
import io
import os
import subprocess
import sys
import tempfile

from hdfs.util import HdfsError

from jobs.hadoop.namenodes import NoActiveNameNode, answered

TYPES = {"directory": "DIRECTORY", "regular file": "FILE", "regular empty file": "FILE"}


class HadoopFsClient:
    """``hadoop fs`` (the ``hadoop`` command ``hadoop_bin``) on the file system of the
    ``hdfs://`` URI authority ``netloc`` ("" for fs.defaultFS)."""

    def __init__(self, netloc, hadoop_bin="hadoop"):
        self.prefix = f"hdfs://{netloc}"
        self.hadoop_bin = hadoop_bin

    def _fs(self, *args, data=None, missing_ok=False):
        """stdout (bytes) of ``hadoop fs args...``; None if ``missing_ok`` and it said the
        path does not exist."""
        done = subprocess.run([self.hadoop_bin, "fs", *args], input=data, capture_output=True)
        if done.returncode == 0:
            return done.stdout
        errors = done.stderr.decode(errors="replace").strip().splitlines() or [
            f"hadoop fs {args[0]} exited {done.returncode}"]
        if missing_ok and "No such file or directory" in errors[-1]:
            return None
        error = HdfsError(errors[-1])
        if "No such file or directory" in errors[-1]:
            error.exception = "FileNotFoundException"
        raise error

    def _uri(self, path):
        return self.prefix + path

    def status(self, path, strict=True):
        out = self._fs("-stat", "%F|%b", self._uri(path), missing_ok=not strict)
        if out is None:
            return None
        kind, length = out.decode().strip().rsplit("|", 1)
        return {"type": TYPES.get(kind, kind.upper()), "length": int(length)}

    def list(self, path, status=False):
        entries = []
        for line in self._fs("-ls", self._uri(path)).decode().splitlines():
            fields = line.split(None, 7)
            if len(fields) < 8:  # "Found N items"
                continue
            name = fields[7].rstrip("/").rsplit("/", 1)[-1]
            entries.append((name, {"type": "DIRECTORY" if fields[0].startswith("d") else "FILE",
                                   "length": int(fields[4])}))
        return entries if status else [name for name, _ in entries]

    @contextlib.contextmanager
    def read(self, path):
        yield io.BytesIO(self._fs("-cat", self._uri(path)))

    def _put(self, source, path, overwrite, data=None):
        """``-put`` creates no parent directories, unlike WebHDFS's CREATE: on "No such file
        or directory" make them and put again."""
        args = ["-put", *(["-f"] if overwrite else []), source, self._uri(path)]
        try:
            self._fs(*args, data=data)
        except HdfsError as e:
            if getattr(e, "exception", None) != "FileNotFoundException":
                raise
            self.makedirs(path.rsplit("/", 1)[0] or "/")
            self._fs(*args, data=data)

    def write(self, path, data=None, overwrite=False):
        if data is not None:
            self._put("-", path, overwrite, data=data)
            return None
        return self._writer(path, overwrite)

    @contextlib.contextmanager
    def _writer(self, path, overwrite):
        with tempfile.NamedTemporaryFile(prefix="hadoop-rnn-put-") as f:
            yield f
            f.flush()
            self.upload(path, f.name, overwrite=overwrite)

    def upload(self, hdfs_path, local_path, overwrite=False):
        self._put(os.fspath(local_path), hdfs_path, overwrite)

    def delete(self, path, recursive=False):
        """Delete ``path`` (absent: nothing to do); a directory only if ``recursive`` or
        empty, as WebHDFS's DELETE."""
        try:
            self._fs("-rm", "-f", *(["-r"] if recursive else []), "-skipTrash", self._uri(path))
        except HdfsError as e:
            if "Is a directory" not in str(e):
                raise
            self._fs("-rmdir", self._uri(path))
        return True

    def rename(self, src, dst):
        self._fs("-mv", self._uri(src), self._uri(dst))

    def makedirs(self, path):
        self._fs("-mkdir", "-p", self._uri(path))

    def checksum(self, path):
        """As WebHDFS's GETFILECHECKSUM: the same algorithm and bytes."""
        _, algorithm, hex_bytes = self._fs("-checksum", self._uri(path)).decode().split()
        return {"algorithm": algorithm, "bytes": hex_bytes, "length": len(hex_bytes) // 2}


_shell_clusters = {}  # tuple of NameNode URLs -> why WebHDFS could not be used


class WebHdfsOrShell:
    """The WebHDFS client ``webhdfs`` (a FailoverClient), falling back to ``hadoop fs``
    (``hadoop_bin``, None: no fallback) on the file system of ``netloc``."""

    def __init__(self, webhdfs, netloc, hadoop_bin):
        self.webhdfs, self.cluster = webhdfs, tuple(webhdfs.namenodes)
        self.shell = HadoopFsClient(netloc, hadoop_bin) if hadoop_bin else None

    def _fall_back(self, error):
        """Switch this cluster to ``hadoop fs`` if ``error`` (NoActiveNameNode) says WebHDFS
        is unreachable and it never answered; else raise ``error``."""
        if not (error.unreachable and self.shell and self.cluster not in answered):
            raise error
        if self.cluster not in _shell_clusters:
            _shell_clusters[self.cluster] = str(error)
            print(f"hadoop-rnn: WebHDFS cannot be reached ({error}): HDFS operations go "
                  f"through `{self.shell.hadoop_bin} fs` instead, slower (a JVM each)",
                  file=sys.stderr)

    def __getattr__(self, name):
        if self.cluster in _shell_clusters:
            return getattr(self.shell, name)
        if not callable(getattr(self.webhdfs, name)):
            return getattr(self.webhdfs, name)

        def call(*args, **kwargs):
            try:
                result = getattr(self.webhdfs, name)(*args, **kwargs)
            except NoActiveNameNode as e:
                self._fall_back(e)
                return getattr(self.shell, name)(*args, **kwargs)
            if hasattr(result, "__enter__"):  # read(), write(): the request is sent on entry
                return self._entered(result, name, args, kwargs)
            return result
        return call

    @contextlib.contextmanager
    def _entered(self, context, name, args, kwargs):
        try:
            value = context.__enter__()
        except NoActiveNameNode as e:
            self._fall_back(e)
            with getattr(self.shell, name)(*args, **kwargs) as value:
                yield value
            return
        with contextlib.ExitStack() as stack:
            stack.push(context)
            yield value
