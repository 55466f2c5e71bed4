"""θ sliced over R reducers: routing, bounded records, and results that do not depend on R."""
import json
import os

import numpy as np
import pytest
from helpers import TINY, load_run_state, train_cli

from jobs.mr.protocol import SliceProtocol
from jobs.mr.slices import (NORM_BLOCK, RECORD_BUDGET, block_square_sums, global_norm,
                            key_partition, plan_slices, routing_key, slice_of_key)
from jobs.mr.train_epoch import MRTrainEpoch, slice_plan
from jobs.hadoop.resources import ClusterTooSmall, memory_jobconf, task_memory
from jobs.run.state import RunSettings, TrainingState, read_state_range
from rnn_core import ModelConfig, init_params, num_params
from rnn_core.optimizers import OptimizerConfig, init_state
from rnn_core.serialization import save_arrays


def java_string_hash(s):
    """Java's String.hashCode, which KeyFieldBasedPartitioner's hash equals for ASCII keys."""
    h = 0
    for ch in s:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def test_partition_is_hadoops_key_field_hash():
    assert java_string_hash("hello") == 99162322  # the value Java gives
    for key in ["hello", "00000", "00017.3", "a much longer key than the others"]:
        for reducers in (1, 2, 3, 7, 64):
            assert key_partition(key, reducers) == \
                (java_string_hash(key) & 0x7FFFFFFF) % reducers


def test_routing_key_sends_slice_s_to_reducer_s_mod_r():
    for reducers in (1, 2, 4, 7, 50):
        for s in range(120):
            key = routing_key(s, reducers)
            assert key_partition(key, reducers) == s % reducers
            assert slice_of_key(key) == s


def test_plan_has_at_least_r_block_aligned_slices_and_as_many_as_the_budget_needs():
    plan = plan_slices(10_000, 12, reducers=7)
    assert plan.count == 7 and plan.bounds[0] == 0 and plan.bounds[-1] == 10_000
    assert all(b % NORM_BLOCK == 0 for b in plan.bounds[:-1])
    assert all(lo < hi for lo, hi in map(plan.range, range(plan.count)))
    big = plan_slices(17_000_000, 24, reducers=1)  # float64 θ + 2 Adam moments
    assert big.count == pytest.approx(17_000_000 * 24 * 4 / 3 / RECORD_BUDGET, rel=0.05)
    assert plan_slices(300, 12, reducers=7).count == 2  # no more slices than norm blocks
    # a multiple of R, so that every reducer gets as many slices
    assert plan_slices(17_000_000, 24, reducers=4).count % 4 == 0


def test_norm_from_block_sums_is_the_same_for_every_slicing():
    g = np.random.default_rng(0).standard_normal(5000).astype(np.float32)
    norms = set()
    for reducers in (1, 2, 4, 7):
        plan = plan_slices(g.size, 4, reducers)
        sums = np.concatenate([block_square_sums(g[lo:hi])
                               for lo, hi in map(plan.range, range(plan.count))])
        norms.add(global_norm(sums))
    assert len(norms) == 1
    assert norms.pop() == pytest.approx(np.linalg.norm(g.astype(np.float64)), rel=1e-13)


def big_state(tmp_path, mode):
    """A float64 LSTM-1024 x 2 with Adam over a 900-symbol vocabulary: 18.6 M parameters."""
    model = ModelConfig(cell="lstm", hidden=1024, layers=2, vocab_size=900, dtype="float64")
    opt = OptimizerConfig(name="adam", lr=0.002, clip_norm=5.0)
    theta = np.zeros(num_params(model))
    theta[::7] = 0.01  # any values: the test measures record sizes
    state = TrainingState(model=model, optimizer=opt, theta=theta, opt_state=init_state(opt, theta),
                          settings=RunSettings(mode=mode, batch=4, bptt=0, seed=0))
    path = str(tmp_path / "state.npz")
    save_arrays(path, state.to_arrays())
    return state, path


