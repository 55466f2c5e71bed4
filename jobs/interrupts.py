"""SIGINT and SIGTERM as exceptions that no library can lose, and steps they cannot cut.

Under :func:`signals_raise` (the ``hadoop-rnn`` command runs in it) SIGINT raises
KeyboardInterrupt and SIGTERM :class:`Terminated`, so ``finally`` blocks clean up. A library
may catch that exception and carry on: pyarrow's ``to_numpy`` imports pandas lazily and
discards whatever that import raises, a KeyboardInterrupt included. So the handler also
records the signal, and :func:`raise_if_received` raises it again at the points that must
not be passed after one (before a dataset replaces the old one; at the command's end).

A process forked in :func:`signals_raise` (the local runner's task pool) starts with the
handlers it would have had without it.

:func:`signals_held` makes a short step whole: both signals wait until it ends, then raise.

Imports nothing heavy: :mod:`jobs.cli` enters :func:`signals_raise` before it loads numpy.
"""
import contextlib
import os
import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143

_received = None  # the signal the handler last raised, until signals_raise ends
_replaced = {}  # the handlers signals_raise replaced, while it runs


class Terminated(SystemExit):
    """SIGTERM arrived: unwinds like an exception (so cleanup runs), exits with 143."""

    def __init__(self):
        super().__init__(EXIT_TERMINATED)


def _exception(signum):
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated()


def _handler(signum, frame):
    global _received
    _received = signum
    raise _exception(signum)


@contextlib.contextmanager
def signals_raise():
    """SIGINT raises KeyboardInterrupt and SIGTERM :class:`Terminated` in the block, and
    each is recorded for :func:`raise_if_received`. Outside the main thread (where Python
    runs no handler) the block runs as it is."""
    global _received
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _replaced.update({signum: signal.signal(signum, _handler) for signum in SIGNALS})
    _received = None
    try:
        yield
    finally:
        for signum, handler in _replaced.items():
            signal.signal(signum, handler)
        _replaced.clear()
        _received = None


def _restore_in_forked_child():
    # mrjob's local runner forks a multiprocessing pool, whose terminate() (after a failed
    # task) counts on SIGTERM killing a worker outright: a worker that unwinds instead may
    # block on a queue lock the parent holds, and the parent waits for it forever
    for signum, handler in _replaced.items():
        signal.signal(signum, handler)
    _replaced.clear()


os.register_at_fork(after_in_child=_restore_in_forked_child)


def raise_if_received():
    """Raise the exception of a signal that arrived in :func:`signals_raise`, in case a
    library swallowed it; nothing if none did."""
    if _received is not None:
        raise _exception(_received)


@contextlib.contextmanager
def signals_held():
    """SIGINT and SIGTERM wait until the block ends, then take effect as they would have:
    for a step that must not be cut in two (a directory made and recorded for removal, a
    swap of two). Python runs signal handlers in the main thread only, so elsewhere the
    block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived = []
    previous = {signum: signal.signal(signum, lambda signum, frame: arrived.append(signum))
                for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if arrived:
            signal.raise_signal(arrived[0])
