"""The run directory: numbered checkpoints, best.npz, latest.npz and metrics.jsonl, and their commit.

``RUN_DIR/ckpt-NNNNNN.npz`` (the last few kept), ``RUN_DIR/latest.npz`` (a copy of the
newest), ``RUN_DIR/best.npz`` (the checkpoint of the epoch with the lowest validation loss,
:meth:`TrainingState.best_epoch`, see :func:`best_bytes`) and ``RUN_DIR/metrics.jsonl`` (one
line per epoch, rewritten from the history inside the checkpoint). An epoch is committed by
writing its numbered checkpoint: every file is written under a temporary name and renamed,
so a driver killed anywhere leaves epoch N either committed or not, and :func:`repair`
finishes the rest on the next run.

An epoch's validation loss is known one commit late: the job of epoch N+1 scores θ_N
(:mod:`jobs.mr.train_epoch`), so ckpt-(N+1) is the first checkpoint whose history has epoch
N's loss; the last epoch's loss is committed by rewriting its own checkpoint (the same epoch,
its history completed). Which epoch is best follows from the history in the newest
checkpoint, so best.npz is rewritten only in the commit that makes an epoch the best: the
commit of that epoch, or the one that brings its validation loss.

With several sync rounds per epoch (``syncs_per_epoch``), each round but the epoch's last
is committed to ``RUN_DIR/round.npz`` (a state with ``rounds`` non-empty, one atomic write):
:func:`resume_point` continues from it while it extends the newest epoch. An epoch's commit
deletes it last; a stale one (of an older epoch) is ignored.

Test hook: ``HADOOP_RNN_FAULT`` (see :func:`fault_point`) makes the driver SIGKILL itself at
a named point of the commit.
"""
import json
import os
import re
import signal
from dataclasses import replace

from jobs.data.dataset import META
from jobs.run.lock import LOCK, TAKEOVER
from jobs.run.state import NotACheckpoint, TrainingState
from rnn_core.serialization import arrays_from_bytes, arrays_to_bytes

LATEST = "latest.npz"
ROUND = "round.npz"
BEST = "best.npz"
METRICS = "metrics.jsonl"
FAULT_ENV = "HADOOP_RNN_FAULT"
_CKPT = re.compile(r"^ckpt-(\d{6})\.npz$")
_TMP_PREFIX = ".tmp-"  # jobs.storage writes here first, then renames


class CheckpointError(ValueError):
    """The run directory holds a file that is not a usable checkpoint."""


def read_checkpoint(run, name):
    """(state, file bytes) of the checkpoint file ``name`` in the run directory."""
    data = run.read_bytes(name)
    try:
        return TrainingState.from_arrays(arrays_from_bytes(data)), data
    except (NotACheckpoint, ValueError, KeyError) as e:
        raise CheckpointError(f"{run.uri(name)} is not a usable checkpoint ({e}); "
                              "nothing was overwritten. Move it away or use a new --run.") from None


def newest_checkpoint(run):
    """(name, state, file bytes) of the newest checkpoint, or (None, None, None)."""
    numbered = [name for name in run.list() if _CKPT.match(name)]
    name = numbered[-1] if numbered else (LATEST if run.exists(LATEST) else None)
    if name is None:
        return None, None, None
    return (name, *read_checkpoint(run, name))


def resume_point(run):
    """(name, state, file bytes) of the state training continues from: round.npz if it holds
    sync rounds past the newest epoch's checkpoint, else :func:`newest_checkpoint`."""
    name, state, data = newest_checkpoint(run)
    if run.exists(ROUND):
        partial, partial_data = read_checkpoint(run, ROUND)
        if partial.rounds and partial.epoch == (state.epoch if state is not None else 0):
            return ROUND, partial, partial_data
    return name, state, data


