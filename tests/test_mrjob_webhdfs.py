"""mrjob's file operations around a job: HDFS over WebHDFS (the same answers as `hadoop fs`,
and no JVM per call), ``file://`` URIs as local files.

The HDFS tests need the dev cluster (``eval "$(scripts/hadoop-dev-cluster start)"``).
"""
import logging

import pytest
from helpers import require_dev_cluster

from jobs.hadoop.webhdfs import WebHdfsFilesystem, use_job_filesystems
from mrjob.fs.hadoop import HadoopFilesystem
from mrjob.hadoop import HadoopJobRunner


@pytest.fixture
def both(hdfs_dir):
    """(WebHdfsFilesystem, mrjob's HadoopFilesystem) and a fresh HDFS directory URI."""
    require_dev_cluster()
    return WebHdfsFilesystem(), HadoopFilesystem(), hdfs_dir


@pytest.mark.hadoop
def test_put_then_ls_cat_exists_du_agree_with_hadoop_fs(both, tmp_path):
    web, hadoop, root = both
    local = tmp_path / "part-00000"
    local.write_bytes(b"line one\nline two\n")
    web.mkdir(f"{root}/out/sub")
    web.put(str(local), f"{root}/out/part-00000")
    hadoop.put(str(local), f"{root}/out/sub/part-00001")
    assert sorted(web.ls(f"{root}/out")) == sorted(hadoop.ls(f"{root}/out"))
    assert b"".join(web._cat_file(f"{root}/out/sub/part-00001")) == local.read_bytes()
    assert web.exists(f"{root}/out/part-00000") and not web.exists(f"{root}/out/nope")
    assert web.du(f"{root}/out") == hadoop.du(f"{root}/out") == 2 * len(local.read_bytes())


@pytest.mark.hadoop
def test_rm_removes_a_directory_tree(both, tmp_path):
    web, hadoop, root = both
    (tmp_path / "f").write_bytes(b"x")
    web.put(str(tmp_path / "f"), f"{root}/tree/a/f")
    web.rm(f"{root}/tree")
    assert not hadoop.exists(f"{root}/tree")


@pytest.mark.hadoop
def test_globs_still_go_to_hadoop_fs(both, tmp_path, caplog):
    web, _, root = both
    (tmp_path / "f").write_bytes(b"x")
    web.put(str(tmp_path / "f"), f"{root}/g/part-1")
    with caplog.at_level(logging.DEBUG, logger="mrjob.fs.hadoop"):
        assert list(web.ls(f"{root}/g/part-*")) == [f"{root}/g/part-1"]
    assert any(" fs -ls" in r.getMessage() for r in caplog.records)


@pytest.mark.hadoop
def test_operations_on_plain_paths_start_no_hadoop_fs_process(both, tmp_path, caplog):
    web, _, root = both
    (tmp_path / "f").write_bytes(b"x")
    with caplog.at_level(logging.DEBUG, logger="mrjob.fs.hadoop"):
        web.mkdir(f"{root}/d")
        web.put(str(tmp_path / "f"), f"{root}/d/f")
        list(web.ls(f"{root}/d"))
        web.exists(f"{root}/d/f")
        web.rm(f"{root}/d")
    assert not [r.getMessage() for r in caplog.records if " fs -" in r.getMessage()]


@pytest.mark.parametrize("webhdfs", [True, False])
def test_file_uris_are_local_files_not_hadoop_fs_calls(webhdfs, tmp_path, monkeypatch):
    # a hadoop_tmp_dir on this machine (Hadoop's local framework): mrjob would start one
    # `hadoop fs` JVM per uploaded file; here `hadoop` does not even exist
    monkeypatch.setenv("HADOOP_RNN_WEBHDFS_URL", "http://localhost:1")
    runner = HadoopJobRunner(hadoop_bin=[str(tmp_path / "no-hadoop")], conf_paths=[])
    use_job_filesystems(runner, webhdfs)
    (tmp_path / "f").write_bytes(b"x")
    tmp = f"file://{tmp_path}/hadoop-tmp"
    runner.fs.mkdir(f"{tmp}/files")
    runner.fs.put(str(tmp_path / "f"), f"{tmp}/files/f")
    assert list(runner.fs.ls(tmp)) == [f"{tmp}/files/f"]
    assert b"".join(runner.fs.cat(f"{tmp}/files/f")) == b"x"
    runner.fs.rm(tmp)
    assert not (tmp_path / "hadoop-tmp").exists()
