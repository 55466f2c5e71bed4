"""One training epoch as a MapReduce job: θ sliced over R reducers (a reduce-scatter).

Every map task loads the training state (θ, optimizer state, configs) shipped with the job,
reads its split of chunk records, accumulates in memory (in-mapper combining) and at the end
emits ONE record per slice of θ (:mod:`jobs.mr.slices`), keyed by the slice and tagged with
the task's number. Reducer r receives the slices s with ``s % R == r``, adds each slice's
records over the tasks in task order, applies the optimizer to its slice and writes it; the
driver assembles θ from the slices. No record line exceeds
:data:`jobs.mr.slices.RECORD_BUDGET`, whatever |θ|. R is ``--reducers``; the job sets its own
``mapreduce.job.reduces`` from it. Every run setting (mode, batch, bptt, sync rounds, the
outer optimizer, clipping) is read from the shipped state, never from job arguments.

The steps follow the run's mode (:meth:`MRTrainEpoch.steps`):

* gradient mode (:meth:`~MRTrainEpoch.emit_gradient_slices`,
  :meth:`~MRTrainEpoch.apply_mean_gradient`): a task's record holds ``grad`` (n_s,), its BPTT gradient summed over
  the split, with ``loss_sum``, ``count`` (scored steps) and ``records``. The reducer divides
  the summed gradient by the total count (the full-batch mean) and takes one optimizer step.
  With global-norm clipping (``clip_norm`` in the state) the norm of the WHOLE gradient is
  needed, so the job has a second step: step 1's reducers emit their slice's mean gradient
  and, to every slice, the squared sums of its norm blocks; step 2's reducer of a slice then
  has the exact global norm (summed in block order, so the same number for any R), clips
  and steps (:meth:`~MRTrainEpoch.emit_mean_gradient`, :meth:`~MRTrainEpoch.clip_and_apply`). Cost: a second job step (on Hadoop ~10-20 s of scheduling) that writes and
  shuffles the gradient once more (|θ| x itemsize x 4/3 bytes) plus S x S tiny norm records.
* average mode (iterative parameter mixing; :meth:`~MRTrainEpoch.emit_trained_slices`,
  :meth:`~MRTrainEpoch.take_outer_step`): the task takes one optimizer step per
  minibatch from θ over its split and sends its final ``theta`` and optimizer slots
  (``opt.<slot>``, in θ's dtype); the reducer hands the count-weighted mean change to the
  outer optimizer (block momentum, :mod:`jobs.mr.outer`, whose state ``outer.delta`` is
  sliced like θ) and keeps the count-weighted mean optimizer state (computed in float64),
  or a fresh one (``inner_state``, :mod:`jobs.mr.outer`).

Sync rounds: with ``syncs_per_epoch`` K > 1 in the state's settings an epoch is K jobs. The
job of round k (``len(state.rounds)``, the rounds of this epoch already done) trains on the
minibatches b of each task with b % K == k, b counting the task's minibatches as K = 1
would form them: the K rounds together see every minibatch once, in the same batches.

Determinism: a slice's records are added in task order (tag ``t<task number>``, secondary
sort through SORT_VALUES), each element in float64, and the optimizer is elementwise, so θ
after an epoch is bit-identical for every R and however tasks are scheduled or retried.
There is no combiner: it would add in an order of its own.

Validation in the same job: with ``--valid-shards`` (see :mod:`jobs.mr.validation`), a map task
whose input file is a validation shard does not train: it scores its records with the
INCOMING θ (the state shipped with the job) using :class:`jobs.mr.validation.ValidationScoring`, and emits
ONE record ``valid`` {loss_sum, count, records}; a reducer adds those exactly
(:func:`jobs.mr.protocol.add_sums`) and writes one ``valid`` record next to the slices. So
the job of epoch N+1 reports θ_N's validation loss, without a second job.

Malformed records are skipped and counted (group ``hadoop-rnn``). Run standalone::

    python -m jobs.mr.train_epoch -r inline --state latest.npz data/train/*.txt
"""
import dataclasses
import time

import numpy as np
from mrjob.step import MRStep

