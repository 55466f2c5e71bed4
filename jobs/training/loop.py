"""The training loop: epochs of the epoch job, each committed, until the run's target,
``patience`` or a limit of this invocation stops it (``hadoop-rnn train``).

One epoch = stage the training state, run :class:`jobs.mr.train_epoch.MRTrainEpoch` on the
chosen runner (:mod:`jobs.training.epoch_job`), check the new θ, and commit: write
``ckpt-NNNNNN.npz`` then ``latest.npz`` (each atomically), then rewrite ``metrics.jsonl``
from the history stored in the checkpoint (:mod:`jobs.run.checkpoint`). The checkpoint is
the only commit point, so a driver killed anywhere either left epoch N fully committed or not
at all; calling :func:`train` again continues from the newest checkpoint and ends
bit-identical to an uninterrupted run. With ``syncs_per_epoch`` K > 1 (average mode) an epoch
is K jobs (sync rounds), and each round but the last is committed too (``round.npz``), so a
run also resumes mid-epoch.

Validation runs on the cluster, one epoch late (:class:`Validation`): the job of epoch N+1
also scores θ_N on the validation shards in map tasks, so the commit of epoch N+1 brings
epoch N's validation loss; epoch N's metrics line says ``"valid_pending": true`` until then.
With sync rounds only round 0 scores (its incoming θ is θ_N). When no epoch job of this
invocation follows θ_N (the run's last epoch, an epoch after which ``patience`` may stop
the run, the last before a limit), the scoring job scores it instead
(:func:`score_newest`); both ways give the same bits (:mod:`jobs.mr.validation`).
``valid_every`` K scores only every K-th epoch's θ and the last; the others' ``valid_loss``
stays null. The best epoch follows from the history in the checkpoint, so ``best.npz`` and
early stopping survive a resume bit-identically too.

:func:`train` holds the run's lock (:mod:`jobs.run.lock`) from start to end, so the same
command can be run from cron every few minutes: a second driver on a busy run returns
``Outcome.LOCKED``, a driver on a finished run ``Outcome.NOTHING_TO_DO``.
:class:`jobs.training.limits.Limits` bound one invocation. See docs/operations.md.

Test hook: ``HADOOP_RNN_FAULT`` (see :func:`jobs.run.checkpoint.fault_point`) makes the
driver SIGKILL itself at a named point of the commit, or makes the first attempt of map task
0 fail.
"""
import enum
import time
from dataclasses import dataclass, field, replace

from jobs.data.dataset import META, Dataset, DatasetError
from jobs.hadoop.launch import RunnerOptions
from jobs.run.checkpoint import (commit, dataset_refusal, fault_point, foreign_files,
                                 newest_checkpoint, remove_leftovers, repair, resume_point)
from jobs.run.lock import LockHeld, RunLock
from jobs.run.state import unprefix_opt, unprefix_outer
from jobs.run.trained import base_choice, base_line, check_same_schema
from jobs.storage import is_hdfs, open_store
from jobs.training.epoch_job import (check_map_tasks, check_syncs, epoch_output,
                                     expected_map_tasks, run_epoch_job, score_validation,
                                     steps_line)
from jobs.training.limits import Limits
from jobs.training.metrics import (bad_record_report, check_no_record_lost, epoch_metrics,
                                   epoch_totals, progress_line, round_summary, valid_text,
                                   with_validation)
from jobs.training.spec import (RunSpec, TrainingError, check_range, check_resumable,
                                default_epochs, defaults_line, new_state, run_configs)


class Outcome(enum.Enum):
    TRAINED = "trained"              # epochs were committed (or a limit stopped before any)
    NOTHING_TO_DO = "nothing to do"  # the run was already at the target epoch
    LOCKED = "locked"                # another driver holds the run's lock


@dataclass
class TrainResult:
    """What :func:`train` did: its outcome, the epoch the run is at, this call's metrics."""

    outcome: Outcome
    epoch: int = 0
    metrics: list = field(default_factory=list)  # one dict per epoch committed by this call


