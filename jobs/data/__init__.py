"""Datasets: record format, chunks, minibatches, corpus and series input.

* :mod:`jobs.data.records`    one text line per chunk: KEY DTYPE SHAPE CRC32 PAYLOAD
* :mod:`jobs.data.chunks`     cutting sequences into overlapping chunk records; the
                              train/valid split in time
* :mod:`jobs.data.batches`    validating chunks for a model; padded, masked minibatches
* :mod:`jobs.data.dataset`    :class:`Dataset`: a directory of ``meta.json`` and record
                              shards; :func:`write_dataset`
* :mod:`jobs.data.corpus`     text input: files and globs, UTF-8 reading, the vocabulary
* :mod:`jobs.data.series_io`  series input: CSV/Parquet columns, missing values,
                              normalization
* :mod:`jobs.data.covariates` the inputs that drive a series: a row holds the inputs of
                              the next step; calendar features
"""