from jobs.data.batches import iter_batches
from jobs.mr.chunk_mapper import ChunkMapperJob
from jobs.mr.counters import (COUNTERS, REDUCE_INPUT_BYTES, REDUCE_MILLISECONDS, TASK_PEAK_RSS,
                              peak_rss_kb)
from jobs.mr.outer import OuterConfig, outer_step
from jobs.mr.protocol import Record, SliceProtocol, add_sums, task_tag
from jobs.mr.loss_sums import SCORE_BATCH
from jobs.mr.slices import block_square_sums, global_norm, plan_slices, slice_of_key
from jobs.mr.validation import ValidationInputJob, ValidationScoring
from jobs.run.state import (OPT_PREFIX, prefix_opt, prefix_outer, read_state_configs,
                            read_state_file, read_state_range, unprefix_opt, unprefix_outer)
from rnn_core import loss_and_grad, num_params
from rnn_core.optimizers import SLOTS, apply, clip_by_value, init_state

# groups small files and blocks into splits of mapreduce.input.fileinputformat.split.maxsize
COMBINE_INPUT_FORMAT = "org.apache.hadoop.mapred.lib.CombineTextInputFormat"
SCALARS = ("loss_sum", "count", "records")
VALID_KEY = "valid"  # the key of the validation sums (slice keys are digits)


def bytes_per_element(model, optimizer):
    """Bytes per element of θ in the largest record of a slice: θ, its optimizer slots and
    the outer optimizer's Δ (a reducer's output in average mode)."""
    return np.dtype(model.dtype).itemsize * (2 + len(SLOTS[optimizer.name]))


def slice_plan(model, optimizer, reducers):
    """The :class:`jobs.mr.slices.SlicePlan` of a run's θ for R reducers."""
    return plan_slices(num_params(model), bytes_per_element(model, optimizer), reducers)


