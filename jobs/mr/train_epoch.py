"""One training epoch as a MapReduce job: θ sliced over R reducers (a reduce-scatter).

Every map task loads the training state (θ, optimizer state, configs) shipped with the job,
reads its split of chunk records, accumulates in memory (in-mapper combining) and at the end
emits ONE record per slice of θ (:mod:`jobs.mr.slices`), keyed by the slice and tagged with
the task's number. Reducer r receives the slices s with ``s % R == r``, adds each slice's
records over the tasks in task order, applies the optimizer to its slice and writes it; the
driver assembles θ from the slices. No record line exceeds
:data:`jobs.mr.slices.RECORD_BUDGET`, whatever |θ|.

* ``--mode gradient``: a task's record holds ``grad`` (n_s,), its BPTT gradient summed over
  the split, with ``loss_sum``, ``count`` (scored steps) and ``records``. The reducer divides
  the summed gradient by the total count (the full-batch mean) and takes one optimizer step.
  With global-norm clipping (``clip_norm`` in the state) the norm of the WHOLE gradient is
  needed, so the job has a second step: step 1's reducers emit their slice's mean gradient
  and, to every slice, the squared sums of its norm blocks; step 2's reducer of a slice then
  has the exact global norm (summed in block order, so the same number for any R), clips
  and steps. Cost: a second job step (on Hadoop ~10-20 s of scheduling) that writes and
  shuffles the gradient once more (|θ| x itemsize x 4/3 bytes) plus S x S tiny norm records.
* ``--mode average`` (iterative parameter mixing): the task takes one optimizer step per
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
INCOMING θ (the state shipped with the job) using :class:`jobs.mr.loss_sums.LossSums`, and emits
ONE record ``valid`` {loss_sum, count, records}; a reducer adds those exactly
(:func:`jobs.mr.protocol.add_sums`) and writes one ``valid`` record next to the slices. So
the job of epoch N+1 reports θ_N's validation loss, without a second job.

Malformed records are skipped and counted (group ``hadoop-rnn``). Run standalone::

    python -m jobs.mr.train_epoch -r inline --state latest.npz data/train/*.txt
"""
import dataclasses
import time

import numpy as np
from mrjob.compat import jobconf_from_env
from mrjob.step import MRStep

from jobs.data.batches import iter_batches
from jobs.mr.chunk_mapper import ChunkMapperJob
from jobs.mr.counters import (COUNTERS, REDUCE_INPUT_BYTES, REDUCE_MILLISECONDS, TASK_PEAK_RSS,
                              peak_rss_kb)
from jobs.mr.outer import OuterConfig, outer_step
from jobs.mr.protocol import Record, SliceProtocol, add_sums
from jobs.mr.loss_sums import SCORE_BATCH, LossSums
from jobs.mr.slices import block_square_sums, global_norm, plan_slices, slice_of_key
from jobs.mr.validation import ValidationInputJob
from jobs.run.state import (OPT_PREFIX, prefix_opt, prefix_outer, read_state_configs,
                            read_state_file, read_state_range, unprefix_opt, unprefix_outer)
from rnn_core import loss_and_grad, num_params
from rnn_core.optimizers import SLOTS, apply, clip_by_value, init_state

# groups small files and blocks into splits of mapreduce.input.fileinputformat.split.maxsize
COMBINE_INPUT_FORMAT = "org.apache.hadoop.mapred.lib.CombineTextInputFormat"
MODES = ("gradient", "average")
DEFAULT_MODE = "average"
SCALARS = ("loss_sum", "count", "records")
VALID_KEY = "valid"  # the key of the validation sums (slice keys are digits)


def bytes_per_element(model, optimizer):
    """Bytes per element of θ in the largest record of a slice: θ, its optimizer slots and
    the outer optimizer's Δ (a reducer's output in average mode)."""
    return np.dtype(model.dtype).itemsize * (2 + len(SLOTS[optimizer.name]))


def slice_plan(model, optimizer, reducers):
    """The :class:`jobs.mr.slices.SlicePlan` of a run's θ for R reducers."""
    return plan_slices(num_params(model), bytes_per_element(model, optimizer), reducers)


def task_tag(prefix="t"):
    """This task's tag: ``prefix`` and its 6-digit task number (orders records by task)."""
    return f"{prefix}{int(jobconf_from_env('mapreduce.task.partition', '0')):06d}"


