"""The third pass of ``prepare --kind series``: the sufficient statistics of the AR(p) fit
of the training parts' target columns (:func:`rnn_core.autoregression.ar_statistics`), for the AR base of a
model and evaluate's AR baseline.

Map-only over the first pass's lines (:mod:`jobs.mr.series_sort`): each series is normalized
(``--normalization``: a file of the training statistics the second pass gave, and with
``--scale series`` each series' own under ``series``) and its training part's
statistics added to the task's; ``mapper_final`` emits one record per map task, O(P²) for
the largest order P (per length class of series shorter than P, see
:mod:`rnn_core.autoregression`), whatever the number of series. Series too short to keep
and error lines add nothing. The driver adds the records
(:func:`rnn_core.autoregression.add_statistics`) and fits AR(p) once. For a series driven by
inputs, a second run (``--arx-order p``) gives the sums of the ARX(p) fit
(:mod:`rnn_core.arx`), the network's base there.
"""
import json

import numpy as np

from jobs.data.series_io import normalize
from jobs.mr.series_sort import ERROR
from jobs.mr.series_stats import SeriesPassJob
from rnn_core.arx import arx_statistics
from rnn_core.autoregression import MAX_AR_ORDER, add_statistics, ar_statistics

KEY = "ar"


class MRSeriesAR(SeriesPassJob):
    def configure_args(self):
        super().configure_args()
        self.add_file_arg("--normalization", required=True,
                          help='a JSON file: {"mean": [..], "std": [..]} of the training parts')
        self.add_passthru_arg("--max-order", type=int, default=MAX_AR_ORDER,
                              help="the largest order p tried")
        self.add_passthru_arg("--arx-order", type=int, default=0,
                              help="p > 0: the sums of the ARX(p) fit of a series driven by "
                              "inputs (rnn_core.arx) instead")

    def mapper_init(self):
        with open(self.options.normalization, encoding="utf-8") as f:
            self.norm = json.load(f)
        self.stats = {}

    def mapper(self, key, arrays):
        """Adds the series' statistics to the task's; emits nothing (mrjob takes None)."""
        if key == ERROR:
            return
        values = arrays["values"]
        train = self.training_part(values)
        if len(values) < 2 or len(train) < 2:
            return
        part = normalize(train, self.norm.get("series", {}).get(key, self.norm)).astype(np.float64)
        targets = self.options.targets or part.shape[1]
        if self.options.arx_order:
            stats = arx_statistics(part, self.options.arx_order, targets)
        else:                                                  # an AR of the targets only
            stats = ar_statistics(part[:, :targets], self.options.max_order)
        self.stats = add_statistics(self.stats, stats)

    def mapper_final(self):
        if self.stats:
            yield KEY, self.stats


if __name__ == "__main__":
    MRSeriesAR.run()
