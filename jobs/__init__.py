"""hadoop-rnn's jobs, the driver that runs them, and the command line (see docs/architecture.md).

* ``cli.py`` and ``commands/``  the ``hadoop-rnn`` command: parse flags, call the API below
* ``preparing/``, ``training/``, ``scoring.py``, ``generating.py``, ``plotting.py``,
  ``demo.py``  the Python API, one module or package per thing a user does
* ``hadoop/``    runs an MRJob on the inline, local or hadoop runner; what a job asks of a
  cluster (reducers, map tasks, memory from |θ|); mrjob's HDFS operations over WebHDFS
* ``mr/``        what runs on the task nodes: the MRJob classes and what they share
* ``data/``      the dataset: record format, chunks, minibatches, text and series input
* ``run/``       the run directory: the state and its checkpoints, their commit, the lock,
  loading a trained run
* ``storage.py`` files on the local disk or on HDFS (WebHDFS), for ``data/`` and ``run/``
* ``interrupts.py`` Ctrl-C and SIGTERM as exceptions that no library can swallow, and the
  steps they must wait for
"""
