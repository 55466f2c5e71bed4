"""The epoch job's map and reduce tasks, run in-process against a plain-Python reference.

Each map task is an MRTrainEpoch whose mapper_init / mapper / mapper_final are called on its
own record lines; the records go through the job's protocol, are sorted as Hadoop and
mrjob's runners sort them (key, then tag) and grouped by key; each group goes to a reducer
(and, with global-norm clipping, the outputs through the norm step). The result is compared
with what the epoch must compute, written out here directly from rnn_core: in gradient mode
one optimizer step on the mean gradient over all tasks; in average mode each task's own
optimizer steps over its minibatches, then the scored-step-weighted mean of the changes and
of the optimizer states. Fast (no mrjob runner), so it runs against every mutant of
jobs/mr/train_epoch.py and jobs/mr/slices.py.
"""
import dataclasses
import itertools
import math
import re

import numpy as np
import pytest

from jobs.data.batches import iter_batches
from jobs.data.records import Record as Chunk
from jobs.data.records import encode_record
from jobs.mr import train_epoch
from jobs.mr.counters import COUNTERS, REDUCE_INPUT_BYTES, REDUCE_MILLISECONDS, TASK_PEAK_RSS
from jobs.mr.protocol import Record, SliceProtocol, task_tag
from jobs.mr.slices import (ELEMENT_BYTES_PER_RECORD, MAX_SLICES, NORM_BLOCK, Assembler,
                            key_partition, plan_slices, routing_key)
from jobs.mr.train_epoch import (COMBINE_INPUT_FORMAT, MRTrainEpoch, average_slot,
                                 bytes_per_element, slice_plan, sum_in_task_order)
from jobs.run.state import RunSettings, TrainingState, read_state_file
from rnn_core import ModelConfig, init_params, loss_and_grad, num_params
from rnn_core.optimizers import OptimizerConfig, apply, init_state
from rnn_core.serialization import save_arrays

# 714 parameters: three norm blocks, so three slices with three reducers
MODEL = ModelConfig(cell="lstm", hidden=8, vocab_size=10)
ADAM = OptimizerConfig(name="adam", lr=0.05)
BATCH = 2
# three map tasks of unequal sizes (5, 2 and 4 chunks), chunks of unequal lengths
TASK_SIZES = (5, 2, 4)


def task_chunks(seed=0, sizes=TASK_SIZES, vocab=MODEL.vocab_size):
    """Chunk records per map task: random ids, some with warm-up steps (context only)."""
    rng = np.random.default_rng(seed)
    chunks = []
    for task, n in enumerate(sizes):
        values = [rng.integers(0, vocab, rng.integers(3, 10)) for _ in range(n)]
        chunks.append([Chunk(f"s{task}/{i}", v, int(rng.integers(0, len(v) - 1)) if i % 2 else 0)
                       for i, v in enumerate(values)])
    return chunks


def scored_steps(chunks):
    return sum(len(c.values) - 1 - c.warmup for c in chunks)


def write_state(tmp_path, model=MODEL, optimizer=ADAM, steps_taken=0, settings=None,
                outer_state=None, rounds=()):
    theta = init_params(model, seed=1)
    opt_state = init_state(optimizer, theta)
    opt_state["t"] = np.array(steps_taken, dtype=np.int64)
    for slot in opt_state:
        if slot != "t":  # a state mid-run: slots that are not zero
            opt_state[slot] = (np.abs(np.random.default_rng(2).standard_normal(theta.size))
                               * 1e-3).astype(theta.dtype)
    state = TrainingState(model=model, optimizer=optimizer, theta=theta, opt_state=opt_state,
                          settings=RunSettings(**{"batch": BATCH, **(settings or {})}),
                          outer_state=outer_state or {}, rounds=list(rounds))
    path = str(tmp_path / "state.npz")
    save_arrays(path, state.to_arrays())
    return state, path


def job_args(path, mode, reducers, *extra):
    """The epoch job's arguments; the job reads its settings from the state file ``path``,
    which is made to say ``mode``."""
    state = read_state_file(path)
    if state.settings.mode != mode:
        save_arrays(path, dataclasses.replace(
            state, settings=dataclasses.replace(state.settings, mode=mode)).to_arrays())
    return ["--state", path, "--reducers", str(reducers), *extra]


class Counters(list):
    """increment_counter calls, as (group, name, amount)."""

    def __call__(self, group, name, amount=1):
        self.append((group, name, amount))

    def of(self, group):
        return [(name, amount) for g, name, amount in self if g == group]


def run_map_task(monkeypatch, path, mode, reducers, task, chunks, counters=None, extra=()):
    """Lines the map task ``task`` writes for its chunks (through the job's protocol)."""
    monkeypatch.setenv("mapreduce_task_partition", str(task))
    job = MRTrainEpoch(job_args(path, mode, reducers, *extra))
    job.increment_counter = counters if counters is not None else Counters()
    job.mapper_init()
    for chunk in chunks:
        for _ in job.mapper(None, encode_record(chunk.key, chunk.values, chunk.warmup)) or ():
            pass
    protocol = SliceProtocol()
    return [protocol.write(key, record) for key, record in job.mapper_final()]


def shuffle(lines):
    """Sort lines (key, then tag: the job's secondary sort) and group them by key."""
    protocol = SliceProtocol()
    pairs = [protocol.read(line) for line in sorted(lines)]
    return [(key, [record for _, record in group])
            for key, group in itertools.groupby(pairs, key=lambda pair: pair[0])]


def run_reduce_step(path, mode, reducers, lines, step=0, counters=None):
    job = MRTrainEpoch(job_args(path, mode, reducers) + [f"--step-num={step}", "--reducer"])
    job.increment_counter = counters if counters is not None else Counters()
    job.reducer_init()
    reduce = job.steps()[step]["reducer"]
    protocol = SliceProtocol()
    out = [protocol.write(key, record) for key, records in shuffle(lines)
           for key, record in reduce(key, iter(records))]
    job.reducer_final()
    return out


