"""``hadoop-rnn train``: iterate epochs of the MapReduce training job, checkpointing each.

One epoch = stage the training state, run :class:`jobs.mr_train_epoch.MRTrainEpoch` on the
chosen runner, check the new θ, evaluate it on the validation split, and commit: write
``ckpt-NNNNNN.npz`` then ``latest.npz`` (each atomically), then rewrite ``metrics.jsonl``
from the history stored in the checkpoint. The checkpoint is the only commit point, so a
driver killed anywhere either left epoch N fully committed or not at all; re-running the same
command continues from the newest checkpoint and ends bit-identical to an uninterrupted run.

The driver holds the run's lock (:mod:`jobs.lock`) from start to exit, so the same command can
be run from cron every few minutes: a second driver on a busy run exits with EXIT_LOCKED, a
driver on a finished run with EXIT_NOTHING_TO_DO. ``--max-epochs-per-run`` and
``--time-budget`` bound one invocation. See docs/operations.md.

Test hook: ``HADOOP_RNN_FAULT`` (see :func:`jobs.checkpoint.fault_point`) makes the driver
SIGKILL itself at a named point of the commit, or makes the first attempt of map task 0 fail.
"""
import contextlib
import os
import signal
import tempfile
import threading
import time

import numpy as np

from jobs.dataset import Dataset
from jobs.evaluation import split_loss
from jobs.launch import RUNNERS, RunnerOptions, run_job
from jobs.lock import DEFAULT_LEASE, LockHeld, RunLock
from jobs.checkpoint import FAULT_ENV, commit, newest_checkpoint, remove_leftovers, repair
from jobs.counters import BAD_BY_REASON, BAD_BY_SHARD, COUNTERS, failed_map_attempts
from jobs.mr_train_epoch import MRTrainEpoch
from jobs.storage import is_hdfs, open_store
from jobs.training_state import TrainingState
from rnn_core import ModelConfig, init_params
from rnn_core.optimizers import OptimizerConfig, init_state
from rnn_core.serialization import save_arrays


# Exit codes (documented in docs/operations.md for cron users); argparse usage errors exit 2.
EXIT_OK, EXIT_FAILED, EXIT_NOTHING_TO_DO, EXIT_LOCKED = 0, 1, 3, 4
EXIT_TERMINATED = 128 + signal.SIGTERM


DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "adagrad": 0.1, "rmsprop": 0.002, "adam": 0.002}

# Flags that define a run, with their defaults for a new run. On resume an omitted flag takes
# the checkpoint's value and a given one must match it.
MODEL_FLAGS = {"cell": "lstm", "hidden": 128, "layers": 1, "dtype": "float32"}
OPTIMIZER_FLAGS = {"optimizer": "adam", "lr": None, "momentum": 0.9, "nesterov": False,
                   "clip": 5.0, "clip_value": None, "schedule": "constant",
                   "decay_every": 10, "decay_rate": 0.5}
SETTINGS_FLAGS = {"mode": "average", "batch": 32, "bptt": 0, "seed": 0}


class TrainingError(RuntimeError):
    """An epoch could not be committed; the message says why and what to do."""


class Terminated(SystemExit):
    """SIGTERM arrived: unwinds like an exception (releasing the lock), exits with 143."""


