"""mrjob's HDFS file operations over WebHDFS, so a job on the hadoop runner spawns one JVM.

Before and after every job mrjob's hadoop runner works on HDFS through ``hadoop fs``
commands: a ``mkdir``, one ``put`` per uploaded file (the code zip, mrjob itself, the
state, the job script, some twice), an ``ls`` and a ``cat`` of the output and an ``rm`` of
its temporary directory, plus ``hadoop version``: about a dozen client JVMs per epoch, each
1 to 2 seconds on a small machine (see docs/scaling.md). :class:`WebHdfsFilesystem` does
the same operations for ``hdfs://`` URIs with the WebHDFS client the driver already uses
(:mod:`jobs.storage`: the same NameNodes, failing over the same way), and asks ``hadoop
version`` once per process. Only ``hadoop jar``, which submits the job, still starts a JVM.

It is used when ``HADOOP_RNN_WEBHDFS_URL`` is set (the dev cluster sets it; on a real
cluster point it at the NameNodes' HTTP addresses); otherwise mrjob's own ``hadoop fs``
calls run unchanged (they work where WebHDFS is off). Globs and other URI schemes always go
to ``hadoop fs``, except ``file://`` URIs (a ``hadoop_tmp_dir`` on this machine, as for
Hadoop's local framework): they are this machine's files, copied and listed in Python.
"""
import functools
import os
import posixpath

from mrjob.cat import decompress
from mrjob.fs.composite import CompositeFilesystem
from mrjob.fs.hadoop import HadoopFilesystem
from mrjob.fs.local import LocalFilesystem

from jobs.storage import HdfsStore, is_hdfs

_GLOB_CHARS = set("*?[{")


@functools.lru_cache(maxsize=None)
def _hadoop_version(hadoop_bin):
    """``hadoop version`` of this binary, asked once per process."""
    return HadoopFilesystem(list(hadoop_bin)).get_hadoop_version()


class WebHdfsFilesystem(HadoopFilesystem):
    """A HadoopFilesystem whose operations on plain ``hdfs://`` paths use WebHDFS."""

    def _webhdfs(self, path):
        """(client, absolute path) for a plain hdfs:// path, or None to use ``hadoop fs``."""
        if not is_hdfs(path) or _GLOB_CHARS & set(path):
            return None
        store = HdfsStore(path)
        return store.client, store.root

    def get_hadoop_version(self):
        if not self._hadoop_version:
            self._hadoop_version = _hadoop_version(tuple(self.get_hadoop_bin()))
        return self._hadoop_version

    def ls(self, path_glob):
        target = self._webhdfs(path_glob)
        if target is None:
            yield from super().ls(path_glob)
            return
        client, path = target
        status = client.status(path, strict=False)
        if status is None:
            return
        netloc = path_glob.split("/")[2]  # hdfs://NETLOC/...: ours are URIs like the input
        if status["type"] == "FILE":
            yield f"hdfs://{netloc}{path}"
            return
        for root, _, files in client.walk(path):
            for name in sorted(files):
                yield f"hdfs://{netloc}{posixpath.join(root, name)}"

    def _cat_file(self, path):
        target = self._webhdfs(path)
        if target is None:
            yield from super()._cat_file(path)
            return
        client, hdfs_path = target
        with client.read(hdfs_path) as reader:
            yield from decompress(reader, path)

    def mkdir(self, path):
        target = self._webhdfs(path)
        if target is None:
            return super().mkdir(path)
        client, hdfs_path = target
        client.makedirs(hdfs_path)

    def exists(self, path_glob):
        target = self._webhdfs(path_glob)
        if target is None:
            return super().exists(path_glob)
        client, path = target
        return client.status(path, strict=False) is not None

    def put(self, src, path):
        target = self._webhdfs(path)
        if target is None:
            return super().put(src, path)
        client, hdfs_path = target
        with open(src, "rb") as f:
            client.write(hdfs_path, data=f, overwrite=False)

    def rm(self, path_glob):
        target = self._webhdfs(path_glob)
        if target is None:
            return super().rm(path_glob)
        client, path = target
        client.delete(path, recursive=True)

    def du(self, path_glob):
        target = self._webhdfs(path_glob)
        if target is None:
            return super().du(path_glob)
        client, path = target
        return client.content(path)["length"]

    def touchz(self, path):
        target = self._webhdfs(path)
        if target is None:
            return super().touchz(path)
        client, hdfs_path = target
        client.write(hdfs_path, data=b"", overwrite=False)


def use_job_filesystems(runner, webhdfs=True):
    """Give an mrjob HadoopJobRunner (before ``run()``) the filesystems of a job's files:
    ``file://`` URIs (a ``hadoop_tmp_dir`` on this machine, e.g. for Hadoop's local framework)
    as local files, where mrjob would start a ``hadoop fs`` JVM per file, and ``hdfs://``
    over WebHDFS when ``webhdfs`` and ``HADOOP_RNN_WEBHDFS_URL`` is set."""
    hadoop_bin = runner._opts["hadoop_bin"] or None
    fs = CompositeFilesystem()
    fs.add_fs("local", LocalFilesystem())  # file:/// URIs and plain paths, before `hadoop fs`
    if webhdfs and os.environ.get("HADOOP_RNN_WEBHDFS_URL"):
        fs.add_fs("hadoop", WebHdfsFilesystem(hadoop_bin))
    else:
        fs.add_fs("hadoop", HadoopFilesystem(hadoop_bin))
    runner._fs = fs
