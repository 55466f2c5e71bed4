"""Run an MRJob class on an mrjob runner from Python and collect its output and counters.

mrjob's ``make_runner`` must be called from outside the job's own module, so every driver
(training, vocabulary, evaluation) goes through :func:`run_job`, or :func:`run_job_with_state`
for the jobs that need the training state (and other small files) on every task node. For the ``local`` and
``hadoop`` runners the project's code (``rnn_core`` and ``jobs``) is zipped and shipped with
``--py-files``, so a task node needs only Python with numpy, not this project installed.

Temporary files go away however a job ends (success, a failed task, Ctrl-C, SIGTERM turned
into an exception by :mod:`jobs.interrupts`): mrjob's own directories (``--cleanup-on-failure TMP``,
mrjob keeps them by default), the setup lock file mrjob's task wrapper leaves in /tmp, and the
code zip (at exit), and the directories of the files shipped with a job
(:func:`job_files_dir`: at the job's end, else at exit). Only SIGKILL leaves them behind.
"""
import atexit
import contextlib
import os
import shlex
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from jobs.interrupts import signals_held

RUNNERS = ("inline", "local", "hadoop")
# The BLAS libraries' thread counts. Minibatch matrices are small, so one thread per process
# is the default: extra threads cost more than they give, and tasks share a node's cores.
BLAS_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_PACKAGES = ("rnn_core", "jobs")
_ROOT = Path(__file__).resolve().parents[2]  # the directory holding rnn_core/ and jobs/
_REPO_CONF = _ROOT / "conf" / "mrjob.conf"


