"""hadoop-rnn's jobs, the driver that runs them, and the command line (see docs/architecture.md).

* ``cli.py`` and ``commands/``  the ``hadoop-rnn`` command: parse flags, call the API below
* ``preparing.py``, ``training.py``, ``scoring.py``, ``generating.py``, ``plotting.py``,
  ``demo.py``  the Python API, one module per thing a user does
* ``launch.py``  runs an MRJob on the inline, local or hadoop runner
* ``resources.py`` what an epoch job asks of the cluster: reducers, map tasks, memory from |θ|
* ``mr/``        what runs on the task nodes: the MRJob classes and what they share
* ``data/``      the dataset: record format, chunks, minibatches, text and series input
* ``run/``       the run directory: checkpoints and their commit, the lock, loading a run
* ``storage.py`` files on the local disk or on HDFS (WebHDFS), for ``data/`` and ``run/``
"""
