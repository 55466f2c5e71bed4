"""Preparing a dataset (``hadoop-rnn prepare``): raw text or series files become chunk records.

* :mod:`jobs.preparing.api`       :func:`prepare`, the Python API: checks, chunking defaults,
                                  the staged write of the dataset directory
* :mod:`jobs.preparing.text`      the text jobs: vocabulary, then chunks of every file
* :mod:`jobs.preparing.series`    the series jobs: sort, statistics, AR fit, chunks
* :mod:`jobs.preparing.sharding`  the jobs' output spread over the dataset's shards
"""
from jobs.preparing.api import PrepareError, prepare

__all__ = ["PrepareError", "prepare"]