@dataclass(frozen=True)
class Validation:
    """When θ is scored on the validation split: the θ of every ``every``-th epoch and of the
    run's last (``epochs``), if the dataset has validation records (``enabled``)."""

    enabled: bool
    epochs: int
    every: int = 1

    @classmethod
    def of(cls, dataset, epochs, every):
        """The schedule of a run on ``dataset`` (enabled if it has validation records)."""
        enabled = bool(dataset.meta["valid"]) and dataset.meta["counts"]["valid"]["records"] > 0
        return cls(enabled, epochs, every)

    def due(self, epoch):
        """Whether θ of ``epoch`` gets a validation loss."""
        return self.enabled and (epoch % self.every == 0 or epoch >= self.epochs)

    @staticmethod
    def pending(state):
        """Whether the newest epoch's validation loss is due but not known yet."""
        return bool(state.history) and bool(state.history[-1].get("valid_pending"))


def train(data, run, epochs=None, spec=RunSpec(), runner=RunnerOptions(), limits=Limits(),
          log=print, patience=None, valid_every=1):
    """Train the run in ``run`` on the dataset ``data`` until ``epochs`` epochs are committed.

    data, run: directory URIs (local paths or ``hdfs://``). epochs: the total to reach (None:
    :func:`default_epochs`). ``spec``: the run's settings (see :class:`RunSpec`; only needed
    for a new run). ``runner``: where the epoch jobs run. ``limits``: what this call may do.
    ``patience``: stop once this many epochs have passed without a new best validation loss
    (None: never). ``valid_every``: score θ on the validation split every this many epochs
    (and always the last epoch's). ``log``: called with each progress line.
    Returns a :class:`TrainResult`; raises :class:`TrainingError` (and OSError, ValueError)
    when an epoch cannot be committed.
    """
    if is_hdfs(data) and runner.runner != "hadoop":
        raise TrainingError(f"the {runner.runner} runner reads local files only: use --runner "
                            "hadoop for data on HDFS (or copy the dataset to a local directory)")
    if epochs is not None:
        check_range("epochs", epochs, 1, integer=True)
    if patience is not None:
        check_range("patience", patience, 1, integer=True)
    check_range("valid_every", valid_every, 1, integer=True)
    dataset = Dataset(data)
    data = dataset.store.uri()  # recorded absolute, so the run works from any directory
    run_configs(spec, dataset)  # values out of range fail here, before the run exists
    tasks_line = check_map_tasks(dataset, runner)
    if spec.start_map_tasks:  # a new run's start, before anything is written
        check_start_map_tasks(dataset, replace(runner, map_tasks=spec.start_map_tasks))
    run_store = open_store(run)
    existed = run_store.exists()
    if existed and not run_store.is_dir():
        raise TrainingError(f"--run {run_store.uri()} is a file, not a run directory")
    if run_store.uri() == dataset.store.uri() or (existed and run_store.exists(META)):
        raise TrainingError(dataset_refusal(run_store))
    try:
        lock = RunLock(run_store, lease=limits.lock_lease).acquire()
    except LockHeld as e:
        log(f"not started: {e}")
        return TrainResult(Outcome.LOCKED)
    try:
        if tasks_line:
            log(tasks_line)
        session = Session(dataset, runner, run_store, lock, log, limits.max_bad_records)
        return train_locked(session, data, epochs, spec, limits, patience, valid_every)
    finally:
        lock.release()
        if not existed:  # a new run that failed before its first commit leaves nothing
            run_store.remove_if_empty()


@dataclass(frozen=True)
class Session:
    """What the stages of one invocation work with: the dataset, where its jobs run, the run
    directory and the lock held on it, the log, the fraction of bad records an epoch allows."""

    dataset: Dataset
    runner: RunnerOptions
    run_store: object
    lock: RunLock
    log: object
    max_bad_records: float

    def commit(self, state, previous=None):
        """Commit ``state`` to the run directory (:func:`jobs.run.checkpoint.commit`), unless
        the dataset changed while the job that computed it ran."""
        self.check_data()
        commit(self.run_store, state, lock=self.lock, previous=previous)

    def check_data(self):
        """Raise TrainingError if the dataset is no longer the one this invocation started on
        (e.g. ``prepare --force`` replaced it): a job may have read some of the new data."""
        try:
            now = Dataset(self.dataset.store.uri()).fingerprint
        except DatasetError:
            now = "(none: the dataset is gone or being replaced)"
        if now != self.dataset.fingerprint:
            raise TrainingError(
                f"the dataset changed under the run: {self.dataset.store.uri()} is now version "
                f"{now[:12]}, the run started on {self.dataset.fingerprint[:12]}; nothing of the "
                "job that saw the change was committed. Run train again to continue on the "
                "new data (it must be encoded like the run's)")


