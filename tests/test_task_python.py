"""Which Python runs a job's tasks (RunnerOptions.python_bin, the mrjob.conf's python_bin,
the driver's own), and mrjob's setup lock run by it without site-packages."""
import shlex
import sys

from jobs.hadoop.launch import RunnerOptions


def flag(args, name):
    """The value of ``name`` in mrjob's arguments ``args``, or None."""
    return args[args.index(name) + 1] if name in args else None


def conf_with(tmp_path, lines):
    path = tmp_path / "mrjob.conf"
    path.write_text("runners:\n  hadoop:\n" + "".join(f"    {line}\n" for line in lines))
    return str(path)


def test_without_a_python_in_the_conf_the_tasks_run_the_drivers_own(tmp_path):
    args = RunnerOptions("hadoop", conf=conf_with(tmp_path, ["num_cores: 2"])).mrjob_args()
    assert flag(args, "--task-python-bin") == shlex.quote(sys.executable)


def test_the_setup_lock_runs_the_same_python_without_site_packages(tmp_path):
    args = RunnerOptions("local", python_bin="/opt/my py/bin/python3").mrjob_args()
    assert shlex.split(flag(args, "--task-python-bin")) == ["/opt/my py/bin/python3"]
    assert shlex.split(flag(args, "--python-bin")) == ["/opt/my py/bin/python3", "-S"]


def test_the_confs_python_bin_runs_the_tasks_unless_one_is_given(tmp_path):
    conf = conf_with(tmp_path, ["python_bin: /usr/bin/python3"])
    assert RunnerOptions("hadoop", conf=conf).conf_python() == "/usr/bin/python3"
    args = RunnerOptions("hadoop", conf=conf).mrjob_args()
    assert flag(args, "--python-bin") is None and flag(args, "--task-python-bin") is None
    given = RunnerOptions("hadoop", conf=conf, python_bin="/opt/py").mrjob_args()
    assert flag(given, "--task-python-bin") == "/opt/py"


def test_an_included_confs_task_python_bin_counts(tmp_path):
    base = tmp_path / "base.conf"
    base.write_text("runners:\n  local:\n    task_python_bin: /opt/py/bin/python3\n")
    conf = tmp_path / "mine.conf"
    conf.write_text(f"include: {base}\nrunners:\n  local:\n    num_cores: 1\n")
    assert RunnerOptions("local", conf=str(conf)).conf_python() == "/opt/py/bin/python3"
    assert RunnerOptions("hadoop", conf=str(conf)).conf_python() is None