class MRTrainEpoch(ValidationInputJob, ChunkMapperJob):
    """One epoch (one sync round) from the shipped training state; its steps follow the
    run's mode (:meth:`steps`). Every run setting comes from the state; ``--reducers`` R is
    the job's own (it sets ``mapreduce.job.reduces``, :meth:`jobconf`)."""

    SORT_VALUES = True  # secondary sort on the record's tag: see SliceProtocol
    INTERNAL_PROTOCOL = SliceProtocol
    OUTPUT_PROTOCOL = SliceProtocol

    def configure_args(self):
        super().configure_args()
        self.add_file_arg("--state", required=True,
                          help="training state .npz (θ, optimizer state, configs)")
        self.add_split_bytes_arg()
        self.add_valid_shards_arg()
        self.add_passthru_arg("--reducers", type=int, default=1,
                              help="reduce tasks the slices of θ are spread over")
        self.add_passthru_arg("--combine-splits", action="store_true",
                              help="Hadoop: read the input with CombineTextInputFormat (set the "
                              "split max size to get the number of map tasks you want)")

    def load_args(self, args):
        super().load_args(args)
        if self.options.combine_splits and self.options.valid_shards:
            raise ValueError("--combine-splits and --valid-shards cannot go together: a task "
                             "of a combined split cannot tell which file a record came from "
                             "(see jobs.mr.validation)")
        self.model, self.optimizer, self.settings = read_state_configs(self.options.state)

    def jobconf(self):
        return {**super().jobconf(), "mapreduce.job.reduces": str(self.options.reducers)}

    def hadoop_input_format(self):
        return COMBINE_INPUT_FORMAT if self.options.combine_splits else None

    def steps(self):
        mapper = dict(mapper_init=self.mapper_init, mapper=self.mapper,
                      mapper_final=self.mapper_final)
        reducer = dict(reducer_init=self.reducer_init, reducer_final=self.reducer_final)
        if self.settings.mode == "average":
            return [MRStep(**mapper, **reducer, reducer=self.slices_by(self.take_outer_step))]
        if not self.clips_global_norm():
            return [MRStep(**mapper, **reducer, reducer=self.slices_by(self.apply_mean_gradient))]
        return [MRStep(**mapper, **reducer, reducer=self.slices_by(self.emit_mean_gradient)),
                MRStep(**reducer, reducer=self.slices_by(self.clip_and_apply))]

    def clips_global_norm(self):
        """Whether the epoch has the norm step: gradient mode with a global-norm clip, which
        needs the norm of the whole gradient before any slice is clipped."""
        return self.settings.mode == "gradient" and self.optimizer.clip_norm is not None

    # -- map ---------------------------------------------------------------------------

    def mapper_init(self):
        self.state = read_state_file(self.options.state)
        if self.reads_validation():  # score the incoming θ, don't train
            self.scoring = ValidationScoring(self.state)
            self.start_chunks(self.state.model, SCORE_BATCH)
            return
        self.scoring = None
        self.theta = self.state.theta  # average mode replaces it with each step's result
        self.opt_state = self.state.opt_state
        if self.settings.mode == "gradient":  # the task's gradient sum: O(|θ|), this mode only
            self.grad_sum = np.zeros(self.theta.shape, self.theta.dtype)
        self.loss_sum, self.count, self.records = np.zeros(()), np.zeros(()), np.zeros(())
        # this job's sync round k of K: the task trains on its minibatches b with b % K == k
        self.round = len(self.state.rounds)
        self.minibatch = 0  # the task's minibatches so far, in every round
        self.compute_seconds = 0.0  # time in BPTT and optimizer steps, for the epoch's metrics
        self.start_chunks(self.state.model, self.settings.batch)

    def handle_chunks(self, chunks):
        """Run BPTT over one minibatch of chunks if it is in this job's sync round: add its
        gradient to the task's sum (gradient mode) or take an optimizer step (average mode).
        A validation task adds the chunks' loss under the incoming θ instead."""
        if self.scoring is not None:
            self.scoring.add(chunks, self.batch_size)
            return
        in_round = self.minibatch % self.settings.syncs_per_epoch == self.round
        self.minibatch += 1
        if not in_round:
            return
        started = time.perf_counter()
        for inputs, targets, mask in iter_batches(chunks, self.model, self.batch_size):
            loss_sum, count, grad_sum = loss_and_grad(self.theta, self.model, inputs, targets,
                                                      mask, self.settings.bptt or None)
            self.loss_sum += loss_sum
            self.count += count
            self.records += len(inputs)
            # one counter update per minibatch: also tells Hadoop the task is alive
            self.increment_counter(COUNTERS, "minibatches")
            if self.settings.mode == "gradient":
                self.grad_sum += grad_sum
            elif count > 0:
                self.theta, self.opt_state = apply(self.optimizer, self.theta,
                                                   grad_sum / count, self.opt_state)
        self.compute_seconds += time.perf_counter() - started

    def mapper_final(self):
        """Emit the task's result: one record per slice (:meth:`emit_gradient_slices` or
        :meth:`emit_trained_slices`), or a validation task's one ``valid`` record."""
        self.flush_chunks()
        if self.scoring is not None:
            self.increment_counter(COUNTERS, "validation map tasks")
            yield VALID_KEY, self.scoring.record()
        else:
            self.increment_counter(COUNTERS, "map tasks")
            self.increment_counter(COUNTERS, "records", int(self.records))
            self.increment_counter(COUNTERS, "scored steps", int(self.count))
            self.increment_counter(COUNTERS, "compute milliseconds",
                                   round(self.compute_seconds * 1000))
            if self.settings.mode == "gradient":
                yield from self.emit_gradient_slices()
            else:
                yield from self.emit_trained_slices()
        self.increment_counter(TASK_PEAK_RSS, task_tag("map "), peak_rss_kb())

    def emit_gradient_slices(self):
        """Gradient mode: per slice {"loss_sum", "count", "records", "grad"}: the slice of the
        task's gradient sum, (hi - lo,) in θ's dtype."""
        return self.emit_slices({"grad": self.grad_sum}, self.scalars())

    def emit_trained_slices(self):
        """Average mode: per slice the slice of the task's trained ``theta`` and of each
        optimizer slot ``opt.<slot>``, (hi - lo,) in θ's dtype; the step counter ``opt.t``
        (0-d) with the scalars."""
        vectors, scalars = {"theta": self.theta}, self.scalars()
        for name, value in prefix_opt(self.opt_state).items():
            (vectors if value.ndim else scalars)[name] = value
        return self.emit_slices(vectors, scalars)

    def scalars(self):
        return {"loss_sum": self.loss_sum, "count": self.count, "records": self.records}

    def emit_slices(self, vectors, scalars):
        plan = slice_plan(self.model, self.optimizer, self.options.reducers)
        tag = task_tag()
        for s in range(plan.count):
            lo, hi = plan.range(s)
            yield plan.key(s), Record(tag, {**scalars, **{name: value[lo:hi] for name, value
                                                            in vectors.items()}})

    # -- reduce ------------------------------------------------------------------------

    def reducer_init(self):
        self.outer = OuterConfig.from_settings(self.settings)
        self.plan = slice_plan(self.model, self.optimizer, self.options.reducers)
        self.counter_name = task_tag("reducer ")
        self.reduce_seconds = 0.0

    def reducer_final(self):
        name = f"{self.counter_name} step {self.options.step_num}"
        self.increment_counter(TASK_PEAK_RSS, name, peak_rss_kb())
        self.increment_counter(REDUCE_MILLISECONDS, name, round(self.reduce_seconds * 1000))
        return iter(())

    def slices_by(self, reduce_slice):
        """The reducer of a step whose slices ``reduce_slice(key, records)`` reduces (timed);
        the validation tasks' sums are added exactly (in the norm step: step 1's one record
        of them, added again to the same bits)."""
        def reducer(key, records):
            if key == VALID_KEY:
                return self.add_validation(key, self.counted(records))
            return self.timed(reduce_slice(key, self.counted(records)))
        reducer.__name__ = reduce_slice.__name__
        return reducer

    def counted(self, records):
        """The records, counting their line bytes into this reducer's byte counter."""
        size = 0
        for record in records:
            size += record.size
            yield record
        self.increment_counter(REDUCE_INPUT_BYTES, self.counter_name, size)

    def timed(self, outputs):
        """The outputs of a reduce call, its time added to this reducer's reduce time."""
        started = time.perf_counter()
        yield from outputs
        self.reduce_seconds += time.perf_counter() - started

    def add_validation(self, key, records):
        """The validation tasks' sums added exactly: one record {loss_sum, count, records}."""
        yield key, Record(VALID_KEY, add_sums(r.arrays for r in records))

    def summed(self, key, records):
        """(slice, the state's slice {"theta", "opt.<slot>", "outer.delta"}, the tasks'
        records summed in task order, the summed scalars)."""
        s = slice_of_key(key)
        lo, hi = self.plan.range(s)
        start = read_state_range(self.options.state, lo, hi)
        total = sum_in_task_order(records, start["theta"])
        return s, start, total, {name: total[name] for name in SCALARS}

    def apply_mean_gradient(self, key, records):
        """Gradient mode: the optimizer's step on slice ``key`` with the mean gradient."""
        s, start, total, scalars = self.summed(key, records)
        theta, opt_state = start["theta"], unprefix_opt(start)
        count = float(total["count"])
        if count > 0:  # nothing scored: θ stays (the driver reports it)
            g = (total["grad"] / count).astype(theta.dtype)
            theta, opt_state = apply(self.optimizer, theta, g, opt_state)
        yield key, slice_result(self.plan.range(s)[0], theta, opt_state, scalars,
                                unprefix_outer(start))

    def take_outer_step(self, key, records):
        """Average mode: the outer optimizer's step on slice ``key`` with the tasks' mean
        change, and the tasks' mean optimizer state (or a fresh one, ``inner_state``)."""
        s, start, total, scalars = self.summed(key, records)
        theta, opt_state, outer_state = start["theta"], unprefix_opt(start), unprefix_outer(start)
        count, tasks = float(total["count"]), int(total["tasks"])
        if count > 0:
            theta, delta = outer_step(self.outer, theta, total["theta"] / count,
                                      outer_state["delta"], tasks)
            outer_state = {"delta": delta}
            if self.outer.resets_inner_state(tasks):
                opt_state = init_state(self.optimizer, theta)
            else:
                opt_state = {name: average_slot(total[OPT_PREFIX + name], count, value.dtype)
                             for name, value in opt_state.items()}
        yield key, slice_result(self.plan.range(s)[0], theta, opt_state, scalars, outer_state)

    def emit_mean_gradient(self, key, records):
        """Gradient mode with a global-norm clip, step 1: slice ``key``'s mean gradient (tag
        "g", to its own step-2 reducer) and its norm-block sums (tag "n<slice>", to every
        slice), even when nothing was scored."""
        s, start, total, scalars = self.summed(key, records)
        g = np.zeros_like(start["theta"])  # nothing scored: θ stays (the driver reports it)
        if float(total["count"]) > 0:
            g = (total["grad"] / float(total["count"])).astype(g.dtype)
            if self.optimizer.clip_value is not None:
                g = clip_by_value(g, self.optimizer.clip_value)
        yield key, Record("g", {**scalars, "g": g})
        for other in range(self.plan.count):
            yield self.plan.key(other), Record(f"n{s:05d}", {"block_sums": block_square_sums(g)})

    def clip_and_apply(self, key, records):
        """Step 2: the slice's mean gradient (tag "g"), then the norm-block sums of every
        slice in slice order (tags "n00000", ...): clip by the exact global norm, step."""
        s = slice_of_key(key)
        lo, hi = self.plan.range(s)
        first = next(records)
        if first.tag != "g":
            raise ValueError(f"slice {s}: the norm step got {first.tag!r} before the gradient")
        blocks = [(r.tag, r.arrays["block_sums"]) for r in records]
        if [tag for tag, _ in blocks] != [f"n{i:05d}" for i in range(self.plan.count)]:
            raise ValueError(f"slice {s}: norm records {[t for t, _ in blocks]} are not one "
                             f"per slice in order")
        start = read_state_range(self.options.state, lo, hi)
        theta, opt_state = start["theta"], unprefix_opt(start)
        scalars = {name: first.arrays[name] for name in SCALARS}
        if float(first.arrays["count"]) > 0:
            g = first.arrays["g"]
            norm = global_norm(np.concatenate([sums for _, sums in blocks]))
            if norm > self.optimizer.clip_norm:  # as rnn_core.optimizers.clip_by_global_norm
                g = g * (self.optimizer.clip_norm / norm)
            unclipped = dataclasses.replace(self.optimizer, clip_norm=None, clip_value=None)
            theta, opt_state = apply(unclipped, theta, g, opt_state)
        yield key, slice_result(lo, theta, opt_state, scalars, unprefix_outer(start))


