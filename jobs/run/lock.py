"""The run lock: one ``hadoop-rnn train`` at a time per run directory, local or on HDFS.

``RUN_DIR/lock.json`` is created with :meth:`Store.create_exclusive` and holds::

    {"token": <uuid4 hex>, "host": ..., "pid": ..., "started": <unix time>,
     "heartbeat": <unix time>, "lease": <seconds>}

While the driver works, a background thread rewrites the file every ``lease / 3`` seconds
with a fresh ``heartbeat`` (after checking the token is still ours), and the driver calls
:meth:`RunLock.verify` before every commit. A lock is **stale**, and may be taken over, when
its heartbeat is older than its lease, or at once when it was taken on this host by a process
that no longer exists (or when the file is not a lock record at all).

Taking over a stale lock: the taker first creates ``lock.takeover`` exclusively, so of two
drivers that found the same stale lock only one goes on; it re-reads ``lock.json``, deletes
it only if it still holds the stale token, creates its own exclusively and re-reads it to
confirm its token. ``lock.takeover`` is then removed (a taker that died in between leaves
one behind; it is removed once older than the lease).

Residual races, which no lock built on create/delete/rename can close:

* a holder that was alive after all (suspended, or cut off from HDFS, for longer than the
  lease) learns at its next heartbeat or :meth:`verify` that the lock is gone and aborts
  without committing; but a commit it had already verified may still land. Each epoch's
  checkpoint is a deterministic function of the previous one, so the worst case is the same
  epoch written twice with the same θ, never an epoch applied twice;
* on HDFS a heartbeat rewrite deletes the file before renaming the new one in (WebHDFS cannot
  rename over a file): a driver that tries to acquire in that instant gets the lock, and the
  old holder finds its rename failing or the token changed, and aborts as above;
* reading a token and then deleting the file (release, takeover) are two steps, as are a
  heartbeat's reading of the token and its rewrite: a taker of a lock it found stale that
  writes its own between the two finds it replaced when it next reads its token (its
  confirmation, heartbeat or verify) and stops without committing.
"""
import json
import math
import os
import socket
import threading
import time
import uuid

from jobs.storage import MissingFile

LOCK = "lock.json"
TAKEOVER = "lock.takeover"
DEFAULT_LEASE = 15 * 60
MIN_LEASE = 10  # seconds: shorter, and a live driver's heartbeat (every lease/3) may miss it


class LockHeld(RuntimeError):
    """Another driver holds the run's lock; the message says who and since when."""


class LockLost(RuntimeError):
    """This driver no longer owns the run's lock (it was taken over): nothing may be committed."""


def seconds_field(record, name):
    """The record's ``name`` as a finite number of seconds, or None if it is not one."""
    value = record.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def describe(record, now=None):
    """``host H pid P since <time> (heartbeat Ns ago)``: who holds a lock, for one-line messages."""
    now = time.time() if now is None else now
    started, heartbeat = seconds_field(record, "started"), seconds_field(record, "heartbeat")
    since = ("an unknown time" if started is None else
             time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)))
    age = ("no heartbeat" if heartbeat is None else f"heartbeat {now - heartbeat:.0f}s ago"
           if heartbeat <= now else f"heartbeat {heartbeat - now:.0f}s in the future")
    return f"host {record.get('host')} pid {record.get('pid')} since {since} ({age})"


