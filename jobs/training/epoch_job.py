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


LOCAL_CORES = 2   # mrjob's num_cores on the inline and local runners without --map-tasks: 4
                  # map tasks on any machine, so that θ does not depend on its cores


def local_cores(options):
    """The num_cores mrjob's inline and local runners are given: they cut each file into
    pieces, about 2 x num_cores in all (they never join files, so there are at least as many
    tasks as files)."""
    return max(1, math.ceil(options.map_tasks / 2)) if options.map_tasks else LOCAL_CORES


def local_cut_settings(dataset, options):
    """(job args, runner args) that make mrjob's inline and local runners cut the input as
    for the training shards alone (``--split-reference-bytes``, see jobs.mr.validation), into
    about ``options.map_tasks`` pieces if given, else 2 x :data:`LOCAL_CORES`; nothing on
    Hadoop."""
    if options.runner == "hadoop":
        return [], []
    train_bytes = sum(dataset.store.size(name) for name in dataset.meta["train"])
    return (["--split-reference-bytes", str(train_bytes)],
            ["--num-cores", str(local_cores(options))])


def expected_map_tasks(dataset, options):
    """The map tasks that train in an epoch job on ``options``: on Hadoop ``--map-tasks`` N
    (about N combined splits) or one per training shard; on the inline and local runners
    the pieces mrjob cuts the (local) training shards into, counted by its rule: a piece
    closes once it holds B = (training bytes) / (2 x num_cores) bytes, at a line's end."""
    if options.runner == "hadoop":
        return options.map_tasks or max(1, len(dataset.meta["train"]))
    names = dataset.meta["train"]
    piece = sum(dataset.store.size(name) for name in names) // (2 * local_cores(options))
    return sum(pieces_of(dataset.store.uri(name), piece) for name in names) or 1


def pieces_of(path, piece):
    """The pieces mrjob's inline and local runners cut a local file into (an empty file is
    one): a new piece starts at a line once the current one holds ``piece`` bytes."""
    pieces, held = 1, 0
    with open(path, "rb") as f:
        for line in f:
            if held >= piece:
                pieces, held = pieces + 1, 0
            held += len(line)
    return pieces


def epoch_job_settings(state, dataset, options, splits=("train",)):
    """(job args, RunnerOptions) of the epoch job reading the shards of ``splits``: --reducers
    R (the job sets its reduce tasks from it) and, on Hadoop, the jobconf for about N map
    tasks, containers sized for θ and, for a small job, an uber job (see
    jobs.hadoop.resources).

    N is ``options.map_tasks``; without it the splits are the runner's own (on Hadoop one
    per shard, or per HDFS block of a larger shard), about one task per shard. R is
    ``options.reducers`` or :func:`jobs.hadoop.resources.default_reducers`. Raises ClusterTooSmall
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