def sum_in_task_order(records, theta0):
    """Add the tasks' records of one slice in float64, in the order given (task order).

    Gradient mode: {"grad": Σ grad}; average mode: {"theta": Σ count·(θ_task - θ0),
    "opt.<slot>": Σ count·slot}; both with the sums of the scalars and "tasks", the number of
    records (map tasks) that scored steps. Shapes as the records'.
    Raises ValueError if the tags are not strictly increasing (the sort contract broke).
    """
    total, last_tag = None, None
    for record in records:
        if last_tag is not None and record.tag <= last_tag:
            raise ValueError(f"records out of task order: {record.tag!r} after {last_tag!r}")
        last_tag = record.tag
        arrays = record.arrays
        weight = float(arrays["count"])
        if total is None:
            total = {name: np.zeros(np.shape(value), np.float64) for name, value in arrays.items()}
            total["tasks"] = np.zeros((), np.float64)
        for name, value in arrays.items():
            value = np.asarray(value, np.float64)
            if name in SCALARS or name == "grad":
                total[name] += value
            elif name == "theta":
                total[name] += weight * (value - theta0)
            else:  # an optimizer slot, weighted by the task's scored steps
                total[name] += weight * value
        total["tasks"] += weight > 0
    if total is None:
        raise ValueError("a slice with no records")
    return total


def slice_result(lo, theta, opt_state, scalars, outer_state):
    """The output record of a slice: {"lo", "theta", "opt.<slot>"..., "outer.<name>"...,
    scalars}."""
    return Record("theta", {"lo": np.array(lo, np.int64), "theta": theta,
                            **prefix_opt(opt_state), **prefix_outer(outer_state), **scalars})


def average_slot(weighted_sum, count, dtype):
    """The count-weighted mean of an optimizer slot, in the slot's dtype (integers rounded)."""
    mean = weighted_sum / count
    return (mean if np.dtype(dtype).kind == "f" else np.rint(mean)).astype(dtype)


if __name__ == "__main__":
    MRTrainEpoch.run()
