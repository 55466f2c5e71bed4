"""The Hadoop cluster's client configuration, and where an ``hdfs://`` URI's WebHDFS is.

The driver reads the configuration a working ``hadoop fs`` uses (:func:`conf_dir`:
``HADOOP_CONF_DIR``, else ``HADOOP_HOME/etc/hadoop``): core-site.xml, then hdfs-site.xml
over it. :meth:`ClusterConf.webhdfs_urls` turns the authority of an ``hdfs://`` URI into
the WebHDFS base URLs of its NameNodes, in the configuration's order:

* none (``hdfs:///path``): the authority of ``fs.defaultFS``;
* a nameservice named in ``dfs.nameservices``: each NameNode of ``dfs.ha.namenodes.<ns>``
  at ``dfs.namenode.http-address.<ns>.<nn>``;
* a host: ``dfs.namenode.http-address`` if it names that host, else the host on port 9870.

With ``dfs.http.policy=HTTPS_ONLY`` the ``https-address`` keys, port 9871 and https are
used instead. Nothing here talks to the cluster.
"""
import functools
import os
import re
import types
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import urlparse

FILES = ("core-site.xml", "hdfs-site.xml")  # later files override earlier ones, as in Hadoop
HTTP_PORT, HTTPS_PORT = 9870, 9871  # the NameNode's default WebHDFS ports (Hadoop 3)
_VARIABLE = re.compile(r"\$\{([^}$\s]+)\}")
_MAX_SUBSTITUTIONS = 20  # Hadoop's own limit on nested ${...}


class ClusterConfError(ValueError):
    """The configuration cannot be read, or does not say where a NameNode is."""


def conf_dir(environ):
    """The client configuration directory named by ``environ`` (a mapping like os.environ):
    ``HADOOP_CONF_DIR``, else ``HADOOP_HOME/etc/hadoop``, else None."""
    if environ.get("HADOOP_CONF_DIR"):
        return environ["HADOOP_CONF_DIR"]
    if environ.get("HADOOP_HOME"):
        return os.path.join(environ["HADOOP_HOME"], "etc", "hadoop")
    return None


@functools.lru_cache(maxsize=None)
def read_conf(directory):
    """The configuration in ``directory`` (None, a missing directory or missing files: an
    empty one). Read once per process and directory."""
    paths = [os.path.join(directory, name) for name in FILES] if directory else []
    paths = [p for p in paths if os.path.isfile(p)]
    properties = {}
    for path in paths:
        properties.update(read_properties(path))
    return ClusterConf(directory if paths else None,
                       types.MappingProxyType(substitute(properties)))


def read_properties(path):
    """{name: value} of one Hadoop configuration file
    (``<configuration><property><name/><value/></property>...``)."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        raise ClusterConfError(f"cannot read the Hadoop configuration {path}: {e}") from None
    if root.tag != "configuration":
        raise ClusterConfError(f"cannot read the Hadoop configuration {path}: its root element "
                               f"is <{root.tag}>, not <configuration>")
    properties = {}
    for prop in root.iter("property"):
        name = (prop.findtext("name") or "").strip()
        if name:
            properties[name] = (prop.findtext("value") or "").strip()
    return properties


def substitute(properties):
    """``properties`` with ``${name}`` replaced by the value of the property ``name``; a
    variable that names no property (a Java system property such as ``${user.name}``) stays."""
    def expand(value):
        for _ in range(_MAX_SUBSTITUTIONS):
            expanded = _VARIABLE.sub(lambda m: properties.get(m[1], m[0]), value)
            if expanded == value:
                break
            value = expanded
        return value

    return {name: expand(value) for name, value in properties.items()}


def _names(value):
    """The names in a comma-separated list property."""
    return [n.strip() for n in (value or "").split(",") if n.strip()]


@dataclass(frozen=True)
class ClusterConf:
    """A cluster's client configuration: ``directory`` (None: none was found) and its
    ``properties``."""

    directory: object  # str or None
    properties: types.MappingProxyType

    def get(self, name, default=None):
        return self.properties.get(name) or default

    @property
    def security(self):
        """``hadoop.security.authentication``: "simple" (the default) or "kerberos"."""
        return self.get("hadoop.security.authentication", "simple").lower()

    @property
    def https(self):
        """Whether WebHDFS is served over HTTPS only (``dfs.http.policy=HTTPS_ONLY``)."""
        return self.get("dfs.http.policy", "HTTP_ONLY").upper() == "HTTPS_ONLY"

    @property
    def nameservices(self):
        return _names(self.get("dfs.nameservices"))

    def default_authority(self):
        """The authority of ``fs.defaultFS`` (a nameservice or host[:port])."""
        default_fs = self.get("fs.defaultFS") or self.get("fs.default.name")  # the old name
        unnamed = "the URI names no NameNode (hdfs://host/path)"
        if not self.directory:
            raise ClusterConfError(f"{unnamed} and there is no Hadoop configuration "
                                   "(HADOOP_CONF_DIR, HADOOP_HOME) to take fs.defaultFS from")
        if not default_fs:
            raise ClusterConfError(f"{unnamed} and {self.directory} has no fs.defaultFS")
        parsed = urlparse(default_fs)
        if parsed.scheme != "hdfs" or not parsed.netloc:
            raise ClusterConfError(f"{unnamed} and fs.defaultFS in {self.directory} is "
                                   f"{default_fs}, not hdfs://...")
        return parsed.netloc

    def webhdfs_urls(self, authority):
        """The WebHDFS base URLs (``http://host:port``) of the NameNodes of the ``hdfs://``
        URI authority ``authority`` ("" for ``hdfs:///...``), in the configuration's order."""
        host = (authority or self.default_authority()).split(":")[0]
        scheme, key = ("https", "https-address") if self.https else ("http", "http-address")
        if host in self.nameservices:
            return [f"{scheme}://{address}" for address in self._nameservice_addresses(host, key)]
        address = self.get(f"dfs.namenode.{key}")
        if address:
            address_host, _, port = address.rpartition(":")
            if address_host.lower() in (host.lower(), "0.0.0.0"):  # 0.0.0.0: a bind address
                return [f"{scheme}://{host}:{port}"]
        return [f"{scheme}://{host}:{HTTPS_PORT if self.https else HTTP_PORT}"]

    def _nameservice_addresses(self, nameservice, key):
        """host:port of each NameNode of ``nameservice``; one without HA has no
        ``dfs.ha.namenodes.<ns>`` and one address."""
        keys = ([f"dfs.namenode.{key}.{nameservice}.{nn}"
                 for nn in _names(self.get(f"dfs.ha.namenodes.{nameservice}"))]
                or [f"dfs.namenode.{key}.{nameservice}"])
        missing = [k for k in keys if not self.get(k)]
        if missing:
            raise ClusterConfError(f"nameservice {nameservice}: no {', '.join(missing)} in "
                                   f"{self.directory}")
        return [self.get(k) for k in keys]
