"""The run directory: numbered checkpoints, latest.npz and metrics.jsonl, and their commit.

``RUN_DIR/ckpt-NNNNNN.npz`` (the last few kept), ``RUN_DIR/latest.npz`` (a copy of the
newest) and ``RUN_DIR/metrics.jsonl`` (one line per epoch, rewritten from the history inside
the checkpoint). An epoch is committed by writing its numbered checkpoint: every file is
written under a temporary name and renamed, so a driver killed anywhere leaves epoch N either
committed or not, and :func:`repair` finishes the rest on the next run.

Test hook: ``HADOOP_RNN_FAULT`` (see :func:`fault_point`) makes the driver SIGKILL itself at
a named point of the commit.
"""
import json
import os
import re
import signal

from jobs.run.state import NotACheckpoint, TrainingState
from rnn_core.serialization import arrays_from_bytes, arrays_to_bytes

LATEST = "latest.npz"
METRICS = "metrics.jsonl"
FAULT_ENV = "HADOOP_RNN_FAULT"
_CKPT = re.compile(r"^ckpt-(\d{6})\.npz$")
_TMP_PREFIX = ".tmp-"  # jobs.storage writes here first, then renames


class CheckpointError(ValueError):
    """The run directory holds a file that is not a usable checkpoint."""


def newest_checkpoint(run):
    """(name, state, file bytes) of the newest checkpoint, or (None, None, None)."""
    numbered = [name for name in run.list() if _CKPT.match(name)]
    name = numbered[-1] if numbered else (LATEST if run.exists(LATEST) else None)
    if name is None:
        return None, None, None
    data = run.read_bytes(name)
    try:
        return name, TrainingState.from_arrays(arrays_from_bytes(data)), data
    except (NotACheckpoint, ValueError, KeyError) as e:
        raise CheckpointError(f"{run.uri(name)} is not a usable checkpoint ({e}); "
                            "nothing was overwritten. Move it away or use a new --run.") from None


def load_latest(run):
    """The newest complete checkpoint in the run directory, or None for a new run."""
    return newest_checkpoint(run)[1]


def repair(run, state, name, data):
    """Finish the commit of a driver killed after its checkpoint: latest.npz and metrics.jsonl
    are rewritten from the newest numbered checkpoint (``name``, parsed ``state``, ``data``)."""
    if name != LATEST and (not run.exists(LATEST) or run.read_bytes(LATEST) != data):
        run.write_bytes(LATEST, data)
    write_metrics(run, state)


def remove_leftovers(run):
    """Delete temporary files of writes a killed driver left half done (call with the lock)."""
    for name in [n for n in run.list() if n.startswith(_TMP_PREFIX)]:
        run.delete(name)


def fault_point(point, epoch):
    """Test hook: SIGKILL this driver at ``point`` of ``epoch`` if $HADOOP_RNN_FAULT asks.

    HADOOP_RNN_FAULT is a comma-separated list of POINT:EPOCH, POINT one of
    ``kill-before-commit`` (the epoch's job is done, nothing written), ``kill-after-ckpt``
    (between ckpt-NNNNNN.npz and latest.npz), ``kill-after-latest`` (before metrics.jsonl).
    """
    if f"{point}:{epoch}" in os.environ.get(FAULT_ENV, "").split(","):
        os.kill(os.getpid(), signal.SIGKILL)


def commit(run, state, keep=3, lock=None):
    """Write the epoch's checkpoint, then latest.npz, then metrics.jsonl.

    With a ``lock``, first verify it is still ours (raises jobs.run.lock.LockLost if not).
    """
    fault_point("kill-before-commit", state.epoch)
    if lock is not None:
        lock.verify()
    data = arrays_to_bytes(state.to_arrays())
    run.write_bytes(f"ckpt-{state.epoch:06d}.npz", data)
    fault_point("kill-after-ckpt", state.epoch)
    run.write_bytes(LATEST, data)
    fault_point("kill-after-latest", state.epoch)
    write_metrics(run, state)
    for name in [n for n in run.list() if _CKPT.match(n)][:-keep]:
        run.delete(name)


def write_metrics(run, state):
    lines = "".join(json.dumps(m, sort_keys=True) + "\n" for m in state.history)
    run.write_bytes(METRICS, lines.encode("utf-8"))