def foreign_files(run):
    """What stops ``run`` (with no checkpoint to resume: :func:`resume_point` found none) from
    becoming a new run's directory: a one-line reason naming its files, or None if it holds
    no file but a lock and half-written leftovers (subdirectories are not its business). A
    run directory holding a model (best.npz, a stale round.npz) or other files is never
    written over."""
    names = [n for n in run.list() if n not in (LOCK, TAKEOVER)
             and not n.startswith(_TMP_PREFIX) and not run.is_dir(n)]  # e.g. demo's DIR/data
    if not names:
        return None
    if META in names:
        return dataset_refusal(run)
    if BEST in names:
        return (f"{run.uri()} holds {BEST} but no {LATEST} or ckpt-*.npz to continue from, and "
                f"a new run would replace it. To continue from the best epoch, copy {BEST} to "
                f"{LATEST} in it; to start a new run, use a new --run directory")
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return (f"{run.uri()} holds no checkpoint to continue from, but holds {shown}: use a new "
            "(or empty) --run directory")


def dataset_refusal(run):
    return (f"--run {run.uri()} is a dataset directory (it holds {META}): a run needs a "
            "directory of its own")


def load_latest(run):
    """The newest complete checkpoint in the run directory, or None for a new run."""
    return newest_checkpoint(run)[1]


def load_checkpoint(run, which="best"):
    """The TrainingState of ``which`` checkpoint of the run directory, or None for a new run.

    which: "latest" (the newest epoch), "best" (the lowest validation loss; the newest in a
    run trained before best.npz existed) or an epoch number (its ckpt-NNNNNN.npz, while it
    is among the kept ones, or the best or newest epoch). A run directory left with only
    best.npz gives its epoch (:func:`only_best`).
    """
    latest = load_latest(run)
    if latest is None and run.exists(BEST):
        return only_best(run, which)
    if latest is None or which == "latest":
        return latest
    best = latest.best_epoch()
    if which == "best" or int(which) == best:
        use_latest = best == latest.epoch or not run.exists(BEST)
        return latest if use_latest else read_checkpoint(run, BEST)[0]
    epoch = int(which)
    name = f"ckpt-{epoch:06d}.npz"
    if epoch == latest.epoch or run.exists(name):
        return latest if epoch == latest.epoch else read_checkpoint(run, name)[0]
    kept = sorted({int(m.group(1)) for m in map(_CKPT.match, run.list()) if m}
                  | {latest.epoch, best})
    raise CheckpointError(f"{run.uri()} has no checkpoint of epoch {epoch}: it keeps epochs "
                          f"{', '.join(map(str, kept))}")


def only_best(run, which):
    """The state of best.npz in a run directory that lost latest.npz and every
    ckpt-NNNNNN.npz (moved or deleted by hand), if ``which`` asks for its epoch; else
    CheckpointError saying what is left."""
    best = read_checkpoint(run, BEST)[0]
    if which == "best" or (which != "latest" and int(which) == best.epoch):
        return best
    gone = "the newest epoch's" if which == "latest" else f"epoch {which}'s"
    raise CheckpointError(f"{run.uri()} holds {BEST} (epoch {best.epoch}) but neither {LATEST} "
                          f"nor a ckpt-NNNNNN.npz: {gone} checkpoint is gone; --checkpoint best "
                          f"reads {BEST}")


def best_bytes(run, state, data, previous=None):
    """The bytes best.npz holds when ``state`` (serialized: ``data``) is the newest checkpoint,
    or None if the best epoch's checkpoint is no longer kept (best.npz then holds it already).

    best.npz is the checkpoint of the best epoch with its history up to that epoch taken from
    the newest state, so it has its own validation loss even when that came one commit later.
    previous: the state ``state`` was trained from, if at hand (else its checkpoint is read).
    """
    best = state.best_epoch()
    if best == state.epoch:
        return data
    if previous is not None and previous.epoch == best:
        source = previous
    elif run.exists(f"ckpt-{best:06d}.npz"):
        source = read_checkpoint(run, f"ckpt-{best:06d}.npz")[0]
    else:
        return None
    return arrays_to_bytes(replace(source, history=state.history[:best]).to_arrays())


