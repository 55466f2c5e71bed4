"""Scoring a trained model on a split as a MapReduce job (``hadoop-rnn evaluate --runner``).

Every map task loads the checkpoint and the dataset's meta.json shipped with the job, scores
its records with :class:`jobs.scores.Scorer` and emits ONE record of sums (in-mapper
combining, so no combiner); the single reducer adds them. Bad records are skipped and
counted, as in training. Run standalone::

    python -m jobs.mr_evaluate -r inline --state run/latest.npz --meta data/meta.json \
        data/valid/*.txt
"""
import json

from mrjob.job import MRJob

from jobs.batches import read_chunk
from jobs.counters import count_bad_record, current_shard
from jobs.protocol import ArraysProtocol, add_sums
from jobs.records import BadRecord
from jobs.scores import Scorer
from jobs.training_state import TrainingState
from rnn_core.serialization import load_arrays


class MREvaluate(MRJob):
    INTERNAL_PROTOCOL = ArraysProtocol
    OUTPUT_PROTOCOL = ArraysProtocol

    def configure_args(self):
        super().configure_args()
        self.add_file_arg("--state", required=True, help="checkpoint .npz of the trained run")
        self.add_file_arg("--meta", required=True, help="the dataset's meta.json")
        self.add_passthru_arg("--batch", type=int, default=64, help="chunks per forward batch")

    def mapper_init(self):
        state = TrainingState.from_arrays(load_arrays(self.options.state))
        with open(self.options.meta, encoding="utf-8") as f:
            meta = json.load(f)
        self.cfg = state.model
        self.scorer = Scorer(state.theta, state.model, meta)
        self.pending = []
        self.shard = current_shard()

    def mapper(self, _, line):
        try:
            chunk = read_chunk(line, self.cfg)
        except BadRecord as bad:
            count_bad_record(self, bad, self.shard)
            return
        self.pending.append(chunk)
        if len(self.pending) == self.options.batch:
            self.scorer.add_chunks(self.pending, self.options.batch)
            self.pending = []

    def mapper_final(self):
        yield "sums", self.scorer.add_chunks(self.pending, self.options.batch)

    def reducer(self, key, values):
        yield key, add_sums(values)


if __name__ == "__main__":
    MREvaluate.run()