def run_epoch(monkeypatch, path, mode, reducers, chunks_by_task, valid_by_task=(),
              valid_listing=None):
    """The epoch's final output records (a list of Record), as the driver receives them.

    valid_by_task: chunks of more map tasks, which read validation shards listed in the file
    ``valid_listing`` (task t's file: VALID_FILE.format(t)); the training tasks read
    TRAIN_FILE.format(t).
    """
    lines = []
    extra = ["--valid-shards", valid_listing] if valid_listing else []
    for task, chunks in enumerate(list(chunks_by_task) + list(valid_by_task)):
        monkeypatch.setenv("mapreduce_map_input_file", (
            TRAIN_FILE if task < len(chunks_by_task) else VALID_FILE).format(task))
        lines += run_map_task(monkeypatch, path, mode, reducers, task, chunks, extra=extra)
    out = run_reduce_step(path, mode, reducers, lines)
    if MRTrainEpoch(job_args(path, mode, reducers)).clips_global_norm():
        out = run_reduce_step(path, mode, reducers, out, step=1)
    return [record for _, records in shuffle(out) for record in records]


# the files map tasks read, as Hadoop names them (the listing may name them otherwise)
TRAIN_FILE = "hdfs://namenode:8020/data/train/part-{:05d}.txt"
VALID_FILE = "hdfs://namenode:8020/data/valid/part-{:05d}.txt"


def assembled(records, n):
    """θ, the optimizer state and the scalars from the slices' output records."""
    records = sorted([r for r in records if r.tag != "valid"], key=lambda r: int(r.arrays["lo"]))
    assert all(r.tag == "theta" for r in records)
    bounds = [int(r.arrays["lo"]) for r in records] + [n]
    for r, lo, hi in zip(records, bounds, bounds[1:]):
        assert len(r.arrays["theta"]) == hi - lo
    theta = np.concatenate([r.arrays["theta"] for r in records])
    slots = [name for name in records[0].arrays if name.startswith("opt.") and name != "opt.t"]
    opt_state = {name[4:]: np.concatenate([r.arrays[name] for r in records]) for name in slots}
    opt_state["t"] = records[0].arrays["opt.t"]
    assert all(r.arrays["opt.t"] == opt_state["t"] for r in records)
    scalars = {name: float(records[0].arrays[name]) for name in ("loss_sum", "count", "records")}
    assert all(float(r.arrays[name]) == value for r in records for name, value in scalars.items())
    return theta, opt_state, scalars


def batches_of(chunks, model=MODEL):
    return list(iter_batches(chunks, model, BATCH))


def reference_gradient_epoch(state, chunks_by_task, model=MODEL, bptt=None):
    """One step of the optimizer on Σ grad / Σ count over every minibatch of every task."""
    total, loss, count, records = np.zeros(state.theta.size), 0.0, 0.0, 0
    for chunks in chunks_by_task:
        task_grad = np.zeros_like(state.theta)
        for inputs, targets, mask in batches_of(chunks, model):
            l, c, g = loss_and_grad(state.theta, model, inputs, targets, mask, bptt)
            task_grad += g
            loss, count, records = loss + l, count + c, records + len(inputs)
        total += task_grad
    theta, opt_state = apply(state.optimizer, state.theta,
                             (total / count).astype(state.theta.dtype), state.opt_state)
    return theta, opt_state, {"loss_sum": loss, "count": count, "records": records}


def reference_average_epoch(state, chunks_by_task, model=MODEL, bptt=None):
    """Each task steps from θ over its minibatches; then the count-weighted mean change of θ
    and count-weighted mean of the optimizer state (the step counter rounded)."""
    results, loss, records = [], 0.0, 0
    for chunks in chunks_by_task:
        theta, opt_state, task_count = state.theta, state.opt_state, 0.0
        for inputs, targets, mask in batches_of(chunks, model):
            l, c, g = loss_and_grad(theta, model, inputs, targets, mask, bptt)
            theta, opt_state = apply(state.optimizer, theta, g / c, opt_state)
            loss, task_count, records = loss + l, task_count + c, records + len(inputs)
        results.append((task_count, theta, opt_state))
    count = sum(c for c, _, _ in results)
    change = sum(c * (theta - state.theta) for c, theta, _ in results) / count
    opt_state = {name: sum(c * s[name] for c, _, s in results) / count
                 for name in state.opt_state}
    opt_state["t"] = np.rint(opt_state["t"]).astype(np.int64)
    return state.theta + change, opt_state, {"loss_sum": loss, "count": count,
                                              "records": records}


def assert_epoch_equals(result, expected, rtol):
    theta, opt_state, scalars = result
    e_theta, e_opt, e_scalars = expected
    np.testing.assert_allclose(theta, e_theta, rtol=rtol, atol=0)
    assert sorted(opt_state) == sorted(e_opt)
    for name in e_opt:
        np.testing.assert_allclose(opt_state[name], e_opt[name], rtol=rtol, atol=0, err_msg=name)
    assert opt_state["t"].dtype == np.int64
    assert scalars["count"] == e_scalars["count"] and scalars["records"] == e_scalars["records"]
    assert scalars["loss_sum"] == pytest.approx(e_scalars["loss_sum"], rel=1e-12)


# -- whole epochs against the reference ------------------------------------------------------

@pytest.mark.parametrize("reducers", [1, 3])
def test_gradient_mode_epoch_is_one_step_on_the_mean_gradient_of_all_tasks(
        tmp_path, monkeypatch, reducers):
    state, path = write_state(tmp_path, steps_taken=4)
    chunks = task_chunks()
    result = assembled(run_epoch(monkeypatch, path, "gradient", reducers, chunks), state.theta.size)
    assert_epoch_equals(result, reference_gradient_epoch(state, chunks), rtol=1e-12)
    assert int(result[1]["t"]) == 5


