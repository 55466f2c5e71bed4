"""Scoring a series model series by series as a MapReduce job: ``hadoop-rnn evaluate`` of a
series run on a runner (:mod:`jobs.mr.series_rows` has the two passes it runs).

The map tasks read the records of every split and send each to the reducer of its sequence
(key: the sequence id, value: [split, record line]); the split is the one whose shards hold
the task's input file (``splits`` in the ``--plan``; exact because a split of these
shards never spans files). A reducer joins back one sequence at a time, so its memory is
one sequence, and with the ``--plan``'s pass

* ``history``: adds the sequence's history statistics before the held-out part of each
  split of the plan's ``histories`` to its own, and emits their sums once, in
  ``reducer_final`` ({split: sums}, O(p²) per split and reducer, whatever the number of
  series);
* ``score``: emits the sequence's row of error sums (:func:`jobs.mr.series_rows.score_part`),
  a few numbers per forecaster; with the plan's ``calibration``, also how many of its
  targets lie inside the intervals calibrated on its own validation part
  (:func:`jobs.mr.series_rows.row_calibration`).

Bad records are skipped and counted, as in training. Run standalone::

    python -m jobs.mr.series_score -r inline --state run/best.npz --meta data/meta.json \
        --plan plan.json data/train/*.txt data/valid/*.txt
"""
import json

from mrjob.compat import jobconf_from_env
from mrjob.protocol import JSONProtocol

from jobs.data.batches import read_chunk
from jobs.data.chunks import sequence_id
from jobs.data.records import BadRecord
from jobs.mr.counters import count_bad_record, input_path
from jobs.mr.task import TaskJob
from jobs.run.state import read_state_file
from jobs.mr.series_rows import (add_history, fitted_of_plan, history_statistics,
                                 row_calibration, score_part, sequence_part, to_json)

HISTORY = "history"   # the key of a reducer's summed history statistics


class MRSeriesScore(TaskJob):
    INTERNAL_PROTOCOL = JSONProtocol
    OUTPUT_PROTOCOL = JSONProtocol

    def configure_args(self):
        super().configure_args()
        self.add_file_arg("--state", required=True, help="checkpoint .npz of the trained run")
        self.add_file_arg("--meta", required=True, help="the dataset's meta.json")
        self.add_file_arg("--plan", required=True, help="a JSON file: the pass, split, "
                          "horizon, fitted baselines and shards (jobs.mr.series_rows.plan_bytes)")
        self.add_passthru_arg("--reducers", type=int, default=1, help="reduce tasks")

    def jobconf(self):
        return {**super().jobconf(), "mapreduce.job.reduces": str(self.options.reducers)}

    def load_plan(self):
        with open(self.options.plan, encoding="utf-8") as f:
            self.plan = json.load(f)

    def mapper_init(self):
        self.load_plan()
        here = input_path(jobconf_from_env("mapreduce.map.input.file", ""))
        self.split = next((split for split, uris in self.plan["splits"].items()
                           if here in {input_path(uri) for uri in uris}), None)
        if self.split is None:
            raise RuntimeError(f"{here} is not a shard of the dataset (--plan's splits)")

    def mapper(self, _, line):
        yield sequence_id(line.partition("\t")[0]), [self.split, line]

    def reducer_init(self):
        self.load_plan()
        self.state = read_state_file(self.options.state)
        with open(self.options.meta, encoding="utf-8") as f:
            self.meta = json.load(f)
        self.fitted = fitted_of_plan(self.plan)
        self.calibration = (fitted_of_plan(self.plan["calibration"])
                            if self.plan.get("calibration") else None)
        self.history = {}

    def reducer(self, seq, values):
        records = {}
        for split, line in values:
            try:
                records.setdefault(split, []).append(read_chunk(line, self.state.model))
            except BadRecord as bad:
                count_bad_record(self, bad, split)
        if self.plan["pass"] == HISTORY:
            for split in self.plan["histories"]:
                part = sequence_part(seq, records, split)
                if part is not None:
                    self.history[split] = add_history(self.history.get(split, {}),
                                                      history_statistics(part, self.meta))
            return
        part = sequence_part(seq, records, self.plan["split"])
        if part is None:
            return
        calibration = self.calibration and row_calibration(
            self.state, self.meta, sequence_part(seq, records, "valid"), self.plan["horizon"],
            self.calibration, self.plan["network"])
        row = score_part(self.state, self.meta, part, self.plan["horizon"], self.fitted,
                         network=self.plan["network"], calibration=calibration)
        if row is not None:
            yield seq, to_json(row)

    def reducer_final(self):
        if self.plan["pass"] == HISTORY and self.history:
            yield HISTORY, {split: to_json(stats) for split, stats in self.history.items()}


if __name__ == "__main__":
    MRSeriesScore.run()
