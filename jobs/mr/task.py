"""The base of every hadoop-rnn MRJob: a task that numpy warnings cannot crash.

A diverging model overflows in numpy, which emits RuntimeWarnings. The task does not need
them: the driver checks every result for non-finite values and says what to do. Worse, the
inline runner runs a task with ``sys.stderr`` replaced by a binary file, where the warnings
module's text write raises ``TypeError`` and kills the task. So a task runs with numpy's
floating-point warnings off, and any other warning is written as UTF-8 bytes when stderr is
binary.
"""
import sys
import warnings

import numpy as np
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

    def execute(self):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.showwarning = show_warning
            super().execute()
