"""Training: run epochs of the MapReduce job on a dataset, checkpointing each (``hadoop-rnn train``).

One epoch = stage the training state, run :class:`jobs.mr.train_epoch.MRTrainEpoch` on the
chosen runner, check the new θ, and commit: write ``ckpt-NNNNNN.npz`` then ``latest.npz``
(each atomically), then rewrite ``metrics.jsonl`` from the history stored in the checkpoint
(:mod:`jobs.run.checkpoint`). The checkpoint is the only commit point, so a driver killed
anywhere either left epoch N fully committed or not at all; calling :func:`train` again
continues from the newest checkpoint and ends bit-identical to an uninterrupted run. With
``syncs_per_epoch`` K > 1 (average mode) an epoch is K jobs, and each round but the last is
committed too (``round.npz``), so a run also resumes mid-epoch.

Validation runs on the cluster, one epoch late: the job of epoch N+1 also reads the
validation shards and scores θ_N on them in map tasks (the driver never reads them), so the
commit of epoch N+1 brings epoch N's validation loss. Epoch N's metrics line says
``"valid_pending": true`` until then. With sync rounds, only the job of round 0 scores (its
incoming θ is θ_N, the end of an epoch); the rounds' θ mid-epoch are never scored. θ_N is
scored by the scoring job (:class:`jobs.mr.score.MRScore`) instead when no epoch follows it
in this invocation: the last epoch of the run, an epoch after which ``patience`` may stop
the run, and the last epoch before a limit stops the invocation (a SIGTERM or a kill leaves
it to the next invocation). Both ways give the same bits (:mod:`jobs.mr.validation`).
``valid_every`` K scores only every K-th epoch's θ and the last; the others' ``valid_loss``
stays null. The run's best epoch (lowest validation loss) follows from the history in the
checkpoint, so ``best.npz`` and early stopping (``patience``) survive a resume
bit-identically too.

:func:`train` holds the run's lock (:mod:`jobs.run.lock`) from start to end, so the same
command can be run from cron every few minutes: a second driver on a busy run returns
``Outcome.LOCKED``, a driver on a finished run ``Outcome.NOTHING_TO_DO``. :class:`Limits`
bound one invocation. See docs/operations.md.

Test hook: ``HADOOP_RNN_FAULT`` (see :func:`jobs.run.checkpoint.fault_point`) makes the
driver SIGKILL itself at a named point of the commit, or makes the first attempt of map task
0 fail.
"""
import enum
import math
import os
import time
from dataclasses import dataclass, field, fields, replace

import numpy as np

from jobs.data.dataset import Dataset
from jobs.launch import JobFailed, RunnerOptions, run_job_with_state
from jobs.mr.counters import (BAD_BY_REASON, BAD_BY_SHARD, COUNTERS, TASK_PEAK_RSS,
                              TASKS_BY_NODE, failed_map_attempts, ran_as_uber_job,
                              reduce_input_bytes, task_peaks)
from jobs.mr.outer import AUTO, INNER_STATES, init_outer_state
from jobs.mr.slices import Assembler
from jobs.mr.train_epoch import (DEFAULT_MODE, MODES, VALID_KEY, MRTrainEpoch,
                                 bytes_per_element)
from jobs.mr.validation import valid_list_bytes
from jobs.resources import default_reducers, memory_jobconf, split_jobconf, uber_jobconf
from jobs.run.checkpoint import (FAULT_ENV, commit, fault_point, newest_checkpoint,
                                 remove_leftovers, repair, resume_point)
from jobs.run.lock import DEFAULT_LEASE, MIN_LEASE, LockHeld, RunLock
from jobs.run.state import TrainingState, prefix_opt, prefix_outer, unprefix_opt, unprefix_outer
from jobs.run.trained import check_same_schema
from jobs.scoring import score_with_job
from jobs.storage import is_hdfs, open_store
from rnn_core import ModelConfig, init_params
from rnn_core.optimizers import OptimizerConfig, init_state

DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "adagrad": 0.1, "rmsprop": 0.002, "adam": 0.002}


class TrainingError(RuntimeError):
    """An epoch could not be committed; the message says why and what to do."""