def repair(run, state, name, data):
    """Finish the commit of a driver killed after its checkpoint: best.npz (see
    :func:`best_bytes`), latest.npz and metrics.jsonl are rewritten from the newest numbered
    checkpoint (``name``, parsed ``state``, ``data``) where they differ. Nothing to do for
    round.npz: a round is committed only after its epoch's commit was complete."""
    if name == ROUND:
        return None
    if name == LATEST:
        return write_metrics(run, state)
    for target, expected in ((BEST, best_bytes(run, state, data)), (LATEST, data)):
        if expected is not None and (not run.exists(target) or run.read_bytes(target) != expected):
            run.write_bytes(target, expected)
    write_metrics(run, state)


def remove_leftovers(run):
    """Delete temporary files of writes a killed driver left half done (call with the lock)."""
    for name in [n for n in run.list() if n.startswith(_TMP_PREFIX)]:
        run.delete(name)


def fault_point(point, epoch):
    """Test hook: SIGKILL this driver at ``point`` of ``epoch`` if $HADOOP_RNN_FAULT asks.

    HADOOP_RNN_FAULT is a comma-separated list of POINT:EPOCH, POINT one of
    ``kill-before-commit`` (the epoch's job is done, nothing written), ``kill-after-ckpt``
    (after ckpt-NNNNNN.npz, before best.npz and latest.npz), ``kill-after-best`` (after
    best.npz, before latest.npz; only in a commit that writes best.npz), ``kill-after-latest``
    (before metrics.jsonl), ``kill-before-validation`` (the epoch is committed, the scoring
    job of its θ not started: :func:`jobs.training.loop.score_newest`), ``kill-after-round``
    (EPOCH is then ``E.k``: after round.npz of sync round k of epoch E). The commit of an
    epoch's validation loss passes the commit's points with the same epoch again.
    """
    if f"{point}:{epoch}" in os.environ.get(FAULT_ENV, "").split(","):
        os.kill(os.getpid(), signal.SIGKILL)


def commit(run, state, keep=3, lock=None, previous=None):
    """Write the epoch's checkpoint, then best.npz if it changes (see :func:`best_bytes`), then
    latest.npz, then metrics.jsonl, then delete round.npz. A state mid-epoch
    (``state.rounds``) is written to round.npz only.

    previous: the committed state ``state`` was trained from; if ``state``'s history brings
    that epoch's validation loss and it is the best, best.npz becomes that epoch's. A state of
    the same epoch as the newest checkpoint (its validation loss added) replaces it.
    With a ``lock``, first verify it is still ours (raises jobs.run.lock.LockLost if not).
    """
    if state.rounds:
        if lock is not None:
            lock.verify()
        run.write_bytes(ROUND, arrays_to_bytes(state.to_arrays()))
        fault_point("kill-after-round", f"{state.epoch + 1}.{len(state.rounds)}")
        return
    fault_point("kill-before-commit", state.epoch)
    if lock is not None:
        lock.verify()
    data = arrays_to_bytes(state.to_arrays())
    run.write_bytes(f"ckpt-{state.epoch:06d}.npz", data)
    fault_point("kill-after-ckpt", state.epoch)
    best = state.best_epoch()
    revealed = (previous is not None and previous.epoch == best < state.epoch
                and previous.history[-1] != state.history[best - 1])
    if best == state.epoch or revealed:
        run.write_bytes(BEST, best_bytes(run, state, data, previous))
        fault_point("kill-after-best", state.epoch)
    run.write_bytes(LATEST, data)
    fault_point("kill-after-latest", state.epoch)
    write_metrics(run, state)
    for name in [n for n in run.list() if _CKPT.match(n)][:-keep]:
        run.delete(name)
    if run.exists(ROUND):
        run.delete(ROUND)


def write_metrics(run, state):
    lines = "".join(json.dumps(m, sort_keys=True) + "\n" for m in state.history)
    run.write_bytes(METRICS, lines.encode("utf-8"))
