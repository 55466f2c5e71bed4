"""The epoch job from the driver's side: its arguments, what it asks of the cluster, and its
output put back together.

:func:`run_epoch_job` runs :class:`jobs.mr.train_epoch.MRTrainEpoch` once from a training
state (one sync round) on the chosen runner and returns θ assembled from the reducers'
slices (:func:`assemble_slices`). On Hadoop the job's containers are sized from |θ| and a
small job runs as an uber job (:mod:`jobs.hadoop.resources`); a failed uber job runs again
in task containers (:func:`retrying_an_uber_job_in_containers`). When the epoch job cannot
score validation in its map tasks (combined splits), :func:`score_validation` runs the
scoring job instead; both give the same bits (:mod:`jobs.mr.validation`).
"""
import bz2
import functools
import gzip
import math
import os
from dataclasses import replace

import numpy as np

from jobs.hadoop.launch import JobFailed, run_job_with_state
from jobs.hadoop.resources import default_reducers, memory_jobconf, split_jobconf, uber_jobconf
from jobs.mr.counters import COUNTERS
from jobs.mr.slices import Assembler
from jobs.mr.train_epoch import VALID_KEY, MRTrainEpoch, bytes_per_element
from jobs.mr.validation import valid_list_bytes
from jobs.run.checkpoint import FAULT_ENV
from jobs.run.state import prefix_opt, prefix_outer
from jobs.scoring import score_with_job
from jobs.training.metrics import NON_FINITE_ADVICE
from jobs.training.spec import TrainingError


DECOMPRESS = {".gz": gzip.open, ".bz2": bz2.open}   # the compressed files mrjob reads
LOCAL_MAP_TASKS = 4   # about the map tasks on the inline and local runners without --map-tasks,
                      # on any machine (θ in average mode depends on the pieces, not on cores)


def check_map_tasks(dataset, options):
    """Raise TrainingError if ``options.map_tasks`` asks the inline or local runner for more
    map tasks than the training split has records (a task reads whole records); else return
    the line saying how many run if that is not the number asked for (None otherwise)."""
    if options.runner == "hadoop" or not options.map_tasks:
        return None
    asked, records = options.map_tasks, dataset.meta["counts"]["train"]["records"]
    if asked > max(1, records):
        raise TrainingError(f"--map-tasks {asked}: the training split has {records} records and "
                            f"a map task reads whole records: at most {max(1, records)}")
    tasks = expected_map_tasks(dataset, options)
    if tasks > asked:
        return (f"--map-tasks {asked}: the {options.runner} runner runs {tasks} map tasks, one "
                "per training shard (it never joins files; prepare fewer --shards for fewer)")
    if tasks < asked:
        return (f"--map-tasks {asked}: the {options.runner} runner runs {tasks} map tasks (a task "
                f"reads whole records, and no cut of the training shards gives {asked})")
    return None


def steps_per_sync(records, map_tasks, batch, syncs=1):
    """The sequential minibatch steps of one of ``map_tasks`` map tasks per sync round when
    the training split's ``records`` chunks are spread evenly over them, ``batch`` chunks a
    minibatch, ``syncs`` rounds an epoch (each round takes every ``syncs``-th minibatch).
    Raises ValueError unless every argument is a number >= 1."""
    for name, value in (("records", records), ("map_tasks", map_tasks), ("batch", batch),
                        ("syncs", syncs)):
        if isinstance(value, bool) or not (isinstance(value, (int, float)) and value >= 1):
            raise ValueError(f"{name} must be a number >= 1, got {value!r}")
    return math.ceil(records / map_tasks / batch) / syncs


def steps_line(records, map_tasks, batch, syncs):
    """What N costs, logged before an average-mode run trains: the minibatch steps per task
    and sync round for ``map_tasks`` tasks and ``syncs`` rounds an epoch, against one task's
    epoch (see :func:`steps_per_sync`)."""
    steps = steps_per_sync(records, map_tasks, batch, syncs)
    one = steps_per_sync(records, 1, batch)
    shown = f"{steps:,.1f}".removesuffix(".0")
    return (f"average mode: {map_tasks} map task{'s' if map_tasks != 1 else ''}, {syncs} "
            f"sync{'s' if syncs != 1 else ''} per epoch: about {shown} minibatch steps per "
            f"task per sync (one task: {one:,.0f} an epoch); fewer steps per sync cost more "
            "epochs to the same loss (docs/scaling.md, \"Picking N\")")


