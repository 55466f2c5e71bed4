"""How the driver's WebHDFS requests authenticate, and which certificates they trust.

With ``hadoop.security.authentication=kerberos`` every NameNode request authenticates with
SPNEGO from the user's Kerberos ticket cache (``KRB5CCNAME``, else the system's default), as
``hadoop fs`` does after ``kinit``; the NameNode's redirect to a DataNode carries a
delegation token, so DataNodes need no ticket. The client library is requests-gssapi (over
python-gssapi, MIT Kerberos's GSSAPI): the ``hdfs`` package's own ``KerberosClient`` needs
requests-kerberos and pykerberos, which are barely maintained, while requests-gssapi is an
``auth=`` object for the ``requests`` session the ``hdfs`` client takes, so the failover
client (:mod:`jobs.hadoop.namenodes`) is unchanged.

A missing or expired ticket is :class:`NoTicket` before any request is sent, and also when a
NameNode answers HTTP 401 later (the ticket ran out during a run); the command exits
:data:`EXIT_NO_TICKET` with the line that says to run kinit.

HTTPS (``dfs.http.policy=HTTPS_ONLY``, or an https:// ``HADOOP_RNN_WEBHDFS_URL``): the
NameNodes' and DataNodes' certificates are checked against :func:`ca_bundle`: a cluster's
own CA is in ``HADOOP_RNN_CA_BUNDLE`` or, as companies install it, in the system's store.
"""
import os
import ssl

EXIT_NO_TICKET = 5  # documented in docs/operations.md for cron


class NoTicket(PermissionError):
    """No valid Kerberos ticket: the message says to run kinit."""


def kinit_message(reason):
    return (f"no valid Kerberos ticket ({reason}); run kinit first (kinit PRINCIPAL, or "
            "kinit -kt KEYTAB PRINCIPAL; hadoop-rnn-cron takes --keytab and --principal)")


def check_ticket():
    """Raise :class:`NoTicket` unless the ticket cache holds a ticket valid for a while."""
    import gssapi  # imported here: clusters without Kerberos need no GSSAPI

    expired = kinit_message(f"the ticket in {os.environ.get('KRB5CCNAME', 'the default cache')} "
                            "has expired")
    try:
        lifetime = gssapi.Credentials(usage="initiate").lifetime
    except gssapi.exceptions.ExpiredCredentialsError:
        raise NoTicket(expired) from None
    except gssapi.exceptions.GSSError as e:
        raise NoTicket(kinit_message(gss_reason(e))) from None
    if lifetime is not None and lifetime <= 0:
        raise NoTicket(expired)


def gss_reason(error):
    """The useful part of a GSSAPI error: its minor message (e.g. "No Kerberos credentials
    available (default cache: FILE:/tmp/krb5cc_1000)"), else the whole."""
    text = str(error)
    return text.split("Minor (", 1)[1].split("): ", 1)[-1].strip() if "Minor (" in text else text


def session(kerberos, user, environ):
    """The ``requests`` session of a WebHDFS client: SPNEGO (``kerberos``, after
    :func:`check_ticket`) or the ``user.name`` parameter (``user``; security off)."""
    import requests  # imported here: the CLI imports this module for NoTicket only

    s = requests.Session()
    if kerberos:
        try:
            from requests_gssapi import OPTIONAL, HTTPSPNEGOAuth
        except ImportError:
            raise RuntimeError("the cluster uses Kerberos (hadoop.security.authentication="
                               "kerberos) and requests-gssapi is not installed: pip install "
                               "'hadoop-rnn[kerberos]'") from None
        check_ticket()
        # OPTIONAL: Hadoop's SPNEGO answer carries no mutual-authentication token on
        # redirects and errors, which REQUIRED would reject
        s.auth = HTTPSPNEGOAuth(mutual_authentication=OPTIONAL)
    else:
        s.params = {"user.name": user}
    return s


def ca_bundle(environ):
    """What HTTPS requests verify certificates against: ``HADOOP_RNN_CA_BUNDLE`` (a PEM file),
    else ``REQUESTS_CA_BUNDLE``, else the system's store (OpenSSL's default file or
    directory, e.g. /etc/ssl/certs/ca-certificates.crt), else True (the certifi bundle)."""
    for name in ("HADOOP_RNN_CA_BUNDLE", "REQUESTS_CA_BUNDLE"):
        if environ.get(name):
            return environ[name]
    paths = ssl.get_default_verify_paths()
    return next((p for p in (paths.cafile, paths.capath) if p and os.path.exists(p)), True)
