"""The driver finds HDFS from the cluster's configuration, and fails over between NameNodes.

Resolution: configuration directories written here (core-site.xml, hdfs-site.xml). Failover:
real HTTP servers in this process that answer as a standby NameNode, or as an active one,
beside a port nothing listens on; and (marked hadoop) the dev cluster's NameNode behind a
standby one.
"""
import os
import socket
import time
import uuid
from urllib.parse import urlparse

import pytest
from helpers import STANDBY, fake_namenode, require_dev_cluster, unused_port, write_hadoop_conf

from jobs.hadoop import namenodes
from jobs.hadoop.cluster_conf import ClusterConfError, conf_dir, read_conf
from jobs.hadoop.kerberos import NoTicket
from jobs.storage import StoreError, open_store, webhdfs_urls

HA = {"dfs.nameservices": "prodns",
      "dfs.ha.namenodes.prodns": "nn1, nn2",
      "dfs.namenode.http-address.prodns.nn1": "master1.example.com:9870",
      "dfs.namenode.http-address.prodns.nn2": "master2.example.com:9870",
      "dfs.namenode.https-address.prodns.nn1": "master1.example.com:9871",
      "dfs.namenode.https-address.prodns.nn2": "master2.example.com:9871"}
# What an active NameNode answers GETFILESTATUS with
ACTIVE = (200, {"FileStatus": {"type": "DIRECTORY", "length": 0}})


@pytest.fixture
def environ(monkeypatch, tmp_path):
    """Point the driver at the configuration in tmp_path/conf (written by each test) only."""
    monkeypatch.delenv("HADOOP_RNN_WEBHDFS_URL", raising=False)
    monkeypatch.delenv("HADOOP_HOME", raising=False)
    monkeypatch.setenv("HADOOP_CONF_DIR", str(tmp_path / "conf"))
    return tmp_path / "conf"


def conf(directory, core=None, hdfs=None):
    return read_conf(write_hadoop_conf(directory, core, hdfs))


# -- where the configuration is and what it says -----------------------------------------------

def test_conf_dir_is_hadoop_conf_dir_else_hadoop_home_etc_hadoop():
    assert conf_dir({"HADOOP_CONF_DIR": "/c", "HADOOP_HOME": "/h"}) == "/c"
    assert conf_dir({"HADOOP_HOME": "/h"}) == os.path.join("/h", "etc", "hadoop")
    assert conf_dir({}) is None


def test_hdfs_uri_without_authority_is_on_fs_default_fs(tmp_path):
    cluster = conf(tmp_path, core={"fs.defaultFS": "hdfs://master.example.com:8020"},
                   hdfs={"dfs.namenode.http-address": "master.example.com:50070"})
    assert cluster.webhdfs_urls("") == ["http://master.example.com:50070"]


def test_nameservice_is_each_of_its_namenodes_in_the_configurations_order(tmp_path):
    cluster = conf(tmp_path, core={"fs.defaultFS": "hdfs://prodns"}, hdfs=HA)
    expected = ["http://master1.example.com:9870", "http://master2.example.com:9870"]
    assert cluster.webhdfs_urls("prodns") == cluster.webhdfs_urls("") == expected


def test_https_only_uses_the_https_addresses_and_port_9871(tmp_path):
    cluster = conf(tmp_path, hdfs={**HA, "dfs.http.policy": "HTTPS_ONLY"})
    assert cluster.webhdfs_urls("prodns") == ["https://master1.example.com:9871",
                                              "https://master2.example.com:9871"]
    assert cluster.webhdfs_urls("edge.example.com:8020") == ["https://edge.example.com:9871"]


def test_host_that_the_configuration_does_not_name_is_on_port_9870(tmp_path):
    cluster = conf(tmp_path, hdfs={"dfs.namenode.http-address": "master.example.com:50070"})
    assert cluster.webhdfs_urls("other.example.com:8020") == ["http://other.example.com:9870"]


def test_namenode_http_address_that_binds_every_interface_gives_its_port_to_the_uri_host(
        tmp_path):
    cluster = conf(tmp_path, hdfs={"dfs.namenode.http-address": "0.0.0.0:50070"})
    assert cluster.webhdfs_urls("master.example.com") == ["http://master.example.com:50070"]