@dataclass(frozen=True)
class RunSpec:
    """The settings that define a run and are fixed for its life.

    Every field left None takes the default below for a new run (some depend on the data:
    :func:`data_defaults`), and the checkpoint's value when the run resumes; a field that is
    given must match the checkpoint. ``lr`` None means the optimizer's default
    (:data:`DEFAULT_LR`, the same for both kinds: Adam at 0.005 won on sunspots but lost to
    persistence on CO2, see README); ``clip`` 0 turns clipping off.
    """

    # the model
    cell: str = None         # "rnn", "lstm" or "gru"; default "lstm"
    hidden: int = None       # hidden units per layer; default 128
    layers: int = None       # stacked layers; default 1
    dtype: str = None        # "float32" or "float64"; default "float32"
    residual: str = None     # series: the base the network's output is added to, one of
                             # RESIDUALS: "ar" (the dataset's AR(p) forecast), "last" (the
                             # last value), "none"; default "ar" for series, "none" (the only
                             # choice) for text. True and False mean "last" and "none".
    # the optimizer (rnn_core.optimizers)
    optimizer: str = None    # default "adam"
    lr: float = None
    momentum: float = None   # default 0.9
    nesterov: bool = None    # default False
    clip: float = None       # global L2 norm; default 5.0
    clip_value: float = None
    schedule: str = None     # "constant" or "step"; default "constant"
    decay_every: int = None  # default 10
    decay_rate: float = None  # default 0.5
    weight_decay: float = None  # decoupled (AdamW-style) decay per step; default 0
    # the epoch job
    mode: str = None         # "gradient" or "average"; default DEFAULT_MODE
    batch: int = None        # chunks per minibatch; default 32 for text, from the data
                             # size for series
    bptt: int = None         # truncated BPTT window, 0 = whole chunk; default 0
    seed: int = None         # seed of θ's initialization; default 0
    # average mode: the outer optimizer (jobs.mr.outer) and the syncs per epoch
    outer_momentum: object = None  # block momentum η in [0, 1) or "auto" (1 - 1/N); default "auto"
    outer_lr: float = None         # block learning rate ζ > 0; default 1.0
    outer_nesterov: bool = None    # Nesterov block momentum; default True
    inner_state: str = None        # the tasks' optimizer states after a sync: "mean",
                                   # "reset" or "auto" (mean of one task, reset after
                                   # several); default "auto"
    syncs_per_epoch: int = None    # jobs (averaging points) per epoch; default 1

    def given(self, names):
        """{name: value} of the fields among ``names`` that are set."""
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


# The RunSpec fields of each group, with their defaults for a new run.
MODEL_DEFAULTS = {"cell": "lstm", "hidden": 128, "layers": 1, "dtype": "float32",
                  "residual": None}
OPTIMIZER_DEFAULTS = {"optimizer": "adam", "lr": None, "momentum": 0.9, "nesterov": False,
                      "clip": 5.0, "clip_value": None, "schedule": "constant",
                      "decay_every": 10, "decay_rate": 0.5, "weight_decay": 0.0}
SETTINGS_DEFAULTS = {"mode": DEFAULT_MODE, "batch": 32, "bptt": 0, "seed": 0,
                     "outer_momentum": AUTO, "outer_lr": 1.0, "outer_nesterov": True,
                     "inner_state": AUTO, "syncs_per_epoch": 1}
assert {f.name for f in fields(RunSpec)} == {**MODEL_DEFAULTS, **OPTIMIZER_DEFAULTS,
                                             **SETTINGS_DEFAULTS}.keys()

# The residual bases of a series model (rnn_core.config: residual, ar).
RESIDUALS = ("ar", "last", "none")


def residual_name(value):
    """"ar", "last" or "none" of a RunSpec's residual (True: "last", False: "none")."""
    if value is True or value is False:
        return "last" if value else "none"
    if value not in RESIDUALS:
        raise ValueError(f"residual must be one of {', '.join(RESIDUALS)}, got {value!r}")
    return value


def model_residual(model):
    """The residual base of a ModelConfig by name."""
    return "ar" if model.ar is not None else "last" if model.residual else "none"


def residual_config(name, dataset):
    """The ModelConfig fields (residual, ar) of the residual base ``name`` on ``dataset``."""
    name = residual_name(name)
    if name != "ar":
        return {"residual": name == "last"}
    if dataset.kind == "text":
        raise ValueError("residual 'ar' needs a series dataset")
    if "ar" not in dataset.meta:
        raise ValueError("residual 'ar' needs the AR(p) fit of the training part in the "
                         "dataset's meta.json: prepare the data again with this version")
    return {"residual": True, "ar": dataset.meta["ar"]["coef"]}


# Series defaults that depend on the data (text keeps the fixed ones above).
SERIES_HIDDEN = 32          # a series of a few hundred points cannot feed 128 units
SERIES_RESIDUAL = "ar"      # the network corrects the AR(p) forecast (README: the bench)
STEPS_PER_TASK = 32         # the default batch leaves at least this many steps per task and epoch
SERIES_STEPS = 2000         # the default epochs of a series run take about this many steps
SERIES_EPOCHS = (10, 100)   # ... within these bounds
TEXT_EPOCHS = 10


def records_per_task(dataset):
    """Training records a map task reads per epoch (one task per shard, on average)."""
    return dataset.meta["counts"]["train"]["records"] / max(len(dataset.shard_uris("train")), 1)


