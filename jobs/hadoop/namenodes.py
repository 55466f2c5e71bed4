"""A WebHDFS client over all of a cluster's NameNodes, failing over from one to the next.

In an HA cluster one NameNode is active and the others are standby: a standby answers every
WebHDFS request with HTTP 403 and a ``StandbyException``, and a NameNode that is down
refuses the connection. Either way the NameNode did nothing, so the request, even a
rename, can be sent to the next one. :class:`FailoverClient` sends each NameNode request to
the NameNode that last took one and, on those two answers, goes round the others, each
NameNode at most :data:`ATTEMPTS` times with :data:`PAUSE` seconds between rounds (a
failover takes a few seconds, when both may be standby); then :class:`NoActiveNameNode`
names every NameNode and what it answered. Any other answer or error is the caller's, as
from a plain client. Requests to DataNodes (the bytes of a read or a write) go straight
through.

The NameNode that took the last request is remembered per process for each list of
NameNodes, so the next client (each store makes one) starts there.
"""
import time

import requests
from hdfs import Client
from urllib3.exceptions import NewConnectionError

from jobs.hadoop.kerberos import NoTicket, kinit_message

ATTEMPTS = 2  # per NameNode and request
PAUSE = 1.0  # seconds between two rounds over the NameNodes
# (connect, read) seconds: a NameNode that accepts no connection is passed over like a
# refusing one; one that stops answering mid-request fails the call rather than hanging a
# cron run forever (a read waits for each block of bytes, not for the whole file)
TIMEOUT = (10, 300)

_active = {}  # tuple of a cluster's NameNode URLs -> the one that took the last request
answered = set()  # tuples of NameNode URLs of which one answered this process (any answer)


class NoActiveNameNode(ConnectionError):
    """No NameNode took a request; the message says what each answered, ``unreachable``
    whether none of them could be connected to."""

    def __init__(self, message, unreachable=False):
        super().__init__(message)
        self.unreachable = unreachable


class NameNodeFailover:
    """Failover for an ``hdfs`` client class (mixed in before it, e.g. with a Kerberos
    client) whose ``namenodes`` are the WebHDFS base URLs of one cluster's NameNodes."""

    namenodes = ()
    verify = True  # requests' verify= of every request (a CA bundle)

    def _request(self, method, url, **kwargs):
        # every HTTP request of the hdfs package's client comes here: its NameNode requests
        # are built on namenodes[0], the base it was created with. verify= per request: a
        # session's is overridden by REQUESTS_CA_BUNDLE
        kwargs.setdefault("verify", self.verify)
        base = next((nn for nn in self.namenodes if url.startswith(nn + "/webhdfs/")), None)
        if base is None:
            return super()._request(method, url, **kwargs)
        cluster, rest = tuple(self.namenodes), url[len(base):]
        answers = {}
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(PAUSE)
            first = cluster.index(_active.get(cluster, cluster[0]))
            for namenode in cluster[first:] + cluster[:first]:
                try:
                    response = super()._request(method, namenode + rest, **kwargs)
                except requests.ConnectionError as e:
                    if not never_connected(e):
                        raise
                    answers[namenode] = f"could not connect ({connect_failure(e)})"
                    continue
                if response.status_code == 401:  # SPNEGO failed: the ticket ran out
                    raise NoTicket(kinit_message(f"{namenode} answered HTTP 401"))
                answered.add(cluster)
                standby = standby_message(response)
                if standby is None:
                    _active[cluster] = namenode
                    return response
                answers[namenode] = f"answered standby ({standby})"
        raise NoActiveNameNode("no NameNode took the request: " + "; ".join(
            f"{nn} {answers[nn]}" for nn in cluster) + f" (each tried {ATTEMPTS} times)",
            unreachable=all(a.startswith("could not connect") for a in answers.values()))


class FailoverClient(NameNodeFailover, Client):
    """A WebHDFS client of the NameNodes ``namenodes`` (base URLs, ``http://host:port`` or
    https) through the requests ``session`` (its authentication:
    :func:`jobs.hadoop.kerberos.session`), checking certificates against ``verify``, its
    requests bounded by :data:`TIMEOUT`."""

    def __init__(self, namenodes, session, verify=True):
        super().__init__(namenodes[0], timeout=TIMEOUT, session=session)
        self.namenodes = [nn.rstrip("/") for nn in namenodes]
        self.verify = verify


def never_connected(error):
    """Whether a requests ConnectionError means the request never reached the server
    (refused, unreachable, unknown host, connect timeout), so it is safe to send again."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(error, requests.ConnectTimeout) or isinstance(reason, NewConnectionError)


def connect_failure(error):
    """What the operating system said when connecting failed, e.g. "[Errno 111] Connection
    refused"."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return str(getattr(reason, "__cause__", None) or reason or error)


def standby_message(response):
    """The message of a standby NameNode's answer (HTTP 403, a RemoteException whose
    exception is StandbyException), or None for any other answer."""
    if response.status_code != 403:
        return None
    try:
        remote = response.json()["RemoteException"]
    except (ValueError, KeyError, TypeError):
        return None
    if remote.get("exception") != "StandbyException":
        return None
    return remote.get("message", "")