def pid_alive(pid):
    """Whether a process with this id exists on this host."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, TypeError, ValueError):
        return False
    return True


def is_stale(record, now=None, host=None):
    """Whether a lock record may be taken over: not a lock record (fields missing or of the
    wrong type), lease expired, its process gone, or a heartbeat further in the future than a
    lease (no clock is that far off; a driver never writes one)."""
    if not isinstance(record, dict) or not isinstance(record.get("token"), str):
        return True
    heartbeat, lease = seconds_field(record, "heartbeat"), seconds_field(record, "lease")
    if heartbeat is None or lease is None or lease <= 0:
        return True
    now = time.time() if now is None else now
    if abs(now - heartbeat) > lease:
        return True
    return record.get("host") == (host or socket.gethostname()) and not pid_alive(record.get("pid"))


class RunLock:
    """The lock on one run directory (a :mod:`jobs.storage` store); use as a context manager."""

    def __init__(self, store, lease=DEFAULT_LEASE, heartbeat_every=None):
        self.store = store
        self.lease = float(lease)
        self.heartbeat_every = heartbeat_every or max(self.lease / 3, 0.5)
        self.token = uuid.uuid4().hex
        self.host = socket.gethostname()
        self.started = None
        self.lost = None          # why the heartbeat thread found the lock gone, if it did
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    # -- the file --------------------------------------------------------------------------

    def _record(self):
        return {"token": self.token, "host": self.host, "pid": os.getpid(),
                "started": self.started, "heartbeat": time.time(), "lease": self.lease}

    def _encode(self):
        return json.dumps(self._record(), sort_keys=True).encode("utf-8")

    def read(self, name=LOCK):
        """The lock record in the file (a dict), {} if it is not one, None if there is none."""
        if not self.store.exists(name):
            return None
        try:
            record = json.loads(self.store.read_bytes(name))
        except ValueError:
            return {}
        except MissingFile:                   # released between exists() and read
            return None
        return record if isinstance(record, dict) else {}

    # -- acquire and release ---------------------------------------------------------------

    def acquire(self):
        """Take the lock (taking over a stale one) and start the heartbeat; else raise LockHeld."""
        self.started = time.time()
        self.store.makedirs()
        for _ in range(3):  # a lock released or taken over under our feet: look again
            if self.store.create_exclusive(LOCK, self._encode()):
                break
            holder = self.read()
            if holder is None:
                continue
            if not is_stale(holder, host=self.host):
                raise LockHeld(f"{self.store.uri()} is locked by another hadoop-rnn train: "
                               f"{describe(holder)}")
            if self._take_over(holder):
                break
        else:
            raise LockHeld(f"{self.store.uri()}: the lock keeps changing hands; try again")
        self._confirm()
        self._thread = threading.Thread(target=self._beat, name="run-lock-heartbeat", daemon=True)
        self._thread.start()
        return self

    def _take_over(self, stale):
        """Replace a stale lock with ours; False if someone else is doing it or did it first."""
        if not self.store.create_exclusive(TAKEOVER, self._encode()):
            marker = self.read(TAKEOVER)
            if marker is None:
                return False              # that taker finished meanwhile: look again
            if not is_stale(marker, host=self.host):
                raise LockHeld(f"{self.store.uri()}: another driver is taking over a stale "
                               f"lock: {describe(marker)}")
            self.store.delete(TAKEOVER)   # left by a taker that died: clear it and look again
            return False
        try:
            current = self.read()
            if current is not None and current.get("token") != stale.get("token"):
                return False              # it changed hands since we looked
            self.store.delete(LOCK)
            return self.store.create_exclusive(LOCK, self._encode())
        finally:
            self.store.delete(TAKEOVER)

    def _confirm(self):
        holder = self.read()
        if not holder or holder.get("token") != self.token:
            raise LockHeld(f"{self.store.uri()}: lost the race for the lock to "
                           f"{describe(holder or {})}")

    def release(self):
        """Stop the heartbeat and delete the lock file if it is still ours."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._mutex:
            try:
                holder = self.read()
            except OSError:
                return
            if holder and holder.get("token") == self.token:
                self.store.delete(LOCK)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()

    # -- while held ------------------------------------------------------------------------

    def refresh(self):
        """Rewrite our heartbeat if the lock is still ours; raise LockLost if it is not."""
        with self._mutex:
            if self.lost:
                raise LockLost(self.lost)
            holder = self.read()
            if not holder or holder.get("token") != self.token:
                self.lost = (f"{self.store.uri(LOCK)} is no longer ours (now "
                             f"{describe(holder) if holder else 'absent'}): another driver took "
                             "over the run; this one stops without committing")
                raise LockLost(self.lost)
            self.store.write_bytes(LOCK, self._encode())

    def verify(self):
        """Before every commit: raise LockLost unless the lock is still ours (refreshing it)."""
        self.refresh()

    def _beat(self):
        while not self._stop.wait(self.heartbeat_every):
            try:
                self.refresh()
            except LockLost:
                return
            except OSError:
                continue  # a store hiccup: verify() before the commit decides