@pytest.mark.parametrize("mode", ["average", "gradient"])
def test_no_record_line_of_a_17m_parameter_model_exceeds_the_budget(tmp_path, mode):
    state, path = big_state(tmp_path, mode)
    assert state.theta.size >= 17_000_000
    job = MRTrainEpoch(["--state", path, "--reducers", "1"])
    job.mapper_init()
    protocol = SliceProtocol()
    lines = [protocol.write(key, record) for key, record in job.mapper_final()]
    plan = slice_plan(state.model, state.optimizer, 1)
    assert len(lines) == plan.count > 1
    assert max(map(len, lines)) <= RECORD_BUDGET
    # the reducer's input and output lines of the largest slice are bounded too
    job.reducer_init()
    key, record = protocol.read(lines[0])
    out = [protocol.write(k, r) for k, r in job.steps()[0]["reducer"](key, iter([record]))]
    assert out and max(map(len, out)) <= RECORD_BUDGET
    lo, hi = plan.range(0)
    assert np.array_equal(read_state_range(path, lo, hi)["theta"], state.theta[lo:hi])


def test_memory_settings_follow_the_model_and_fail_before_submission_when_too_large():
    conf = {"mapreduce.map.java.opts": "-Xmx512m --add-opens=java.base/java.lang=ALL-UNNAMED",
            "yarn.scheduler.maximum-allocation-mb": "2048"}.get
    small_map, small_reduce = task_memory(1_000_000, lambda k, d=None: conf(k, d))
    big_map, big_reduce = task_memory(200 * 2**20, lambda k, d=None: conf(k, d))
    assert big_map.container_mb > small_map.container_mb  # the Python child holds θ
    assert big_map.heap_mb == small_map.heap_mb == 512   # the JVM's heap does not grow
    assert big_reduce == small_reduce                     # reducers hold slices only
    settings = memory_jobconf(1_000_000, lambda k, d=None: conf(k, d))
    assert settings["mapreduce.map.java.opts"].startswith("-Xmx512m --add-opens")
    with pytest.raises(ClusterTooSmall, match="yarn.scheduler.maximum-allocation-mb"):
        memory_jobconf(200 * 2**20, lambda k, d=None: conf(k, d))


# -- whole epochs: θ does not depend on R ---------------------------------------------------

def theta_of(run):
    return load_run_state(run).theta