def add_arguments(parser):
    parser.add_argument("--data", required=True, help="prepared dataset directory (local or hdfs://)")
    parser.add_argument("--run", required=True, help="run directory for checkpoints and metrics")
    parser.add_argument("--epochs", type=int, default=10,
                        help="total number of epochs to reach (re-running continues up to it)")
    parser.add_argument("--runner", choices=RUNNERS, default="inline")
    parser.add_argument("--mrjob-conf", help="mrjob.conf to use (default: conf/mrjob.conf)")
    parser.add_argument("--task-threads", type=int, default=1, help="BLAS threads per map task")
    parser.add_argument("--python-bin", help="Python interpreter for tasks (default: this one)")
    parser.add_argument("--max-bad-records", type=float, default=0.01,
                        help="fraction of bad records above which an epoch fails (default 0.01)")
    cron = parser.add_argument_group("scheduling (safe to re-run, e.g. from cron)")
    cron.add_argument("--max-epochs-per-run", type=int, metavar="N",
                      help="commit at most N epochs in this invocation, then exit 0")
    cron.add_argument("--time-budget", type=float, metavar="SECONDS",
                      help="don't start an epoch that would likely end after SECONDS from the "
                      "start (estimated from the last epoch's duration), exit 0 instead")
    cron.add_argument("--lock-lease", type=float, default=DEFAULT_LEASE, metavar="SECONDS",
                      help="a lock whose heartbeat is older than this is taken over (default "
                      f"{DEFAULT_LEASE:.0f}); a lock of a dead process on this host at once")
    cron.add_argument("--log", metavar="FILE", help="also append every line, timestamped, to FILE")
    model = parser.add_argument_group("model (fixed for a run)")
    model.add_argument("--cell", choices=["rnn", "lstm", "gru"])
    model.add_argument("--hidden", type=int)
    model.add_argument("--layers", type=int)
    model.add_argument("--dtype", choices=["float32", "float64"])
    opt = parser.add_argument_group("optimizer (fixed for a run)")
    opt.add_argument("--optimizer", choices=sorted(DEFAULT_LR))
    opt.add_argument("--lr", type=float, help="learning rate (default depends on the optimizer)")
    opt.add_argument("--momentum", type=float)
    opt.add_argument("--nesterov", action="store_const", const=True)
    opt.add_argument("--clip", type=float, help="clip gradients to this global L2 norm (0: off)")
    opt.add_argument("--clip-value", type=float, help="clip each gradient entry to ±this")
    opt.add_argument("--schedule", choices=["constant", "step"])
    opt.add_argument("--decay-every", type=int, help="step schedule: optimizer steps per decay")
    opt.add_argument("--decay-rate", type=float, help="step schedule: lr factor per decay")
    settings = parser.add_argument_group("training (fixed for a run)")
    settings.add_argument("--mode", choices=["gradient", "average"],
                          help="gradient: one exact step per epoch; average: parameter mixing")
    settings.add_argument("--batch", type=int, help="chunks per minibatch")
    settings.add_argument("--bptt", type=int, help="truncated BPTT window in steps (0: whole chunk)")
    settings.add_argument("--seed", type=int)


def _given(args, flags):
    return {name: getattr(args, name) for name in flags if getattr(args, name) is not None}


def new_state(args, dataset):
    """The training state of a fresh run: initial θ and optimizer state."""
    m = {**MODEL_FLAGS, **_given(args, MODEL_FLAGS)}
    o = {**OPTIMIZER_FLAGS, **_given(args, OPTIMIZER_FLAGS)}
    s = {**SETTINGS_FLAGS, **_given(args, SETTINGS_FLAGS), "data": args.data}
    model = ModelConfig(cell=m["cell"], hidden=m["hidden"], layers=m["layers"],
                        dtype=m["dtype"], **dataset.model_sizes())
    optimizer = OptimizerConfig(
        name=o["optimizer"], lr=o["lr"] if o["lr"] is not None else DEFAULT_LR[o["optimizer"]],
        momentum=o["momentum"], nesterov=o["nesterov"], clip_norm=o["clip"] or None,
        clip_value=o["clip_value"], schedule=o["schedule"], decay_every=o["decay_every"],
        decay_rate=o["decay_rate"])
    theta = init_params(model, seed=s["seed"])
    return TrainingState(model=model, optimizer=optimizer, settings=s, theta=theta,
                         opt_state=init_state(optimizer, theta), data_version=dataset.fingerprint)


def check_resumable(state, args, dataset):
    """Raise TrainingError if the flags given (or the data's sizes) contradict the checkpoint."""
    have = {**state.model.to_dict(), **state.settings, **state.optimizer.to_dict()}
    have.update(optimizer=state.optimizer.name, clip=state.optimizer.clip_norm or 0.0)
    wanted = {**_given(args, MODEL_FLAGS), **_given(args, OPTIMIZER_FLAGS),
              **_given(args, SETTINGS_FLAGS), **dataset.model_sizes()}
    if "clip" in wanted:
        wanted["clip"] = wanted["clip"] or 0.0
    differ = [f"{k}: checkpoint has {have.get(k)!r}, asked for {v!r}"
              for k, v in sorted(wanted.items()) if have.get(k) != v]
    if differ:
        raise TrainingError("the run directory holds a checkpoint of a different configuration ("
                            + "; ".join(differ) + "). Use a new --run directory, or drop the "
                            "conflicting flags to continue the existing run.")


