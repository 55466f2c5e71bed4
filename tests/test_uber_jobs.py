"""A small epoch runs as an uber job (its tasks inside the ApplicationMaster); others do not.

jobs.hadoop.resources.uber_jobconf decides from the job's input, map tasks, reducers and |θ|; the
hadoop-marked test at the end runs the same epoch both ways on the dev cluster.
"""
import pytest
from helpers import load_run_state

from jobs.hadoop.resources import (JVM_OVERHEAD_MB, UBER_MAX_LOST_SECONDS, task_memory, uber_jobconf,
                            _xmx_mb)

CONF = {"yarn.app.mapreduce.am.command-opts": "-Xmx768m -XX:+UseSerialGC",
        "yarn.scheduler.maximum-allocation-mb": "8192"}
THETA_SIZE = 5_016                       # the LSTM-16 of a tiny run
THETA_BYTES = THETA_SIZE * 8


def conf(name, default=None):
    return CONF.get(name, default)


def uber(input_bytes, map_tasks, reducers=1, theta_size=THETA_SIZE, config=conf):
    return uber_jobconf(input_bytes, map_tasks, reducers, theta_size, theta_size * 8, config)


def test_a_tiny_epoch_runs_as_an_uber_job():
    assert uber(66_000, 2)["mapreduce.job.ubertask.enable"] == "true"


def test_a_job_of_several_reducers_or_many_map_tasks_never_sizes_its_input():
    def input_bytes():
        raise AssertionError("sized a job that cannot be uber")
    assert uber_jobconf(input_bytes, 2, 4, THETA_SIZE, THETA_BYTES, conf) == {}
    assert uber_jobconf(input_bytes, 500, 1, THETA_SIZE, THETA_BYTES, conf) == {}
    assert uber_jobconf(lambda: 66_000, 2, 1, THETA_SIZE, THETA_BYTES, conf)


def test_the_uber_application_master_holds_a_map_task_and_keeps_its_other_jvm_options():
    settings = uber(66_000, 2)
    map_memory, reduce_memory = task_memory(THETA_BYTES, conf)
    opts = settings["yarn.app.mapreduce.am.command-opts"]
    heap = _xmx_mb(opts)
    assert heap >= 768 + map_memory.heap_mb
    assert opts.endswith("-XX:+UseSerialGC")
    am_mb = settings["yarn.app.mapreduce.am.resource.mb"]
    assert am_mb >= heap + JVM_OVERHEAD_MB + map_memory.python_mb
    assert am_mb >= max(map_memory.container_mb, reduce_memory.container_mb)


def test_one_map_task_is_an_uber_job_whatever_its_input_since_nothing_runs_in_sequence():
    assert uber(100 * 2**20, 1)


def test_many_map_tasks_of_much_input_keep_their_own_containers_to_run_side_by_side():
    assert uber(100 * 2**20, 8) == {}


def test_the_sequential_cost_is_weighed_against_the_limit():
    per_byte = 4.0e-5 + 3.0e-10 * THETA_SIZE
    limit = int(UBER_MAX_LOST_SECONDS / per_byte / (1 - 1 / 2))   # bytes of 2 tasks
    assert uber(limit - 100, 2) and uber(limit + 100, 2) == {}


def test_several_reducers_or_more_maps_than_hadoop_allows_are_never_uber():
    assert uber(66_000, 2, reducers=2) == {}
    assert uber(66_000, 10) == {}
    assert uber(66_000, 4, config=lambda k, d=None: {"mapreduce.job.ubertask.maxmaps": "3"}
                .get(k, conf(k, d))) == {}


def test_no_uber_job_when_the_application_master_would_exceed_the_largest_container():
    small_cluster = {**CONF, "yarn.scheduler.maximum-allocation-mb": "1024"}
    assert uber(66_000, 1, config=lambda k, d=None: small_cluster.get(k, d)) == {}


def test_a_failed_uber_job_runs_again_in_task_containers_where_hadoop_retries_tasks():
    from jobs.hadoop.launch import JobFailed, RunnerOptions
    from jobs.training.epoch_job import retrying_an_uber_job_in_containers

    asked = []

    def run(options):
        asked.append(options.uber)
        if options.uber:
            raise JobFailed("a task of the uber job failed", uber=True)
        return "result"
    assert retrying_an_uber_job_in_containers(run, RunnerOptions("hadoop")) == "result"
    assert asked == [True, False]


def test_a_failed_job_that_was_not_uber_is_not_run_again():
    from jobs.hadoop.launch import JobFailed, RunnerOptions
    from jobs.training.epoch_job import retrying_an_uber_job_in_containers

    asked = []

    def run(options):
        asked.append(options.uber)
        raise JobFailed("a task failed four times", uber=False)
    with pytest.raises(JobFailed):
        retrying_an_uber_job_in_containers(run, RunnerOptions("hadoop"))
    assert asked == [True]


@pytest.mark.hadoop
@pytest.mark.yarn
def test_an_uber_epoch_on_yarn_gives_the_theta_of_the_same_epoch_in_task_containers(
        eight_shard_epochs_on_yarn):
    runs = eight_shard_epochs_on_yarn["runs"]
    uber_run = load_run_state(runs["uber"])
    containers = load_run_state(runs["containers"])
    assert uber_run.history[-1]["uber"] and not containers.history[-1]["uber"]
    assert uber_run.theta.tobytes() == containers.theta.tobytes()