class MRTrainEpoch(ValidationInputJob, ChunkMapperJob):
    SORT_VALUES = True  # secondary sort on the record's tag: see SliceProtocol
    INTERNAL_PROTOCOL = SliceProtocol
    OUTPUT_PROTOCOL = SliceProtocol

    def configure_args(self):
        super().configure_args()
        self.add_file_arg("--state", required=True,
                          help="training state .npz (θ, optimizer state, configs)")
        self.add_split_reference_arg()
        self.add_valid_shards_arg()
        self.add_passthru_arg("--mode", choices=MODES, default=DEFAULT_MODE)
        self.add_passthru_arg("--batch", type=int, default=32, help="chunks per minibatch")
        self.add_passthru_arg("--bptt", type=int, default=0,
                              help="truncated BPTT window in steps (0: whole chunk)")
        self.add_passthru_arg("--reducers", type=int, default=1,
                              help="reduce tasks the slices of θ are spread over (set "
                              "mapreduce.job.reduces to the same number)")
        self.add_passthru_arg("--combine-splits", action="store_true",
                              help="Hadoop: read the input with CombineTextInputFormat (set the "
                              "split max size to get the number of map tasks you want)")
        self.add_passthru_arg("--fail-first-attempt", action="store_true",
                              help="test hook: the first attempt of map task 0 raises (Hadoop "
                              "re-runs it; see HADOOP_RNN_FAULT in jobs.training)")

    def load_args(self, args):
        super().load_args(args)
        if self.options.combine_splits and self.options.valid_shards:
            raise ValueError("--combine-splits and --valid-shards cannot go together: a task "
                             "of a combined split cannot tell which file a record came from "
                             "(see jobs.mr.validation)")

    def hadoop_input_format(self):
        return COMBINE_INPUT_FORMAT if self.options.combine_splits else None

    def steps(self):
        train = MRStep(mapper_init=self.mapper_init, mapper=self.mapper,
                       mapper_final=self.mapper_final, reducer_init=self.reducer_init,
                       reducer=self.reducer, reducer_final=self.reducer_final)
        if not self.clips_global_norm():
            return [train]
        return [train, MRStep(reducer_init=self.reducer_init, reducer=self.clip_and_step,
                              reducer_final=self.reducer_final)]

    def clips_global_norm(self):
        """Whether the epoch needs the norm step (gradient mode with a global-norm clip)."""
        return (self.options.mode == "gradient"
                and read_state_configs(self.options.state)[1].clip_norm is not None)

    # -- map ---------------------------------------------------------------------------

    def mapper_init(self):
        attempt = jobconf_from_env("mapreduce.task.attempt.id", "")
        if (self.options.fail_first_attempt and attempt.endswith("_0")
                and jobconf_from_env("mapreduce.task.partition") == "0"):
            raise RuntimeError(f"--fail-first-attempt: {attempt} fails on purpose (test hook)")
        self.state = read_state_file(self.options.state)
        if self.reads_validation():  # score the incoming θ, don't train
            self.scorer = LossSums(self.state.theta, self.state.model)
            self.start_chunks(self.state.model, SCORE_BATCH)
            return
        self.scorer = None
        self.theta = self.state.theta  # average mode replaces it with each step's result
        self.opt_state = self.state.opt_state
        if self.options.mode == "gradient":
            self.grad_sum = np.zeros(self.theta.shape, self.theta.dtype)
        self.loss_sum, self.count, self.records = np.zeros(()), np.zeros(()), np.zeros(())
        # this job's sync round k of K: the task trains on its minibatches b with b % K == k
        self.round = len(self.state.rounds)
        self.rounds = self.state.settings.get("syncs_per_epoch", 1)
        self.minibatch = 0  # the task's minibatches so far, in every round
        self.compute_seconds = 0.0  # time in BPTT and optimizer steps, for the epoch's metrics
        self.start_chunks(self.state.model, self.options.batch)

    def handle_chunks(self, chunks):
        """Run BPTT over one minibatch of chunks (if it is in this job's sync round) and add
        to the task's sums (or, in a validation task, add the chunks' loss under the incoming
        θ to the scorer's)."""
        if self.scorer is not None:
            self.scorer.add_chunks(chunks, self.batch_size)
            return
        in_round = self.minibatch % self.rounds == self.round
        self.minibatch += 1
        if not in_round:
            return
        cfg, bptt = self.state.model, (self.options.bptt or None)
        started = time.perf_counter()
        for inputs, targets, mask in iter_batches(chunks, cfg, self.batch_size):
            loss_sum, count, grad_sum = loss_and_grad(self.theta, cfg, inputs, targets, mask, bptt)
            self.loss_sum += loss_sum
            self.count += count
            self.records += len(inputs)
            # one counter update per minibatch: also tells Hadoop the task is alive
            self.increment_counter(COUNTERS, "minibatches")
            if self.options.mode == "gradient":
                self.grad_sum += grad_sum
            elif count > 0:
                self.theta, self.opt_state = apply(self.state.optimizer, self.theta,
                                                   grad_sum / count, self.opt_state)
        self.compute_seconds += time.perf_counter() - started

    def mapper_final(self):
        """Emit one record per slice: {"loss_sum", "count", "records"} and the slice of
        ``grad`` (gradient mode) or of ``theta`` and each ``opt.<slot>`` (average mode), each
        of shape (hi - lo,) in θ's dtype; the step counter ``opt.t`` as a 0-d array.
        A validation task emits one record instead: ``valid`` {loss_sum, count, records}."""
        self.flush_chunks()
        if self.scorer is not None:
            self.increment_counter(COUNTERS, "validation map tasks")
            yield VALID_KEY, Record(task_tag(), dict(self.scorer.sums))
            self.increment_counter(TASK_PEAK_RSS, task_tag("map "), peak_rss_kb())
            return
        self.increment_counter(COUNTERS, "map tasks")
        self.increment_counter(COUNTERS, "records", int(self.records))
        self.increment_counter(COUNTERS, "scored steps", int(self.count))
        self.increment_counter(COUNTERS, "compute milliseconds", round(self.compute_seconds * 1000))
        scalars = {"loss_sum": self.loss_sum, "count": self.count, "records": self.records}
        if self.options.mode == "gradient":
            vectors = {"grad": self.grad_sum}
        else:
            vectors = {"theta": self.theta}
            for name, value in prefix_opt(self.opt_state).items():
                (vectors if value.ndim else scalars)[name] = value
        plan = slice_plan(self.state.model, self.state.optimizer, self.options.reducers)
        tag = task_tag()
        for s in range(plan.count):
            lo, hi = plan.range(s)
            yield plan.key(s), Record(tag, {**scalars, **{name: value[lo:hi] for name, value
                                                            in vectors.items()}})
        self.increment_counter(TASK_PEAK_RSS, task_tag("map "), peak_rss_kb())

    # -- reduce ------------------------------------------------------------------------

    def reducer_init(self):
        self.model, self.optimizer, settings = read_state_configs(self.options.state)
        self.outer = OuterConfig.from_settings(settings)
        self.plan = slice_plan(self.model, self.optimizer, self.options.reducers)
        self.clips = self.clips_global_norm()
        self.counter_name = task_tag("reducer ")
        self.reduce_seconds = 0.0

    def reducer_final(self):
        name = f"{self.counter_name} step {self.options.step_num}"
        self.increment_counter(TASK_PEAK_RSS, name, peak_rss_kb())
        self.increment_counter(REDUCE_MILLISECONDS, name, round(self.reduce_seconds * 1000))
        return iter(())

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

    def reducer(self, key, records):
        if key == VALID_KEY:
            return self.add_validation(key, records)
        return self.timed(self.sum_and_step(key, records))

    def clip_and_step(self, key, records):
        if key == VALID_KEY:  # step 1 added them: pass them on
            return ((key, record) for record in self.counted(records))
        return self.timed(self.norm_and_step(key, records))

    def add_validation(self, key, records):
        """The validation tasks' sums added exactly: one record {loss_sum, count, records}."""
        yield key, Record(VALID_KEY, add_sums(r.arrays for r in self.counted(records)))

    def sum_and_step(self, key, records):
        """Sum slice ``key`` over the tasks; step (or, with the norm step, emit the mean
        gradient to step 2 and this slice's norm-block sums to every slice)."""
        s = slice_of_key(key)
        lo, hi = self.plan.range(s)
        start = read_state_range(self.options.state, lo, hi)
        total = sum_in_task_order(self.counted(records), start["theta"])
        scalars = {name: total[name] for name in SCALARS}
        count = float(total["count"])
        theta, opt_state, outer_state = start["theta"], unprefix_opt(start), unprefix_outer(start)
        if self.clips:  # gradient mode with the norm step, which clips and steps
            g = np.zeros_like(theta)  # nothing scored: θ stays (the driver reports it)
            if count > 0:
                g = (total["grad"] / count).astype(theta.dtype)
                if self.optimizer.clip_value is not None:
                    g = clip_by_value(g, self.optimizer.clip_value)
            # step 2 needs every slice's norm records, even when nothing was scored
            yield key, Record("g", {**scalars, "g": g})
            for other in range(self.plan.count):
                yield self.plan.key(other), Record(f"n{s:05d}",
                                                   {"block_sums": block_square_sums(g)})
            return
        if count > 0 and self.options.mode == "gradient":
            g = (total["grad"] / count).astype(theta.dtype)
            theta, opt_state = apply(self.optimizer, theta, g, opt_state)
        elif count > 0:
            # a state without Δ (written before the outer optimizer) averages plainly
            outer = self.outer if outer_state else OuterConfig()
            theta, delta = outer_step(outer, theta, total["theta"] / count,
                                      outer_state.get("delta"), int(total["tasks"]))
            outer_state = {"delta": delta} if outer_state else {}
            if outer.resets_inner_state(int(total["tasks"])):
                opt_state = init_state(self.optimizer, theta)
            else:
                opt_state = {name: average_slot(total[OPT_PREFIX + name], count, value.dtype)
                             for name, value in opt_state.items()}
        yield key, slice_result(lo, theta, opt_state, scalars, outer_state)

    def norm_and_step(self, key, records):
        """Step 2 of gradient mode with --clip: the slice's mean gradient (tag "g"), then the
        norm-block sums of every slice in slice order (tags "n00000", ...)."""
        s = slice_of_key(key)
        lo, hi = self.plan.range(s)
        records = self.counted(records)
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