def metrics_of(run):
    with open(os.path.join(run, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


def train_with_reducers(text_data, tmp_path, runner, reducers, *flags, epochs=1, name=None):
    run = str(tmp_path / (name or f"{runner}-{'-'.join(map(str, flags))}-r{reducers}"))
    assert train_cli("--data", text_data[0], "--run", run, "--epochs", epochs, "--runner",
                     runner, "--reducers", reducers, *TINY, *flags) == 0
    return run


# the local runner's reducers are processes, each with its share of the slices: one and seven
# of them; two and four run in this process
@pytest.mark.parametrize("runner, every_r", [("inline", (1, 2, 4, 7)), ("local", (1, 7))],
                         ids=["inline", "local"])
def test_average_mode_theta_is_bit_identical_for_any_number_of_reducers(train_only_text_data,
                                                                        tmp_path, runner, every_r):
    runs = {r: train_with_reducers(train_only_text_data, tmp_path, runner, r, "--mode", "average")
            for r in every_r}
    reference = theta_of(runs[1]).tobytes()
    same = {r: theta_of(run).tobytes() == reference for r, run in runs.items()}
    assert same == dict.fromkeys(every_r, True)
    m1, m7 = metrics_of(runs[1])[0], metrics_of(runs[7])[0]
    assert m1["reducer_bytes_max"] == m1["shuffle_bytes"] > 0
    assert m7["reducer_bytes_max"] < m7["shuffle_bytes"]
    # the same data, cut into 7 records per task instead of one (a few KB of npz headers each)
    assert m1["shuffle_bytes"] < m7["shuffle_bytes"] < m1["shuffle_bytes"] + 7 * 4096 * m7["map_tasks"]


@pytest.mark.parametrize("clip", ["0", "0.5"])
def test_gradient_mode_theta_does_not_depend_on_r_with_or_without_clipping(text_data, tmp_path,
                                                                           clip):
    runs = {r: train_with_reducers(text_data, tmp_path, "inline", r, "--mode", "gradient",
                                   "--clip", clip) for r in (1, 2, 7)}
    reference = theta_of(runs[1])
    for run in runs.values():
        theta = theta_of(run)
        assert np.max(np.abs(theta - reference)) <= 1e-12 * np.max(np.abs(reference))
        assert theta.tobytes() == reference.tobytes()  # in fact bit-identical


def test_clipping_happened_and_differs_from_no_clipping(text_data, tmp_path):
    clipped = train_with_reducers(text_data, tmp_path, "inline", 4, "--mode", "gradient",
                                  "--clip", "0.001", "--optimizer", "sgd", "--lr", "1")
    free = train_with_reducers(text_data, tmp_path, "inline", 4, "--mode", "gradient",
                               "--clip", "0", "--optimizer", "sgd", "--lr", "1")
    start = init_params(load_run_state(clipped).model, seed=0)
    # with sgd and lr 1 the step is the clipped gradient: its norm is the clip
    assert np.linalg.norm(theta_of(clipped) - start) == pytest.approx(0.001, rel=1e-9)
    assert np.linalg.norm(theta_of(free) - start) > 0.01


def test_resumed_run_with_four_reducers_is_bit_identical_to_an_uninterrupted_one(text_data,
                                                                                  tmp_path):
    straight = train_with_reducers(text_data, tmp_path, "inline", 1, epochs=2, name="straight")
    resumed = train_with_reducers(text_data, tmp_path, "inline", 4, epochs=1, name="resumed")
    train_with_reducers(text_data, tmp_path, "inline", 4, epochs=2, name="resumed")
    assert theta_of(resumed).tobytes() == theta_of(straight).tobytes()
    assert [m["epoch"] for m in metrics_of(resumed)] == [1, 2]


def test_map_tasks_on_mrjobs_own_runners_cuts_files_into_n_pieces(text_data, tmp_path):
    run = str(tmp_path / "run")
    assert train_cli("--data", text_data[0], "--run", run, "--epochs", 1, "--map-tasks", 8,
                     *TINY) == 0
    assert metrics_of(run)[0]["map_tasks"] == 8


def test_the_driver_refuses_output_with_a_missing_or_repeated_slice():
    from jobs.mr.protocol import Record
    from jobs.training import TrainingError
    from jobs.training.epoch_job import assemble_slices

    model = ModelConfig(cell="rnn", hidden=16, vocab_size=20, dtype="float64")
    opt = OptimizerConfig(name="adam", lr=0.01)
    theta = init_params(model, seed=0)
    state = TrainingState(model=model, optimizer=opt, theta=theta,
                          opt_state=init_state(opt, theta), settings=RunSettings())
    plan = plan_slices(theta.size, 24, reducers=3)
    pairs = [(plan.key(s), Record("theta", {"lo": np.array(lo), "theta": theta[lo:hi],
                                            "opt.m": theta[lo:hi], "opt.v": theta[lo:hi],
                                            "opt.t": np.array(1), "count": np.array(5.0)}))
             for s, (lo, hi) in enumerate(map(plan.range, range(plan.count)))]
    out = assemble_slices(iter(pairs), state)
    assert out["theta"].tobytes() == theta.tobytes() and float(out["count"]) == 5.0
    with pytest.raises(TrainingError, match="misses"):
        assemble_slices(iter(pairs[:1] + pairs[2:]), state)
    with pytest.raises(TrainingError, match="repeats"):
        assemble_slices(iter(pairs + pairs[1:2]), state)