def train_locked(session, data, epochs, spec, limits, patience=None, valid_every=1):
    """:func:`train` once the lock is held (``session``: see :class:`Session`)."""
    started = time.monotonic()
    remove_leftovers(session.run_store)
    state, epochs = resume_or_start(session, data, epochs, spec)
    if state.settings.mode == "average" and state.epoch < epochs:  # what N costs
        records = session.dataset.meta["counts"]["train"]["records"]
        if state.epoch < state.settings.start_epochs:
            session.log(f"epochs 1-{state.settings.start_epochs} (--start-epochs): " + steps_line(
                records, expected_map_tasks(session.dataset, phase_runner(state, session.runner)),
                state.settings.batch, state.settings.syncs_per_epoch))
        session.log(steps_line(records, expected_map_tasks(session.dataset, session.runner),
                               state.settings.batch, state.settings.syncs_per_epoch))
    validation = Validation.of(session.dataset, epochs, valid_every)
    first, committed = state.epoch, False  # committed: whether this invocation committed
    last_seconds = state.history[-1]["seconds"] if state.history else None
    while True:
        # resumed mid-epoch (round.npz): the epoch was started, so only a limit stops it
        mid_epoch = bool(state.rounds)
        # patience judges the newest θ only once it is scored: it may be a new best
        if not mid_epoch and validation.pending(state) and stopped_early(state, patience):
            state = score_newest(session, state)
            committed = True
        # decide: is the run done, or may this invocation not start another epoch?
        done = not mid_epoch and (state.epoch >= epochs or stopped_early(state, patience))
        limit = None if done else limits.reached(epochs, state.epoch - first, last_seconds,
                                                 time.monotonic() - started, state.epoch)
        if done or limit:
            # no epoch job follows the newest θ: the scoring job scores it
            if not mid_epoch and validation.pending(state):
                state = score_newest(session, state)
                committed = True
            if limit:
                session.log(limit)
            break
        # train and commit an epoch (scoring the previous θ in its first job)
        epoch_started = time.monotonic()
        state = run_epoch(session, state, epochs, due=validation.due(state.epoch + 1))
        committed = True
        last_seconds = time.monotonic() - epoch_started
    # report
    line = closing_line(state, epochs, patience, committed, session.run_store.uri())
    verdict = (base_line(state, base_choice(state, state.best_epoch()), weighed=False)
               if committed else None)
    for line in (line, verdict):
        if line:
            session.log(line)
    if not committed:
        return TrainResult(Outcome.NOTHING_TO_DO, state.epoch)
    # this invocation's epochs, with the validation losses that came after their commit
    return TrainResult(Outcome.TRAINED, state.epoch, state.history[first:])


def run_epoch(session, state, epochs, due):
    """Train the epoch after ``state``'s, one job per sync round, committing each round;
    resumed mid-epoch (``state.rounds``), its remaining rounds. Logs the epoch's progress
    line and returns its committed state. epochs: the run's target; due: the new θ is to be
    scored."""
    start = epoch_start(session.run_store, state)  # the committed state the epoch started from
    runner = epoch_runner(state, phase_runner(state, session.runner), session.log)
    while True:
        session.check_data()
        state = run_round(state, session.dataset, runner, session.max_bad_records,
                          session.log, due)
        session.commit(state, previous=start)
        if not state.rounds:
            break
        session.log(f"epoch {state.epoch + 1}/{epochs}: sync round {len(state.rounds)}/"
            f"{state.settings.syncs_per_epoch} committed")
    # the epoch's job scored the epoch before if that one's loss was pending
    before = state.history[-2] if start is not None and Validation.pending(start) else None
    session.log(progress_line(state.history[-1], epochs, before))
    return state


