"""Scoring a model on a split as a MapReduce job: ``hadoop-rnn evaluate`` on a runner, and the
validation of a run's last θ (the other epochs' are scored inside the epoch job).

Every map task loads the checkpoint (and the dataset's meta.json) shipped with the job, scores
its records with :class:`jobs.mr.loss_sums.LossSums` and emits ONE record of sums (in-mapper
combining, so no combiner); the single reducer adds them exactly
(:func:`jobs.mr.protocol.add_sums`), in whatever order they come. With the epoch job's
``--split-bytes`` (:mod:`jobs.mr.validation`) its tasks are the epoch job's
validation tasks, so the loss is the same bits either way. Bad records are skipped and
counted, as in training. Run standalone::

    python -m jobs.mr.score -r inline --state run/latest.npz --meta data/meta.json \
        data/valid/*.txt
"""
import json

from jobs.mr.chunk_mapper import ChunkMapperJob
from jobs.mr.protocol import ArraysProtocol, add_sums
from jobs.mr.loss_sums import SCORE_BATCH, LossSums
from jobs.mr.validation import ValidationInputJob
from jobs.run.state import read_state_file


class MRScore(ValidationInputJob, ChunkMapperJob):
    INTERNAL_PROTOCOL = ArraysProtocol
    OUTPUT_PROTOCOL = ArraysProtocol

    def configure_args(self):
        super().configure_args()
        self.add_file_arg("--state", required=True, help="checkpoint .npz of the trained run")
        self.add_file_arg("--meta", help="the dataset's meta.json: with it the sums of the "
                          "baselines and per-column errors too (jobs.mr.loss_sums), without it "
                          "only the loss (validation)")
        self.add_passthru_arg("--batch", type=int, default=SCORE_BATCH,
                              help="chunks per forward batch")
        self.add_split_bytes_arg()

    def mapper_init(self):
        state = read_state_file(self.options.state)
        meta = None
        if self.options.meta:
            with open(self.options.meta, encoding="utf-8") as f:
                meta = json.load(f)
        # without meta this is the validation loss, at the run's validation horizon
        self.scorer = LossSums(state.theta, state.model, meta,
                               horizon=1 if meta else state.settings.valid_horizon)
        self.start_chunks(state.model, self.options.batch)

    def handle_chunks(self, chunks):
        self.scorer.add_chunks(chunks, self.batch_size)

    def mapper_final(self):
        self.flush_chunks()
        yield "sums", self.scorer.sums

    def reducer(self, key, values):
        yield key, add_sums(values)


if __name__ == "__main__":
    MRScore.run()
