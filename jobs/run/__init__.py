"""A training run: its state, checkpoints, lock and trained-model loading.

* :mod:`jobs.run.state`       :class:`TrainingState` and :class:`RunSettings`: what a run
                              carries from one epoch to the next, as named arrays (the
                              checkpoint format, and the state file shipped to the tasks)
* :mod:`jobs.run.checkpoint`  the run directory: ``ckpt-NNNNNN.npz``, ``best.npz``,
                              ``latest.npz``, ``round.npz``, ``metrics.jsonl`` and their commit
* :mod:`jobs.run.lock`        :class:`RunLock`: one ``hadoop-rnn train`` at a time per run
                              directory, heartbeats, takeover
* :mod:`jobs.run.trained`     :func:`load_run`: a trained run and its dataset, for evaluate,
                              sample, forecast and plot

Only this package writes a run directory (docs/architecture.md).
"""