def test_variables_in_values_are_substituted_from_other_properties(tmp_path):
    cluster = conf(tmp_path, core={"fs.defaultFS": "hdfs://${cluster.host}:8020",
                                   "cluster.host": "master.example.com",
                                   "hadoop.tmp.dir": "/tmp/hadoop-${user.name}"})
    assert cluster.default_authority() == "master.example.com:8020"
    assert cluster.get("hadoop.tmp.dir") == "/tmp/hadoop-${user.name}"  # no such property


def test_security_is_simple_unless_the_configuration_says_otherwise(tmp_path):
    assert conf(tmp_path / "a").security == "simple"
    assert conf(tmp_path / "b", core={"hadoop.security.authentication": "Kerberos"}
                ).security == "kerberos"


def test_configuration_is_read_once_per_directory(tmp_path):
    directory = write_hadoop_conf(tmp_path, core={"fs.defaultFS": "hdfs://a"})
    first = read_conf(directory)
    write_hadoop_conf(tmp_path, core={"fs.defaultFS": "hdfs://b"})
    assert read_conf(directory) is first


def test_nameservice_without_namenode_addresses_names_the_missing_keys(tmp_path):
    cluster = conf(tmp_path, hdfs={"dfs.nameservices": "prodns",
                                   "dfs.ha.namenodes.prodns": "nn1,nn2",
                                   "dfs.namenode.http-address.prodns.nn1": "m1:9870"})
    with pytest.raises(ClusterConfError, match=r"^nameservice prodns: no "
                                               r"dfs\.namenode\.http-address\.prodns\.nn2 in "):
        cluster.webhdfs_urls("prodns")


# -- what the driver makes of it ---------------------------------------------------------------

def test_missing_conf_dir_falls_back_to_the_uri_host_on_port_9870(environ):
    assert webhdfs_urls("hdfs://master:8020/x", os.environ) == ["http://master:9870"]


def test_webhdfs_url_overrides_the_configuration_and_may_list_several(environ, monkeypatch):
    write_hadoop_conf(environ, core={"fs.defaultFS": "hdfs://prodns"}, hdfs=HA)
    monkeypatch.setenv("HADOOP_RNN_WEBHDFS_URL", "http://a:1, http://b:2")
    assert webhdfs_urls("hdfs://prodns/x", os.environ) == ["http://a:1", "http://b:2"]


def test_malformed_xml_is_a_one_line_store_error_naming_the_file(environ):
    write_hadoop_conf(environ)
    (environ / "hdfs-site.xml").write_text("<configuration><property>\n<name>x</name>")
    with pytest.raises(StoreError) as error:
        open_store("hdfs://master/x")
    message = str(error.value)
    assert message.startswith(f"hdfs://master/x: cannot read the Hadoop configuration "
                              f"{environ / 'hdfs-site.xml'}: ")
    assert "\n" not in message


def test_an_unknown_authentication_method_is_a_one_line_store_error(environ):
    write_hadoop_conf(environ, core={"hadoop.security.authentication": "token"})
    with pytest.raises(StoreError, match=r"^hdfs://master/x: the cluster uses "
                                         r"hadoop\.security\.authentication=token \(.*\); "
                                         r"hadoop-rnn knows simple and kerberos$"):
        open_store("hdfs://master/x")


def test_kerberos_without_a_ticket_is_the_kinit_message_before_any_request(environ,
                                                                           monkeypatch):
    pytest.importorskip("requests_gssapi", reason="the kerberos extra is not installed")
    write_hadoop_conf(environ, core={"hadoop.security.authentication": "kerberos"})
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{environ}/no-such-cache")
    with pytest.raises(NoTicket, match=r"^no valid Kerberos ticket \(.*no-such-cache.*\); "
                                       r"run kinit first"):
        open_store("hdfs://master/x")


# -- failover between NameNodes ----------------------------------------------------------------