def bad_record_report(counters, records, max_fraction):
    """A one-line summary of skipped records, or raise TrainingError above the threshold."""
    bad = counters.get(COUNTERS, {}).get("bad records", 0)
    if not bad:
        return ""
    reasons = ", ".join(f"{n} {r}" for r, n in sorted(counters.get(BAD_BY_REASON, {}).items()))
    shards = sorted(counters.get(BAD_BY_SHARD, {}).items(), key=lambda kv: -kv[1])
    where = ", ".join(f"{s} ({n})" for s, n in shards[:5])
    fraction = bad / max(bad + records, 1)
    message = f"skipped {bad} bad records ({fraction:.2%}: {reasons}) in {where}"
    if fraction > max_fraction:
        raise TrainingError(message + f"; above --max-bad-records {max_fraction:g}: "
                            "fix or re-prepare those shards")
    return message


def run_epoch(state, dataset, options, max_bad=0.01, log=print):
    """Run one epoch's job and validation; return the new (uncommitted) TrainingState."""
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="hadoop-rnn-state-") as tmp:
        state_file = os.path.join(tmp, "state.npz")
        save_arrays(state_file, state.to_arrays())
        s = state.settings
        job_args = ["--state", state_file, "--mode", s["mode"], "--batch", str(s["batch"]),
                    "--bptt", str(s["bptt"])]
        if "fail-first-map-attempt" in os.environ.get(FAULT_ENV, "").split(","):
            job_args.append("--fail-first-attempt")  # test hook, see MRTrainEpoch.mapper_init
        result = run_job(MRTrainEpoch, job_args, dataset.shard_uris("train"), options)
    job_seconds = time.time() - started
    counters = result.counters.get(COUNTERS, {})
    out = dict(result.output).get("result")
    if out is None or float(out["count"]) == 0:
        raise TrainingError("the epoch scored no training steps: is the training split empty "
                            "or every record bad?")
    note = bad_record_report(result.counters, int(out["records"]), max_bad)
    if note:
        log(f"epoch {state.epoch + 1}: {note}")
    train_loss = float(out["loss_sum"]) / float(out["count"])
    theta = out["theta"]
    if not (np.isfinite(train_loss) and np.all(np.isfinite(theta))):
        raise TrainingError(f"epoch {state.epoch + 1} gave a non-finite "
                            f"{'loss' if not np.isfinite(train_loss) else 'θ'}; it was not "
                            f"committed and the checkpoint stays at epoch {state.epoch}. Lower "
                            "--lr or clip the gradients (--clip) in a new run: this run's "
                            "configuration is fixed, so re-running it fails the same way.")
    valid_sum, valid_count, _ = split_loss(dataset, "valid", state.model, theta)
    epoch = state.epoch + 1
    metrics = {"epoch": epoch, "train_loss": train_loss,
               "valid_loss": valid_sum / valid_count if valid_count else None,
               "tokens": int(out["count"]), "records": int(out["records"]),
               "tokens_per_s": float(out["count"]) / job_seconds,
               "job_seconds": job_seconds,
               # summed over map tasks: BPTT work, without Hadoop's scheduling and I/O
               "task_compute_seconds": counters.get("compute milliseconds", 0) / 1000,
               "seconds": time.time() - started, "data_version": dataset.fingerprint,
               "bad_records": int(counters.get("bad records", 0)),
               "bad_records_by_reason": dict(result.counters.get(BAD_BY_REASON, {})),
               "failed_map_attempts": failed_map_attempts(result.counters)}
    opt_state = {k[len("opt."):]: v for k, v in out.items() if k.startswith("opt.")}
    return TrainingState(model=state.model, optimizer=state.optimizer, settings=state.settings,
                         theta=theta, opt_state=opt_state, epoch=epoch,
                         history=state.history + [metrics], data_version=dataset.fingerprint)


def progress_line(m, total):
    valid = "n/a" if m["valid_loss"] is None else f"{m['valid_loss']:.4f}"
    return (f"epoch {m['epoch']}/{total}  train {m['train_loss']:.4f}  valid {valid}  "
            f"{m['tokens_per_s']:,.0f} tok/s  {m['seconds']:.1f}s")


