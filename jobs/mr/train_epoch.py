"""One training epoch as a MapReduce job.

Every map task loads the training state (θ, optimizer state, configs) shipped with the job,
reads its split of chunk records, and emits ONE record of sums (in-mapper combining), all
under one key, so a single reducer call sees them all:

* ``--mode gradient``: ``grad_sum``, the BPTT gradient summed over the split, with the loss
  sum and scored-step count. The reducer divides by the total count (so shards of any size
  give the full-batch mean gradient) and applies one optimizer step.
* ``--mode average`` (iterative parameter mixing): the task takes one optimizer step per
  minibatch from θ over its split and emits ``delta_sum``, its parameter change times its
  scored-step count, and its optimizer state times the same count; the reducer applies the
  count-weighted average change and keeps the count-weighted average optimizer state.

Malformed records are skipped and counted (group ``hadoop-rnn``). Run standalone::

    python -m jobs.mr.train_epoch -r inline --state latest.npz data/train/*.txt
"""
import time

import numpy as np
from mrjob.compat import jobconf_from_env

from jobs.data.batches import iter_batches
from jobs.mr.chunk_mapper import ChunkMapperJob
from jobs.mr.counters import COUNTERS
from jobs.mr.protocol import ArraysProtocol, add_sums
from jobs.run.state import prefix_opt, read_state_file, unprefix_opt
from rnn_core import loss_and_grad
from rnn_core.optimizers import apply

MODES = ("gradient", "average")
DEFAULT_MODE = "average"


class MRTrainEpoch(ChunkMapperJob):
    SORT_VALUES = True  # see "reduce" below
    INTERNAL_PROTOCOL = ArraysProtocol
    OUTPUT_PROTOCOL = ArraysProtocol

    def configure_args(self):
        super().configure_args()
        self.add_file_arg("--state", required=True,
                          help="training state .npz (θ, optimizer state, configs)")
        self.add_passthru_arg("--mode", choices=MODES, default=DEFAULT_MODE)
        self.add_passthru_arg("--batch", type=int, default=32, help="chunks per minibatch")
        self.add_passthru_arg("--bptt", type=int, default=0,
                              help="truncated BPTT window in steps (0: whole chunk)")
        self.add_passthru_arg("--fail-first-attempt", action="store_true",
                              help="test hook: the first attempt of map task 0 raises (Hadoop "
                              "re-runs it; see HADOOP_RNN_FAULT in jobs.training)")

    # -- map ---------------------------------------------------------------------------

    def mapper_init(self):
        attempt = jobconf_from_env("mapreduce.task.attempt.id", "")
        if (self.options.fail_first_attempt and attempt.endswith("_0")
                and jobconf_from_env("mapreduce.task.partition") == "0"):
            raise RuntimeError(f"--fail-first-attempt: {attempt} fails on purpose (test hook)")
        self.state = read_state_file(self.options.state)
        self.theta = self.state.theta.copy()
        self.opt_state = self.state.opt_state
        self.grad_sum = np.zeros(self.theta.shape, self.theta.dtype)  # gradient mode only
        self.loss_sum, self.count, self.records = np.zeros(()), np.zeros(()), np.zeros(())
        self.compute_seconds = 0.0  # time in BPTT and optimizer steps, for the epoch's metrics
        self.start_chunks(self.state.model, self.options.batch)

    def handle_chunks(self, chunks):
        """Run BPTT over one minibatch of chunks and add to the task's sums."""
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
        self.flush_chunks()
        self.increment_counter(COUNTERS, "records", int(self.records))
        self.increment_counter(COUNTERS, "scored steps", int(self.count))
        self.increment_counter(COUNTERS, "compute milliseconds", round(self.compute_seconds * 1000))
        sums = {"loss_sum": self.loss_sum, "count": self.count, "records": self.records}
        if self.options.mode == "gradient":
            sums["grad_sum"] = self.grad_sum
        else:
            # weight this task's parameter change and optimizer state by its scored steps
            weight = self.count
            sums["delta_sum"] = (self.theta - self.state.theta) * weight
            sums.update(prefix_opt({name: np.asarray(value, dtype=np.float64) * weight
                                    for name, value in self.opt_state.items()}))
        yield "sums", sums

    # -- reduce ------------------------------------------------------------------------
    # Float addition is not associative, so the order in which the reducer adds the tasks'
    # records decides the last bits of θ. SORT_VALUES makes Hadoop (and mrjob's runners) hand
    # them over sorted, and their bytes are a function of the split alone, so an epoch's θ is
    # bit-identical however the tasks are scheduled, retried or finished. There is no
    # combiner: in-mapper combining already leaves one record per task, and a combiner (which
    # Hadoop may also run while merging on the reduce side) would sum in an order of its own.

    def reducer_init(self):
        self.state = read_state_file(self.options.state)

    def reducer(self, key, values):
        total = add_sums(values)
        count = float(total["count"])
        theta, opt_state = self.state.theta, self.state.opt_state
        if count > 0 and self.options.mode == "gradient":
            theta, opt_state = apply(self.state.optimizer, theta, total["grad_sum"] / count,
                                     opt_state)
        elif count > 0:
            theta = theta + (total["delta_sum"] / count).astype(theta.dtype)
            opt_state = {name: average_slot(total_slot, count, opt_state[name].dtype)
                         for name, total_slot in unprefix_opt(total).items()}
        result = {"theta": theta, "loss_sum": total["loss_sum"], "count": total["count"],
                  "records": total["records"]}
        result.update(prefix_opt(opt_state))
        yield "result", result


def average_slot(weighted_sum, count, dtype):
    """The count-weighted mean of an optimizer slot, in the slot's dtype (integers rounded)."""
    mean = weighted_sum / count
    return (mean if np.dtype(dtype).kind == "f" else np.rint(mean)).astype(dtype)


if __name__ == "__main__":
    MRTrainEpoch.run()