def check_start_tasks(state, dataset, runner, log):
    """Before the run's start epochs (--start-map-tasks): raise TrainingError if the inline
    or local runner cannot run them (more tasks than records, more sync rounds than a task's
    minibatches); log how many tasks run if that is not the number asked for."""
    if state.epoch >= state.settings.start_epochs:
        return
    start = phase_runner(state, runner)
    line = check_start_map_tasks(dataset, start)
    if line:
        log(line)
    check_syncs(state.settings.syncs_per_epoch, state.settings.batch, dataset, start)


def check_start_map_tasks(dataset, start):
    """:func:`check_map_tasks` of the start's runner options, its words naming
    --start-map-tasks."""
    try:
        line = check_map_tasks(dataset, start)
    except TrainingError as e:
        raise TrainingError(str(e).replace("--map-tasks", "--start-map-tasks", 1)) from None
    return line and line.replace("--map-tasks", "--start-map-tasks", 1)


def phase_runner(state, runner):
    """The runner options of the epoch after ``state``'s: ``runner``, but on the run's start
    map tasks during its first ``start_epochs`` epochs (--start-map-tasks)."""
    if state.epoch < state.settings.start_epochs:
        return replace(runner, map_tasks=state.settings.start_map_tasks)
    return runner


def epoch_runner(state, runner, log=print):
    """The runner options for the rest of the epoch after ``state``: ``runner``, but resumed
    mid-epoch with the map tasks its rounds ran with. A round trains each map task's every
    K-th minibatch of its split, so the epoch's rounds cover the data once only if they all
    split it alike. Raises TrainingError if the rounds ran on another runner."""
    if not state.rounds or "runner" not in state.rounds[0]:  # rounds from before it was kept
        return runner
    started = state.rounds[0]
    where = (f"sync round {len(state.rounds)}/{state.settings.syncs_per_epoch} of epoch "
             f"{state.epoch + 1}")
    if started["runner"] != runner.runner:
        raise TrainingError(f"{where} ran on the {started['runner']} runner: finish the epoch "
                            f"with --runner {started['runner']} (the runners split the data "
                            "differently), then change it")
    if started["map_tasks"] == runner.map_tasks:
        return runner
    log(f"finishing epoch {state.epoch + 1} with the map tasks its rounds ran with "
        f"(--map-tasks {started['map_tasks'] or 'default'}); "
        f"--map-tasks {runner.map_tasks or 'default'} applies from the next epoch")
    return replace(runner, map_tasks=started["map_tasks"])


def run_round(state, dataset, options, max_bad=0.01, log=print, due=False):
    """Run the job of the epoch's next sync round (the whole epoch with ``syncs_per_epoch``
    1), scoring ``state``'s θ too if its validation is pending (only ever at an epoch's end,
    so in round 0); return the new (uncommitted) TrainingState, mid-epoch (the round added to
    ``rounds``) or at the epoch's end. due: the new epoch's θ is to be scored."""
    started = time.time()
    epoch = state.epoch + 1
    scores = Validation.pending(state)
    result = run_epoch_job(state, dataset, options, scores)
    job_seconds = time.time() - started
    if scores and result.output is not None:
        state = with_validation(state, result.output["valid"], epoch)
    out = epoch_output(result, epoch)
    valid_records = int(out["valid"]["records"]) if out["valid"] is not None else 0
    note = bad_record_report(result.counters, int(out["records"]) + valid_records, max_bad)
    if note:
        log(f"epoch {epoch}: {note}")
    trained = dict(theta=out["theta"], opt_state=unprefix_opt(out),
                   outer_state=unprefix_outer(out), data_version=dataset.fingerprint)
    rounds = state.rounds + [dict(round_summary(out, result.counters, job_seconds,
                                                time.time() - started),
                                  runner=options.runner, map_tasks=options.map_tasks)]
    if len(rounds) < state.settings.syncs_per_epoch:
        return replace(state, **trained, rounds=rounds)
    sums, counters, job_seconds, seconds = epoch_totals(rounds)
    check_no_record_lost(dataset.meta["counts"]["train"]["records"], int(sums["records"]),
                         result.counters)
    metrics = epoch_metrics(epoch, sums, counters, dataset, job_seconds, seconds, due)
    return replace(state, **trained, epoch=epoch, history=state.history + [metrics], rounds=[])


