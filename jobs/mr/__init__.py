"""Everything that runs on the task nodes: the MRJob classes and what they share.

* :mod:`jobs.mr.train_epoch`  one training epoch (gradient or average mode)
* :mod:`jobs.mr.score`        scoring a model on a split (evaluate on a runner, the last θ's
                              validation)
* :mod:`jobs.mr.validation`   which map tasks read validation shards; mrjob's input cut
* :mod:`jobs.mr.char_count`   the vocabulary pass of ``prepare --kind text``
* :mod:`jobs.mr.chunk_mapper` the base job: validate record lines, hand over minibatches
* :mod:`jobs.mr.loss_sums`       loss and baseline sums (also used in process)
* :mod:`jobs.mr.protocol`     the wire format between tasks: named numpy arrays as npz
* :mod:`jobs.mr.slices`       θ cut into slices: record budget, routing to reducers, reassembly
* :mod:`jobs.mr.counters`     the Hadoop counters the jobs report

Code here imports only numpy, mrjob, :mod:`rnn_core`, :mod:`jobs.data` and the state format
:mod:`jobs.run.state`; never the command line, argparse wrappers or the run directory.
"""