@pytest.mark.parametrize("reducers", [1, 3])
def test_average_mode_epoch_is_the_count_weighted_mean_of_the_tasks_local_training(
        tmp_path, monkeypatch, reducers):
    state, path = write_state(tmp_path, steps_taken=4)
    chunks = task_chunks()
    result = assembled(run_epoch(monkeypatch, path, "average", reducers, chunks), state.theta.size)
    assert_epoch_equals(result, reference_average_epoch(state, chunks), rtol=1e-12)


def outer_delta(n, seed=3):
    """A Δ(t-1) of the outer optimizer mid-run: not zero."""
    return {"delta": (np.random.default_rng(seed).standard_normal(n) * 1e-2).astype(np.float32)}


def plain_average_op_for_op(state, chunks_by_task):
    """θ of the plain average (the average mode before the outer optimizer), computed with the
    job's operations in the job's order: θ0 + (Σ count·(θ_task - θ0) / Σ count, in float64)
    cast to θ's dtype."""
    total, count = np.zeros(state.theta.size), 0.0
    for chunks in chunks_by_task:
        theta, opt_state, task_count = state.theta, state.opt_state, np.zeros(())
        for inputs, targets, mask in batches_of(chunks):
            _, c, g = loss_and_grad(theta, MODEL, inputs, targets, mask)
            task_count += c
            theta, opt_state = apply(state.optimizer, theta, g / c, opt_state)
        total += float(task_count) * (np.asarray(theta, np.float64) - state.theta)
        count += float(task_count)
    return state.theta + (total / count).astype(state.theta.dtype)


@pytest.mark.parametrize("settings, tasks", [
    ({"outer_momentum": "auto", "outer_nesterov": True, "inner_state": "auto"}, 1),  # default
    ({"outer_momentum": "auto", "outer_nesterov": False, "inner_state": "mean"}, 1),
    ({"outer_momentum": 0.0, "outer_lr": 1.0, "inner_state": "mean"}, 3),  # the outer opt. off
])
def test_average_mode_with_one_task_or_the_outer_optimizer_off_is_the_plain_average_bit_for_bit(
        tmp_path, monkeypatch, settings, tasks):
    state, path = write_state(tmp_path, steps_taken=4, settings=settings,
                              outer_state=outer_delta(num_params(MODEL)))
    chunks = task_chunks()[:tasks]
    theta, _, _ = assembled(run_epoch(monkeypatch, path, "average", 3, chunks), state.theta.size)
    assert theta.tobytes() == plain_average_op_for_op(state, chunks).tobytes()


@pytest.mark.parametrize("inner_state, tasks, resets", [
    ("reset", 1, True), ("reset", 3, True), ("auto", 3, True), ("auto", 1, False),
    ("mean", 3, False)])
def test_inner_state_after_a_sync_is_the_tasks_mean_or_a_fresh_state(
        tmp_path, monkeypatch, inner_state, tasks, resets):
    state, path = write_state(tmp_path, steps_taken=4, outer_state=outer_delta(num_params(MODEL)),
                              settings={"outer_momentum": "auto", "inner_state": inner_state})
    chunks = task_chunks()[:tasks]
    _, opt_state, _ = assembled(run_epoch(monkeypatch, path, "average", 3, chunks),
                                state.theta.size)
    mean = reference_average_epoch(state, chunks)[1]
    expected = init_state(ADAM, state.theta) if resets else mean
    for name in expected:
        np.testing.assert_allclose(opt_state[name], expected[name], rtol=1e-12, err_msg=name)


def outer_epoch(tmp_path, monkeypatch, reducers, nesterov):
    """θ and Δ after an average epoch of 3 tasks, η = 1 - 1/3, from a Δ(t-1) that is not 0."""
    tmp_path.mkdir(exist_ok=True)
    state, path = write_state(tmp_path, steps_taken=4, outer_state=outer_delta(num_params(MODEL)),
                              settings={"outer_momentum": "auto", "outer_lr": 0.8,
                                        "outer_nesterov": nesterov})
    records = run_epoch(monkeypatch, path, "average", reducers, task_chunks())
    records = sorted(records, key=lambda r: int(r.arrays["lo"]))
    theta, _, _ = assembled(records, state.theta.size)
    return state, theta, np.concatenate([r.arrays["outer.delta"] for r in records])