def check_syncs(syncs, batch, dataset, options):
    """Raise TrainingError if ``syncs`` sync rounds an epoch, of minibatches of ``batch``
    chunks, leave a round with nothing to train on the inline or local runner: a round trains
    on one minibatch in ``syncs`` of each task's."""
    if options.runner == "hadoop" or syncs == 1:
        return
    most = max(-(-lines // batch) for lines in local_split(dataset, options.map_tasks)[1])
    if syncs > most:
        raise TrainingError(f"--syncs-per-epoch {syncs}: each sync round trains on minibatches "
                            f"of its own, and no map task reads more than {most} of {batch} "
                            f"chunks an epoch: at most {most}")


def local_split(dataset, map_tasks):
    """(S, lines of each piece) for mrjob's inline and local runners: the split size S that
    cuts the training shards into the most pieces not above ``map_tasks``, or one per shard
    if there are more shards; without ``map_tasks``, S is the training bytes over
    :data:`LOCAL_MAP_TASKS` (mrjob's own rule, as on a machine of 2 cores: about that many
    pieces, the cut every run on these runners was trained with before N was honoured).

    Reading the shards' lines is computed once per dataset version and N: every epoch job,
    scoring job and check of an invocation asks again."""
    paths = tuple(dataset.store.uri(name) for name in dataset.meta["train"])
    return _local_split(paths, dataset.fingerprint, map_tasks)


@functools.lru_cache(maxsize=8)
def _local_split(paths, fingerprint, map_tasks):
    """:func:`local_split` of the training shards at ``paths`` (``fingerprint``: the
    dataset's version, so a replaced dataset is read again)."""
    shards = [(line_ends(path), os.path.splitext(path)[1] in DECOMPRESS) for path in paths]

    def cut(split_bytes):  # mrjob never cuts a compressed file
        return [lines for ends, whole in shards
                for lines in ([len(ends)] if whole else pieces(ends, split_bytes))]
    if not map_tasks:
        split_bytes = max(1, sum(os.path.getsize(path) for path in paths) // LOCAL_MAP_TASKS)
        return split_bytes, cut(split_bytes)
    most = max(map_tasks, len(shards))
    # the pieces only get fewer as S grows; at the largest shard's size each shard is one
    low = 1
    high = max([1] + [int(ends[-1]) for ends, whole in shards if len(ends) and not whole])
    while low < high:
        middle = (low + high) // 2
        if len(cut(middle)) <= most:
            high = middle
        else:
            low = middle + 1
    return low, cut(low)


def line_ends(path):
    """The byte offsets at which the lines of the local file ``path`` end (of its
    decompressed lines if it is compressed)."""
    with DECOMPRESS.get(os.path.splitext(path)[1], open)(path, "rb") as f:
        return np.cumsum([len(line) for line in f], dtype=np.int64)


def pieces(ends, split_bytes):
    """The lines of each piece mrjob's inline and local runners cut a file whose lines end at
    ``ends`` into, for split size ``split_bytes`` >= 1: a new piece starts at a line once the
    current one holds that many bytes (an empty file is one empty piece)."""
    lines, first, start = [], 0, 0
    while first < len(ends):
        last = min(int(np.searchsorted(ends, start + split_bytes)), len(ends) - 1)
        lines.append(last + 1 - first)
        first, start = last + 1, ends[last]
    return lines or [0]


def local_cut_args(dataset, options):
    """The job args that make mrjob's inline and local runners cut the input into the pieces
    of :func:`local_split` (``--split-bytes``, see jobs.mr.validation); none on Hadoop."""
    if options.runner == "hadoop":
        return []
    return ["--split-bytes", str(local_split(dataset, options.map_tasks)[0])]


def expected_map_tasks(dataset, options):
    """The map tasks that train in an epoch job on ``options``: on Hadoop ``--map-tasks`` N
    (about N combined splits) or one per training shard; on the inline and local runners the
    pieces of :func:`local_split`."""
    if options.runner == "hadoop":
        return options.map_tasks or max(1, len(dataset.meta["train"]))
    return len(local_split(dataset, options.map_tasks)[1])


def epoch_job_settings(state, dataset, options, splits=("train",)):
    """(job args, RunnerOptions) of the epoch job reading the shards of ``splits``: --reducers
    R (the job sets its reduce tasks from it); on the inline and local runners the cut of
    :func:`local_split`; on Hadoop the jobconf for about N map tasks, containers sized for θ
    and, for a small job, an uber job (see jobs.hadoop.resources).

    N is ``options.map_tasks``; without it the splits are Hadoop's own (one per shard, or
    per HDFS block of a larger shard), about one task per shard. R is
    ``options.reducers`` or :func:`jobs.hadoop.resources.default_reducers`. Raises ClusterTooSmall
    before submission.
    """
    shards = dataset.meta["train"]
    map_tasks = options.map_tasks or max(1, len(shards))
    reducers = options.reducers or default_reducers(
        state.theta.size * bytes_per_element(state.model, state.optimizer), map_tasks)
    job_args = local_cut_args(dataset, options) + ["--reducers", str(reducers)]
    extra = []
    if options.runner == "hadoop":
        names = [name for split in splits for name in dataset.meta[split]]

        def input_bytes():
            return sum(dataset.store.size(name) for name in names)
        jobconf = {}  # mapreduce.job.reduces: the job's own, from --reducers
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
    settings (:func:`jobs.hadoop.resources.memory_jobconf`, :func:`jobs.hadoop.resources.uber_jobconf`;
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
    job_args = []
    if "fail-first-map-attempt" in os.environ.get(FAULT_ENV, "").split(","):
        job_args.append("--fail-first-attempt")  # test hook, see jobs.mr.task.TaskJob
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
    job_args, shards = local_cut_args(dataset, options), dataset.meta["valid"]

    def run(options):
        more = []
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