def data_defaults(spec, dataset):
    """({field: value}, why): the defaults of a new run's fields that depend on the data.

    Only fields the spec leaves None are chosen. Series: ``hidden`` 32, ``residual``
    :data:`SERIES_RESIDUAL` ("last" for a dataset prepared without an AR fit),
    ``batch`` so that every map task takes at least :data:`STEPS_PER_TASK` optimizer steps
    per epoch (1 to 32 chunks). Text: ``residual`` "none".
    """
    if dataset.kind == "text":
        return ({"residual": "none"} if spec.residual is None else {}), "text"
    records, per_task = dataset.meta["counts"]["train"]["records"], records_per_task(dataset)
    residual = SERIES_RESIDUAL if "ar" in dataset.meta else "last"   # (data before the AR fit)
    chosen = {"hidden": SERIES_HIDDEN, "residual": residual,
              "batch": int(np.clip(per_task // STEPS_PER_TASK, 1, 32))}
    chosen = {k: v for k, v in chosen.items() if getattr(spec, k) is None}
    return chosen, f"a series of {records:,} training chunks, {per_task:,.0f} per map task"


def default_epochs(state, dataset):
    """The epochs a run trains to when none are asked for: 10 for text; for a series about
    :data:`SERIES_STEPS` optimizer steps (per map task), 10 to 100 epochs."""
    if dataset.kind == "text":
        return TEXT_EPOCHS
    steps = max(1, -(-int(records_per_task(dataset)) // state.settings["batch"]))
    return int(np.clip(-(-SERIES_STEPS // steps), *SERIES_EPOCHS))


def check_range(name, value, low, high=None, low_open=False, integer=False):
    """Raise ValueError unless ``value`` is a finite number (an int if ``integer``) in range.

    The range is [low, high], or (low, high] with ``low_open``; ``high`` None: no bound.
    """
    ok = isinstance(value, int if integer else (int, float)) and not isinstance(value, bool)
    ok = ok and np.isfinite(value) and (value > low if low_open else value >= low)
    if not (ok and (high is None or value <= high)):
        kind = "an integer" if integer else "a number"
        bound = (f"> {low:g}" if low_open else f">= {low:g}") + (
            f" and <= {high:g}" if high is not None else "")
        raise ValueError(f"{name} must be {kind} {bound}, got {value!r}")


@dataclass(frozen=True)
class Limits:
    """What one invocation may do (cron settings; see docs/operations.md).

    ``max_epochs_per_run``: commit at most this many epochs, then stop (None: no limit).
    ``time_budget``: seconds; don't start an epoch that would likely end later than this
    after the start (estimated from the last epoch's duration). ``lock_lease``: seconds after
    which a lock without heartbeat is taken over. ``max_bad_records``: the fraction of bad
    records above which an epoch fails.
    """

    max_epochs_per_run: int = None
    time_budget: float = None
    lock_lease: float = DEFAULT_LEASE
    max_bad_records: float = 0.01

    def __post_init__(self):
        if self.max_epochs_per_run is not None:
            check_range("max_epochs_per_run", self.max_epochs_per_run, 1, integer=True)
        if self.time_budget is not None:
            check_range("time_budget", self.time_budget, 0, low_open=True)
        check_range("lock_lease", self.lock_lease, MIN_LEASE)
        check_range("max_bad_records", self.max_bad_records, 0, 1)


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


def defaults_line(spec, dataset, epochs=None):
    """The line a new series run logs: the defaults chosen from the data and why ("" if none).

    epochs: the number of epochs if it was chosen too (:func:`default_epochs`).
    """
    chosen, why = data_defaults(spec, dataset)
    if dataset.kind == "text":
        return ""
    if epochs is not None:
        chosen["epochs"] = epochs
    if not chosen:
        return ""
    return (f"defaults for {why}: " + ", ".join(f"{k} {v}" for k, v in chosen.items())
            + f" (batch: at least {STEPS_PER_TASK} steps per task and epoch; epochs: about "
            f"{SERIES_STEPS:,} steps; flags override)")


def run_configs(spec, dataset):
    """(model, optimizer, settings) of a new run of ``spec`` on ``dataset``.

    Fields the spec leaves None take the defaults, some chosen from the data
    (:func:`data_defaults`); ``inner_state`` is "mean" with a step schedule, whose step
    counter a reset would restart. Raises ValueError if a value of the spec is out of range
    (before anything is written).
    """
    chosen, _ = data_defaults(spec, dataset)

    def group(defaults):
        return {**defaults, **{k: v for k, v in chosen.items() if k in defaults},
                **spec.given(defaults)}

    model_flags, opt_flags = group(MODEL_DEFAULTS), group(OPTIMIZER_DEFAULTS)
    settings = group(SETTINGS_DEFAULTS)
    if settings["mode"] not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {settings['mode']!r}")
    check_range("batch", settings["batch"], 1, integer=True)
    check_range("bptt", settings["bptt"], 0, integer=True)
    check_range("seed", settings["seed"], 0, integer=True)
    momentum = settings["outer_momentum"]
    if momentum != AUTO and not (isinstance(momentum, (int, float)) and 0 <= momentum < 1):
        raise ValueError(f"outer_momentum must be {AUTO!r} or a number >= 0 and < 1, "
                         f"got {momentum!r}")
    check_range("outer_lr", settings["outer_lr"], 0, low_open=True)
    if settings["inner_state"] not in INNER_STATES:
        raise ValueError(f"inner_state must be one of {', '.join(INNER_STATES)}, got "
                         f"{settings['inner_state']!r}")
    if opt_flags["schedule"] != "constant" and settings["inner_state"] != "mean":
        # a reset restarts the step counter t, which the schedule counts
        if spec.inner_state is not None:
            raise ValueError(f"inner_state {settings['inner_state']!r} restarts the step "
                             "counter that the step schedule counts: use inner_state 'mean'")
        settings["inner_state"] = "mean"
    check_range("syncs_per_epoch", settings["syncs_per_epoch"], 1, integer=True)
    model_flags.update(residual_config(model_flags["residual"], dataset))
    model = ModelConfig(**model_flags, **dataset.model_sizes())
    name = opt_flags["optimizer"]
    if name not in DEFAULT_LR:
        raise ValueError(f"optimizer must be one of {', '.join(DEFAULT_LR)}, got {name!r}")
    optimizer = OptimizerConfig(
        name=name, lr=DEFAULT_LR[name] if opt_flags["lr"] is None else opt_flags["lr"],
        momentum=opt_flags["momentum"], nesterov=opt_flags["nesterov"],
        clip_norm=opt_flags["clip"] or None, clip_value=opt_flags["clip_value"],
        schedule=opt_flags["schedule"], decay_every=opt_flags["decay_every"],
        decay_rate=opt_flags["decay_rate"], weight_decay=opt_flags["weight_decay"])
    return model, optimizer, settings


def new_state(spec, dataset, data_uri):
    """The training state of a fresh run: initial θ and optimizer state.

    The settings record the dataset (``data``) and what the model depends on in it
    (``data_schema``: the vocabulary, or the columns and normalization).
    """
    model, optimizer, settings = run_configs(spec, dataset)
    settings.update(data=data_uri, data_schema=dataset.schema())
    theta = init_params(model, seed=settings["seed"])
    return TrainingState(model=model, optimizer=optimizer, settings=settings, theta=theta,
                         opt_state=init_state(optimizer, theta), data_version=dataset.fingerprint,
                         outer_state=outer_state_of(settings, theta))


def outer_state_of(settings, theta, outer_state=None):
    """The outer optimizer's state of a run in average mode: ``outer_state`` if given, else
    Δ = 0 (a new run, or a run from before the outer optimizer); {} in gradient mode."""
    if settings["mode"] != "average":
        return {}
    return outer_state or init_outer_state(theta)


def check_resumable(state, spec, dataset):
    """Raise TrainingError if the spec's given fields (or the data's sizes) contradict ``state``."""
    have = {**state.model.to_dict(), **state.settings, **state.optimizer.to_dict()}
    have.update(optimizer=state.optimizer.name, clip=state.optimizer.clip_norm or 0.0,
                residual=model_residual(state.model))
    wanted = {**spec.given(MODEL_DEFAULTS), **spec.given(OPTIMIZER_DEFAULTS),
              **spec.given(SETTINGS_DEFAULTS), **dataset.model_sizes()}
    if "clip" in wanted:
        wanted["clip"] = wanted["clip"] or 0.0
    if "residual" in wanted:
        wanted["residual"] = residual_name(wanted["residual"])
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


# -- one epoch -------------------------------------------------------------------------------

def local_cut_settings(dataset, options):
    """(job args, runner args) that make mrjob's inline and local runners cut the input as
    for the training shards alone (``--split-reference-bytes``, see jobs.mr.validation), into
    about ``options.map_tasks`` pieces if given; nothing on Hadoop."""
    if options.runner == "hadoop":
        return [], []
    train_bytes = sum(dataset.store.size(name) for name in dataset.meta["train"])
    extra = []
    if options.map_tasks:
        # mrjob's inline and local runners cut each file into pieces, about 2 x num_cores in
        # all; they never join files, so there are at least as many tasks as files
        extra = ["--num-cores", str(max(1, math.ceil(options.map_tasks / 2)))]
    return ["--split-reference-bytes", str(train_bytes)], extra


def epoch_job_settings(state, dataset, options, splits=("train",)):
    """(job args, RunnerOptions) of the epoch job reading the shards of ``splits``: --reducers
    R and, on Hadoop, the jobconf for R reduce tasks, about N map tasks, containers sized for
    θ and, for a small job, an uber job (see jobs.resources).

    N is ``options.map_tasks``; without it the splits are the runner's own (on Hadoop one
    per shard, or per HDFS block of a larger shard), about one task per shard. R is
    ``options.reducers`` or :func:`jobs.resources.default_reducers`. Raises ClusterTooSmall
    before submission.
    """
    shards = dataset.meta["train"]
    map_tasks = options.map_tasks or max(1, len(shards))
    reducers = options.reducers or default_reducers(
        state.theta.size * bytes_per_element(state.model, state.optimizer), map_tasks)
    job_args, extra = local_cut_settings(dataset, options)
    job_args += ["--reducers", str(reducers)]
    if options.runner == "hadoop":
        names = [name for split in splits for name in dataset.meta[split]]

        def input_bytes():
            return sum(dataset.store.size(name) for name in names)
        jobconf = {"mapreduce.job.reduces": reducers}
        if combines_splits(options):
            jobconf.update(split_jobconf(input_bytes(), map_tasks))
            job_args.append("--combine-splits")
        else:
            map_tasks = len(names)
        jobconf.update(hadoop_task_jobconf(state, input_bytes, map_tasks, reducers, options.uber))
        extra += jobconf_args(jobconf)
    return job_args, replace(options, extra_args=list(options.extra_args) + extra)


def hadoop_task_jobconf(state, input_bytes, map_tasks, reducers, uber):
    """Containers sized for ``state``'s θ and, if ``uber`` and the job is small, the uber-job
    settings (:func:`jobs.resources.memory_jobconf`, :func:`jobs.resources.uber_jobconf`;
    ``input_bytes``: a function, called only for a job that may be small)."""
    theta = state.theta
    small = uber_jobconf(input_bytes, map_tasks, reducers, theta.size, theta.nbytes) if uber else {}
    return {**memory_jobconf(theta.nbytes), **small}


def jobconf_args(jobconf):
    """mrjob's ``--jobconf NAME=VALUE`` arguments of a dict of settings."""
    return [arg for name, value in jobconf.items() for arg in ("--jobconf", f"{name}={value}")]


def combines_splits(options):
    """Whether the epoch job reads its input with CombineTextInputFormat (Hadoop with
    --map-tasks), where a map task cannot tell validation records apart (jobs.mr.validation)."""
    return options.runner == "hadoop" and bool(options.map_tasks)


def run_epoch_job(state, dataset, options, validate=False):
    """Run the epoch job from ``state``; return its JobResult, whose ``output`` is the
    assembled result (see :func:`assemble_slices`).

    validate: also score ``state``'s θ on the validation split; the output's ``valid`` then
    holds the sums {loss_sum, count, records}. Map tasks of the epoch job score them, except
    with combined splits (:func:`combines_splits`), where the scoring job runs after it.
    """
    settings = state.settings
    job_args = ["--mode", settings["mode"], "--batch", str(settings["batch"]),
                "--bptt", str(settings["bptt"])]
    if "fail-first-map-attempt" in os.environ.get(FAULT_ENV, "").split(","):
        job_args.append("--fail-first-attempt")  # test hook, see MRTrainEpoch.mapper_init
    in_job = validate and not combines_splits(options)
    splits = ("train", "valid") if in_job else ("train",)
    inputs, files = dataset.shard_uris("train"), {}
    if in_job:
        inputs += dataset.shard_uris("valid")
        files["--valid-shards"] = valid_list_bytes(dataset.shard_uris("valid"))

    def run(job_options):
        more_args, job_options = epoch_job_settings(state, dataset, job_options, splits)
        return run_job_with_state(MRTrainEpoch, state, job_args + more_args, inputs, job_options,
                                  files=files, collect=lambda pairs: assemble_slices(pairs, state))
    result = retrying_an_uber_job_in_containers(run, options)
    if validate and not in_job and result.output is not None:
        sums, bad = score_validation(state, dataset, options)
        result.output["valid"] = sums
        counters = result.counters.setdefault(COUNTERS, {})
        counters["bad records"] = counters.get("bad records", 0) + bad
    return result


def score_validation(state, dataset, options):
    """(sums {loss_sum, count, records}, bad records) of ``state``'s θ on the validation
    split, by the scoring job, cut into the epoch job's validation tasks."""
    job_args, extra = local_cut_settings(dataset, options)
    shards = dataset.meta["valid"]

    def run(options):
        more = list(extra)
        if options.runner == "hadoop":
            def input_bytes():
                return sum(dataset.store.size(name) for name in shards)
            more += jobconf_args(hadoop_task_jobconf(state, input_bytes, len(shards), 1,
                                                     options.uber))
        return score_with_job(state, dataset, "valid", replace(
            options, extra_args=list(options.extra_args) + more), job_args, detailed=False)
    return retrying_an_uber_job_in_containers(run, options)


def retrying_an_uber_job_in_containers(run, options):
    """``run(options)``, the JobResult of a job; if that job ran as an uber job and failed,
    ``run`` it again in task containers.

    Hadoop does not retry the tasks of an uber job (they run inside the ApplicationMaster):
    one failed task attempt fails the job. In task containers it retries a failed attempt
    (``mapreduce.map.maxattempts``), as for any job that is not small. The job's result does
    not depend on where its tasks ran.
    """
    try:
        return run(options)
    except JobFailed as failure:
        if not failure.uber:
            raise
        return run(replace(options, uber=False))


def assemble_slices(pairs, state):
    """The job's output slices put together, one at a time as they are read:
    {"theta": (n,), "opt.<slot>": (n,)..., "opt.t", "loss_sum", "count", "records",
    "valid": the validation sums {loss_sum, count, records} or None}, or None if the job
    wrote no slice. Raises TrainingError if slices are missing, overlap or disagree on the
    scalars."""
    vectors = {name: value.dtype for name, value in
               {"theta": state.theta, **prefix_opt(state.opt_state),
                **prefix_outer(state.outer_state)}.items() if value.ndim}
    assembler = Assembler(state.theta.size, vectors)
    scalars, valid = None, None
    for key, record in pairs:
        arrays = record.arrays
        if key == VALID_KEY:
            valid = arrays
            continue
        try:
            assembler.add(int(arrays["lo"]), arrays)
        except ValueError as e:
            raise TrainingError(f"{e}: the epoch was not committed") from None
        these = {name: value for name, value in arrays.items()
                 if name not in vectors and name != "lo"}
        if scalars is None:
            scalars = these
        elif these.keys() != scalars.keys() or any(
                not np.array_equal(these[name], scalars[name]) for name in scalars):
            raise TrainingError("the epoch job's slices disagree on the loss, counts or step "
                                "counter: the job's output is corrupt; the epoch was not "
                                "committed")
    if scalars is None:
        return None
    try:
        return {**assembler.result(), **scalars, "valid": valid}
    except ValueError as e:
        raise TrainingError(f"{e}: the epoch was not committed") from None


NON_FINITE_ADVICE = ("Lower --lr or clip the gradients (--clip) in a new run: this run's "
                     "configuration is fixed, so re-running it fails the same way.")


def epoch_output(result, epoch):
    """The job's assembled result: {"theta", "opt.<slot>"..., "loss_sum", "count", "records"}.

    Raises TrainingError if nothing was scored or θ or the loss are not finite.
    """
    out = result.output
    if out is None or float(out["count"]) == 0:
        raise TrainingError("the epoch scored no training steps: is the training split empty "
                            "or every record bad?")
    train_loss = float(out["loss_sum"]) / float(out["count"])
    if not np.isfinite(train_loss):
        raise_non_finite(epoch, "training loss")
    if not np.all(np.isfinite(out["theta"])):
        raise_non_finite(epoch, "θ")
    return out


def raise_non_finite(epoch, what):
    """The error of an epoch that diverged: nothing is committed."""
    raise TrainingError(f"epoch {epoch} gave a non-finite {what}; it was not committed and the "
                        f"checkpoint stays at epoch {epoch - 1}. {NON_FINITE_ADVICE}")


def has_validation(dataset):
    """Whether the dataset has validation records to score."""
    return bool(dataset.meta["valid"]) and dataset.meta["counts"]["valid"]["records"] > 0


def valid_due(epoch, epochs, valid_every):
    """Whether θ of ``epoch`` gets a validation loss: every ``valid_every``-th epoch's and the
    last one's (``epochs``, the run's target)."""
    return epoch % valid_every == 0 or epoch >= epochs


def pending(state):
    """Whether the newest epoch's validation loss is due but not known yet."""
    return bool(state.history) and bool(state.history[-1].get("valid_pending"))


def with_validation(state, sums, failed_epoch):
    """``state`` with its newest epoch's validation loss from the scoring ``sums`` ({loss_sum,
    count, ...}; None or count 0: no loss). Raises TrainingError if the loss is not finite:
    ``failed_epoch`` is the epoch that is then not committed."""
    count = float(sums["count"]) if sums is not None else 0.0
    loss = float(sums["loss_sum"]) / count if count else None
    if loss is not None and not np.isfinite(loss):
        what = (f"epoch {failed_epoch} was not committed" if failed_epoch > state.epoch
                else "the loss was not committed")
        raise TrainingError(f"θ of epoch {state.epoch} gives a non-finite validation loss; "
                            f"{what} and the checkpoint stays at epoch {state.epoch}. "
                            f"{NON_FINITE_ADVICE}")
    last = {k: v for k, v in state.history[-1].items() if k != "valid_pending"}
    return replace(state, history=state.history[:-1] + [{**last, "valid_loss": loss}])


def epoch_metrics(epoch, out, all_counters, dataset, job_seconds, seconds, due):
    """The metrics line of an epoch (see docs/operations.md, metrics.jsonl).

    out: {"loss_sum", "count", "records"} of the epoch; all_counters: its jobs' counters;
    ``due``: its θ's validation loss is to come (``valid_pending``).
    """
    counters = all_counters.get(COUNTERS, {})
    count = float(out["count"])
    shuffle_bytes, reducer_bytes_max = reduce_input_bytes(all_counters)
    return {"epoch": epoch, "train_loss": float(out["loss_sum"]) / count,
            "valid_loss": None, **({"valid_pending": True} if due else {}),
            "tokens": int(count), "records": int(out["records"]),
            "tokens_per_s": count / job_seconds, "job_seconds": job_seconds,
            # summed over map tasks: BPTT work, without Hadoop's scheduling and I/O
            "task_compute_seconds": counters.get("compute milliseconds", 0) / 1000,
            "seconds": seconds, "data_version": dataset.fingerprint,
            "bad_records": int(counters.get("bad records", 0)),
            "bad_records_by_reason": dict(all_counters.get(BAD_BY_REASON, {})),
            "failed_map_attempts": failed_map_attempts(all_counters),
            "uber": ran_as_uber_job(all_counters),  # tasks ran inside the Hadoop AM
            # which nodes ran the map tasks: {NodeManager (or host): tasks}
            "nodes": len(all_counters.get(TASKS_BY_NODE, {})),
            "tasks_by_node": dict(sorted(all_counters.get(TASKS_BY_NODE, {}).items())),
            # record bytes into the reducers (all reduce tasks / the largest one)
            "map_tasks": int(counters.get("map tasks", 0)),
            "shuffle_bytes": int(shuffle_bytes), "reducer_bytes_max": int(reducer_bytes_max),
            **task_peaks(all_counters)}


def round_summary(out, counters, job_seconds, seconds):
    """What a sync round adds to its epoch's metrics, as JSON (kept in the state's rounds)."""
    return {"loss_sum": float(out["loss_sum"]), "count": float(out["count"]),
            "records": int(out["records"]), "counters": counters,
            "job_seconds": job_seconds, "seconds": seconds}


def epoch_totals(rounds):
    """The epoch's sums over its rounds' summaries: (out, counters, job_seconds, seconds).

    Counters add up, except the per-task peaks (TASK_PEAK_RSS) and the map tasks of a job,
    which take the maximum over the rounds.
    """
    out = {name: sum(r[name] for r in rounds) for name in ("loss_sum", "count", "records")}
    counters = {}
    for r in rounds:
        for group, values in r["counters"].items():
            merged = counters.setdefault(group, {})
            for name, value in values.items():
                per_job = group == TASK_PEAK_RSS or (group, name) == (COUNTERS, "map tasks")
                merged[name] = (max(merged.get(name, value), value) if per_job
                                else merged.get(name, 0) + value)
    return (out, counters, sum(r["job_seconds"] for r in rounds),
            sum(r["seconds"] for r in rounds))


def run_epoch(state, dataset, options, max_bad=0.01, log=print, due=False):
    """Run the job of the epoch's next sync round (the whole epoch with ``syncs_per_epoch``
    1), scoring ``state``'s θ too if its validation is pending (only ever at an epoch's end,
    so in round 0); return the new (uncommitted) TrainingState, mid-epoch (the round added to
    ``rounds``) or at the epoch's end. due: the new epoch's θ is to be scored."""
    started = time.time()
    epoch = state.epoch + 1
    validate = pending(state)
    result = run_epoch_job(state, dataset, options, validate)
    job_seconds = time.time() - started
    if validate and result.output is not None:
        state = with_validation(state, result.output["valid"], epoch)
    out = epoch_output(result, epoch)
    valid_records = int(out["valid"]["records"]) if out["valid"] is not None else 0
    note = bad_record_report(result.counters, int(out["records"]) + valid_records, max_bad)
    if note:
        log(f"epoch {epoch}: {note}")
    trained = dict(theta=out["theta"], opt_state=unprefix_opt(out),
                   outer_state=unprefix_outer(out), data_version=dataset.fingerprint)
    rounds = state.rounds + [round_summary(out, result.counters, job_seconds,
                                           time.time() - started)]
    if len(rounds) < state.settings.get("syncs_per_epoch", 1):
        return replace(state, **trained, rounds=rounds)
    sums, counters, job_seconds, seconds = epoch_totals(rounds)
    metrics = epoch_metrics(epoch, sums, counters, dataset, job_seconds, seconds, due)
    return replace(state, **trained, epoch=epoch, history=state.history + [metrics], rounds=[])


def validate_newest(state, dataset, options):
    """``state`` with its pending validation loss, scored by the scoring job (uncommitted)."""
    fault_point("kill-before-validation", state.epoch)
    sums, _ = score_validation(state, dataset, options)
    return with_validation(state, sums, state.epoch)


def valid_text(m):
    """An epoch's validation loss as the progress lines show it."""
    if m.get("valid_pending"):
        return "(next job)"
    return "n/a" if m["valid_loss"] is None else f"{m['valid_loss']:.4f}"


def progress_line(m, total, previous=None):
    """The log line of a committed epoch's metrics ``m``; ``previous``: the metrics of the
    epoch before, whose validation loss this epoch's job scored (shown at the end)."""
    before = (f"  (epoch {previous['epoch']} valid {valid_text(previous)})"
              if previous is not None and previous["valid_loss"] is not None else "")
    return (f"epoch {m['epoch']}/{total}  train {m['train_loss']:.4f}  valid {valid_text(m)}  "
            f"{m['tokens_per_s']:,.0f} tok/s  {m['seconds']:.1f}s" + before)


# -- the run ---------------------------------------------------------------------------------

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
    run_store = open_store(run)
    existed = run_store.exists()
    if existed and not run_store.is_dir():
        raise TrainingError(f"--run {run_store.uri()} is a file, not a run directory")
    try:
        lock = RunLock(run_store, lease=limits.lock_lease).acquire()
    except LockHeld as e:
        log(f"not started: {e}")
        return TrainResult(Outcome.LOCKED)
    try:
        return train_locked(dataset, data, run_store, epochs, spec, runner, limits, lock, log,
                            patience, valid_every)
    finally:
        lock.release()
        if not existed:  # a new run that failed before its first commit leaves nothing
            run_store.remove_if_empty()


def resume_or_start(run_store, dataset, data, epochs, spec, log=print):
    """The run's newest TrainingState (checked against ``spec``) and the epochs to reach
    (``epochs``, or :func:`default_epochs` if None), or a new state."""
    name, state, ckpt_bytes = resume_point(run_store)
    if state is None:
        state = new_state(spec, dataset, data)
        log(f"new run in {run_store.uri()}: {state.model.cell} hidden {state.model.hidden} x "
            f"{state.model.layers}, {state.theta.size:,} parameters, mode {state.settings['mode']}")
        line = defaults_line(spec, dataset, default_epochs(state, dataset) if epochs is None
                             else None)
        if line:
            log(line)
        return state, epochs or default_epochs(state, dataset)
    check_resumable(state, spec, dataset)
    check_same_schema(state, dataset, "continue training on")
    state.settings.update(data=data, data_schema=dataset.schema())
    state.outer_state = outer_state_of(state.settings, state.theta, state.outer_state)
    repair(run_store, state, name, ckpt_bytes)
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
    return replace(start, settings=state.settings,
                   outer_state=outer_state_of(state.settings, start.theta, start.outer_state))


def stopped_early(state, patience):
    """Whether ``patience`` epochs (None: never) have passed since the best epoch."""
    return patience is not None and state.epoch - state.best_epoch() >= patience


def train_locked(dataset, data, run_store, epochs, spec, runner, limits, lock=None, log=print,
                 patience=None, valid_every=1):
    """:func:`train` once the lock is held.

    The newest θ's pending validation is scored by the scoring job (:func:`validate_newest`)
    when no epoch job of this invocation follows it: before deciding whether ``patience``
    stops the run, and when the run's target is reached or a limit stops the invocation.
    """
    started = time.monotonic()
    remove_leftovers(run_store)
    state, epochs = resume_or_start(run_store, dataset, data, epochs, spec, log)
    first = state.epoch
    start = epoch_start(run_store, state)  # the committed state the epoch starts from
    last = state.history[-1]["seconds"] if state.history else None
    committed = False  # whether this invocation committed anything
    while True:
        # resumed mid-epoch (round.npz): the epoch was started, so the target and patience
        # do not stop it, as they did not in an uninterrupted run; the limits may
        epoch, mid = state.epoch, bool(state.rounds)
        if not mid and pending(state) and stopped_early(state, patience):  # unless θ is a
            state, committed = validate_and_commit(state, dataset, runner, run_store, lock,
                                                   log), True  # new best
        why = []  # a limit's message, logged after the last validation
        stop = ((not mid and (epoch >= epochs or stopped_early(state, patience)))
                or not may_start_epoch(limits, epochs, epoch - first, last,
                                       time.monotonic() - started, epoch, why.append))
        if stop:
            if not mid and pending(state):
                state = validate_and_commit(state, dataset, runner, run_store, lock, log)
                committed = True
            for line in why:
                log(line)
            break
        epoch_started = time.monotonic()
        due = has_validation(dataset) and valid_due(epoch + 1, epochs, valid_every)
        if not mid:
            start = state
        state = run_epoch(state, dataset, runner, limits.max_bad_records, log, due)
        commit(run_store, state, lock=lock, previous=start)
        committed = True
        while state.rounds:  # mid-epoch: each sync round was committed (round.npz)
            log(f"epoch {epoch + 1}/{epochs}: sync round {len(state.rounds)}/"
                f"{state.settings['syncs_per_epoch']} committed")
            state = run_epoch(state, dataset, runner, limits.max_bad_records, log, due)
            commit(run_store, state, lock=lock, previous=start)
        log(progress_line(state.history[-1], epochs,
                          state.history[-2] if start is not None and pending(start) else None))
        last = time.monotonic() - epoch_started
    if not state.rounds and stopped_early(state, patience):
        log((f"stopping early: {patience} epoch(s) without a better validation loss; the best "
             f"is epoch {state.best_epoch()} (best.npz)") if committed else
            (f"nothing to do: stopped early at epoch {state.epoch}, best {state.best_epoch()} "
             f"(--patience {patience}) in {run_store.uri()}"))
    elif state.epoch >= epochs and not committed:
        log(f"nothing to do: {run_store.uri()} is at epoch {state.epoch} of {epochs}")
    if not committed:
        return TrainResult(Outcome.NOTHING_TO_DO, state.epoch)
    # this invocation's epochs, with the validation losses that came after their commit
    return TrainResult(Outcome.TRAINED, state.epoch, state.history[first:])


def validate_and_commit(state, dataset, runner, run_store, lock, log):
    """Score the newest θ's pending validation (:func:`validate_newest`), commit it, log it."""
    state = validate_newest(state, dataset, runner)
    commit(run_store, state, lock=lock)
    log(f"epoch {state.epoch}: valid {valid_text(state.history[-1])} (scoring job)")
    return state


def may_start_epoch(limits, epochs, done, last, elapsed, epoch, log=print):
    """Whether this invocation may start another epoch under its limits (logs why not).

    ``epochs``: the target; ``done``: epochs committed by this invocation; ``last``: seconds
    the last epoch took (None if unknown); ``elapsed``: seconds since the invocation started;
    ``epoch``: the run's current epoch.
    """
    where = f"at epoch {epoch} of {epochs}; run again to continue"
    if limits.max_epochs_per_run is not None and done >= limits.max_epochs_per_run:
        log(f"stopping after {done} epoch(s) (--max-epochs-per-run): {where}")
        return False
    budget = limits.time_budget
    if budget is None or last is None or elapsed + last <= budget:
        return True
    if done == 0:
        raise TrainingError(f"--time-budget {budget:g}s is too short for one epoch "
                            f"(the last took {last:.0f}s): nothing was started. Raise it.")
    log(f"stopping after {done} epoch(s): another (~{last:.0f}s) would overrun "
        f"--time-budget {budget:g}s ({elapsed:.0f}s used): {where}")
    return False