@dataclass
class RunnerOptions:
    """How to run jobs: which mrjob runner, its config file and the task environment.

    ``conf``: an mrjob.conf path; None means $MRJOB_CONF, else the project's conf/mrjob.conf
    when running from a source checkout, else mrjob's own defaults (~/.mrjob.conf).
    ``task_threads``: BLAS threads per task (tasks share the node's cores).
    ``python_bin``: the Python that runs tasks; defaults to the mrjob.conf's
    (``task_python_bin`` or ``python_bin``), else the driver's own interpreter, which suits
    the local runner and single-machine clusters (set one of them for a real cluster).
    ``webhdfs``: on the hadoop runner, do mrjob's HDFS operations over WebHDFS when
    HADOOP_RNN_WEBHDFS_URL is set (:mod:`jobs.hadoop.webhdfs`); False keeps mrjob's
    ``hadoop fs`` commands for HDFS (``file://`` URIs are local copies either way).
    ``reducers``, ``map_tasks``: how the training job spreads an epoch (R reduce tasks, about
    N map tasks; None: chosen by :mod:`jobs.hadoop.resources`); other jobs ignore them. Neither is
    part of a run's identity: R never changes θ; N changes it in average mode (as the runner
    does: each task trains on its split), so a run resumed bit-identically keeps both.
    ``uber``: on Hadoop, let the training job run a small epoch as an uber job, its tasks
    inside the ApplicationMaster (:func:`jobs.hadoop.resources.uber_jobconf`); θ is the same.
    """

    runner: str = "inline"
    conf: str = None
    task_threads: int = 1
    python_bin: str = None
    extra_args: list = field(default_factory=list)
    webhdfs: bool = True
    reducers: int = None
    map_tasks: int = None
    uber: bool = True

    def __post_init__(self):
        if self.runner not in RUNNERS:
            raise ValueError(f"runner must be one of {', '.join(RUNNERS)}, not {self.runner!r}")
        for name in ("reducers", "map_tasks"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ValueError(f"{name} must be a positive int, got {value!r}")

    def conf_args(self):
        path = self.conf or os.environ.get("MRJOB_CONF") or (
            str(_REPO_CONF) if _REPO_CONF.exists() else None)
        return ["-c", path] if path else []

    def conf_python(self):
        """The Python that the mrjob.conf (:meth:`conf_args`, its includes too) gives this
        runner's tasks, ``task_python_bin`` or ``python_bin``; None if it gives none."""
        from mrjob.conf import load_opts_from_mrjob_confs

        paths = self.conf_args()[1:] or None
        python = None
        for _, opts in load_opts_from_mrjob_confs(self.runner, paths):   # includes first
            python = opts.get("task_python_bin") or opts.get("python_bin") or python
        return python

    def mrjob_args(self):
        args = ["-r", self.runner] + self.conf_args() + ["--cleanup-on-failure", "TMP"]
        if self.runner != "inline":
            args += ["--py-files", code_archive()]
            if self.python_bin or not self.conf_python():
                python = shlex.quote(self.python_bin or sys.executable)
                # mrjob's setup wrapper takes a lock with `python_bin -c "import fcntl..."`
                # before every task: without site-packages (-S) it starts in a sixth of the time
                args += ["--task-python-bin", python, "--python-bin", f"{python} -S"]
            for var in BLAS_THREAD_VARS:
                args += ["--cmdenv", f"{var}={self.task_threads}"]
        return args + list(self.extra_args)


def default_blas_threads(environ=os.environ):
    """One BLAS thread unless the environment says otherwise; call before numpy loads."""
    for var in BLAS_THREAD_VARS:
        environ.setdefault(var, "1")


_code_zip = None  # the path of the zip code_archive made


def code_archive():
    """Zip the rnn_core and jobs packages once per process; return the zip's path.

    Made again if it is gone: a cleaner of the temp directory (or a test's) may remove it."""
    global _code_zip
    if _code_zip is None or not os.path.exists(_code_zip):
        # no Ctrl-C or SIGTERM between making the directory and registering its removal
        with signals_held():
            tmp = tempfile.mkdtemp(prefix="hadoop-rnn-code-")
            atexit.register(shutil.rmtree, tmp, ignore_errors=True)
        _code_zip = os.path.join(tmp, "hadoop_rnn_code.zip")
        with zipfile.ZipFile(_code_zip, "w", zipfile.ZIP_DEFLATED) as archive:
            for package in _PACKAGES:
                for source in sorted((_ROOT / package).rglob("*.py")):
                    archive.write(source, source.relative_to(_ROOT).as_posix())
    return _code_zip


@dataclass
class JobResult:
    """What a finished job gave back: its output pairs and its counters (group -> name -> n)."""

    output: list
    counters: dict


class JobFailed(RuntimeError):
    """A step of a job failed on its runner (mrjob logged the probable cause above).

    ``uber``: the job was asked to run as an uber job (its tasks inside the ApplicationMaster,
    where Hadoop does not retry a failed task).
    """

    def __init__(self, message, uber=False):
        super().__init__(message)
        self.uber = uber


UBER_ENABLE = "mapreduce.job.ubertask.enable"   # the jobconf jobs.hadoop.resources.uber_jobconf sets
UBER_JOBCONF = f"{UBER_ENABLE}=true"


# mrjob's setup wrapper locks this file on the task's host (here, for local runs) and leaves it
WRAPPER_LOCK = "/tmp/wrapper.lock.{job_key}"


def run_job(job_class, job_args, inputs, options, collect=list):
    """Run ``job_class`` over ``inputs`` (paths or URIs) and return a :class:`JobResult`.

    ``collect`` receives the iterator of output (key, value) pairs, decoded one at a time as
    they are read, and returns the result's ``output`` (default: the list of pairs).
    """
    from mrjob.step import StepFailedException

    job = job_class(options.mrjob_args() + list(job_args) + list(inputs))
    with mrjob_runner(job) as runner:
        if options.runner == "hadoop":
            from jobs.hadoop.webhdfs import use_job_filesystems

            use_job_filesystems(runner, options.webhdfs)  # no `hadoop fs` JVMs around the job
        try:
            runner.run()
        except StepFailedException as e:
            raise JobFailed(f"{job_class.__name__} on the {options.runner} runner: {e}",
                            uber=UBER_JOBCONF in options.extra_args) from None
        finally:
            lock = WRAPPER_LOCK.format(job_key=runner.get_job_key())
            if os.path.exists(lock):
                os.unlink(lock)
        output = collect(job.parse_output(runner.cat_output()))
        counters = {}
        for step_counters in runner.counters():
            for group, names in step_counters.items():
                for name, amount in names.items():
                    counters.setdefault(group, {})
                    counters[group][name] = counters[group].get(name, 0) + amount
    return JobResult(output, counters)


@contextlib.contextmanager
def mrjob_runner(job):
    """``job.make_runner()``, whose cleanup (its temporary directories) no signal cuts short:
    a second Ctrl-C waits for it."""
    runner = job.make_runner()
    try:
        yield runner
    finally:
        with signals_held():
            runner.cleanup()


def run_job_with_state(job_class, state, job_args, inputs, options, files=None, collect=list):
    """Ship ``state`` (a TrainingState) as ``--state`` and each of ``files``, {flag: bytes}
    (e.g. ``{"--meta": ...}``), as a file given to that flag; run the job.

    The files live in a temporary directory for the job's duration; mrjob puts them in every
    task's working directory (the distributed cache on Hadoop).
    """
    from rnn_core.serialization import save_arrays

    with job_files_dir("hadoop-rnn-state-") as tmp:
        args = ["--state", os.path.join(tmp, "state.npz")]
        save_arrays(args[1], state.to_arrays())
        for flag, data in (files or {}).items():
            path = os.path.join(tmp, flag.lstrip("-"))
            with open(path, "wb") as f:
                f.write(data)
            args += [flag, path]
        return run_job(job_class, args + list(job_args), inputs, options, collect)


_JOB_DIRS = set()  # job files' directories not removed yet: at exit, whatever is left


@contextlib.contextmanager
def job_files_dir(prefix):
    """A temporary directory for the files shipped with a job, removed when the job ends.

    Ctrl-C and SIGTERM are held while the directory is made and recorded, and while it is
    removed, so none escapes (see :mod:`jobs.interrupts`); what is left (the process ended
    otherwise) is removed at exit.
    """
    with signals_held():
        tmp = tempfile.mkdtemp(prefix=prefix)
        _JOB_DIRS.add(tmp)
    try:
        yield tmp
    finally:
        with signals_held():
            shutil.rmtree(tmp, ignore_errors=True)
            _JOB_DIRS.discard(tmp)


@atexit.register
def _remove_job_dirs():
    for tmp in list(_JOB_DIRS):
        shutil.rmtree(tmp, ignore_errors=True)