def score_newest(session, state):
    """Score the newest θ's pending validation with the scoring job, commit it, log it."""
    fault_point("kill-before-validation", state.epoch)
    session.check_data()
    sums, _ = score_validation(state, session.dataset, session.runner)
    state = with_validation(state, sums, state.epoch)
    session.commit(state)
    session.log(f"epoch {state.epoch}: valid {valid_text(state.history[-1])} (scoring job)")
    return state


def closing_line(state, epochs, patience, committed, where):
    """The last line of an invocation: why the run stopped early, or that there was nothing
    to do (None otherwise). ``where``: the run directory's URI."""
    if not state.rounds and stopped_early(state, patience):
        if committed:
            return (f"stopping early: {patience} epoch(s) without a better validation loss; "
                    f"the best is epoch {state.best_epoch()} (best.npz)")
        return (f"nothing to do: stopped early at epoch {state.epoch}, best "
                f"{state.best_epoch()} (--patience {patience}) in {where}")
    if state.epoch >= epochs and not committed:
        return f"nothing to do: {where} is at epoch {state.epoch} of {epochs}"
    return None


def resume_or_start(session, data, epochs, spec):
    """The run's newest TrainingState (checked against ``spec``) and the epochs to reach
    (``epochs``, or :func:`default_epochs` if None), or a new state."""
    run_store, dataset, log = session.run_store, session.dataset, session.log
    name, state, ckpt_bytes = resume_point(run_store)
    if state is None:
        refusal = foreign_files(run_store)
        if refusal:
            raise TrainingError(refusal)
        map_tasks = expected_map_tasks(dataset, session.runner)
        state = new_state(spec, dataset, data, map_tasks)
        check_syncs(state.settings.syncs_per_epoch, state.settings.batch, dataset, session.runner)
        check_start_tasks(state, dataset, session.runner, log)
        log(f"new run in {run_store.uri()}: {state.model.cell} hidden {state.model.hidden} x "
            f"{state.model.layers}, {state.theta.size:,} parameters, mode {state.settings.mode}")
        if state.settings.base_lr is not None:
            log(f"inner learning rate {state.settings.base_lr:g} x √{map_tasks} = "
                f"{state.optimizer.lr:.4g} for {map_tasks} map tasks (--lr-scaling "
                f"{state.settings.lr_scaling}; fixed for the run)")
        line = defaults_line(spec, dataset, default_epochs(state, dataset) if epochs is None
                             else None, map_tasks)
        if line:
            log(line)
        return state, epochs or default_epochs(state, dataset)
    check_resumable(state, spec, dataset)
    check_same_schema(state, dataset, "continue training on")
    check_syncs(state.settings.syncs_per_epoch, state.settings.batch, dataset, session.runner)
    check_start_tasks(state, dataset, session.runner, log)
    state = replace(state, settings=replace(state.settings, data=data,
                                            data_schema=dataset.schema()))
    repair(run_store, state, name, ckpt_bytes)
    if not (epochs or state.settings.default_epochs):   # a run from before they were kept
        epochs = default_epochs(state, dataset, expected_map_tasks(dataset, session.runner))
    epochs = epochs or default_epochs(state, dataset)
    if state.data_version != dataset.fingerprint and state.epoch < epochs:
        log(f"the data changed since epoch {state.epoch} (version {state.data_version[:12]} "
            f"-> {dataset.fingerprint[:12]}): continuing from the checkpoint on the new data")
    return state, epochs


def epoch_start(run_store, state):
    """The committed state the epoch of ``state`` started from: ``state`` itself at an
    epoch's end; mid-epoch (resumed from round.npz) the newest checkpoint's, read as
    :func:`resume_or_start` reads a state (None before the first epoch's commit)."""
    if not state.rounds:
        return state
    start = newest_checkpoint(run_store)[1]
    if start is None:
        return None
    return replace(start, settings=state.settings)


def stopped_early(state, patience):
    """Whether ``patience`` epochs (None: never) have passed since the best epoch."""
    return patience is not None and state.epoch - state.best_epoch() >= patience