def nameservice(directory, *urls):
    """hdfs-site.xml of nameservice testns whose NameNodes are at ``urls``, in that order."""
    names = [f"nn{i}" for i in range(len(urls))]
    write_hadoop_conf(directory, hdfs={
        "dfs.nameservices": "testns", "dfs.ha.namenodes.testns": ",".join(names),
        **{f"dfs.namenode.http-address.testns.{n}": urlparse(url).netloc
           for n, url in zip(names, urls)}})


def test_refused_and_standby_namenodes_give_an_error_naming_both_and_each_answer(environ):
    refused = f"http://127.0.0.1:{unused_port()}"
    with fake_namenode(*STANDBY) as (standby, requests):
        nameservice(environ, refused, standby)
        with pytest.raises(StoreError) as error:
            open_store("hdfs://testns/x").exists()
    assert str(error.value) == (
        f"cannot stat hdfs://testns/x: no NameNode took the request: {refused} could not "
        f"connect ([Errno 111] Connection refused); {standby} answered standby (Operation "
        f"category READ is not supported in state standby) (each tried {namenodes.ATTEMPTS} "
        "times)")
    assert len(requests) == namenodes.ATTEMPTS


def test_a_request_fails_over_from_a_standby_namenode_and_the_next_goes_straight_on(environ):
    with fake_namenode(*STANDBY) as (standby, to_standby), \
            fake_namenode(*ACTIVE) as (active, to_active):
        nameservice(environ, standby, active)
        assert open_store("hdfs://testns/x").is_dir()
        assert (len(to_standby), len(to_active)) == (1, 1)
        assert open_store("hdfs://testns/y").is_dir()  # another store of the same cluster
        assert (len(to_standby), len(to_active)) == (1, 2)


def test_an_error_other_than_standby_is_not_sent_to_the_other_namenode(environ):
    denied = (403, {"RemoteException": {"exception": "AccessControlException",
                                        "message": "Permission denied: user=bob"}})
    with fake_namenode(*denied) as (first, to_first), \
            fake_namenode(*ACTIVE) as (second, to_second):
        nameservice(environ, first, second)
        with pytest.raises(StoreError, match=r"^cannot stat hdfs://testns/x: Permission denied: "
                                             r"user=bob$"):
            open_store("hdfs://testns/x").size("")
    assert (len(to_first), len(to_second)) == (1, 0)


def test_a_namenode_that_never_answers_fails_the_call_instead_of_hanging(environ, monkeypatch):
    monkeypatch.setattr(namenodes, "TIMEOUT", (1, 1))
    with socket.socket() as silent:  # connections complete in its backlog, never answered
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        nameservice(environ, f"http://127.0.0.1:{silent.getsockname()[1]}")
        started = time.monotonic()
        with pytest.raises(StoreError, match=r"^cannot stat hdfs://testns/x: .*timed out"):
            open_store("hdfs://testns/x").exists()
    assert time.monotonic() - started < 30


@pytest.mark.hadoop
def test_a_nameservice_fails_over_from_a_standby_to_the_dev_clusters_namenode(tmp_path,
                                                                             monkeypatch):
    require_dev_cluster()
    active = os.environ["HADOOP_RNN_WEBHDFS_URL"]
    monkeypatch.delenv("HADOOP_RNN_WEBHDFS_URL")
    monkeypatch.setenv("HADOOP_CONF_DIR", str(tmp_path))
    with fake_namenode(*STANDBY) as (standby, to_standby):
        nameservice(tmp_path, standby, active)
        store = open_store(f"hdfs://testns/tmp/hadoop-rnn-tests/{uuid.uuid4().hex}")
        try:
            store.write_bytes("f", b"payload")
            assert len(to_standby) == 1
            assert store.read_bytes("f") == b"payload"
            assert len(to_standby) == 1
        finally:
            store.remove_tree()


@pytest.mark.hadoop
def test_hdfs_uri_without_authority_works_with_the_dev_clusters_configuration_alone(
        monkeypatch):
    require_dev_cluster()
    monkeypatch.delenv("HADOOP_RNN_WEBHDFS_URL")
    store = open_store(f"hdfs:///tmp/hadoop-rnn-tests/{uuid.uuid4().hex}")
    try:
        store.write_bytes("f", b"payload")
        assert store.read_bytes("f") == b"payload"
    finally:
        store.remove_tree()