@pytest.mark.parametrize("nesterov", [False, True])
def test_outer_step_is_block_momentum_on_the_tasks_mean_change(tmp_path, monkeypatch, nesterov):
    state, theta, delta = outer_epoch(tmp_path, monkeypatch, 3, nesterov)
    plain = plain_average_op_for_op(state, task_chunks())
    change = plain.astype(np.float64) - state.theta       # G, up to θ's rounding
    eta, zeta = 1 - 1 / 3, 0.8
    expected_delta = eta * state.outer_state["delta"].astype(np.float64) + zeta * change
    step = eta * expected_delta + zeta * change if nesterov else expected_delta
    np.testing.assert_allclose(delta, expected_delta, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(theta, state.theta + step, rtol=1e-4, atol=1e-6)
    assert not np.allclose(theta, plain, rtol=1e-3)  # the momentum did something


def test_outer_step_sliced_over_three_reducers_equals_one_reducer_bit_for_bit(tmp_path,
                                                                               monkeypatch):
    _, theta1, delta1 = outer_epoch(tmp_path / "r1", monkeypatch, 1, True)
    _, theta3, delta3 = outer_epoch(tmp_path / "r3", monkeypatch, 3, True)
    assert theta1.tobytes() == theta3.tobytes() and delta1.tobytes() == delta3.tobytes()


def chunks_of_round(chunks, k, rounds):
    """The chunks of the task's minibatches b with b % rounds == k."""
    return [c for i, c in enumerate(chunks) if (i // BATCH) % rounds == k]


@pytest.mark.parametrize("k", [0, 1])
def test_sync_round_k_of_two_trains_each_task_on_its_minibatches_b_with_b_mod_2_equal_k(
        tmp_path, monkeypatch, k):
    state, path = write_state(tmp_path, steps_taken=4, settings={"syncs_per_epoch": 2},
                              rounds=[{}] * k)
    chunks = task_chunks()
    result = assembled(run_epoch(monkeypatch, path, "average", 3, chunks), state.theta.size)
    expected = reference_average_epoch(state, [chunks_of_round(c, k, 2) for c in chunks])
    assert_epoch_equals(result, expected, rtol=1e-12)


def test_average_mode_weights_the_optimizer_step_counter_by_scored_steps(tmp_path, monkeypatch):
    # tasks of 3, 1 and 2 minibatches: t = 4 + (3 c0 + 1 c1 + 2 c2) / (c0 + c1 + c2), rounded
    state, path = write_state(tmp_path, steps_taken=4)
    chunks = task_chunks()
    _, opt_state, _ = assembled(run_epoch(monkeypatch, path, "average", 3, chunks),
                                state.theta.size)
    counts = [sum(float(m.sum()) for _, _, m in batches_of(c)) for c in chunks]
    steps = [len(batches_of(c)) for c in chunks]
    mean = 4 + sum(c * s for c, s in zip(counts, steps)) / sum(counts)
    assert int(opt_state["t"]) == int(np.rint(mean))


@pytest.mark.parametrize("optimizer", [
    OptimizerConfig(name="sgd", lr=0.5, clip_norm=0.05),
    OptimizerConfig(name="adam", lr=0.05, clip_norm=0.05, clip_value=0.004),
])
def test_gradient_mode_with_global_norm_clipping_clips_the_whole_mean_gradient(
        tmp_path, monkeypatch, optimizer):
    state, path = write_state(tmp_path, optimizer=optimizer)
    chunks = task_chunks()
    assert MRTrainEpoch(job_args(path, "gradient", 3)).clips_global_norm()
    result = assembled(run_epoch(monkeypatch, path, "gradient", 3, chunks), state.theta.size)
    expected = reference_gradient_epoch(state, chunks)
    assert_epoch_equals(result, expected, rtol=1e-12)
    unclipped = reference_gradient_epoch(
        dataclasses.replace(state, optimizer=dataclasses.replace(optimizer, clip_norm=None)),
        chunks)
    assert not np.allclose(result[0], unclipped[0], rtol=1e-3)  # the clip did something


def test_gradient_mode_with_a_clip_that_is_not_reached_equals_no_clipping(tmp_path, monkeypatch):
    opt = OptimizerConfig(name="sgd", lr=0.5, clip_norm=1e6)
    state, path = write_state(tmp_path, optimizer=opt)
    chunks = task_chunks()
    result = assembled(run_epoch(monkeypatch, path, "gradient", 3, chunks), state.theta.size)
    plain = dataclasses.replace(state, optimizer=dataclasses.replace(opt, clip_norm=None))
    assert_epoch_equals(result, reference_gradient_epoch(plain, chunks), rtol=1e-12)


def test_clip_by_value_alone_needs_no_norm_step_and_clips_each_element(tmp_path, monkeypatch):
    opt = OptimizerConfig(name="sgd", lr=0.5, clip_value=0.004)
    state, path = write_state(tmp_path, optimizer=opt)
    chunks = task_chunks()
    assert not MRTrainEpoch(job_args(path, "gradient", 3)).clips_global_norm()
    assert len(MRTrainEpoch(job_args(path, "gradient", 3)).steps()) == 1
    result = assembled(run_epoch(monkeypatch, path, "gradient", 3, chunks), state.theta.size)
    assert_epoch_equals(result, reference_gradient_epoch(state, chunks), rtol=1e-12)


def test_norm_step_runs_only_in_gradient_mode_with_a_global_norm_clip(tmp_path):
    _, path = write_state(tmp_path, optimizer=OptimizerConfig(name="sgd", lr=0.5, clip_norm=1.0))
    assert len(MRTrainEpoch(job_args(path, "gradient", 3)).steps()) == 2
    assert len(MRTrainEpoch(job_args(path, "average", 3)).steps()) == 1
    assert not MRTrainEpoch(job_args(path, "average", 3)).clips_global_norm()


@pytest.mark.parametrize("mode", ["gradient", "average"])
@pytest.mark.parametrize("optimizer", [ADAM, OptimizerConfig(name="sgd", lr=0.5, clip_norm=0.05)])
def test_an_epoch_without_scored_steps_leaves_theta_and_the_optimizer_state(
        tmp_path, monkeypatch, mode, optimizer):
    state, path = write_state(tmp_path, optimizer=optimizer, steps_taken=3)
    records = run_epoch(monkeypatch, path, mode, 3, [[], []])
    theta, opt_state, scalars = assembled(records, state.theta.size)
    np.testing.assert_array_equal(theta, state.theta)
    for name, value in state.opt_state.items():
        np.testing.assert_array_equal(opt_state[name], value)
    assert scalars == {"loss_sum": 0.0, "count": 0.0, "records": 0.0}


def test_float32_model_epoch_keeps_theta_and_slots_in_float32(tmp_path, monkeypatch):
    model = ModelConfig(cell="gru", hidden=8, vocab_size=10, dtype="float32")
    state, path = write_state(tmp_path, model=model)
    chunks = task_chunks()
    for mode, reference in [("gradient", reference_gradient_epoch),
                            ("average", reference_average_epoch)]:
        theta, opt_state, _ = result = assembled(run_epoch(monkeypatch, path, mode, 3, chunks),
                                                 state.theta.size)
        assert theta.dtype == opt_state["m"].dtype == opt_state["v"].dtype == np.float32
        expected = reference(state, chunks, model)
        np.testing.assert_allclose(theta, expected[0], rtol=1e-5)


# -- what a map task emits -------------------------------------------------------------------

@pytest.mark.parametrize("mode, vectors", [("gradient", ["grad"]),
                                           ("average", ["opt.m", "opt.v", "theta"])])
def test_map_task_emits_one_record_per_slice_tagged_with_its_task_number(
        tmp_path, monkeypatch, mode, vectors):
    state, path = write_state(tmp_path)
    lines = run_map_task(monkeypatch, path, mode, 3, 7, task_chunks()[0])
    pairs = [SliceProtocol().read(line) for line in lines]
    plan = slice_plan(MODEL, ADAM, 3)
    assert plan.count == 3
    assert [key for key, _ in pairs] == [plan.key(s) for s in range(3)]
    for s, (_, record) in enumerate(pairs):
        lo, hi = plan.range(s)
        assert record.tag == "t000007"
        assert sorted(name for name in record.arrays if record.arrays[name].ndim) == vectors
        assert all(len(record.arrays[name]) == hi - lo for name in vectors)
    scalars = {name: float(pairs[0][1].arrays[name]) for name in ("loss_sum", "count", "records")}
    assert scalars["records"] == 5 and scalars["count"] == scored_steps(task_chunks()[0])


def test_gradient_mode_map_task_emits_its_summed_gradient_sliced(tmp_path, monkeypatch):
    state, path = write_state(tmp_path)
    chunks = task_chunks()[0]
    lines = run_map_task(monkeypatch, path, "gradient", 3, 0, chunks)
    grad = np.concatenate([SliceProtocol().read(line)[1].arrays["grad"] for line in lines])
    expected = sum(loss_and_grad(state.theta, MODEL, *batch)[2] for batch in batches_of(chunks))
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=0)


def test_map_task_counts_its_minibatches_records_and_scored_steps(tmp_path, monkeypatch):
    _, path = write_state(tmp_path)
    chunks = task_chunks()[0]  # 5 chunks: 3 minibatches of 2
    counters = Counters()
    clock = itertools.count(0.0, 0.25)
    monkeypatch.setattr(train_epoch.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(train_epoch, "peak_rss_kb", lambda: 4321)
    run_map_task(monkeypatch, path, "gradient", 3, 2, chunks, counters)
    steps = scored_steps(chunks)
    mine = counters.of(COUNTERS)
    assert mine == [("minibatches", 1)] * 3 + [
        ("map tasks", 1), ("records", 5), ("scored steps", steps),
        ("compute milliseconds", 3 * 250)]
    assert counters.of(TASK_PEAK_RSS) == [("map 000002", 4321)]


def test_reduce_task_counts_its_input_bytes_and_reduce_time_per_step(tmp_path, monkeypatch):
    _, path = write_state(tmp_path)
    lines = [line for task, chunks in enumerate(task_chunks())
             for line in run_map_task(monkeypatch, path, "gradient", 3, task, chunks)]
    monkeypatch.setenv("mapreduce_task_partition", "1")
    clock = itertools.count(0.0, 0.5)
    monkeypatch.setattr(train_epoch.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(train_epoch, "peak_rss_kb", lambda: 8765)
    counters = Counters()
    run_reduce_step(path, "gradient", 3, lines, counters=counters)
    assert counters.of(REDUCE_INPUT_BYTES) == [("reducer 000001", sum(map(len, lines[i::3])) + 3)
                                               for i in range(3)]
    assert counters.of(REDUCE_MILLISECONDS) == [("reducer 000001 step 0", 3 * 500)]
    assert counters.of(TASK_PEAK_RSS) == [("reducer 000001 step 0", 8765)]


def test_first_attempt_of_map_task_zero_fails_on_purpose_with_the_test_hook(tmp_path, monkeypatch):
    _, path = write_state(tmp_path)
    monkeypatch.setenv("mapreduce_task_partition", "0")
    monkeypatch.setenv("mapreduce_task_attempt_id", "attempt_1_0001_m_000000_0")
    job = MRTrainEpoch(job_args(path, "gradient", 1, "--fail-first-attempt"))
    with pytest.raises(RuntimeError, match=r"^--fail-first-attempt: attempt_1_0001_m_000000_0 "
                                           r"fails on purpose \(test hook\)$"):
        job.run_mapper()


@pytest.mark.parametrize("partition, attempt, flag", [
    ("0", "attempt_1_0001_m_000000_1", True),    # the retry
    ("1", "attempt_1_0001_m_000001_0", True),    # another task
    ("0", "attempt_1_0001_m_000000_0", False),   # no hook
    ("0", None, True),                           # no attempt id (mrjob's own runners)
])
def test_other_attempts_run_normally(tmp_path, monkeypatch, partition, attempt, flag):
    _, path = write_state(tmp_path)
    monkeypatch.setenv("mapreduce_task_partition", partition)
    if attempt is None:
        monkeypatch.delenv("mapreduce_task_attempt_id", raising=False)
        monkeypatch.delenv("mapred_task_id", raising=False)
    else:
        monkeypatch.setenv("mapreduce_task_attempt_id", attempt)
    job = MRTrainEpoch(job_args(path, "gradient", 1, *(["--fail-first-attempt"] if flag else [])))
    job.increment_counter = Counters()
    job.fail_if_first_attempt()
    job.mapper_init()
    assert job.count == 0


# -- pieces ----------------------------------------------------------------------------------

def test_records_of_a_slice_out_of_task_order_are_refused():
    records = [Record("t000001", {"count": np.array(1.0), "grad": np.zeros(2)}),
               Record("t000001", {"count": np.array(1.0), "grad": np.zeros(2)})]
    with pytest.raises(ValueError, match=r"^records out of task order: 't000001' after "
                                         r"'t000001'$"):
        sum_in_task_order(iter(records), np.zeros(2))


def test_a_slice_with_no_records_is_refused():
    with pytest.raises(ValueError, match="^a slice with no records$"):
        sum_in_task_order(iter([]), np.zeros(2))


def test_sum_in_task_order_weights_theta_changes_and_slots_by_count_and_sums_the_rest():
    theta0 = np.array([1.0, 2.0])
    records = [Record("t000000", {"count": np.array(2.0), "loss_sum": np.array(0.5),
                                  "theta": np.array([2.0, 2.0]), "opt.m": np.array([1.0, 3.0]),
                                  "opt.t": np.array(4)}),
               Record("t000003", {"count": np.array(3.0), "loss_sum": np.array(0.25),
                                  "theta": np.array([1.0, 0.0]), "opt.m": np.array([2.0, 1.0]),
                                  "opt.t": np.array(6)})]
    total = sum_in_task_order(iter(records), theta0)
    assert sorted(total) == ["count", "loss_sum", "opt.m", "opt.t", "tasks", "theta"]
    assert total["count"] == 5.0 and total["loss_sum"] == 0.75 and total["tasks"] == 2
    np.testing.assert_array_equal(total["theta"], [2 * 1.0 + 3 * 0.0, 2 * 0.0 + 3 * -2.0])
    np.testing.assert_array_equal(total["opt.m"], [2 * 1.0 + 3 * 2.0, 2 * 3.0 + 3 * 1.0])
    assert total["opt.t"] == 2 * 4 + 3 * 6
    assert all(value.dtype == np.float64 for value in total.values())


def test_sum_in_task_order_adds_gradients_unweighted_in_float64():
    records = [Record("t000000", {"count": np.array(2.0), "grad": np.float32([1.5, 1e-8])}),
               Record("t000001", {"count": np.array(5.0), "grad": np.float32([1.0, 1.0])})]
    total = sum_in_task_order(iter(records), np.zeros(2, np.float32))
    np.testing.assert_array_equal(total["grad"], [2.5, np.float64(np.float32(1e-8)) + 1.0])


@pytest.mark.parametrize("weighted_sum, count, dtype, expected", [
    (np.array(7.0), 2.0, np.int64, 4),              # 3.5 rounds half to even: 4
    (np.array(5.0), 2.0, np.int64, 2),              # 2.5 rounds to 2
    (np.array(10.0), 4.0, np.int64, 2),             # 2.5 rounds to 2
    (np.array([1.0, 3.0]), 2.0, np.float32, np.float32([0.5, 1.5])),
])
def test_average_slot_is_the_mean_in_the_slot_dtype_integers_rounded(weighted_sum, count, dtype,
                                                                     expected):
    mean = average_slot(weighted_sum, count, dtype)
    assert mean.dtype == dtype
    np.testing.assert_array_equal(mean, expected)


def test_norm_step_refuses_a_slice_whose_first_record_is_not_its_gradient(tmp_path):
    _, path = write_state(tmp_path, optimizer=OptimizerConfig(name="sgd", lr=1.0, clip_norm=1.0))
    job = MRTrainEpoch(job_args(path, "gradient", 3))
    job.increment_counter = Counters()
    job.reducer_init()
    key = slice_plan(MODEL, job.optimizer, 3).key(1)
    records = [Record("n00000", {"block_sums": np.zeros(1)})]
    with pytest.raises(ValueError, match=r"^slice 1: the norm step got 'n00000' before the "
                                         r"gradient$"):
        list(job.clip_and_apply(key, iter(records)))


def test_norm_step_refuses_norm_records_that_are_not_one_per_slice_in_order(tmp_path):
    _, path = write_state(tmp_path, optimizer=OptimizerConfig(name="sgd", lr=1.0, clip_norm=1.0))
    job = MRTrainEpoch(job_args(path, "gradient", 3))
    job.increment_counter = Counters()
    job.reducer_init()
    key = slice_plan(MODEL, job.optimizer, 3).key(0)
    scalars = {"loss_sum": np.array(1.0), "count": np.array(2.0), "records": np.array(1.0)}
    records = [Record("g", {**scalars, "g": np.zeros(NORM_BLOCK)}),
               Record("n00000", {"block_sums": np.zeros(1)}),
               Record("n00002", {"block_sums": np.zeros(1)})]
    with pytest.raises(ValueError, match=r"^slice 0: norm records \['n00000', 'n00002'\] are "
                                         r"not one per slice in order$"):
        list(job.clip_and_apply(key, iter(records)))


@pytest.mark.parametrize("dtype, name, expected", [("float32", "adam", 16), ("float64", "adam", 32),
                                                   ("float64", "sgd", 16),
                                                   ("float32", "momentum", 12)])
def test_bytes_per_element_counts_theta_each_optimizer_slot_and_the_outer_delta(dtype, name,
                                                                                 expected):
    model = ModelConfig(cell="rnn", hidden=2, vocab_size=3, dtype=dtype)
    assert bytes_per_element(model, OptimizerConfig(name=name, lr=0.1)) == expected


def test_slice_plan_covers_theta_for_the_reducers():
    plan = slice_plan(MODEL, ADAM, 3)
    assert plan == plan_slices(num_params(MODEL), 24, 3)


def test_task_tag_is_the_prefix_and_the_six_digit_task_number(monkeypatch):
    monkeypatch.setenv("mapreduce_task_partition", "42")
    assert task_tag() == "t000042" and task_tag("map ") == "map 000042"
    monkeypatch.delenv("mapreduce_task_partition")
    assert task_tag() == "t000000"


def test_combine_splits_reads_the_input_with_combine_text_input_format(tmp_path):
    _, path = write_state(tmp_path)
    assert MRTrainEpoch(job_args(path, "gradient", 1, "--combine-splits")).hadoop_input_format() \
        == COMBINE_INPUT_FORMAT == "org.apache.hadoop.mapred.lib.CombineTextInputFormat"
    assert MRTrainEpoch(job_args(path, "gradient", 1)).hadoop_input_format() is None


def test_the_settings_are_the_states_and_default_reducers_one(tmp_path):
    state, path = write_state(tmp_path, settings={"mode": "average", "bptt": 3})
    job = MRTrainEpoch(["--state", path])
    assert (job.settings, job.options.reducers) == (state.settings, 1)
    assert (job.settings.mode, job.settings.batch, job.settings.bptt) == ("average", BATCH, 3)


def test_the_job_sets_its_own_reduce_tasks_from_reducers(tmp_path):
    assert job_with(tmp_path, "--reducers", "5").jobconf()["mapreduce.job.reduces"] == "5"


def job_with(tmp_path, *args):
    _, path = write_state(tmp_path)
    return MRTrainEpoch(["--state", path, *args])


def test_the_state_file_is_required():
    with pytest.raises(ValueError, match="^the following arguments are required: --state$"):
        MRTrainEpoch([])


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match=r"^mode must be one of gradient, average, got 'median'$"):
        RunSettings(mode="median")


def test_numeric_options_are_parsed_as_ints(tmp_path):
    assert job_with(tmp_path, "--reducers", "5").options.reducers == 5


def test_help_describes_each_option(tmp_path):
    helps = {action.dest: action.help for action in job_with(tmp_path).arg_parser._actions}
    assert {dest: helps[dest] for dest in ["state", "reducers", "combine_splits",
                                           "fail_first_attempt"]} == {
        "state": "training state .npz (θ, optimizer state, configs)",
        "reducers": "reduce tasks the slices of θ are spread over",
        "combine_splits": "Hadoop: read the input with CombineTextInputFormat (set the split "
                          "max size to get the number of map tasks you want)",
        "fail_first_attempt": "test hook: the first attempt of map task 0 raises (Hadoop "
                              "re-runs it; see HADOOP_RNN_FAULT in jobs.run.checkpoint)",
    }


def test_the_epoch_is_one_map_reduce_step_and_a_norm_step_with_a_global_norm_clip(tmp_path):
    def reducers(optimizer, mode):
        _, path = write_state(tmp_path, optimizer=optimizer)
        steps = MRTrainEpoch(job_args(path, mode, 1)).steps()
        assert steps[0].has_explicit_mapper and not any(s.has_explicit_mapper for s in steps[1:])
        return [step["reducer"].__name__ for step in steps]

    clipped = OptimizerConfig(name="sgd", lr=1.0, clip_norm=1.0)
    assert reducers(ADAM, "gradient") == ["apply_mean_gradient"]
    assert reducers(clipped, "gradient") == ["emit_mean_gradient", "clip_and_apply"]
    assert reducers(ADAM, "average") == reducers(clipped, "average") == ["take_outer_step"]


@pytest.mark.parametrize("mode, reference", [("gradient", "reference_gradient_epoch"),
                                             ("average", "reference_average_epoch")])
def test_bptt_option_truncates_backpropagation_to_its_window(tmp_path, monkeypatch, mode,
                                                             reference):
    state, path = write_state(tmp_path, settings={"bptt": 2})
    chunks = task_chunks()
    result = assembled(run_epoch(monkeypatch, path, mode, 3, chunks), state.theta.size)
    expected = globals()[reference](state, chunks, bptt=2)
    assert_epoch_equals(result, expected, rtol=1e-12)
    assert not np.allclose(result[0], globals()[reference](state, chunks)[0], rtol=1e-9)


@pytest.mark.parametrize("mode", ["gradient", "average"])
@pytest.mark.parametrize("optimizer", [ADAM, OptimizerConfig(name="sgd", lr=0.5, clip_norm=0.05)])
def test_an_epoch_of_a_single_scored_step_takes_it(tmp_path, monkeypatch, mode, optimizer):
    state, path = write_state(tmp_path, optimizer=optimizer)
    chunks = [[Chunk("s/0", np.array([1, 2]))]]  # one prediction in the whole epoch
    theta, opt_state, scalars = result = assembled(
        run_epoch(monkeypatch, path, mode, 3, chunks), state.theta.size)
    assert scalars["count"] == 1
    reference = reference_gradient_epoch if mode == "gradient" else reference_average_epoch
    assert_epoch_equals(result, reference(state, chunks), rtol=1e-12)
    assert not np.array_equal(theta, state.theta)


def test_the_mean_gradient_goes_to_the_norm_step_in_the_dtype_of_theta(tmp_path, monkeypatch):
    model = ModelConfig(cell="gru", hidden=8, vocab_size=10, dtype="float32")
    _, path = write_state(tmp_path, model=model,
                          optimizer=OptimizerConfig(name="sgd", lr=0.5, clip_norm=0.05))
    lines = [line for task, chunks in enumerate(task_chunks())
             for line in run_map_task(monkeypatch, path, "gradient", 3, task, chunks)]
    out = [SliceProtocol().read(line)[1] for line in run_reduce_step(path, "gradient", 3, lines)]
    gradients = [r.arrays["g"] for r in out if r.tag == "g"]
    assert len(gradients) == 3 and all(g.dtype == np.float32 for g in gradients)


def test_sum_in_task_order_subtracts_theta_in_float64():
    theta0 = np.float32([1.0])
    records = [Record("t000000", {"count": np.array(1.0), "theta": np.float32([1e-8])})]
    total = sum_in_task_order(iter(records), theta0)
    assert total["theta"][0] == np.float64(np.float32(1e-8)) - 1.0  # not float32's -1.0


# -- the slicing (jobs.mr.slices) ------------------------------------------------------------

def test_plan_is_for_one_reducer_by_default():
    plan = plan_slices(1000, 12)
    assert (plan.n, plan.reducers) == (1000, 1)


@pytest.mark.parametrize("n, reducers", [(0, 1), (5, 0)])
def test_plan_of_nothing_or_for_no_reducer_is_refused(n, reducers):
    with pytest.raises(ValueError, match=rf"^need n >= 1 and reducers >= 1, got n={n}, "
                                         rf"reducers={reducers}$"):
        plan_slices(n, 12, reducers)


def test_plan_of_a_single_element_is_one_slice():
    assert plan_slices(1, 8).bounds == (0, 1)


def test_plan_puts_one_norm_block_per_record_when_a_block_fills_the_budget():
    plan = plan_slices(6 * NORM_BLOCK, ELEMENT_BYTES_PER_RECORD // NORM_BLOCK)
    assert plan.bounds == tuple(range(0, 7 * NORM_BLOCK, NORM_BLOCK))


def test_plan_counts_whole_blocks_per_record():
    # one and a half blocks fit the budget: a record holds one whole block, not 1.5
    bytes_per_element = ELEMENT_BYTES_PER_RECORD * 2 // (3 * NORM_BLOCK)
    assert plan_slices(6 * NORM_BLOCK, bytes_per_element).count == 6


def test_plan_of_at_most_max_slices_is_allowed_and_more_is_refused():
    one_block_per_record = ELEMENT_BYTES_PER_RECORD // NORM_BLOCK
    assert plan_slices(MAX_SLICES * NORM_BLOCK, one_block_per_record).count == MAX_SLICES
    with pytest.raises(ValueError, match=rf"^{MAX_SLICES + 1} slices exceed {MAX_SLICES}: the "
                                         r"model is too large for the record budget$"):
        plan_slices((MAX_SLICES + 1) * NORM_BLOCK, one_block_per_record)


def test_routing_key_is_unsalted_when_it_routes_else_salted_with_the_first_salt_that_does():
    for reducers in (2, 3, 7):
        for s in range(40):
            plain = f"{s:05d}"
            if key_partition(plain, reducers) == s % reducers:
                assert routing_key(s, reducers) == plain
            else:
                first = next(k for k in itertools.count(1)
                             if key_partition(f"{plain}.{k}", reducers) == s % reducers)
                assert routing_key(s, reducers) == f"{plain}.{first}"


def test_assembled_vectors_keep_their_dtypes():
    assembler = Assembler(4, {"theta": np.float32, "opt.t": np.int64})
    assembler.add(0, {"theta": np.float32([1, 2, 3, 4]), "opt.t": np.arange(4)})
    arrays = assembler.result()
    assert arrays["theta"].dtype == np.float32 and arrays["opt.t"].dtype == np.int64


@pytest.mark.parametrize("lo, length, message", [
    (3, 0, "slice [3, 3) of theta is outside [0, 10)"),
    (8, 3, "slice [8, 11) of theta is outside [0, 10)"),
    (-1, 2, "slice [-1, 1) of theta is outside [0, 10)"),
])
def test_assembler_refuses_a_slice_outside_the_vector_or_empty(lo, length, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        Assembler(10, {"theta": np.float64}).add(lo, {"theta": np.zeros(length)})


@pytest.mark.parametrize("ranges, message", [
    ([(0, 4), (6, 10)], "the job's output misses elements from 4 of 10"),
    ([(0, 6), (4, 10)], "the job's output repeats elements from 4 of 10"),
    ([(0, 6)], "the job's output misses elements from 6 of 10"),
])
def test_assembler_refuses_output_with_missing_or_repeated_elements(ranges, message):
    assembler = Assembler(10, {"theta": np.float64})
    for lo, hi in ranges:
        assembler.add(lo, {"theta": np.zeros(hi - lo)})
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        assembler.result()


@pytest.mark.parametrize("key, reducers, partition", [
    # Java: h = 31 h + b over the key's UTF-8 bytes as signed bytes, in 32-bit int arithmetic
    ("é", 1000, 670),          # C3 A9: -61, -87
    ("\x7f", 1000, 127),       # 7F: the largest byte that stays positive
    ("\u0080", 1000, 598),     # C2 80: -62, -128
    ("ключ.1", 7, 6),
])
def test_partition_of_non_ascii_keys_hashes_the_bytes_as_java_signed_bytes(key, reducers,
                                                                           partition):
    assert key_partition(key, reducers) == partition


@pytest.mark.parametrize("mode,optimizer", [
    ("average", ADAM), ("gradient", OptimizerConfig(name="sgd", lr=0.5, clip_norm=0.05))])
def test_map_tasks_reading_validation_shards_score_the_incoming_theta_and_do_not_train(
        tmp_path, monkeypatch, mode, optimizer):
    from jobs.mr.loss_sums import LossSums
    from jobs.mr.validation import valid_list_bytes

    state, path = write_state(tmp_path, optimizer=optimizer, steps_taken=4)
    chunks, valid = task_chunks(), task_chunks(seed=7, sizes=(3, 4))
    listing = tmp_path / "valid-shards.txt"
    listing.write_bytes(valid_list_bytes(["hdfs:///data/valid/part-00003.txt",
                                          "/data/valid/part-00004.txt"]))
    records = run_epoch(monkeypatch, path, mode, 3, chunks, valid, str(listing))
    without = run_epoch(monkeypatch, path, mode, 3, chunks)
    theta, opt_state, scalars = assembled(records, state.theta.size)
    assert theta.tobytes() == assembled(without, state.theta.size)[0].tobytes()
    assert scalars["records"] == sum(TASK_SIZES)  # the validation records trained nothing
    [valid_record] = [r for r in records if r.tag == "valid"]
    expected = [LossSums(state.theta, MODEL).add_chunks(task) for task in valid]
    assert set(valid_record.arrays) == {"loss_sum", "count", "records"}
    for name in ("loss_sum", "count", "records"):  # the tasks' sums, added exactly
        assert float(valid_record.arrays[name]) == math.fsum(float(e[name]) for e in expected)


def test_a_map_task_reading_a_file_not_listed_trains(tmp_path, monkeypatch):
    from jobs.mr.validation import valid_list_bytes

    _, path = write_state(tmp_path)
    listing = tmp_path / "valid-shards.txt"
    listing.write_bytes(valid_list_bytes(["hdfs:///data/valid/part-00000.txt"]))
    monkeypatch.setenv("mapreduce_map_input_file", TRAIN_FILE.format(0))
    lines = run_map_task(monkeypatch, path, "average", 1, 0, task_chunks()[0],
                         extra=["--valid-shards", str(listing)])
    assert [line.split(b"\t")[0] for line in lines] == [routing_key(0, 1).encode()]


def test_validation_shards_with_combined_splits_are_refused(tmp_path):
    _, path = write_state(tmp_path)
    with pytest.raises(ValueError, match="cannot tell which file a record came from"):
        MRTrainEpoch(job_args(path, "average", 1, "--combine-splits", "--valid-shards",
                              str(tmp_path / "list.txt")))