def train(args, log=print):
    """Hold the run's lock, run epochs until ``args.epochs`` are committed; return an exit code."""
    if is_hdfs(args.data) and args.runner != "hadoop":
        raise TrainingError(f"the {args.runner} runner reads local files only: use --runner "
                            "hadoop for data on HDFS (or copy the dataset to a local directory)")
    dataset = Dataset(args.data)
    run = open_store(args.run)
    try:
        lock = RunLock(run, lease=args.lock_lease).acquire()
    except LockHeld as e:
        log(f"not started: {e}")
        return EXIT_LOCKED
    try:
        return train_locked(args, dataset, run, lock, log)
    finally:
        lock.release()


def train_locked(args, dataset, run, lock=None, log=print):
    """:func:`train` once the lock is held."""
    started = time.monotonic()
    remove_leftovers(run)
    name, state, data = newest_checkpoint(run)
    if state is None:
        state = new_state(args, dataset)
        log(f"new run in {run.uri()}: {state.model.cell} hidden {state.model.hidden} x "
            f"{state.model.layers}, {state.theta.size:,} parameters, mode {state.settings['mode']}")
    else:
        check_resumable(state, args, dataset)
        state.settings["data"] = args.data
        repair(run, state, name, data)
        if state.data_version != dataset.fingerprint and state.epoch < args.epochs:
            log(f"the data changed since epoch {state.epoch} (version {state.data_version[:12]} "
                f"-> {dataset.fingerprint[:12]}): continuing from the checkpoint on the new data")
    if state.epoch >= args.epochs:
        log(f"nothing to do: {run.uri()} is at epoch {state.epoch} of {args.epochs}")
        return EXIT_NOTHING_TO_DO
    options = RunnerOptions(runner=args.runner, conf=args.mrjob_conf,
                            task_threads=args.task_threads, python_bin=args.python_bin)
    last = state.history[-1]["seconds"] if state.history else None
    done = 0
    while state.epoch < args.epochs:
        if not may_start_epoch(args, done, last, time.monotonic() - started, state, log):
            break
        epoch_started = time.monotonic()
        state = run_epoch(state, dataset, options, args.max_bad_records, log)
        commit(run, state, lock=lock)
        log(progress_line(state.history[-1], args.epochs))
        last, done = time.monotonic() - epoch_started, done + 1
    return EXIT_OK


def may_start_epoch(args, done, last, elapsed, state, log=print):
    """Whether this invocation may start another epoch under its limits (logs why not).

    ``done``: epochs committed by this invocation; ``last``: seconds the last epoch took
    (None if unknown); ``elapsed``: seconds since the invocation started.
    """
    where = f"at epoch {state.epoch} of {args.epochs}; run again to continue"
    if args.max_epochs_per_run is not None and done >= args.max_epochs_per_run:
        log(f"stopping after {done} epoch(s) (--max-epochs-per-run): {where}")
        return False
    if args.time_budget is None or last is None or elapsed + last <= args.time_budget:
        return True
    if done == 0:
        raise TrainingError(f"--time-budget {args.time_budget:g}s is too short for one epoch "
                            f"(the last took {last:.0f}s): nothing was started. Raise it.")
    log(f"stopping after {done} epoch(s): another (~{last:.0f}s) would overrun "
        f"--time-budget {args.time_budget:g}s ({elapsed:.0f}s used): {where}")
    return False


@contextlib.contextmanager
def sigterm_raises():
    """Turn SIGTERM into a :class:`Terminated` exception, so ``finally`` blocks run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(EXIT_TERMINATED)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def append_log(path, line):
    """Append ``line`` to the file ``path`` with a timestamp."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')} hadoop-rnn train: {line}\n")


def file_log(path):
    """A log function that prints a line and appends it, timestamped, to ``path``."""
    def log(line):
        print(line, flush=True)
        append_log(path, line)
    return log


def main(args):
    log = file_log(args.log) if args.log else print
    with sigterm_raises():
        try:
            return train(args, log=log)
        except Terminated:
            log("terminated by SIGTERM: the lock was released; the newest checkpoint is intact")
            raise
        except Exception as e:
            if args.log:  # the command line prints it to stderr; keep it in the log file too
                append_log(args.log, f"error: {e}")
            raise
