"""One training epoch as a MapReduce job.

Every map task loads the training state (θ, optimizer state, configs) shipped with the job,
reads its split of chunk records, and emits ONE record of sums (in-mapper combining), all
under one key, so a single reducer call sees them all:

* ``--mode gradient``: BPTT gradient sum, loss sum and scored-step count over the split. The
  reducer divides by the total count (so shards of any size give the full-batch mean
  gradient) and applies one optimizer step.
* ``--mode average`` (iterative parameter mixing): the task takes one optimizer step per
  minibatch from θ over its split and emits its parameter change and optimizer state, weighted
  by its scored-step count; the reducer applies the weighted average change.

Malformed records are skipped and counted (group ``hadoop-rnn``). Run standalone::

    python -m jobs.mr_train_epoch -r inline --state latest.npz data/train/*.txt
"""
import time

import numpy as np
from mrjob.compat import jobconf_from_env
from mrjob.job import MRJob

from jobs.batches import iter_batches, read_chunk
from jobs.counters import COUNTERS, count_bad_record, current_shard
from jobs.protocol import ArraysProtocol, add_sums
from jobs.records import BadRecord
from jobs.training_state import TrainingState
from rnn_core import loss_and_grad
from rnn_core.optimizers import apply
from rnn_core.serialization import load_arrays


class MRTrainEpoch(MRJob):
    SORT_VALUES = True  # see "reduce" below
    INTERNAL_PROTOCOL = ArraysProtocol
    OUTPUT_PROTOCOL = ArraysProtocol

    def configure_args(self):
        super().configure_args()
        self.add_file_arg("--state", required=True,
                          help="training state .npz (θ, optimizer state, configs)")
        self.add_passthru_arg("--mode", choices=["gradient", "average"], default="gradient")
        self.add_passthru_arg("--batch", type=int, default=32, help="chunks per minibatch")
        self.add_passthru_arg("--bptt", type=int, default=0,
                              help="truncated BPTT window in steps (0: whole chunk)")
        self.add_passthru_arg("--fail-first-attempt", action="store_true",
                              help="test hook: the first attempt of map task 0 raises (Hadoop "
                              "re-runs it; see HADOOP_RNN_FAULT in jobs.driver)")

    def load_state(self):
        self.state = TrainingState.from_arrays(load_arrays(self.options.state))

    # -- map ---------------------------------------------------------------------------

    def mapper_init(self):
        attempt = jobconf_from_env("mapreduce.task.attempt.id", "")
        if (self.options.fail_first_attempt and attempt.endswith("_0")
                and jobconf_from_env("mapreduce.task.partition") == "0"):
            raise RuntimeError(f"--fail-first-attempt: {attempt} fails on purpose (test hook)")
        self.load_state()
        self.theta = self.state.theta.copy()
        self.opt_state = self.state.opt_state
        self.sums = {"loss_sum": np.zeros(()), "count": np.zeros(()), "records": np.zeros(()),
                     "step": np.zeros(self.theta.shape, self.theta.dtype)}
        self.pending = []
        self.compute_seconds = 0.0  # time in BPTT and optimizer steps, for the epoch's metrics
        self.shard = current_shard()

    def mapper(self, _, line):
        try:
            chunk = read_chunk(line, self.state.model)
        except BadRecord as bad:
            count_bad_record(self, bad, self.shard)
            return
        self.pending.append(chunk)
        if len(self.pending) == self.options.batch:
            self.train_on_pending()

    def train_on_pending(self):
        """Run BPTT over the buffered chunks (one minibatch) and add to the task's sums."""
        cfg, bptt = self.state.model, (self.options.bptt or None)
        started = time.perf_counter()
        for inputs, targets, mask in iter_batches(self.pending, cfg, self.options.batch):
            loss_sum, count, grad_sum = loss_and_grad(self.theta, cfg, inputs, targets, mask, bptt)
            self.sums["loss_sum"] += loss_sum
            self.sums["count"] += count
            self.sums["records"] += len(inputs)
            # one counter update per minibatch: also tells Hadoop the task is alive
            self.increment_counter(COUNTERS, "minibatches")
            if self.options.mode == "gradient":
                self.sums["step"] += grad_sum
            elif count > 0:
                self.theta, self.opt_state = apply(self.state.optimizer, self.theta,
                                                   grad_sum / count, self.opt_state)
        self.pending = []
        self.compute_seconds += time.perf_counter() - started

    def mapper_final(self):
        self.train_on_pending()
        self.increment_counter(COUNTERS, "records", int(self.sums["records"]))
        self.increment_counter(COUNTERS, "scored steps", int(self.sums["count"]))
        self.increment_counter(COUNTERS, "compute milliseconds", round(self.compute_seconds * 1000))
        if self.options.mode == "average":
            # weight this task's parameter change and optimizer state by its scored steps
            weight = self.sums["count"]
            self.sums["step"] = (self.theta - self.state.theta) * weight
            for name, value in self.opt_state.items():
                self.sums["opt." + name] = np.asarray(value, dtype=np.float64) * weight
        yield "sums", self.sums

    # -- reduce ------------------------------------------------------------------------
    # Float addition is not associative, so the order in which the reducer adds the tasks'
    # records decides the last bits of θ. SORT_VALUES makes Hadoop (and mrjob's runners) hand
    # them over sorted, and their bytes are a function of the split alone, so an epoch's θ is
    # bit-identical however the tasks are scheduled, retried or finished. There is no
    # combiner: in-mapper combining already leaves one record per task, and a combiner (which
    # Hadoop may also run while merging on the reduce side) would sum in an order of its own.

    def reducer_init(self):
        self.load_state()

    def reducer(self, key, values):
        total = add_sums(values)
        count = float(total["count"])
        theta, opt_state = self.state.theta, self.state.opt_state
        if count > 0 and self.options.mode == "gradient":
            theta, opt_state = apply(self.state.optimizer, theta, total["step"] / count, opt_state)
        elif count > 0:
            theta = theta + (total["step"] / count).astype(theta.dtype)
            opt_state = {name: (total["opt." + name] / count).astype(value.dtype)
                         if value.dtype.kind == "f" else
                         np.rint(total["opt." + name] / count).astype(value.dtype)
                         for name, value in opt_state.items()}
        result = {"theta": theta, "loss_sum": total["loss_sum"], "count": total["count"],
                  "records": total["records"]}
        result.update({"opt." + name: value for name, value in opt_state.items()})
        yield "result", result


if __name__ == "__main__":
    MRTrainEpoch.run()
