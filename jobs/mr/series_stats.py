"""The second pass of ``prepare --kind series``: each series' length and the statistics of
its training part, for the normalization.

Map-only over the first pass's lines (:mod:`jobs.mr.series_sort`): for each series, its
length L, and over its first ``split_point(L, valid)`` rows the count, mean (F,) and
variance (F,) in float64 (numpy's, so one series gives exactly the numbers of
:func:`jobs.data.series_io.normalization`), its missing-value counts and its time steps. An error line
passes through. Output: one small record per series, O(series) in all; the driver combines
them in id order (:func:`jobs.preparing.series.combine`).
"""

import numpy as np

from jobs.data.chunks import split_point
from jobs.mr.protocol import ArraysProtocol
from jobs.mr.series_sort import ERROR
from jobs.mr.task import TaskJob


class SeriesPassJob(TaskJob):
    """A map-only pass over the sorted series (arrays in, arrays out) that needs each
    series' training part: ``--valid`` says where it ends."""
    INPUT_PROTOCOL = ArraysProtocol
    OUTPUT_PROTOCOL = ArraysProtocol

    def configure_args(self):
        super().configure_args()
        self.add_passthru_arg("--valid", type=float, required=True,
                              help="the fraction of each series kept for validation")
        self.add_passthru_arg("--test", type=float, default=0.0,
                              help="the fraction of each series held out for the test, after "
                              "the validation part")
        self.add_passthru_arg("--targets", type=int, default=0,
                              help="the number of target columns, the first ones (0: all); "
                              "the others are inputs (jobs.data.covariates)")

    def training_part(self, values):
        """The first ``split_point(L, valid, test)`` rows of a series' values (L, F)."""
        return values[:split_point(len(values), self.options.valid, self.options.test)]


class MRSeriesStats(SeriesPassJob):
    def mapper(self, key, arrays):
        if key == ERROR:
            yield key, arrays
            return
        values = arrays["values"]
        train = self.training_part(values)
        with np.errstate(over="ignore", invalid="ignore"):
            stats = {"length": np.array(len(values), np.int64),
                     "count": np.array(len(train), np.int64),
                     "mean": train.mean(axis=0), "var": train.var(axis=0),
                     "largest": np.max(np.abs(train), axis=0, initial=0.0),
                     "missing": arrays["missing"],
                     **{name: arrays.get(name, np.array(np.nan))
                        for name in ("step", "per_day", "skips", "last_time")}}
        yield key, stats


if __name__ == "__main__":
    MRSeriesStats.run()
