"""Everything that runs on the task nodes: the MRJob classes and what they share.

* :mod:`jobs.mr.train_epoch`    one training epoch, or one sync round of it (gradient or
                                average mode)
* :mod:`jobs.mr.outer`          average mode's outer optimizer: block momentum on the tasks'
                                mean change
* :mod:`jobs.mr.score`          scoring a model on a split (evaluate on a runner, the last θ's
                                validation)
* :mod:`jobs.mr.series_score`   evaluate of a series run on a runner: a reducer per series
* :mod:`jobs.mr.series_rows`    a series run scored series by series, in those reducers and
                                in process: history sums, the pooled baselines, a row per series
* :mod:`jobs.mr.validation`     which map tasks read validation shards; mrjob's input cut
* :mod:`jobs.mr.loss_sums`      loss and baseline sums (also used in process)
* :mod:`jobs.mr.char_count`     the survey pass of ``prepare --kind text``: characters and
                                each split's size
* :mod:`jobs.mr.text_chunks`    ``prepare --kind text``: a split's part of every chunk record
* :mod:`jobs.mr.series_sort`    ``prepare --kind series``: table rows to one time-sorted,
                                gap-filled series per id
* :mod:`jobs.mr.series_stats`   each series' length and training-part mean and variance
* :mod:`jobs.mr.series_ar`      the sums of the training parts' AR(p) fit (and ARX(p) of a
                                series driven by inputs)
* :mod:`jobs.mr.series_table`   one series of a table file, read as prepare reads it: the
                                history and the future inputs of ``forecast``
* :mod:`jobs.mr.series_chunks`  series normalized and cut into chunk records
* :mod:`jobs.mr.shards`         the base of the shard-writing jobs: shard = reduce partition
* :mod:`jobs.mr.chunk_mapper`   the base of the jobs that read chunk records: validate record
                                lines, hand over minibatches
* :mod:`jobs.mr.task`           the base of every job: numpy warnings cannot crash a task
* :mod:`jobs.mr.protocol`       the wire format between tasks: named numpy arrays as npz
* :mod:`jobs.mr.slices`         θ cut into slices: record budget, routing to reducers,
                                reassembly
* :mod:`jobs.mr.counters`       the Hadoop counters the jobs report

Code here imports only numpy, mrjob, :mod:`rnn_core`, :mod:`jobs.data` and the state format
:mod:`jobs.run.state`; never the command line, argparse wrappers or the run directory.
"""
