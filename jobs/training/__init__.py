"""Training a run (``hadoop-rnn train``): epochs of the MapReduce job, each committed.

* :mod:`jobs.training.loop`       :func:`train` and its loop: resume, train an epoch (its sync
                                  rounds), validate, commit, stop; read this first
* :mod:`jobs.training.spec`       :class:`RunSpec`: a run's settings, their defaults (some
                                  chosen from the data), the check that a resumed run is the same
* :mod:`jobs.training.limits`     :class:`Limits`: what one invocation may do (cron)
* :mod:`jobs.training.epoch_job`  the epoch job from the driver's side: arguments, cluster
                                  sizing, the uber retry, θ assembled from the slices
* :mod:`jobs.training.metrics`    an epoch's metrics line and the progress lines
"""
from jobs.training.limits import Limits
from jobs.training.loop import Outcome, TrainResult, train
from jobs.training.spec import RunSpec, TrainingError

__all__ = ["Limits", "Outcome", "RunSpec", "TrainResult", "TrainingError", "train"]
