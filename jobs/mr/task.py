"""The base of every hadoop-rnn MRJob: a task that numpy warnings cannot crash.

A diverging model overflows in numpy, which emits RuntimeWarnings. The task does not need
them: the driver checks every result for non-finite values and says what to do. Worse, the
inline runner runs a task with ``sys.stderr`` replaced by a binary file, where the warnings
module's text write raises ``TypeError`` and kills the task. So a task runs with numpy's
floating-point warnings off, and any other warning is written as UTF-8 bytes when stderr is
binary. Its process keeps the memory numpy frees (:func:`rnn_core.heap.keep_freed_memory`),
which its next minibatch reuses. On mrjob's local runner, the task processes start from
threads of the driver, never from a fork of it (:func:`without_fork`).

Test hook: ``--fail-first-attempt`` makes the first attempt of map task 0 raise before it
reads anything (Hadoop re-runs it; the driver passes it when ``HADOOP_RNN_FAULT`` says
``fail-first-map-attempt``, see :mod:`jobs.run.checkpoint`).
"""
import subprocess
import sys
import threading
import warnings
from functools import partial
from multiprocessing.pool import ThreadPool

import numpy as np
from mrjob.compat import jobconf_from_env
from mrjob.job import MRJob
from mrjob.local import LocalMRJobRunner, _TaskFailedException

from rnn_core.heap import keep_freed_memory


def show_warning(message, category, filename, lineno, file=None, line=None):
    """``warnings.showwarning`` that writes to a text or a binary stderr."""
    text = warnings.formatwarning(message, category, filename, lineno, line)
    stream = file or sys.stderr
    try:
        stream.write(text)
    except TypeError:  # a binary stream (the inline runner's)
        stream.write(text.encode("utf-8"))


def without_fork(runner_class):
    """mrjob's local runner ``runner_class``, its tasks started from threads of the driver.

    mrjob forks a process pool to start each task's process. A fork of the driver, whose
    run-lock heartbeat and pyarrow threads may hold a lock at that instant, can deadlock
    the child (Python 3.12 warns of it), and the pool's terminate() leaves the task
    processes of a failed job running. Here each task process starts from a thread, and a
    failure or a signal kills the ones still running before the job's cleanup.
    """
    class ThreadedTasksRunner(runner_class):
        def _invoke_task_func(self, task_type, step_num, task_num):
            return partial(self._invoke_task, task_type, step_num, task_num,
                           self._substep_args(step_num, task_type), self._num_steps())

        def _invoke_task(self, task_type, step_num, task_num, args, num_steps,
                         stdin, stdout, stderr, wd, env):
            with self._tasks_lock:
                if self._stopping:
                    return
                process = subprocess.Popen(args, stdin=stdin, stdout=stdout, stderr=stderr,
                                           cwd=wd, env=env)
                self._running.add(process)
            try:
                returncode = process.wait()
            finally:
                with self._tasks_lock:
                    self._running.discard(process)
            if returncode:
                raise _TaskFailedException(
                    reason=str(subprocess.CalledProcessError(returncode, args)),
                    step_num=step_num, num_steps=num_steps, task_type=task_type,
                    task_num=task_num)

        def _run_multiple(self, funcs, num_processes=None):
            self._tasks_lock, self._running, self._stopping = threading.Lock(), set(), False
            pool = ThreadPool(self._opts["num_cores"])
            try:
                for result in [pool.apply_async(func) for func in funcs]:
                    result.get()
                pool.close()
            except BaseException:  # a failed task, or a signal: stop the others
                with self._tasks_lock:
                    self._stopping = True
                    for process in self._running:
                        process.kill()
                pool.terminate()
                raise
            finally:
                pool.join()

    ThreadedTasksRunner.__name__ = f"Threaded{runner_class.__name__}"
    return ThreadedTasksRunner


class TaskJob(MRJob):
    """An MRJob whose task (mapper, reducer, ...) runs as described in the module docstring,
    and on the local runner without forking the driver (:func:`without_fork`)."""

    def _runner_class(self):  # mrjob's hook: the runner make_runner() builds
        runner_class = super()._runner_class()
        if issubclass(runner_class, LocalMRJobRunner):
            return without_fork(runner_class)
        return runner_class

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
        keep_freed_memory()  # the task's minibatches reuse one another's memory
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.showwarning = show_warning
            super().execute()
