"""The base of every hadoop-rnn MRJob: a task that numpy warnings cannot crash.

A diverging model overflows in numpy, which emits RuntimeWarnings. The task does not need
them: the driver checks every result for non-finite values and says what to do. Worse, the
inline runner runs a task with ``sys.stderr`` replaced by a binary file, where the warnings
module's text write raises ``TypeError`` and kills the task. So a task runs with numpy's
floating-point warnings off, and any other warning is written as UTF-8 bytes when stderr is
binary.

Test hook: ``--fail-first-attempt`` makes the first attempt of map task 0 raise before it
reads anything (Hadoop re-runs it; the driver passes it when ``HADOOP_RNN_FAULT`` says
``fail-first-map-attempt``, see :mod:`jobs.run.checkpoint`).
"""
import sys
import warnings

import numpy as np
from mrjob.compat import jobconf_from_env
from mrjob.job import MRJob


def show_warning(message, category, filename, lineno, file=None, line=None):
    """``warnings.showwarning`` that writes to a text or a binary stderr."""
    text = warnings.formatwarning(message, category, filename, lineno, line)
    stream = file or sys.stderr
    try:
        stream.write(text)
    except TypeError:  # a binary stream (the inline runner's)
        stream.write(text.encode("utf-8"))


class TaskJob(MRJob):
    """An MRJob whose task (mapper, reducer, ...) runs as described in the module docstring."""

    def configure_args(self):
        super().configure_args()
        self.add_passthru_arg("--fail-first-attempt", action="store_true",
                              help="test hook: the first attempt of map task 0 raises (Hadoop "
                              "re-runs it; see HADOOP_RNN_FAULT in jobs.run.checkpoint)")

    def run_mapper(self, step_num=0):
        self.fail_if_first_attempt()
        super().run_mapper(step_num)

    def fail_if_first_attempt(self):
        """The test hook: raise in the first attempt of map task 0 with --fail-first-attempt."""
        attempt = jobconf_from_env("mapreduce.task.attempt.id", "")
        if (self.options.fail_first_attempt and attempt.endswith("_0")
                and jobconf_from_env("mapreduce.task.partition") == "0"):
            raise RuntimeError(f"--fail-first-attempt: {attempt} fails on purpose (test hook)")

    def execute(self):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.showwarning = show_warning
            super().execute()
